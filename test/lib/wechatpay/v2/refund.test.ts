/**
 * APIv2 refund notifications: req_info decryption (known answers against the independent sender, the
 * key rule), then the whole message read end to end, and read again as lib/notify/read.ts reports it.
 */
import { createCipheriv, createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PayError } from '../../../../lib/errors';
import { v2RefundReport } from '../../../../lib/notify/read';
import { decryptReqInfo, reqInfoKey, readV2Refund as readResult } from '../../../../lib/wechatpay/v2/refund';
import {
  encryptReqInfo,
  refundInfoXml,
  v2RefundNotification,
  type V2RefundParams,
} from '../../../../scripts/simulator/messages';
import { thrownPayError as thrown } from '../../../support/errors';
import type { V2Merchant } from '../../../../lib/wechatpay/v2/notification';
import { parseXml, DEFAULT_MAX_XML_BYTES, type Fields } from '../../../../lib/wechatpay/v2/xml';
import { generateTestKeys } from '../../../../scripts/simulator/keys';

const apiV2Key = '192006250b4c09247ec02edce69f6a2d';

describe('req_info', () => {
  it('uses the 32 ASCII bytes of the lower-case hex MD5 of the APIv2 key', () => {
    const hex = createHash('md5').update(apiV2Key).digest('hex');
    expect(reqInfoKey(apiV2Key).toString('latin1')).toBe(hex);
    expect(hex).toBe(hex.toLowerCase());
  });

  it('round-trips with the independent sender for any plaintext length', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (inner) => {
        const plain = `<root><a><![CDATA[${inner}]]></a></root>`;
        expect(decryptReqInfo(encryptReqInfo(plain, apiV2Key), reqInfoKey(apiV2Key))).toBe(plain);
      }),
    );
  });

  it('fails with an upper-case hex key, as WeChat documents', () => {
    const upper = Buffer.from(createHash('md5').update(apiV2Key).digest('hex').toUpperCase(), 'latin1');
    const c = createCipheriv('aes-256-ecb', upper, null);
    const wrong = Buffer.concat([c.update('<root><a>1</a></root>'), c.final()]).toString('base64');
    expect(() => decryptReqInfo(wrong, reqInfoKey(apiV2Key))).toThrow(PayError);
  });

  it('rejects partial blocks, non-base64 and empty input as UNAUTHENTIC', () => {
    for (const bad of ['', 'AAAA', '***', Buffer.alloc(17).toString('base64')]) {
      try {
        decryptReqInfo(bad, reqInfoKey(apiV2Key));
        expect.unreachable();
      } catch (err) {
        expect((err as PayError).kind).toBe('UNAUTHENTIC');
      }
    }
  });
});

// APIv2 refund notifications read end to end (outer XML, req_info decrypted, inner `<root>` read) as
// the independent sender builds them: req_info is the only proof of origin, so nothing outside it is
// believed before it decrypts; then each inner field is refused by name when missing or malformed.
const keys = generateTestKeys();
const merchant: V2Merchant = { apiV2Key: keys.apiV2Key, mchid: keys.mchid, appids: [keys.appid] };
const MAX = DEFAULT_MAX_XML_BYTES;
/** The reader's result as the refund report lib/notify/read.ts makes of it: each case checks both halves. */
const readV2Refund = (f: Fields, m: V2Merchant, max: number) => v2RefundReport(readResult(f, m, max), m.mchid);

const base: V2RefundParams = {
  outTradeNo: 'T2026112300001',
  outRefundNo: 'R2026112300001',
  totalFee: 1000,
  refundFee: 400,
  refundStatus: 'SUCCESS',
  successTime: '2026-11-23 10:00:00',
  refundId: '50000000382019052709732678859',
  transactionId: '4200000001202611230000000001',
};
const outer = (p: Partial<V2RefundParams> = {}) => parseXml(v2RefundNotification(keys, { ...base, ...p }).body);
/** The outer fields with req_info replaced by the given inner document, encrypted with the merchant's key. */
const withInner = (inner: string, p: Partial<V2RefundParams> = {}) => ({
  ...outer(p),
  req_info: encryptReqInfo(inner, keys.apiV2Key),
});
const innerWithout = (field: string, p: Partial<V2RefundParams> = {}) =>
  refundInfoXml({ ...base, ...p }).replace(new RegExp(`<${field}>.*?</${field}>`), '');

describe('readV2Refund', () => {
  it('returns its own result type: APIv2 status spelling, the sub-merchant as sent, no channel', () => {
    const r = readResult(
      outer({ refundStatus: 'CHANGE', successTime: undefined, subMchId: '1900000109' }),
      merchant,
      MAX,
    );
    expect(r.refundStatus).toBe('CHANGE');
    expect(r.subMchId).toBe('1900000109');
    expect(r).not.toHaveProperty('channel');
    expect(
      readResult(outer({ refundStatus: 'REFUNDCLOSE', successTime: undefined }), merchant, MAX).subMchId,
    ).toBeUndefined();
  });

  it('reads a successful refund: amounts in fen, Beijing success_time as a UTC instant', () => {
    expect(readV2Refund(outer(), merchant, MAX)).toEqual({
      outRefundNo: 'R2026112300001',
      outTradeNo: 'T2026112300001',
      merchantId: keys.mchid,
      refundId: '50000000382019052709732678859',
      transactionId: '4200000001202611230000000001',
      state: 'SUCCESS',
      refundFen: 400,
      totalFen: 1000,
      successAt: '2026-11-23T02:00:00.000Z',
      channel: 'v2',
    });
  });

  it('reads CHANGE as ABNORMAL and REFUNDCLOSE as CLOSED, neither needing success_time', () => {
    expect(readV2Refund(outer({ refundStatus: 'CHANGE', successTime: undefined }), merchant, MAX)).toMatchObject({
      state: 'ABNORMAL',
      successAt: undefined,
    });
    expect(readV2Refund(outer({ refundStatus: 'REFUNDCLOSE', successTime: undefined }), merchant, MAX)).toMatchObject({
      state: 'CLOSED',
      successAt: undefined,
    });
  });

  it('records a service-provider refund under its sub-merchant; an empty sub_mch_id means the merchant', () => {
    expect(readV2Refund(outer({ subMchId: '1900000109' }), merchant, MAX).merchantId).toBe('1900000109');
    expect(readV2Refund(outer({ subMchId: '' }), merchant, MAX).merchantId).toBe(keys.mchid);
  });

  it('refuses a sub_mch_id that is not digits', () => {
    const e = thrown(() => readV2Refund(outer({ subMchId: 'abc' }), merchant, MAX));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe('sub_mch_id malformed');
  });

  it('reads an empty inner transaction_id as absent', () => {
    expect(readV2Refund(outer({ transactionId: '' }), merchant, MAX).transactionId).toBeUndefined();
  });

  it('refuses a return_code other than SUCCESS, before anything else', () => {
    const e = thrown(() => readV2Refund({ return_code: 'FAIL' }, { ...merchant, apiV2Key: undefined }, MAX));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe('return_code is not SUCCESS');
  });

  it('is a CONFIG error when no APIv2 key is configured', () => {
    const e = thrown(() => readV2Refund(outer(), { ...merchant, apiV2Key: undefined }, MAX));
    expect(e.kind).toBe('CONFIG');
  });

  it('refuses a message without req_info, or with an empty one', () => {
    const f = outer();
    delete f.req_info;
    expect(thrown(() => readV2Refund(f, merchant, MAX)).reason).toBe('req_info missing');
    expect(thrown(() => readV2Refund({ ...outer(), req_info: '' }, merchant, MAX)).reason).toBe('req_info missing');
  });

  it('is UNAUTHENTIC when req_info does not decrypt under our key, or decrypts to something that is not a <root>', () => {
    const other = thrown(() => readV2Refund(outer(), { ...merchant, apiV2Key: 'K'.repeat(32) }, MAX));
    expect(other.kind).toBe('UNAUTHENTIC');
    expect(other.reason).toBe('req_info does not decrypt to a refund result');
    for (const inner of [
      '<xml><refund_status>SUCCESS</refund_status></xml>',
      'refund_status=SUCCESS',
      '<root><a>1</a></root><root/>',
    ]) {
      expect(thrown(() => readV2Refund(withInner(inner), merchant, MAX)).kind).toBe('UNAUTHENTIC');
    }
    expect(thrown(() => readV2Refund({ ...outer(), req_info: 'not base64!' }, merchant, MAX)).kind).toBe('UNAUTHENTIC');
  });

  it('refuses an inner document larger than the configured limit as UNAUTHENTIC', () => {
    const big = refundInfoXml({ ...base, extra: { padding: 'x'.repeat(2000) } });
    expect(thrown(() => readV2Refund(withInner(big), merchant, 1000)).kind).toBe('UNAUTHENTIC');
    expect(readV2Refund(withInner(big), merchant, MAX).state).toBe('SUCCESS');
  });

  it('checks the outer ids only after req_info proved the key, as INCONSISTENT naming the field', () => {
    const mch = thrown(() => readV2Refund({ ...outer(), mch_id: '1999999999' }, merchant, MAX));
    expect(mch.kind).toBe('INCONSISTENT');
    expect(mch.detail).toEqual({ field: 'mch_id' });
    const app = thrown(() => readV2Refund({ ...outer(), appid: 'wx0000000000000000' }, merchant, MAX));
    expect(app.kind).toBe('INCONSISTENT');
    expect(app.detail).toEqual({ field: 'appid' });
    // a forged req_info with another merchant id is a forgery, not an inconsistency
    expect(
      thrown(() =>
        readV2Refund({ ...outer(), mch_id: '1999999999', req_info: 'AAAAAAAAAAAAAAAAAAAAAA==' }, merchant, MAX),
      ).kind,
    ).toBe('UNAUTHENTIC');
  });

  it.each([
    ['refund_status', 'refund_status unknown'],
    ['out_trade_no', 'out_trade_no missing or malformed'],
    ['out_refund_no', 'out_refund_no missing or malformed'],
    ['refund_id', 'refund_id missing or malformed'],
    ['refund_fee', 'refund_fee is not an integer amount in fen'],
    ['total_fee', 'total_fee is not an integer amount in fen'],
    ['success_time', 'success_time missing'],
  ])('refuses a successful refund whose req_info lacks %s', (field, reason) => {
    const e = thrown(() => readV2Refund(withInner(innerWithout(field)), merchant, MAX));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe(reason);
  });

  it.each([
    ['refund_status', 'PROCESSING', 'refund_status unknown'],
    ['out_trade_no', 'T 1', 'out_trade_no missing or malformed'],
    ['out_refund_no', 'R'.repeat(33), 'out_refund_no missing or malformed'],
    ['refund_id', '5'.repeat(65), 'refund_id missing or malformed'],
    ['refund_fee', '4.00', 'refund_fee is not an integer amount in fen'],
    ['success_time', '2026-11-23T10:00:00+08:00', 'success_time is not a Beijing time'],
  ])('refuses an inner %s of %j', (field, value, reason) => {
    const e = thrown(() =>
      readV2Refund(withInner(refundInfoXml({ ...base, extra: { [field]: value } })), merchant, MAX),
    );
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe(reason);
  });

  it('refuses a refund of nothing or of more than the order as INCONSISTENT', () => {
    for (const [refundFee, totalFee] of [
      [0, 1000],
      [1001, 1000],
    ] as const) {
      const e = thrown(() => readV2Refund(outer({ refundFee, totalFee }), merchant, MAX));
      expect(e.kind).toBe('INCONSISTENT');
      expect(e.detail).toEqual({ field: 'refund_fee' });
    }
  });
});
