/**
 * Reading WeChat's refund answers (APIv3 JSON, APIv2 refundquery fields): every field checked before
 * it is believed, a malformed answer refused with a reason, amounts exact in fen, times as instants.
 */
import { describe, expect, it } from 'vitest';
import { readRefundQueryV2 } from '../../../lib/wechatpay/v2/refunds';
import { readRefundV3 } from '../../../lib/wechatpay/v3/refunds';
import { reportOf } from '../../../lib/refund/report';

const v3 = {
  refund_id: '50000000382019052709732678859',
  out_refund_no: 'R1',
  transaction_id: '1217752501201407033233368018',
  out_trade_no: 'T1',
  status: 'SUCCESS',
  success_time: '2026-11-30T12:00:00+08:00',
  amount: { total: 100, refund: 30, currency: 'CNY' },
};

const v2: Record<string, string> = {
  out_trade_no: 'T1',
  transaction_id: 'tx',
  total_fee: '100',
  refund_count: '2',
  out_refund_no_0: 'R0',
  refund_id_0: 'id0',
  refund_fee_0: '10',
  refund_status_0: 'PROCESSING',
  out_refund_no_1: 'R1',
  refund_id_1: 'id1',
  refund_fee_1: '30',
  refund_status_1: 'SUCCESS',
  refund_success_time_1: '2026-11-30 12:00:00',
};

describe('APIv3 refund answer', () => {
  it('reads a success with its instant', () => {
    expect(readRefundV3(v3)).toEqual({
      outRefundNo: 'R1',
      outTradeNo: 'T1',
      refundId: v3.refund_id,
      transactionId: v3.transaction_id,
      status: 'SUCCESS',
      refundFen: 30,
      totalFen: 100,
      successAt: '2026-11-30T04:00:00.000Z',
    });
    expect(readRefundV3({ ...v3, status: 'PROCESSING', success_time: undefined }).successAt).toBeUndefined();
  });

  it.each([
    [{ out_refund_no: 'a b' }, 'out_refund_no'],
    [{ out_trade_no: undefined }, 'out_trade_no'],
    [{ status: 'DONE' }, 'status unknown'],
    [{ amount: 'x' }, 'amount missing'],
    [{ amount: { total: 100, refund: 1.5 } }, 'amount.refund'],
    [{ amount: { total: -1, refund: 1 } }, 'amount.total'],
    [{ success_time: undefined }, 'success_time missing'],
    [{ success_time: 'yesterday' }, 'success_time'],
    [{ refund_id: 7 }, 'refund_id'],
  ])('refuses %j', (patch, reason) => {
    expect(() => readRefundV3({ ...v3, ...patch })).toThrow(reason);
  });
});

describe('APIv2 refundquery', () => {
  it('reads the entry naming the refund asked about', () => {
    expect(readRefundQueryV2(v2, 'R1')).toEqual({
      outRefundNo: 'R1',
      outTradeNo: 'T1',
      refundId: 'id1',
      transactionId: 'tx',
      status: 'SUCCESS',
      refundFen: 30,
      totalFen: 100,
      successAt: '2026-11-30T04:00:00.000Z',
    });
    expect(readRefundQueryV2(v2, 'R0')).toMatchObject({ status: 'PROCESSING', refundFen: 10, successAt: undefined });
    expect(readRefundQueryV2({ ...v2, refund_status_0: 'CHANGE' }, 'R0').status).toBe('ABNORMAL');
    expect(readRefundQueryV2({ ...v2, refund_status_0: 'REFUNDCLOSE' }, 'R0').status).toBe('CLOSED');
  });

  it.each([
    [{ refund_count: '0' }, 'refund_count'],
    [{ refund_count: 'x' }, 'refund_count'],
    [{ refund_count: '99' }, 'refund_count'],
    [{ out_refund_no_1: 'R9' }, 'does not name'],
    [{ out_trade_no: '' }, 'out_trade_no'],
    [{ refund_status_1: 'LOST' }, 'refund_status'],
    [{ refund_id_1: '' }, 'refund_id'],
    [{ refund_success_time_1: '' }, 'refund_success_time missing'],
    [{ refund_fee_1: '1.0' }, 'refund_fee'],
  ])('refuses %j', (patch, reason) => {
    expect(() => readRefundQueryV2({ ...v2, ...patch }, 'R1')).toThrow(reason);
  });
});

describe('the report an answer stands for', () => {
  it('is none while PROCESSING and the notification report otherwise', () => {
    expect(reportOf(readRefundV3({ ...v3, status: 'PROCESSING' }), '1')).toBeUndefined();
    expect(reportOf(readRefundV3(v3), '1')).toMatchObject({ state: 'SUCCESS', merchantId: '1', channel: 'query' });
  });
});
