import { describe, it, expect, vi } from 'vitest';
import fc from 'fast-check';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { PayError } from '../../../../lib/errors';
import {
  PUBLIC_KEY_ID,
  VALIDITY_GRACE_MS,
  createKeyRing,
  isWithinValidity,
  normaliseSerial,
  splitCertificates,
} from '../../../../lib/wechatpay/v3/keyring';
import { selfSignedCertificate } from '../../../../scripts/simulator/cert';
import { generateTestKeys } from '../../../../scripts/simulator/keys';

const keys = generateTestKeys();
// a second platform certificate (rotation), with a serial whose first nibble is zero
const second = generateKeyPairSync('rsa', { modulusLength: 2048 });
const SECOND_SERIAL = '0A57F09EFDC096DE15EBE81A47057A7232F1B8E1';
const secondCertPem = selfSignedCertificate({
  ...second,
  serialHex: SECOND_SERIAL,
  commonName: 'Tenpay.com Rotated Platform Certificate',
});

const der = (key: KeyObject | undefined) => key?.export({ type: 'spki', format: 'der' });

describe('createKeyRing', () => {
  it('holds platform certificates and the WeChat Pay public key side by side', () => {
    const ring = createKeyRing({
      platformCertsPem: keys.platform.certPem + secondCertPem,
      publicKeyId: keys.publicKey.id,
      publicKeyPem: keys.publicKey.publicKeyPem,
    });
    expect(ring.serials()).toHaveLength(3);
    expect(ring.serials()).toContain(keys.publicKey.id);
    expect(der(ring.get(keys.platform.serial))).toEqual(der(keys.platform.publicKey));
    expect(der(ring.get(SECOND_SERIAL))).toEqual(der(second.publicKey));
    expect(der(ring.get(keys.publicKey.id))).toEqual(der(keys.publicKey.publicKey));
  });

  it('finds a serial whatever its case and leading zeros', () => {
    const ring = createKeyRing({ platformCertsPem: secondCertPem });
    for (const serial of [SECOND_SERIAL, SECOND_SERIAL.toLowerCase(), SECOND_SERIAL.slice(1), `00${SECOND_SERIAL}`]) {
      expect(der(ring.get(serial)), serial).toEqual(der(second.publicKey));
    }
  });

  it('does not find what it does not hold', () => {
    const ring = createKeyRing({
      platformCertsPem: keys.platform.certPem,
      publicKeyId: keys.publicKey.id,
      publicKeyPem: keys.publicKey.publicKeyPem,
    });
    for (const serial of [
      SECOND_SERIAL,
      '',
      '0',
      'PUB_KEY_ID_0000',
      keys.merchant.serial,
      `${keys.platform.serial}0`,
      '__proto__',
      'constructor',
    ]) {
      expect(ring.get(serial), serial).toBeUndefined();
    }
    fc.assert(
      fc.property(fc.string(), (serial) => {
        fc.pre(![keys.platform.serial, keys.publicKey.id].includes(serial.toUpperCase().replace(/^0+/, '')));
        expect(ring.get(serial)).toBeUndefined();
      }),
    );
  });

  it('keeps a public-key id exact: it is not read as a hex serial', () => {
    const ring = createKeyRing({ publicKeyId: keys.publicKey.id, publicKeyPem: keys.publicKey.publicKeyPem });
    expect(ring.get(keys.publicKey.id)).toBeDefined();
    expect(ring.get(`${keys.publicKey.id}0`)).toBeUndefined();
    expect(ring.serials()).toEqual([keys.publicKey.id]);
  });

  it('is empty when given nothing', () => {
    expect(createKeyRing({}).serials()).toEqual([]);
    expect(createKeyRing({ platformCertsPem: '' }).serials()).toEqual([]);
  });

  it('requires the public-key id and the public key together, and a well-formed id', () => {
    const cases = [
      { publicKeyId: keys.publicKey.id },
      { publicKeyPem: keys.publicKey.publicKeyPem },
      { publicKeyId: 'KEY_01', publicKeyPem: keys.publicKey.publicKeyPem },
      { publicKeyId: 'PUB_KEY_ID_', publicKeyPem: keys.publicKey.publicKeyPem },
      { publicKeyId: 'PUB_KEY_ID_01 2', publicKeyPem: keys.publicKey.publicKeyPem },
      { publicKeyId: '', publicKeyPem: keys.publicKey.publicKeyPem },
    ];
    for (const opts of cases) {
      let thrown: unknown;
      try {
        createKeyRing(opts);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, JSON.stringify(Object.keys(opts))).toBeInstanceOf(PayError);
      expect((thrown as PayError).kind).toBe('CONFIG');
      expect((thrown as PayError).message).toMatch(/WECHATPAY_PUBLIC_KEY/);
      expect((thrown as PayError).message).not.toContain('BEGIN PUBLIC KEY');
    }
  });

  it('throws on a certificate that does not parse (config turns it into a CONFIG error)', () => {
    expect(() =>
      createKeyRing({ platformCertsPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' }),
    ).toThrow();
    expect(() => createKeyRing({ publicKeyId: keys.publicKey.id, publicKeyPem: 'not a key' })).toThrow();
  });
});

describe('splitCertificates', () => {
  it('finds every certificate in a bundle, ignoring text around them', () => {
    const bundle = `# platform certs\n${keys.platform.certPem}\nsome note\n${secondCertPem}\r\n`;
    const parts = splitCertificates(bundle);
    expect(parts).toHaveLength(2);
    expect(parts[0]).toBe(keys.platform.certPem.trim());
    expect(parts[1]).toBe(secondCertPem.trim());
    expect(createKeyRing({ platformCertsPem: bundle }).serials()).toHaveLength(2);
  });

  it('finds none in text without certificates', () => {
    expect(splitCertificates('')).toEqual([]);
    expect(splitCertificates(keys.publicKey.publicKeyPem)).toEqual([]);
    expect(splitCertificates('-----BEGIN CERTIFICATE----------END CERTIFICATE-----')).toEqual([]);
  });
});

describe('PUBLIC_KEY_ID', () => {
  it('matches the ids WeChat issues and nothing looser', () => {
    expect(PUBLIC_KEY_ID.test(keys.publicKey.id)).toBe(true);
    expect(PUBLIC_KEY_ID.test('PUB_KEY_ID_0114232134912410000000000001')).toBe(true);
    for (const bad of [
      'PUB_KEY_ID_',
      'pub_key_id_01',
      'PUB_KEY_ID_01\n',
      ' PUB_KEY_ID_01',
      `PUB_KEY_ID_${'1'.repeat(65)}`,
      keys.platform.serial,
    ]) {
      expect(PUBLIC_KEY_ID.test(bad), bad).toBe(false);
    }
  });
});

describe('validity and expiry (mutation-tested)', () => {
  // whole seconds: certificate times carry no milliseconds
  const notBefore = Date.UTC(2026, 0, 1, 0, 0, 0);
  const notAfter = Date.UTC(2027, 0, 1, 0, 0, 0);
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const SERIAL = '5E1F00D2B3C4A5968778695A4B3C2D1E0F102030';
  const certPem = selfSignedCertificate({
    ...pair,
    serialHex: SERIAL,
    commonName: 'Tenpay.com Validity Test Certificate',
    notBefore: new Date(notBefore),
    notAfter: new Date(notAfter),
  });

  it('the grace is one hour at either end', () => {
    expect(VALIDITY_GRACE_MS).toBe(3_600_000);
  });

  it('isWithinValidity: inside up to the grace, outside one millisecond beyond it', () => {
    const entry = { key: pair.publicKey, kind: 'platform-certificate' as const, notBefore, notAfter };
    expect(isWithinValidity(entry, notBefore)).toBe(true);
    expect(isWithinValidity(entry, notBefore - VALIDITY_GRACE_MS)).toBe(true);
    expect(isWithinValidity(entry, notBefore - VALIDITY_GRACE_MS - 1)).toBe(false);
    expect(isWithinValidity(entry, notAfter)).toBe(true);
    expect(isWithinValidity(entry, notAfter + VALIDITY_GRACE_MS)).toBe(true);
    expect(isWithinValidity(entry, notAfter + VALIDITY_GRACE_MS + 1)).toBe(false);
    // only one bound known: the other side is open
    expect(isWithinValidity({ ...entry, notBefore: undefined }, notBefore - 10 * VALIDITY_GRACE_MS)).toBe(true);
    expect(isWithinValidity({ ...entry, notAfter: undefined }, notAfter + 10 * VALIDITY_GRACE_MS)).toBe(true);
    expect(isWithinValidity({ ...entry, notBefore: undefined }, notAfter + VALIDITY_GRACE_MS + 1)).toBe(false);
    expect(isWithinValidity({ ...entry, notAfter: undefined }, notBefore - VALIDITY_GRACE_MS - 1)).toBe(false);
    // a public key has no validity: always within
    expect(isWithinValidity({ key: pair.publicKey, kind: 'public-key' }, 0)).toBe(true);
  });

  it('a certificate expired beyond the grace at build time is dropped and reported once; at the grace it is kept', () => {
    const dropped: Array<[string, string]> = [];
    const onExpired = (serial: string, at: string) => dropped.push([serial, at]);
    const atGrace = createKeyRing({ platformCertsPem: certPem, now: () => notAfter + VALIDITY_GRACE_MS, onExpired });
    expect(atGrace.serials()).toEqual([SERIAL]);
    expect(atGrace.entry(SERIAL)).toMatchObject({ kind: 'platform-certificate', notBefore, notAfter });
    expect(dropped).toEqual([]);
    const beyond = createKeyRing({ platformCertsPem: certPem, now: () => notAfter + VALIDITY_GRACE_MS + 1, onExpired });
    expect(beyond.serials()).toEqual([]);
    expect(beyond.get(SERIAL)).toBeUndefined();
    expect(dropped).toEqual([[SERIAL, new Date(notAfter).toISOString()]]);
  });

  it('without a handler, the drop is one JSON warning line on stderr naming the serial', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const ring = createKeyRing({ platformCertsPem: certPem, now: () => notAfter + 2 * VALIDITY_GRACE_MS });
      expect(ring.serials()).toEqual([]);
      expect(write).toHaveBeenCalledTimes(1);
      const line = String(write.mock.calls[0]?.[0]);
      expect(line.endsWith('\n')).toBe(true);
      expect(JSON.parse(line)).toMatchObject({
        level: 'warn',
        message: 'expired platform certificate dropped',
        serial: SERIAL,
        notAfter: new Date(notAfter).toISOString(),
      });
    } finally {
      write.mockRestore();
    }
  });

  it('entries say which kind of key they are', () => {
    const ring = createKeyRing({
      platformCertsPem: keys.platform.certPem,
      publicKeyId: keys.publicKey.id,
      publicKeyPem: keys.publicKey.publicKeyPem,
    });
    expect(ring.entry(keys.platform.serial)?.kind).toBe('platform-certificate');
    expect(ring.entry(keys.publicKey.id)?.kind).toBe('public-key');
  });

  it('normaliseSerial: upper case, leading zeros dropped, one zero kept', () => {
    expect(normaliseSerial('00ab12')).toBe('AB12');
    expect(normaliseSerial('000')).toBe('0');
  });
});
