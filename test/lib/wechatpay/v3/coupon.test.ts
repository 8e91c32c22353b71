/**
 * The decrypted coupon resources: COUPON.SEND (merchant coupon received) and COUPON.USE (cash coupon
 * used). Required fields refused by name, optional ones absent, codes restricted to what can be a key.
 */
import { thrownPayError as thrown } from '../../../support/errors';
import { describe, expect, it } from 'vitest';
import { couponEvent } from '../../../../lib/notify/read';
import { readCouponResource } from '../../../../lib/wechatpay/v3/coupon';
import { rfc3339Beijing } from '../../../../scripts/simulator/messages';

const MCHID = '1900000100';
const FALLBACK = '1900000999';

function without(r: Record<string, unknown>, ...fields: string[]): Record<string, unknown> {
  const copy = { ...r };
  for (const f of fields) delete copy[f];
  return copy;
}

const send = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  event_type: 'EVENT_TYPE_BUSICOUPON_SEND',
  coupon_code: 'C-2026_0001',
  stock_id: '1212000001',
  send_time: rfc3339Beijing(new Date('2026-11-23T02:00:00Z')),
  openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
  send_channel: 'BUSICOUPON_SEND_CHANNEL_MINIAPP',
  send_merchant: MCHID,
  attach_info: { transaction_id: '4200000000000000000000000001', act_code: 'A1' },
  ...over,
});

const use = (over: Record<string, unknown> = {}, consume: Record<string, unknown> = {}): Record<string, unknown> => ({
  stock_creator_mchid: MCHID,
  stock_id: '9856000',
  coupon_id: '9856888',
  status: 'USED',
  normal_coupon_information: { coupon_amount: 100, transaction_minimum: 500 },
  consume_information: {
    consume_time: '2026-11-23T13:29:35+08:00',
    consume_mchid: MCHID,
    transaction_id: '4200000000000000000000000002',
    ...consume,
  },
  ...over,
});

/** The reader's result as the coupon event lib/notify/read.ts makes of it: each case checks both halves. */
const readCouponEvent = (r: Record<string, unknown>, type: 'COUPON.SEND' | 'COUPON.USE', fallbackMchid: string) =>
  couponEvent(readCouponResource(r, type), fallbackMchid);

describe('readCouponResource', () => {
  it('returns its own result types: the merchant as WeChat names it, or none', () => {
    expect(readCouponResource(send(), 'COUPON.SEND')).toMatchObject({ kind: 'SENT', sendMerchant: MCHID });
    expect(readCouponResource(send({ send_merchant: undefined }), 'COUPON.SEND')).toMatchObject({
      sendMerchant: undefined,
    });
    expect(readCouponResource(use(), 'COUPON.USE')).toMatchObject({ kind: 'USED', couponId: expect.any(String) });
  });
});

describe('COUPON.SEND', () => {
  it('reads a received merchant coupon', () => {
    expect(readCouponEvent(send(), 'COUPON.SEND', FALLBACK)).toEqual({
      kind: 'SENT',
      couponCode: 'C-2026_0001',
      stockId: '1212000001',
      merchantId: MCHID,
      at: '2026-11-23T02:00:00.000Z',
      openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
      channel: 'BUSICOUPON_SEND_CHANNEL_MINIAPP',
      transactionId: '4200000000000000000000000001',
      amountFen: undefined,
    });
  });

  it('reads a minimal coupon: no event_type, no sender (the configured merchant), no openid, channel or attach_info', () => {
    const e = readCouponEvent(
      without(send(), 'event_type', 'send_merchant', 'openid', 'send_channel', 'attach_info'),
      'COUPON.SEND',
      FALLBACK,
    );
    expect(e).toMatchObject({
      kind: 'SENT',
      merchantId: FALLBACK,
      openid: undefined,
      channel: undefined,
      transactionId: undefined,
    });
  });

  it('ignores an attach_info that is not an object', () => {
    for (const attach of ['4200000000000000000000000001', [], null]) {
      expect(readCouponEvent(send({ attach_info: attach }), 'COUPON.SEND', FALLBACK).transactionId).toBeUndefined();
    }
  });

  it('refuses another event_type', () => {
    const e = thrown(() => readCouponEvent(send({ event_type: 'EVENT_TYPE_BUSICOUPON_USE' }), 'COUPON.SEND', FALLBACK));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe('coupon.event_type is not EVENT_TYPE_BUSICOUPON_SEND');
  });

  it.each([
    ['coupon_code', 'coupon.coupon_code missing or malformed'],
    ['stock_id', 'coupon.stock_id missing or malformed'],
    ['send_time', 'coupon.send_time missing or malformed'],
  ])('refuses a coupon without %s', (field, reason) => {
    const e = thrown(() => readCouponEvent(without(send(), field), 'COUPON.SEND', FALLBACK));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe(reason);
  });

  it.each([
    ['coupon_code', '../../etc', 'coupon.coupon_code malformed'],
    ['coupon_code', 'C#1', 'coupon.coupon_code malformed'],
    ['stock_id', 'S 1', 'coupon.stock_id malformed'],
    ['coupon_code', 12345, 'coupon.coupon_code missing or malformed'],
    ['send_time', '2026-11-23 10:00:00', 'coupon.send_time is not an RFC 3339 time'],
    ['send_merchant', 1900000100, 'coupon.send_merchant missing or malformed'],
    ['openid', 'o'.repeat(129), 'coupon.openid missing or malformed'],
  ])('refuses %s = %j', (field, value, reason) => {
    const e = thrown(() => readCouponEvent(send({ [field]: value }), 'COUPON.SEND', FALLBACK));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe(reason);
  });
});

describe('COUPON.USE', () => {
  it('reads a used cash coupon with its amount and the paying transaction', () => {
    expect(readCouponEvent(use(), 'COUPON.USE', FALLBACK)).toEqual({
      kind: 'USED',
      couponCode: '9856888',
      stockId: '9856000',
      merchantId: MCHID,
      at: '2026-11-23T05:29:35.000Z',
      openid: undefined,
      channel: undefined,
      transactionId: '4200000000000000000000000002',
      amountFen: 100,
    });
  });

  it('reads a use without amount information, consuming merchant or transaction', () => {
    const r = use({}, { consume_mchid: undefined, transaction_id: undefined });
    delete r.normal_coupon_information;
    expect(readCouponEvent(r, 'COUPON.USE', FALLBACK)).toMatchObject({
      merchantId: FALLBACK,
      transactionId: undefined,
      amountFen: undefined,
    });
    expect(
      readCouponEvent(use({ normal_coupon_information: { transaction_minimum: 1 } }), 'COUPON.USE', FALLBACK).amountFen,
    ).toBeUndefined();
    expect(
      readCouponEvent(use({ normal_coupon_information: 'NORMAL' }), 'COUPON.USE', FALLBACK).amountFen,
    ).toBeUndefined();
  });

  it('refuses a coupon amount that is not whole fen', () => {
    for (const amount of ['100', 1.5, -1]) {
      const e = thrown(() =>
        readCouponEvent(use({ normal_coupon_information: { coupon_amount: amount } }), 'COUPON.USE', FALLBACK),
      );
      expect(e.kind).toBe('MALFORMED');
      expect(e.reason).toBe('coupon.normal_coupon_information.coupon_amount is not an integer amount in fen');
    }
  });

  it('refuses a use without consume_information, or with one that is not an object', () => {
    for (const consume of [undefined, 'USED', [], null]) {
      const e = thrown(() => readCouponEvent(use({ consume_information: consume }), 'COUPON.USE', FALLBACK));
      expect(e.kind).toBe('MALFORMED');
      expect(e.reason).toBe('coupon.consume_information missing');
    }
  });

  it.each([
    ['coupon_id', 'coupon.coupon_id missing or malformed'],
    ['stock_id', 'coupon.stock_id missing or malformed'],
  ])('refuses a use without %s', (field, reason) => {
    expect(thrown(() => readCouponEvent(without(use(), field), 'COUPON.USE', FALLBACK)).reason).toBe(reason);
  });

  it('refuses a use without a consume time, or with one that is not RFC 3339', () => {
    expect(thrown(() => readCouponEvent(use({}, { consume_time: undefined }), 'COUPON.USE', FALLBACK)).reason).toBe(
      'coupon.consume_information.consume_time missing or malformed',
    );
    expect(
      thrown(() => readCouponEvent(use({}, { consume_time: '20261123132935' }), 'COUPON.USE', FALLBACK)).reason,
    ).toBe('coupon.consume_information.consume_time is not an RFC 3339 time');
  });

  it('refuses a coupon_id that could not be a key', () => {
    expect(thrown(() => readCouponEvent(use({ coupon_id: 'a/b' }), 'COUPON.USE', FALLBACK)).reason).toBe(
      'coupon.coupon_id malformed',
    );
  });
});
