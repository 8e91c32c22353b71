/**
 * The pure decisions behind every conditional write: what a payment or a refund report does to the
 * current record, which outcomes are anomalies, and the identifier rules WeChat defines.
 */
import { describe, expect, it } from 'vitest';
import {
  isMerchantId,
  isOutTradeNo,
  judgePayment,
  judgeRefund,
  paymentAnomaly,
  type Order,
  type PaymentReport,
  type Refund,
  type RefundReport,
} from '../../../lib/orders/model';

const report: PaymentReport = {
  outTradeNo: 'T1',
  merchantId: '1900000100',
  transactionId: '4200000001',
  amountFen: 1000,
  paidAt: '2026-11-23T02:00:00.000Z',
  channel: 'v3',
};
const order = (over: Partial<Order> = {}): Order => ({
  outTradeNo: 'T1',
  merchantId: '1900000100',
  state: 'NOTPAY',
  amountFen: 1000,
  amountUnverified: false,
  ...over,
});

describe('judgePayment', () => {
  it('applies a payment to an order that does not exist yet (the policy decides elsewhere)', () => {
    expect(judgePayment(undefined, report)).toBe('APPLY');
  });

  it('applies a payment of the registered amount to an unpaid or locally closed order', () => {
    expect(judgePayment(order(), report)).toBe('APPLY');
    expect(judgePayment(order({ state: 'CLOSED' }), report)).toBe('APPLY');
  });

  it('refuses another amount as AMOUNT_MISMATCH, whether unpaid or closed', () => {
    expect(judgePayment(order({ amountFen: 999 }), report)).toEqual({
      kind: 'CONFLICT',
      reason: 'AMOUNT_MISMATCH',
      order: order({ amountFen: 999 }),
    });
    expect(judgePayment(order({ state: 'CLOSED', amountFen: 1001 }), report)).toMatchObject({
      kind: 'CONFLICT',
      reason: 'AMOUNT_MISMATCH',
    });
  });

  it('on a paid order: the same transaction is a duplicate, another one a conflict (amount aside)', () => {
    const paid = order({ state: 'PAID', transactionId: '4200000001' });
    expect(judgePayment(paid, report)).toEqual({ kind: 'ALREADY_APPLIED', order: paid });
    expect(judgePayment(paid, { ...report, amountFen: 1 })).toEqual({ kind: 'ALREADY_APPLIED', order: paid });
    expect(judgePayment(order({ state: 'PAID', transactionId: '4200000002' }), report)).toMatchObject({
      kind: 'CONFLICT',
      reason: 'OTHER_TRANSACTION',
    });
  });
});

describe('paymentAnomaly', () => {
  it('names the conflicts, unregistered orders and payments after a close; nothing for a normal payment', () => {
    const o = order();
    expect(paymentAnomaly({ kind: 'CONFLICT', reason: 'AMOUNT_MISMATCH', order: o })).toBe('AMOUNT_MISMATCH');
    expect(paymentAnomaly({ kind: 'CONFLICT', reason: 'OTHER_TRANSACTION', order: o })).toBe('OTHER_TRANSACTION');
    expect(paymentAnomaly({ kind: 'APPLIED', previous: 'UNREGISTERED', order: o })).toBe('UNREGISTERED_ORDER');
    expect(paymentAnomaly({ kind: 'APPLIED', previous: 'CLOSED', order: o })).toBe('PAID_AFTER_CLOSE');
    expect(paymentAnomaly({ kind: 'UNKNOWN_ORDER' })).toBe('UNREGISTERED_ORDER');
    expect(paymentAnomaly({ kind: 'APPLIED', previous: 'NOTPAY', order: o })).toBeUndefined();
    expect(paymentAnomaly({ kind: 'ALREADY_APPLIED', order: o })).toBeUndefined();
  });
});

describe('judgeRefund', () => {
  const refund = (over: Partial<Refund> = {}): Refund => ({
    outRefundNo: 'R1',
    outTradeNo: 'T1',
    merchantId: '1900000100',
    refundId: '5001',
    state: 'PROCESSING',
    refundFen: 10,
    totalFen: 100,
    ...over,
  });
  const rep = (state: RefundReport['state'], refundId = '5001'): RefundReport => ({
    outRefundNo: 'R1',
    outTradeNo: 'T1',
    merchantId: '1900000100',
    refundId,
    transactionId: undefined,
    state,
    refundFen: 10,
    totalFen: 100,
    successAt: undefined,
    channel: 'v3',
  });

  it('refuses a report about another refund id under the same out_refund_no', () => {
    expect(judgeRefund(refund({ state: 'SUCCESS' }), rep('SUCCESS', '5002'))).toMatchObject({ kind: 'CONFLICT' });
    expect(judgeRefund(refund({ state: 'ABNORMAL' }), rep('SUCCESS', '5002'))).toMatchObject({ kind: 'CONFLICT' });
  });

  it('reads the same state again as a duplicate', () => {
    for (const state of ['SUCCESS', 'CLOSED', 'ABNORMAL'] as const) {
      expect(judgeRefund(refund({ state }), rep(state))).toMatchObject({ kind: 'ALREADY_APPLIED' });
    }
  });

  it('reads an ABNORMAL arriving after a final state as stale', () => {
    expect(judgeRefund(refund({ state: 'SUCCESS' }), rep('ABNORMAL'))).toMatchObject({ kind: 'STALE' });
    expect(judgeRefund(refund({ state: 'CLOSED' }), rep('ABNORMAL'))).toMatchObject({ kind: 'STALE' });
  });

  it('applies a final state after ABNORMAL or PROCESSING', () => {
    expect(judgeRefund(refund({ state: 'ABNORMAL' }), rep('SUCCESS'))).toBe('APPLY');
    expect(judgeRefund(refund({ state: 'ABNORMAL' }), rep('CLOSED'))).toBe('APPLY');
    expect(judgeRefund(refund({ state: 'PROCESSING' }), rep('CLOSED'))).toBe('APPLY');
  });

  it('refuses one final state contradicting another', () => {
    expect(judgeRefund(refund({ state: 'SUCCESS' }), rep('CLOSED'))).toMatchObject({
      kind: 'CONFLICT',
      refund: { state: 'SUCCESS' },
    });
    expect(judgeRefund(refund({ state: 'CLOSED' }), rep('SUCCESS'))).toMatchObject({
      kind: 'CONFLICT',
      refund: { state: 'CLOSED' },
    });
  });
});

describe('identifiers', () => {
  it('accepts out_trade_no of 1-32 characters of 0-9 A-Z a-z _ - | * @ and nothing else', () => {
    for (const ok of ['1', 'A-b_c|d*e@f', 'x'.repeat(32)]) expect(isOutTradeNo(ok)).toBe(true);
    for (const bad of ['', 'x'.repeat(33), 'a b', 'a/b', 'a#b', '订单1', 12345, undefined, null, ['T1']])
      expect(isOutTradeNo(bad)).toBe(false);
  });

  it('accepts merchant ids of 1-32 digits only', () => {
    expect(isMerchantId('1900000109')).toBe(true);
    for (const bad of ['', '19x', '1'.repeat(33), 1900000109, undefined]) expect(isMerchantId(bad)).toBe(false);
  });
});
