import { createCipheriv } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PayError } from '../../../../lib/errors';
import { AEAD_ALGORITHM, decryptResource, type EncryptedResource } from '../../../../lib/wechatpay/v3/aead';
import { generateTestKeys } from '../../../../scripts/simulator/keys';
import { v3Encrypt } from '../../../../scripts/simulator/messages';
import { ALPHANUMERIC, randomString } from '../../../../scripts/simulator/random';

const keys = generateTestKeys();
const otherApiV3Key = randomString(ALPHANUMERIC, 32);
const KEY = Buffer.from(keys.apiV3Key, 'utf8');

/** Runs `f`, which must throw a PayError of one of `kinds`; returns it. */
function payErrorOf(f: () => unknown, kinds: readonly PayError['kind'][]): PayError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(PayError);
    expect(kinds).toContain((err as PayError).kind);
    return err as PayError;
  }
  throw new Error('expected a PayError, nothing was thrown');
}
const unauthentic = (f: () => unknown) => payErrorOf(f, ['UNAUTHENTIC']);
const malformed = (f: () => unknown) => payErrorOf(f, ['MALFORMED']);

const sample = (): EncryptedResource => ({
  ...v3Encrypt(keys.apiV3Key, '{"out_trade_no":"T1","amount":{"total":1}}', 'transaction'),
  original_type: 'transaction',
});

describe('decryptResource', () => {
  it('round-trips with the simulator for arbitrary plaintext, associated data and nonce', () => {
    const nonce = fc.string({
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
      minLength: 12,
      maxLength: 12,
    });
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 120 }),
        fc.string({ unit: 'binary', maxLength: 40 }),
        nonce,
        (plain, aad, n) => {
          const resource = v3Encrypt(keys.apiV3Key, plain, aad, n);
          expect(decryptResource(resource, KEY)).toBe(plain);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('treats absent associated_data as empty', () => {
    const { associated_data: _ignored, ...resource } = v3Encrypt(keys.apiV3Key, '{"a":1}', '');
    expect(decryptResource(resource, KEY)).toBe('{"a":1}');
  });

  it('uses the 32 ASCII bytes of the APIv3 key as they are, not hex- or base64-decoded', () => {
    expect(KEY).toHaveLength(32);
    expect(decryptResource(sample(), Buffer.from(keys.apiV3Key))).toContain('T1');
  });

  it('rejects a different APIv3 key as UNAUTHENTIC', () => {
    unauthentic(() => decryptResource(sample(), Buffer.from(otherApiV3Key, 'utf8')));
    const flipped = Buffer.from(KEY);
    flipped[31] = (flipped[31] ?? 0) ^ 1;
    unauthentic(() => decryptResource(sample(), flipped));
  });

  it('rejects an APIv3 key of the wrong length as a configuration fault, not a crypto error', () => {
    for (const key of [Buffer.alloc(0), KEY.subarray(0, 16), Buffer.concat([KEY, Buffer.from('x')])]) {
      payErrorOf(() => decryptResource(sample(), key), ['CONFIG']);
    }
  });

  it('property: any change to the ciphertext or tag bytes is UNAUTHENTIC', () => {
    const resource = sample();
    const bytes = Buffer.from(resource.ciphertext, 'base64');
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, delta) => {
        const tampered = Buffer.from(bytes);
        tampered[i] = ((tampered[i] ?? 0) + delta) % 256;
        unauthentic(() => decryptResource({ ...resource, ciphertext: tampered.toString('base64') }, KEY));
      }),
      { numRuns: 200 },
    );
  });

  it('rejects a tampered tag, a truncated tag and an appended byte', () => {
    const resource = sample();
    const bytes = Buffer.from(resource.ciphertext, 'base64');
    const tag = Buffer.from(bytes);
    tag[tag.length - 1] = (tag[tag.length - 1] ?? 0) ^ 0x80;
    unauthentic(() => decryptResource({ ...resource, ciphertext: tag.toString('base64') }, KEY));
    payErrorOf(
      () => decryptResource({ ...resource, ciphertext: bytes.subarray(0, bytes.length - 1).toString('base64') }, KEY),
      ['UNAUTHENTIC', 'MALFORMED'],
    );
    payErrorOf(
      () =>
        decryptResource({ ...resource, ciphertext: Buffer.concat([bytes, Buffer.from([0])]).toString('base64') }, KEY),
      ['UNAUTHENTIC', 'MALFORMED'],
    );
  });

  it('rejects the wrong associated_data', () => {
    const resource = sample();
    for (const aad of ['refund', 'coupon', '', 'transaction ', 'Transaction']) {
      unauthentic(() => decryptResource({ ...resource, associated_data: aad }, KEY));
    }
    const { associated_data: _ignored, ...withoutAad } = resource;
    unauthentic(() => decryptResource(withoutAad, KEY));
  });

  it('rejects a wrong nonce of the right length as UNAUTHENTIC', () => {
    const resource = sample();
    const nonce = `${resource.nonce.slice(0, 11)}${resource.nonce[11] === 'x' ? 'y' : 'x'}`;
    unauthentic(() => decryptResource({ ...resource, nonce }, KEY));
  });

  it('rejects a nonce that is not 12 bytes as MALFORMED', () => {
    const resource = sample();
    for (const nonce of ['', 'abcdefghijk', 'abcdefghijklm', 'abcdefghijké', 'a'.repeat(64)]) {
      malformed(() => decryptResource({ ...resource, nonce }, KEY));
    }
  });

  it('rejects any algorithm but AEAD_AES_256_GCM as MALFORMED', () => {
    expect(AEAD_ALGORITHM).toBe('AEAD_AES_256_GCM');
    for (const algorithm of [
      'AEAD_AES_128_GCM',
      'aead_aes_256_gcm',
      'AEAD_SM4_GCM',
      'AES_256_ECB',
      '',
      'AEAD_AES_256_GCM ',
    ]) {
      malformed(() => decryptResource({ ...sample(), algorithm }, KEY));
    }
  });

  it('rejects a ciphertext no longer than the tag as MALFORMED', () => {
    for (const length of [0, 1, 15, 16]) {
      malformed(() => decryptResource({ ...sample(), ciphertext: Buffer.alloc(length, 7).toString('base64') }, KEY));
    }
  });

  it('property: arbitrary resources are rejected with a PayError, never a raw crypto error', () => {
    const resource = fc.record({
      algorithm: fc.oneof(fc.constant(AEAD_ALGORITHM), fc.string({ maxLength: 20 })),
      ciphertext: fc.oneof(
        fc.string({ maxLength: 100 }),
        fc.base64String({ maxLength: 100 }),
        fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b).toString('base64')),
      ),
      associated_data: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
      nonce: fc.oneof(
        fc.string({ maxLength: 20 }),
        fc.string({ minLength: 12, maxLength: 12, unit: 'grapheme-ascii' }),
      ),
    });
    fc.assert(
      fc.property(resource, (r) => {
        payErrorOf(() => decryptResource(r, KEY), ['UNAUTHENTIC', 'MALFORMED']);
      }),
      { numRuns: 500 },
    );
  });
});

// Added from mutation testing (npm run mutation): the reasons are sent back to the caller, and an
// authentic plaintext that is not UTF-8 is refused rather than decoded with replacement characters.
describe('decryptResource reasons (mutation-tested)', () => {
  const reasonOf = (r: EncryptedResource, key = KEY) =>
    payErrorOf(() => decryptResource(r, key), ['CONFIG', 'MALFORMED', 'UNAUTHENTIC']).reason;

  it('names each refusal', () => {
    expect(reasonOf(sample(), KEY.subarray(1))).toBe('WECHATPAY_APIV3_KEY must be exactly 32 bytes');
    expect(reasonOf({ ...sample(), algorithm: 'AEAD_AES_128_GCM' })).toBe('unsupported resource algorithm');
    expect(reasonOf({ ...sample(), nonce: 'short' })).toBe('resource nonce must be 12 bytes');
    expect(reasonOf({ ...sample(), ciphertext: Buffer.alloc(16).toString('base64') })).toBe(
      'resource ciphertext too short',
    );
    expect(reasonOf(sample(), Buffer.from(otherApiV3Key, 'utf8'))).toBe('resource decryption failed');
  });

  it('refuses an authentic plaintext that is not valid UTF-8 as MALFORMED', () => {
    const nonce = 'abcdefghijkl';
    const cipher = createCipheriv('aes-256-gcm', KEY, Buffer.from(nonce, 'utf8'));
    cipher.setAAD(Buffer.from('transaction', 'utf8'));
    const sealed = Buffer.concat([
      cipher.update(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    const resource: EncryptedResource = {
      algorithm: AEAD_ALGORITHM,
      ciphertext: sealed.toString('base64'),
      associated_data: 'transaction',
      nonce,
    };
    const err = payErrorOf(() => decryptResource(resource, KEY), ['MALFORMED']);
    expect(err.reason).toBe('resource is not valid UTF-8');
  });
});
