import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { generateKeyPairSync } from 'node:crypto';
import { PayError } from '../../../../lib/errors';
import { createKeyRing } from '../../../../lib/wechatpay/v3/keyring';
import { MAX_CLOCK_SKEW_SECONDS, SIGNATURE_TYPE, headerGetter, verifyV3 } from '../../../../lib/wechatpay/v3/verify';
import { selfSignedCertificate } from '../../../../scripts/simulator/cert';
import { generateTestKeys } from '../../../../scripts/simulator/keys';
import { signV3Message, v3Notification, type WireRequest } from '../../../../scripts/simulator/messages';

const keys = generateTestKeys();
// a rotated-in platform certificate, in the same PEM bundle as the first
const rotated = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ROTATED_SERIAL = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
const rotatedCertPem = selfSignedCertificate({
  ...rotated,
  serialHex: ROTATED_SERIAL,
  commonName: 'Tenpay.com Rotated',
});
// a certificate WeChat might use but we were never given
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
const STRANGER_SERIAL = '7157F09EFDC096DE15EBE81A47057A7232F1B8E1';

const ring = createKeyRing({
  platformCertsPem: `${keys.platform.certPem}\n${rotatedCertPem}`,
  publicKeyId: keys.publicKey.id,
  publicKeyPem: keys.publicKey.publicKeyPem,
});

// inside the generated certificates' validity, which verification now enforces
const NOW = Math.floor(Date.now() / 1000);

function transaction(
  opts: { signer?: 'platform' | 'publicKey'; timestamp?: number; nonce?: string } = {},
): WireRequest {
  return v3Notification(keys, {
    eventType: 'TRANSACTION.SUCCESS',
    originalType: 'transaction',
    resource: { out_trade_no: 'T1', amount: { total: 1 } },
    timestamp: NOW,
    ...opts,
  });
}

function check(headers: Record<string, string | undefined>, body: string | Buffer, now = NOW): void {
  verifyV3(headerGetter(headers), Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), ring, now);
}

/** Runs `f`, which must throw a PayError of kind UNAUTHENTIC; returns it. */
function unauthenticOf(f: () => unknown): PayError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(PayError);
    expect((err as PayError).kind).toBe('UNAUTHENTIC');
    return err as PayError;
  }
  throw new Error('expected an UNAUTHENTIC PayError, nothing was thrown');
}

/** Headers of a message signed by the rotated certificate (the simulator's keys sign only with the first). */
function signedByRotated(body: string, timestamp = String(NOW), nonce = 'ROTATEDNONCE'): Record<string, string> {
  return {
    'Wechatpay-Serial': ROTATED_SERIAL,
    'Wechatpay-Signature': signV3Message(rotated.privateKey, timestamp, nonce, body),
    'Wechatpay-Timestamp': timestamp,
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Signature-Type': SIGNATURE_TYPE,
  };
}

describe('verifyV3 accepts', () => {
  it('a notification signed by the platform certificate', () => {
    const wire = transaction();
    expect(() => check(wire.headers, wire.body)).not.toThrow();
  });

  it('certificate serials, a second certificate of the bundle and the public key, all in one key ring', () => {
    const byCert = transaction({ signer: 'platform' });
    const byPublicKey = transaction({ signer: 'publicKey' });
    expect(byPublicKey.headers['Wechatpay-Serial']).toBe(keys.publicKey.id);
    expect(() => check(byCert.headers, byCert.body)).not.toThrow();
    expect(() => check(byPublicKey.headers, byPublicKey.body)).not.toThrow();
    expect(() => check(signedByRotated(byCert.body), byCert.body)).not.toThrow();
    // interleaved, as during the public-key ramp
    for (let i = 0; i < 4; i += 1) {
      const wire = transaction({ signer: i % 2 ? 'publicKey' : 'platform' });
      expect(() => check(wire.headers, wire.body)).not.toThrow();
    }
  });

  it('header names in any case (API Gateway lower-cases them)', () => {
    const wire = transaction();
    const lower = Object.fromEntries(Object.entries(wire.headers).map(([k, v]) => [k.toLowerCase(), v]));
    const upper = Object.fromEntries(Object.entries(wire.headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(() => check(lower, wire.body)).not.toThrow();
    expect(() => check(upper, wire.body)).not.toThrow();
  });

  it('a missing Wechatpay-Signature-Type, as wechatpay-go does', () => {
    const wire = transaction();
    expect(() => check({ ...wire.headers, 'Wechatpay-Signature-Type': undefined }, wire.body)).not.toThrow();
  });

  it('an API response with an empty body (message ends in two newlines)', () => {
    const headers = signedByRotated('', String(NOW), 'EMPTYBODY');
    expect(() => check(headers, '')).not.toThrow();
  });

  it('a lower-case or zero-padded serial of a certificate', () => {
    const wire = transaction();
    expect(() =>
      check({ ...wire.headers, 'Wechatpay-Serial': keys.platform.serial.toLowerCase() }, wire.body),
    ).not.toThrow();
    expect(() => check({ ...wire.headers, 'Wechatpay-Serial': `00${keys.platform.serial}` }, wire.body)).not.toThrow();
  });
});

describe('verifyV3 verifies the exact bytes received', () => {
  it('fails on the same JSON re-serialised with different spacing', () => {
    const wire = transaction();
    const parsed: unknown = JSON.parse(wire.body);
    for (const reserialised of [
      JSON.stringify(parsed, null, 2),
      JSON.stringify(parsed, null, '\t'),
      wire.body.replaceAll('":', '": '),
      `${wire.body}\n`,
      ` ${wire.body}`,
    ]) {
      expect(reserialised).not.toBe(wire.body);
      unauthenticOf(() => check(wire.headers, reserialised));
    }
  });

  it('fails on a body whose UTF-8 bytes differ even if the text looks the same', () => {
    const body = JSON.stringify({ summary: 'café' });
    const headers = signedByRotated(body);
    expect(() => check(headers, body)).not.toThrow();
    unauthenticOf(() => check(headers, body.normalize('NFD')));
  });

  it('property: flipping any byte of the body, timestamp or nonce fails', () => {
    const wire = transaction({ nonce: 'A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6' });
    const body = Buffer.from(wire.body, 'utf8');
    fc.assert(
      fc.property(
        fc.constantFrom('body', 'timestamp', 'nonce'),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (target, at, delta) => {
          const headers = { ...wire.headers };
          let tamperedBody = body;
          if (target === 'body') {
            tamperedBody = Buffer.from(body);
            const i = at % body.length;
            tamperedBody[i] = ((tamperedBody[i] ?? 0) + delta) % 256;
          } else {
            const name = target === 'timestamp' ? 'Wechatpay-Timestamp' : 'Wechatpay-Nonce';
            const bytes = Buffer.from(headers[name] ?? '', 'utf8');
            const i = at % bytes.length;
            bytes[i] = ((bytes[i] ?? 0) + delta) % 256;
            headers[name] = bytes.toString('utf8');
          }
          unauthenticOf(() => check(headers, tamperedBody));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('fails when the signature comes from another key or names another key', () => {
    const wire = transaction();
    unauthenticOf(() => check({ ...wire.headers, 'Wechatpay-Serial': ROTATED_SERIAL }, wire.body));
    unauthenticOf(() => check({ ...wire.headers, 'Wechatpay-Serial': keys.publicKey.id }, wire.body));
    const byMerchant = signV3Message(
      keys.merchant.privateKey,
      String(NOW),
      wire.headers['Wechatpay-Nonce'] ?? '',
      wire.body,
    );
    unauthenticOf(() => check({ ...wire.headers, 'Wechatpay-Signature': byMerchant }, wire.body));
  });
});

describe('verifyV3 rejects with UNAUTHENTIC', () => {
  it('an unknown serial, without any outbound call', () => {
    const body = '{"id":"x"}';
    const headers = {
      'Wechatpay-Serial': STRANGER_SERIAL,
      'Wechatpay-Signature': signV3Message(stranger.privateKey, String(NOW), 'N', body),
      'Wechatpay-Timestamp': String(NOW),
      'Wechatpay-Nonce': 'N',
    };
    expect(unauthenticOf(() => check(headers, body)).reason).toMatch(/unknown Wechatpay-Serial/);
    unauthenticOf(() => check({ ...headers, 'Wechatpay-Serial': 'PUB_KEY_ID_0199999999' }, body));
  });

  it.each(['Wechatpay-Signature', 'Wechatpay-Serial', 'Wechatpay-Timestamp', 'Wechatpay-Nonce'])(
    'a missing or empty %s',
    (name) => {
      const wire = transaction();
      const missing = unauthenticOf(() => check({ ...wire.headers, [name]: undefined }, wire.body));
      expect(missing.reason).toContain(name);
      unauthenticOf(() => check({ ...wire.headers, [name]: '' }, wire.body));
    },
  );

  it('a WECHATPAY/SIGNTEST/ probe, before anything else is looked at', () => {
    const wire = transaction();
    const probes = [
      'WECHATPAY/SIGNTEST/',
      'WECHATPAY/SIGNTEST/xIxuDQ3m2f7m9m6Ub1VY+zT3/hXm5k0',
      'WECHATPAY/SIGNTEST/中文/===',
    ];
    for (const probe of probes) {
      const err = unauthenticOf(() => check({ ...wire.headers, 'Wechatpay-Signature': probe }, wire.body));
      expect(err.detail).toEqual({ probe: true });
      expect(err.reason).toBe('signature probe rejected');
      // even with every other header missing
      expect(unauthenticOf(() => check({ 'Wechatpay-Signature': probe }, '')).detail).toEqual({ probe: true });
    }
  });

  it('a signature that is not base64, or not its one canonical spelling', () => {
    // a 2048-bit signature is 256 bytes: base64 ends in '==', its last letter carrying 4 unused bits
    const nudged = (c: string) => {
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
      return alphabet[alphabet.indexOf(c) ^ 1] ?? 'B';
    };
    const wire = transaction();
    const sig = wire.headers['Wechatpay-Signature'] ?? '';
    for (const bad of [
      '!!!!',
      `${sig}!`,
      `${sig.slice(0, 10)} ${sig.slice(10)}`,
      `${sig}===`,
      '====',
      `-${sig.slice(1)}`,
      'x'.repeat(5000),
      '中文',
      // the same bytes spelt otherwise: no padding, the URL-safe alphabet, unused low bits set
      sig.replace(/=+$/, ''),
      sig.replace(/\+/g, '-').replace(/\//g, '_'),
      `${sig.slice(0, sig.indexOf('=') - 1)}${nudged(sig[sig.indexOf('=') - 1] ?? 'A')}${sig.slice(sig.indexOf('='))}`,
    ]) {
      expect(bad).not.toBe(sig);
      expect(unauthenticOf(() => check({ ...wire.headers, 'Wechatpay-Signature': bad }, wire.body)).reason).toBe(
        'Wechatpay-Signature is not base64',
      );
    }
  });

  it('property: any signature text at all fails with UNAUTHENTIC and nothing else', () => {
    const wire = transaction();
    const sigText = fc.oneof(
      fc.string({ maxLength: 400 }),
      fc.base64String({ maxLength: 400 }),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64')),
    );
    fc.assert(
      fc.property(sigText, (sig) => {
        fc.pre(sig !== wire.headers['Wechatpay-Signature']);
        unauthenticOf(() => check({ ...wire.headers, 'Wechatpay-Signature': sig }, wire.body));
      }),
      { numRuns: 300 },
    );
  });

  it('property: arbitrary header values never throw anything but UNAUTHENTIC', () => {
    const wire = transaction();
    const value = fc.option(fc.oneof(fc.string({ maxLength: 80 }), fc.stringMatching(/^\d{1,14}$/)), {
      nil: undefined,
    });
    fc.assert(
      fc.property(value, value, value, value, value, (signature, serial, timestamp, nonce, type) => {
        const headers = {
          'Wechatpay-Signature': signature ?? wire.headers['Wechatpay-Signature'],
          'Wechatpay-Serial': serial,
          'Wechatpay-Timestamp': timestamp,
          'Wechatpay-Nonce': nonce,
          'Wechatpay-Signature-Type': type,
        };
        unauthenticOf(() => check(headers, wire.body));
      }),
      { numRuns: 300 },
    );
  });

  it('a wrong Wechatpay-Signature-Type', () => {
    const wire = transaction();
    for (const type of [
      'WECHATPAY2-SHA256-RSA4096',
      'WECHATPAY2-SM2-WITH-SM3',
      'wechatpay2-sha256-rsa2048',
      '',
      ' WECHATPAY2-SHA256-RSA2048',
    ]) {
      expect(unauthenticOf(() => check({ ...wire.headers, 'Wechatpay-Signature-Type': type }, wire.body)).reason).toBe(
        'unsupported Wechatpay-Signature-Type',
      );
    }
  });

  it('a malformed timestamp or nonce', () => {
    const wire = transaction();
    for (const ts of [`${NOW}000`, '-1', '1.5', `${NOW} `, '1e9', '0x6AB0', String(NOW).padStart(13, '0')]) {
      unauthenticOf(() => check({ ...wire.headers, 'Wechatpay-Timestamp': ts }, wire.body));
    }
    for (const nonce of ['has space', 'tab\there', '中文', 'x'.repeat(65), 'line\n']) {
      unauthenticOf(() => check({ ...wire.headers, 'Wechatpay-Nonce': nonce }, wire.body));
    }
  });
});

describe('verifyV3 clock window (injected clock)', () => {
  it(`accepts timestamps up to ${MAX_CLOCK_SKEW_SECONDS - 1} s either side and rejects from ${MAX_CLOCK_SKEW_SECONDS} s`, () => {
    expect(MAX_CLOCK_SKEW_SECONDS).toBe(300);
    const wire = transaction();
    for (const skew of [0, 1, -1, 299, -299]) {
      expect(() => check(wire.headers, wire.body, NOW + skew), `skew ${skew}`).not.toThrow();
    }
    for (const skew of [300, -300, 301, -301, 3600, -86_400, NOW]) {
      const err = unauthenticOf(() => check(wire.headers, wire.body, NOW + skew));
      expect(err.reason).toMatch(/window/);
      expect(err.detail).toEqual({ skew });
    }
  });

  it('property: acceptance depends only on |skew| < 300 for an authentic message', () => {
    const wire = transaction({ signer: 'publicKey' });
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 1000 }), (skew) => {
        if (Math.abs(skew) < 300) expect(() => check(wire.headers, wire.body, NOW + skew)).not.toThrow();
        else unauthenticOf(() => check(wire.headers, wire.body, NOW + skew));
      }),
      { numRuns: 200 },
    );
  });

  it('rejects a stale message for its timestamp, whatever serial it names', () => {
    const stale = transaction({ timestamp: NOW - 3600 });
    const err = unauthenticOf(() => check({ ...stale.headers, 'Wechatpay-Serial': STRANGER_SERIAL }, stale.body));
    expect(err.reason).toMatch(/window/);
  });
});

describe('headerGetter', () => {
  it('is case-insensitive and skips undefined values', () => {
    const get = headerGetter({ 'Wechatpay-Serial': 'S', 'x-other': undefined, 'CONTENT-TYPE': 'application/json' });
    expect(get('wechatpay-serial')).toBe('S');
    expect(get('WECHATPAY-SERIAL')).toBe('S');
    expect(get('content-type')).toBe('application/json');
    expect(get('x-other')).toBeUndefined();
    expect(get('missing')).toBeUndefined();
  });

  it('prefers the name exactly as asked, skips undefined spellings, and never reads the prototype', () => {
    // two spellings of one header: the one spelled as asked (API Gateway's lower case) is the answer
    const both = headerGetter({ 'Wechatpay-Serial': 'MIXED', 'wechatpay-serial': 'LOWER' });
    expect(both('wechatpay-serial')).toBe('LOWER');
    expect(both('Wechatpay-Serial')).toBe('MIXED');
    // an undefined spelling does not hide a later one with a value
    expect(headerGetter({ 'X-A': undefined, 'X-a': 'v' })('x-a')).toBe('v');
    expect(headerGetter({ 'x-a': undefined, 'X-A': 'v' })('x-a')).toBe('v');
    // names of Object.prototype are not headers
    expect(headerGetter({})('constructor')).toBeUndefined();
    expect(headerGetter({})('__proto__')).toBeUndefined();
  });
});

// Added from mutation testing (npm run mutation): each header check must hold on its own, so these
// messages are correctly signed over the malformed value and only the check itself can refuse them.
describe('verifyV3 header checks on correctly signed messages (mutation-tested)', () => {
  const body = '{"id":"EV-1"}';

  it('refuses a timestamp that is not 1 to 12 plain digits, even when Number() would read it', () => {
    for (const ts of [
      `${NOW} `,
      ` ${NOW}`,
      `+${NOW}`,
      `${NOW}.0`,
      `${NOW}\n`,
      String(NOW).padStart(13, '0'),
      `${NOW}x`,
    ]) {
      const err = unauthenticOf(() => check(signedByRotated(body, ts), body));
      expect(err.reason, JSON.stringify(ts)).toBe('missing or invalid Wechatpay-Timestamp');
    }
    expect(() => check(signedByRotated(body, String(NOW).padStart(12, '0')), body)).not.toThrow();
  });

  it('refuses a nonce that is not 1 to 64 visible ASCII characters', () => {
    for (const nonce of ['has space', ' lead', 'trail ', 'tab\there', '中文', 'x中', 'x'.repeat(65), 'line\n']) {
      const err = unauthenticOf(() => check(signedByRotated(body, String(NOW), nonce), body));
      expect(err.reason, JSON.stringify(nonce)).toBe('missing or invalid Wechatpay-Nonce');
    }
    for (const nonce of ['x'.repeat(64), '!~', 'a']) {
      expect(() => check(signedByRotated(body, String(NOW), nonce), body)).not.toThrow();
    }
  });

  it('refuses an oversized signature before any crypto, and a 1024-character one only by the signature', () => {
    const headers = signedByRotated(body);
    expect(unauthenticOf(() => check({ ...headers, 'Wechatpay-Signature': 'A'.repeat(1028) }, body)).reason).toBe(
      'Wechatpay-Signature is not base64',
    );
    expect(unauthenticOf(() => check({ ...headers, 'Wechatpay-Signature': 'A'.repeat(1024) }, body)).reason).toBe(
      'signature mismatch',
    );
  });

  it('logs at most 64 characters of an unknown serial', () => {
    const headers = { ...signedByRotated(body), 'Wechatpay-Serial': 'F'.repeat(200) };
    expect(unauthenticOf(() => check(headers, body)).detail).toEqual({ serial: 'F'.repeat(64) });
  });
});

describe('validity and the result (mutation-tested)', () => {
  it('names the key kind that verified and the serial as sent', () => {
    const byCert = transaction();
    expect(verifyV3(headerGetter(byCert.headers), Buffer.from(byCert.body), ring, NOW)).toEqual({
      serial: keys.platform.serial,
      verifiedBy: 'platform-certificate',
    });
    const byKey = transaction({ signer: 'publicKey' });
    expect(verifyV3(headerGetter(byKey.headers), Buffer.from(byKey.body), ring, NOW)).toEqual({
      serial: keys.publicKey.id,
      verifiedBy: 'public-key',
    });
  });

  it('a signature by a certificate outside its validity is refused, naming the serial', () => {
    const wire = transaction();
    const entry = ring.entry(keys.platform.serial);
    const notAfter = entry?.notAfter ?? 0;
    // the certificate's own key signed it, but verification happens after the certificate lapsed
    const later = Math.floor(notAfter / 1000) + 2 * 3600;
    const signedLater = v3Notification(keys, {
      eventType: 'TRANSACTION.SUCCESS',
      originalType: 'transaction',
      resource: { out_trade_no: 'T1', amount: { total: 1 } },
      timestamp: later,
    });
    const err = unauthenticOf(() => check(signedLater.headers, signedLater.body, later));
    expect(err.reason).toBe('platform certificate outside its validity');
    expect(err.detail).toEqual({ serial: keys.platform.serial });
    // the same delivery while the certificate is valid verifies
    expect(() => check(wire.headers, wire.body)).not.toThrow();
  });
});
