import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { resolveSignType, signV2, signingString, verifyV2, type V2SignType } from '../../../../lib/wechatpay/v2/sign';
import { parseXml, type Fields } from '../../../../lib/wechatpay/v2/xml';
import { generateTestKeys } from '../../../../scripts/simulator/keys';
import { v2PaymentNotification, v2Sign, v2SignString, v2Xml } from '../../../../scripts/simulator/messages';

const keys = generateTestKeys();

// The official APIv2 signature example (安全规范).
const OFFICIAL = {
  appid: 'wxd930ea5d5a258f4f',
  mch_id: '10000100',
  device_info: '1000',
  body: 'test',
  nonce_str: 'ibuaiVcKdpRxkhJA',
};
const OFFICIAL_KEY = '192006250b4c09247ec02edce69f6a2d';
const OFFICIAL_MD5 = '9A0A8659F005D6984697E2CA0A9CF3B7';
const OFFICIAL_HMAC = '6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6';

const signType = fc.constantFrom<V2SignType>('MD5', 'HMAC-SHA256');
const anyName = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter((n) => n !== '__proto__');
const anyValue = fc.string({ unit: 'binary', maxLength: 30 });
/** Names that order differently in UTF-16 and UTF-8: U+F900..U+FFFD against astral characters. */
const trickyName = fc
  .array(fc.constantFrom('a', 'b', '\u{F900}', '\u{FF21}', '\u{10000}', '\u{1F600}', '_', '0'), {
    minLength: 1,
    maxLength: 4,
  })
  .map((cs) => cs.join(''));
const fieldSet = fc.dictionary(fc.oneof(anyName, trickyName), anyValue, { maxKeys: 12, noNullPrototype: true });
const v2Key = fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 40 });

/** A realistic signed payment notification, as lib sees it after parsing. */
function notification(
  opts: { signType?: V2SignType; includeSignType?: boolean; extra?: Record<string, string> } = {},
): Fields {
  return parseXml(v2PaymentNotification(keys, { outTradeNo: 'ORDER-1', totalFee: 1990, ...opts }).body);
}

describe('the official known answer', () => {
  it('builds the documented signing string', () => {
    expect(signingString(OFFICIAL, OFFICIAL_KEY)).toBe(
      'appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d',
    );
  });

  it('signs MD5 and HMAC-SHA256 as documented', () => {
    expect(signV2(OFFICIAL, OFFICIAL_KEY, 'MD5')).toBe(OFFICIAL_MD5);
    expect(signV2(OFFICIAL, OFFICIAL_KEY, 'HMAC-SHA256')).toBe(OFFICIAL_HMAC);
  });

  it('verifies both, inferring the algorithm from the length when sign_type is absent', () => {
    expect(verifyV2({ ...OFFICIAL, sign: OFFICIAL_MD5 }, OFFICIAL_KEY)).toBe(true);
    expect(verifyV2({ ...OFFICIAL, sign: OFFICIAL_HMAC }, OFFICIAL_KEY)).toBe(true);
    expect(verifyV2({ ...OFFICIAL, sign: OFFICIAL_MD5 }, `${OFFICIAL_KEY.slice(0, -1)}e`)).toBe(false);
  });
});

describe('signV2 agrees with the independent simulator', () => {
  it('for arbitrary field sets, keys and both algorithms', () => {
    fc.assert(
      fc.property(fieldSet, v2Key, signType, (fields, key, type) => {
        // with nothing to sign the two differ only in a leading '&'; no WeChat message is empty
        fc.pre(Object.entries(fields).some(([k, v]) => k !== 'sign' && v !== ''));
        expect(signingString(fields, key)).toBe(v2SignString(fields, key));
        expect(signV2(fields, key, type)).toBe(v2Sign(fields, key, type));
      }),
      { numRuns: 500 },
    );
  });

  it('orders names by UTF-8 bytes, not UTF-16 units', () => {
    const fields = { '\u{FF21}': '1', '\u{1F600}': '2', a: '3' };
    expect(signingString(fields, 'k')).toBe('a=3&\u{FF21}=1&\u{1F600}=2&key=k');
    expect(signV2(fields, 'k', 'MD5')).toBe(v2Sign(fields, 'k', 'MD5'));
  });

  it('orders case-sensitively by byte (upper case before lower case)', () => {
    expect(signingString({ b: '1', B: '2', a: '3', _: '4', A0: '5' }, 'k')).toBe('A0=5&B=2&_=4&a=3&b=1&key=k');
  });

  it('excludes empty fields and the sign itself', () => {
    fc.assert(
      fc.property(
        fieldSet,
        fc.array(anyName, { maxLength: 3 }),
        anyValue,
        signType,
        (fields, emptyNames, sign, type) => {
          const padded: Record<string, string> = { ...fields, sign };
          for (const name of emptyNames) if (!(name in fields)) padded[name] = '';
          const bare = Object.fromEntries(Object.entries(fields).filter(([k]) => k !== 'sign'));
          expect(signV2(padded, keys.apiV2Key, type)).toBe(signV2(bare, keys.apiV2Key, type));
        },
      ),
      { numRuns: 200 },
    );
    expect(signingString({ a: '1', b: '', sign: 'X' }, 'k')).toBe('a=1&key=k');
  });

  it('uses raw values: nothing is URL-encoded or trimmed', () => {
    expect(signingString({ attach: 'a b&c=d%20', body: ' 中文 ' }, 'k')).toBe('attach=a b&c=d%20&body= 中文 &key=k');
  });
});

describe('resolveSignType', () => {
  it('honours sign_type when present', () => {
    expect(resolveSignType({ sign_type: 'MD5', sign: 'A'.repeat(64) })).toBe('MD5');
    expect(resolveSignType({ sign_type: 'HMAC-SHA256', sign: 'A'.repeat(32) })).toBe('HMAC-SHA256');
  });

  it('infers from the signature length when sign_type is absent or empty', () => {
    expect(resolveSignType({ sign: 'A'.repeat(32) })).toBe('MD5');
    expect(resolveSignType({ sign: 'A'.repeat(64) })).toBe('HMAC-SHA256');
    expect(resolveSignType({ sign_type: '', sign: 'A'.repeat(64) })).toBe('HMAC-SHA256');
    expect(resolveSignType({ sign: 'A'.repeat(40) })).toBeUndefined();
    expect(resolveSignType({})).toBeUndefined();
  });

  it('refuses an unknown sign_type instead of guessing', () => {
    expect(resolveSignType({ sign_type: 'SHA1', sign: 'A'.repeat(32) })).toBeUndefined();
    expect(resolveSignType({ sign_type: 'md5', sign: 'A'.repeat(32) })).toBeUndefined();
    expect(resolveSignType({ sign_type: 'HMAC-SHA256 ', sign: 'A'.repeat(64) })).toBeUndefined();
  });
});

describe('verifyV2 on notifications from the simulator', () => {
  it.each([
    ['MD5 with sign_type', { signType: 'MD5' as const, includeSignType: true }],
    ['MD5 without sign_type', { signType: 'MD5' as const, includeSignType: false }],
    ['HMAC-SHA256 with sign_type', { signType: 'HMAC-SHA256' as const, includeSignType: true }],
    ['HMAC-SHA256 without sign_type (WxJava#1633)', { signType: 'HMAC-SHA256' as const, includeSignType: false }],
  ])('accepts %s', (_label, opts) => {
    const fields = notification(opts);
    expect('sign_type' in fields).toBe(opts.includeSignType);
    expect(verifyV2(fields, keys.apiV2Key)).toBe(true);
    expect(verifyV2(fields, generateKeyLike(keys.apiV2Key))).toBe(false);
  });

  it('signs sign_type itself: dropping or changing it breaks the signature', () => {
    const fields = notification({ signType: 'MD5' });
    const withoutType = { ...fields };
    delete withoutType.sign_type;
    expect(verifyV2(withoutType, keys.apiV2Key)).toBe(false);
    expect(verifyV2({ ...fields, sign_type: 'HMAC-SHA256' }, keys.apiV2Key)).toBe(false);
  });

  it('rejects a sign whose length contradicts sign_type', () => {
    const md5Signed = notification({ signType: 'MD5', includeSignType: false });
    const hmac = v2Sign({ ...md5Signed, sign: '' }, keys.apiV2Key, 'HMAC-SHA256');
    expect(verifyV2({ ...md5Signed, sign: hmac }, keys.apiV2Key)).toBe(true);
    const declared = notification({ signType: 'MD5' });
    expect(verifyV2({ ...declared, sign: v2Sign(declared, keys.apiV2Key, 'HMAC-SHA256') }, keys.apiV2Key)).toBe(false);
  });

  it('signs indexed coupon fields (coupon_type_$n, coupon_fee_$n, coupon_id_$n)', () => {
    const coupons = {
      coupon_fee: '300',
      coupon_count: '2',
      coupon_type_0: 'CASH',
      coupon_id_0: '10000',
      coupon_fee_0: '100',
      coupon_type_1: 'NO_CASH',
      coupon_id_1: '10001',
      coupon_fee_1: '200',
      settlement_total_fee: '1890',
    };
    const fields = notification({ extra: coupons });
    expect(verifyV2(fields, keys.apiV2Key)).toBe(true);
    for (const name of Object.keys(coupons)) {
      const without = { ...fields };
      delete without[name];
      expect(verifyV2(without, keys.apiV2Key), `dropping ${name}`).toBe(false);
      expect(verifyV2({ ...fields, [name]: `${fields[name] ?? ''}0` }, keys.apiV2Key), `changing ${name}`).toBe(false);
    }
    // a field WeChat adds tomorrow is signed just the same
    expect(verifyV2(notification({ extra: { brand_new_field_9: 'x' } }), keys.apiV2Key)).toBe(true);
  });

  it('accepts a lower-case or mixed-case sign', () => {
    for (const type of ['MD5', 'HMAC-SHA256'] as const) {
      const fields = notification({ signType: type });
      const sign = fields.sign ?? '';
      expect(verifyV2({ ...fields, sign: sign.toLowerCase() }, keys.apiV2Key)).toBe(true);
      const mixed = [...sign].map((c, i) => (i % 2 ? c.toLowerCase() : c)).join('');
      expect(verifyV2({ ...fields, sign: mixed }, keys.apiV2Key)).toBe(true);
    }
  });

  it('rejects a missing, empty or wrong-length sign', () => {
    const fields = notification({ signType: 'MD5', includeSignType: false });
    const sign = fields.sign ?? '';
    const without = { ...fields };
    delete without.sign;
    expect(verifyV2(without, keys.apiV2Key)).toBe(false);
    for (const bad of [
      '',
      sign.slice(0, 31),
      `${sign}0`,
      sign.slice(0, 16),
      `${sign}${sign}`.slice(0, 63),
      `${sign}${sign}0`,
      ` ${sign}`,
      `${sign}\n`,
    ]) {
      expect(verifyV2({ ...fields, sign: bad }, keys.apiV2Key), JSON.stringify(bad)).toBe(false);
    }
  });

  it('rejects a sign with non-hex characters that share a low byte with the right digit', () => {
    const fields = notification({ signType: 'MD5' });
    const sign = fields.sign ?? '';
    // U+0100 + c keeps c's low byte: a latin1 comparison alone would read it as c
    for (let i = 0; i < sign.length; i += 1) {
      const forged = sign.slice(0, i) + String.fromCharCode(0x100 + sign.charCodeAt(i)) + sign.slice(i + 1);
      expect(verifyV2({ ...fields, sign: forged }, keys.apiV2Key)).toBe(false);
    }
  });

  it('rejects every single-byte change to any field name, value or the sign', () => {
    const fields = notification({
      signType: 'HMAC-SHA256',
      extra: { coupon_type_0: 'CASH', coupon_fee_0: '10', attach: '中文 & more' },
    });
    let checked = 0;
    for (const [name, value] of Object.entries(fields)) {
      for (const target of ['name', 'value'] as const) {
        const bytes = Buffer.from(target === 'name' ? name : value, 'utf8');
        for (let i = 0; i < bytes.length; i += 1) {
          const changed = Buffer.from(bytes);
          changed[i] = (changed[i] ?? 0) ^ 0x01; // never a case change
          const text = changed.toString('utf8');
          const tampered = target === 'name' ? rename(fields, name, text) : { ...fields, [name]: text };
          expect(verifyV2(tampered, keys.apiV2Key), `${target} of ${name}, byte ${i}`).toBe(false);
          checked += 1;
        }
      }
    }
    expect(checked).toBeGreaterThan(400);
  });

  it('property: changing any single byte of a signed message makes it fail', () => {
    const signedMessage = fc
      .tuple(
        fc.dictionary(anyName, fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }), {
          minKeys: 1,
          maxKeys: 8,
          noNullPrototype: true,
        }),
        signType,
        fc.boolean(),
      )
      .map(([fields, type, includeType]): Record<string, string> => {
        const body: Record<string, string> = { ...fields };
        delete body.sign;
        if (includeType) body.sign_type = type;
        else delete body.sign_type;
        return { ...body, sign: v2Sign(body, keys.apiV2Key, type) };
      });
    fc.assert(
      fc.property(
        signedMessage,
        fc.nat(),
        fc.boolean(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (fields, which, inName, at, delta) => {
          expect(verifyV2(fields, keys.apiV2Key)).toBe(true);
          const names = Object.keys(fields);
          const name = names[which % names.length] as string;
          const original = inName ? name : (fields[name] as string);
          const bytes = Buffer.from(original, 'utf8');
          const i = at % bytes.length;
          bytes[i] = ((bytes[i] ?? 0) + delta) % 256;
          const text = bytes.toString('utf8');
          fc.pre(text !== original); // a replacement character can decode back to the same text
          if (!inName && name === 'sign') fc.pre(text.toUpperCase() !== original.toUpperCase()); // case is not a change
          const tampered = inName ? rename(fields, name, text) : { ...fields, [name]: text };
          expect(verifyV2(tampered, keys.apiV2Key)).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('round-trips through the simulator XML and lib parser for arbitrary extra fields', () => {
    const extra = fc.dictionary(
      fc.stringMatching(/^[a-z][a-z0-9_]{0,15}$/),
      fc.string({ maxLength: 30 }).filter((v) => !v.includes('\r') && !v.includes('<!')),
      {
        maxKeys: 6,
        noNullPrototype: true,
      },
    );
    fc.assert(
      fc.property(extra, signType, fc.boolean(), (fields, type, includeSignType) => {
        // out_trade_no etc. are overridden too: the signature covers the final field set
        const wire = v2PaymentNotification(keys, {
          outTradeNo: 'T',
          totalFee: 1,
          signType: type,
          includeSignType,
          extra: withoutSignFields(fields),
        });
        expect(verifyV2(parseXml(wire.body), keys.apiV2Key)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('rejects a signature made with another key, even via XML', () => {
    const fields = notification();
    const forgedBody = v2Xml({ ...fields, sign: v2Sign(fields, generateKeyLike(keys.apiV2Key), 'MD5') });
    expect(verifyV2(parseXml(forgedBody), keys.apiV2Key)).toBe(false);
  });
});

function rename(fields: Fields, from: string, to: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) out[k === from ? to : k] = v;
  return out;
}

function withoutSignFields(fields: Record<string, string>): Record<string, string> {
  const out = { ...fields };
  delete out.sign;
  delete out.sign_type;
  return out;
}

/** A different key of the same shape. */
function generateKeyLike(key: string): string {
  return key.slice(1) + (key[0] === 'A' ? 'B' : 'A');
}

// Added from mutation testing (npm run mutation).
describe('verifyV2 edges (mutation-tested)', () => {
  it('rejects an unknown sign_type even when the sign is a valid digest of the message under the key', () => {
    const fields = { ...notification({ signType: 'HMAC-SHA256' }), sign_type: 'HMAC-SHA1' };
    for (const type of ['HMAC-SHA256', 'MD5'] as const) {
      const forged = { ...fields, sign: signV2(fields, keys.apiV2Key, type) };
      expect(verifyV2(forged, keys.apiV2Key)).toBe(false);
    }
  });

  it('leaves out fields whose value is undefined, as if absent', () => {
    const withHoles = { a: '1', b: undefined, c: '3' } as unknown as Fields;
    expect(signingString(withHoles, 'k')).toBe('a=1&c=3&key=k');
  });
});
