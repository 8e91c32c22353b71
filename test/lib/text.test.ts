/** The primitives every codec shares: strict UTF-8, the prototype-key set, the constant-time hex compare. */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PayError } from '../../lib/errors';
import { bodyByteLength, bodyText, decodeUtf8, hexDigestEquals, isPrototypeKey } from '../../lib/text';

describe('decodeUtf8', () => {
  it('decodes valid UTF-8 and refuses invalid bytes as MALFORMED, naming what was read', () => {
    expect(decodeUtf8(Buffer.from('支付 ok', 'utf8'))).toBe('支付 ok');
    try {
      decodeUtf8(Buffer.from([0x61, 0xff, 0x62]), 'resource');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PayError);
      expect((err as PayError).kind).toBe('MALFORMED');
      expect((err as PayError).reason).toBe('resource is not valid UTF-8');
    }
    expect(() => decodeUtf8(Buffer.from([0xc3]))).toThrow('body is not valid UTF-8');
  });

  it('property: a Buffer and a plain byte array read as the fatal WHATWG decoder reads them, one leading mark dropped', () => {
    const fatal = new TextDecoder('utf-8', { fatal: true });
    const text = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 32 }),
      fc.string({ unit: fc.constantFrom('\ufeff', 'a', '支', '\u{1f600}', '\u0000'), maxLength: 12 }),
    );
    fc.assert(
      fc.property(text, (t) => {
        const buffer = Buffer.from(t, 'utf8');
        const plain = new Uint8Array(buffer);
        expect(decodeUtf8(buffer)).toBe(fatal.decode(buffer));
        expect(decodeUtf8(plain)).toBe(fatal.decode(plain));
      }),
      { numRuns: 2000 },
    );
    expect(decodeUtf8(Buffer.from('\ufeff\ufeffx', 'utf8'))).toBe('\ufeffx');
    expect(decodeUtf8(Buffer.from('x\ufeff', 'utf8'))).toBe('x\ufeff');
  });
});

describe('bodyText and bodyByteLength (a body as bytes or as the text of them)', () => {
  it('text reads as its UTF-8 bytes decode: a byte-order mark dropped, a lone surrogate as U+FFFD', () => {
    expect(bodyText('\ufeff{"a":1}')).toBe('{"a":1}');
    expect(bodyText('a\ud800b')).toBe('a\ufffdb');
    expect(bodyText('\udc00')).toBe('\ufffd');
    expect(bodyText('支付')).toBe('支付');
    expect(bodyByteLength('支付')).toBe(6);
    expect(bodyByteLength(Buffer.from([1, 2, 3]))).toBe(3);
  });

  it('bytes are decoded strictly, naming what they are (the body unless told)', () => {
    expect(() => bodyText(Buffer.from([0xc3]))).toThrow(/^body is not valid UTF-8$/);
    expect(() => bodyText(Buffer.from([0x7b, 0xff]), 'notification')).toThrow(/notification is not valid UTF-8/);
  });

  it('property: any JavaScript string, lone surrogates and marks included, reads and sizes as its UTF-8 bytes', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 64 }),
      fc.string({ unit: fc.constantFrom('\ufeff', '\ud800', '\udfff', 'a', '支', '\u{1f600}'), maxLength: 16 }),
    );
    fc.assert(
      fc.property(text, (t) => {
        const bytes = Buffer.from(t, 'utf8');
        expect(bodyText(t)).toBe(decodeUtf8(bytes));
        expect(bodyByteLength(t)).toBe(bytes.length);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('isPrototypeKey', () => {
  it('is true for exactly the names that reach an object prototype', () => {
    for (const name of ['__proto__', 'constructor', 'prototype']) expect(isPrototypeKey(name)).toBe(true);
    // the same names built at run time (not the interned literals) are the same names
    expect(isPrototypeKey(['__pro', 'to__'].join(''))).toBe(true);
    expect(isPrototypeKey(Object.keys(JSON.parse('{"constructor":1}'))[0] as string)).toBe(true);
    for (const name of ['proto', '__proto', 'Constructor', 'prototypes', '', 'toString', 'hasOwnProperty'])
      expect(isPrototypeKey(name)).toBe(false);
  });
});

describe('hexDigestEquals', () => {
  const digest = createHash('md5').update('abc').digest('hex').toUpperCase();

  it('accepts the digest in upper or lower case', () => {
    expect(hexDigestEquals(digest, digest)).toBe(true);
    expect(hexDigestEquals(digest.toLowerCase(), digest)).toBe(true);
  });

  it('refuses another digest, a prefix, a longer text, an empty text and non-hex look-alikes', () => {
    const other = createHash('md5').update('abd').digest('hex').toUpperCase();
    expect(hexDigestEquals(other, digest)).toBe(false);
    expect(hexDigestEquals(digest.slice(0, 31), digest)).toBe(false);
    expect(hexDigestEquals(`${digest}0`, digest)).toBe(false);
    expect(hexDigestEquals('', digest)).toBe(false);
    // latin1 keeps only the low byte: U+0141 'Ł' would pass for 'A' (0x41) without the hex check
    const lookAlike = `${digest.slice(0, -1)}\u0141`;
    expect(hexDigestEquals(lookAlike, `${digest.slice(0, -1)}A`)).toBe(false);
    expect(hexDigestEquals(`${digest.slice(0, -1)}G`, digest)).toBe(false);
  });

  it('property: equal exactly when the texts are the same digest, whatever the case', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), (a, b) => {
        const da = createHash('md5').update(a).digest('hex').toUpperCase();
        const db = createHash('md5').update(b).digest('hex').toUpperCase();
        expect(hexDigestEquals(da.toLowerCase(), db)).toBe(da === db);
      }),
    );
  });
});
