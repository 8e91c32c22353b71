/**
 * APIv2 payment notifications as the independent sender builds them, parsed and read: the signature
 * is checked over every received field before anything is believed, then the merchant ids, then each
 * field of the payment (refused by name when missing or malformed).
 */
import { thrownPayError as thrown } from '../../../support/errors';
import { describe, expect, it } from 'vitest';
import { v2PaymentNotice } from '../../../../lib/notify/read';
import { readV2Payment as readResult, type V2Merchant } from '../../../../lib/wechatpay/v2/notification';
import { parseXml, type Fields } from '../../../../lib/wechatpay/v2/xml';
import { generateTestKeys } from '../../../../scripts/simulator/keys';
import { v2PaymentNotification, v2Sign, type V2PaymentParams } from '../../../../scripts/simulator/messages';

const keys = generateTestKeys();
const merchant: V2Merchant = { apiV2Key: keys.apiV2Key, mchid: keys.mchid, appids: [keys.appid] };

const params = (p: Partial<V2PaymentParams> = {}): V2PaymentParams => ({
  outTradeNo: 'T2026112300001',
  totalFee: 1999,
  transactionId: '4200000001202611230000000001',
  timeEnd: '20261123100000',
  ...p,
});
const fields = (p: Partial<V2PaymentParams> = {}) => parseXml(v2PaymentNotification(keys, params(p)).body);

/** Signed fields as the sender would sign them, with `omit` removed before signing. */
function signedWithout(omit: string, signType: 'MD5' | 'HMAC-SHA256' = 'MD5'): Record<string, string> {
  const f = { ...fields() };
  delete f.sign;
  delete f[omit];
  return { ...f, sign: v2Sign(f, keys.apiV2Key, signType) };
}

/** The reader's result as lib/notify/read.ts turns it into a notice: each case checks both halves. */
const readV2Payment = (f: Fields, m: V2Merchant) => v2PaymentNotice(readResult(f, m), m.mchid);

describe('readV2Payment', () => {
  it('returns its own result type: the sub-merchant as sent, no channel, no domain merchant id', () => {
    expect(readResult(fields({ extra: { sub_mch_id: '1900000109' } }), merchant)).toEqual({
      paid: true,
      outTradeNo: 'T2026112300001',
      subMchId: '1900000109',
      transactionId: '4200000001202611230000000001',
      totalFen: 1999,
      paidAt: '2026-11-23T02:00:00.000Z',
    });
    expect(readResult(fields({ resultCode: 'FAIL' }), merchant)).toEqual({ paid: false, outTradeNo: 'T2026112300001' });
  });

  it('reads a signed payment: amount in fen, Beijing time_end as a UTC instant', () => {
    expect(readV2Payment(fields(), merchant)).toEqual({
      kind: 'PAYMENT',
      report: {
        outTradeNo: 'T2026112300001',
        merchantId: keys.mchid,
        transactionId: '4200000001202611230000000001',
        amountFen: 1999,
        paidAt: '2026-11-23T02:00:00.000Z',
        channel: 'v2',
      },
    });
  });

  it('accepts HMAC-SHA256 signatures, with or without sign_type', () => {
    expect(readV2Payment(fields({ signType: 'HMAC-SHA256' }), merchant).kind).toBe('PAYMENT');
    expect(readV2Payment(fields({ signType: 'HMAC-SHA256', includeSignType: false }), merchant).kind).toBe('PAYMENT');
  });

  it('records a service-provider payment under its sub-merchant, and an empty sub_mch_id under the merchant', () => {
    const sub = readV2Payment(fields({ extra: { sub_mch_id: '1900000109' } }), merchant);
    expect(sub.kind === 'PAYMENT' && sub.report.merchantId).toBe('1900000109');
    const empty = readV2Payment(fields({ extra: { sub_mch_id: '' } }), merchant);
    expect(empty.kind === 'PAYMENT' && empty.report.merchantId).toBe(keys.mchid);
  });

  it('refuses a signed sub_mch_id that is not digits', () => {
    const e = thrown(() => readV2Payment(fields({ extra: { sub_mch_id: '19000-00109' } }), merchant));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe('sub_mch_id malformed');
  });

  it('refuses a message whose return_code is not SUCCESS before looking at anything else', () => {
    const e = thrown(() =>
      readV2Payment({ return_code: 'FAIL', return_msg: 'boom' }, { ...merchant, apiV2Key: undefined }),
    );
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe('return_code is not SUCCESS');
    expect(thrown(() => readV2Payment({}, merchant)).reason).toBe('return_code is not SUCCESS');
  });

  it('is a CONFIG error when no APIv2 key is configured (so WeChat retries once it is)', () => {
    const e = thrown(() => readV2Payment(fields(), { ...merchant, apiV2Key: undefined }));
    expect(e.kind).toBe('CONFIG');
    expect(e.reason).toBe('WECHATPAY_APIV2_KEY is not set');
  });

  it('is UNAUTHENTIC under another key, with a changed field, or without a sign', () => {
    expect(thrown(() => readV2Payment(fields(), { ...merchant, apiV2Key: 'K'.repeat(32) })).kind).toBe('UNAUTHENTIC');
    expect(thrown(() => readV2Payment({ ...fields(), total_fee: '1' }, merchant)).reason).toBe('sign mismatch');
    const unsigned = { ...fields() };
    delete unsigned.sign;
    expect(thrown(() => readV2Payment(unsigned, merchant)).kind).toBe('UNAUTHENTIC');
  });

  it('refuses an authentic message for another merchant or app as INCONSISTENT naming the field', () => {
    const mch = thrown(() => readV2Payment(fields({ extra: { mch_id: '1999999999' } }), merchant));
    expect(mch.kind).toBe('INCONSISTENT');
    expect(mch.detail).toEqual({ field: 'mch_id' });
    const app = thrown(() => readV2Payment(fields({ extra: { appid: 'wx0000000000000000' } }), merchant));
    expect(app.kind).toBe('INCONSISTENT');
    expect(app.detail).toEqual({ field: 'appid' });
  });

  it('refuses an authentic message without mch_id or appid as INCONSISTENT', () => {
    expect(thrown(() => readV2Payment(signedWithout('mch_id'), merchant)).kind).toBe('INCONSISTENT');
    expect(thrown(() => readV2Payment(signedWithout('appid'), merchant)).kind).toBe('INCONSISTENT');
  });

  it('refuses a missing or malformed out_trade_no', () => {
    expect(thrown(() => readV2Payment(signedWithout('out_trade_no'), merchant)).reason).toBe(
      'out_trade_no missing or malformed',
    );
    expect(thrown(() => readV2Payment(fields({ outTradeNo: 'T'.repeat(33) }), merchant)).reason).toBe(
      'out_trade_no missing or malformed',
    );
  });

  it('ignores a failed payment (result_code FAIL), naming the order, without needing the payment fields', () => {
    const f = fields({ resultCode: 'FAIL' });
    expect(readV2Payment(f, merchant)).toEqual({
      kind: 'IGNORED',
      reason: 'result_code is not SUCCESS',
      outTradeNo: 'T2026112300001',
    });
  });

  it('refuses a successful payment without transaction_id, or with one over 64 characters', () => {
    expect(thrown(() => readV2Payment(signedWithout('transaction_id'), merchant)).reason).toBe(
      'transaction_id missing or malformed',
    );
    expect(thrown(() => readV2Payment(fields({ transactionId: '4'.repeat(65) }), merchant)).reason).toBe(
      'transaction_id missing or malformed',
    );
  });

  it('refuses a successful payment without total_fee or time_end', () => {
    const noFee = thrown(() => readV2Payment(signedWithout('total_fee'), merchant));
    expect(noFee.kind).toBe('MALFORMED');
    expect(noFee.reason).toBe('total_fee is not an integer amount in fen');
    const noTime = thrown(() => readV2Payment(signedWithout('time_end'), merchant));
    expect(noTime.kind).toBe('MALFORMED');
    expect(noTime.reason).toBe('time_end is not a Beijing time');
  });

  it('refuses a total_fee in yuan and an impossible time_end', () => {
    expect(thrown(() => readV2Payment(fields({ extra: { total_fee: '19.99' } }), merchant)).reason).toBe(
      'total_fee is not an integer amount in fen',
    );
    expect(thrown(() => readV2Payment(fields({ timeEnd: '20260230100000' }), merchant)).reason).toBe(
      'time_end is not a valid date',
    );
  });
});
