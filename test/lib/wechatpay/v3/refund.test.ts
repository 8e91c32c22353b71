/**
 * The decrypted REFUND.* resource (direct and service-provider shapes) read as a refund report:
 * resources built by the independent sender; each required field refused by name, the status tied
 * to the event type, the amounts checked against each other, optional fields allowed to be absent.
 */
import { thrownPayError as thrown } from '../../../support/errors';
import { describe, expect, it } from 'vitest';
import { v3RefundReport } from '../../../../lib/notify/read';
import { readV3Refund as readResult } from '../../../../lib/wechatpay/v3/refund';
import { generateTestKeys } from '../../../../scripts/simulator/keys';
import { v3RefundResource, type V3RefundParams } from '../../../../scripts/simulator/messages';

const keys = generateTestKeys();
const merchant = { mchid: keys.mchid };

const base: V3RefundParams = {
  outTradeNo: 'T2026112300001',
  outRefundNo: 'R2026112300001',
  refundStatus: 'SUCCESS',
  total: 1000,
  refund: 400,
  refundId: '50000000382019052709732678859',
  transactionId: '4200000001202611230000000001',
  successTime: '2026-11-23T10:00:00+08:00',
};
const resource = (p: Partial<V3RefundParams> = {}) => v3RefundResource(keys, { ...base, ...p });
function without(r: Record<string, unknown>, ...fields: string[]): Record<string, unknown> {
  const copy = { ...r };
  for (const f of fields) delete copy[f];
  return copy;
}

/** The reader's result as the refund report lib/notify/read.ts makes of it: each case checks both halves. */
const readV3Refund = (r: Record<string, unknown>, m: { mchid: string }, eventType: string) =>
  v3RefundReport(readResult(r, m, eventType));

describe('readV3Refund', () => {
  it('returns its own result type: the provider and sub-merchant ids as sent, no channel', () => {
    const r = readResult(
      resource({ partner: { spMchid: keys.mchid, subMchid: '1900000109' } }),
      merchant,
      'REFUND.SUCCESS',
    );
    expect(r).toMatchObject({ mchid: keys.mchid, subMchid: '1900000109', refundStatus: 'SUCCESS' });
    expect(r).not.toHaveProperty('channel');
  });

  it('reads a successful refund as a report with the success time as a UTC instant', () => {
    expect(readV3Refund(resource(), merchant, 'REFUND.SUCCESS')).toEqual({
      outRefundNo: 'R2026112300001',
      outTradeNo: 'T2026112300001',
      merchantId: keys.mchid,
      refundId: '50000000382019052709732678859',
      transactionId: '4200000001202611230000000001',
      state: 'SUCCESS',
      refundFen: 400,
      totalFen: 1000,
      successAt: '2026-11-23T02:00:00.000Z',
      channel: 'v3',
    });
  });

  it('reads ABNORMAL and CLOSED refunds without a success time', () => {
    const abnormal = readV3Refund(
      resource({ refundStatus: 'ABNORMAL', successTime: undefined }),
      merchant,
      'REFUND.ABNORMAL',
    );
    expect(abnormal).toMatchObject({ state: 'ABNORMAL', successAt: undefined });
    const closed = readV3Refund(
      resource({ refundStatus: 'CLOSED', successTime: undefined }),
      merchant,
      'REFUND.CLOSED',
    );
    expect(closed).toMatchObject({ state: 'CLOSED', successAt: undefined });
  });

  it('records a partner refund under the sub-merchant, after checking sp_mchid is ours', () => {
    const r = readV3Refund(
      resource({ partner: { spMchid: keys.mchid, subMchid: '1900000109' } }),
      merchant,
      'REFUND.SUCCESS',
    );
    expect(r.merchantId).toBe('1900000109');
    const other = thrown(() =>
      readV3Refund(
        resource({ partner: { spMchid: '1999999999', subMchid: '1900000109' } }),
        merchant,
        'REFUND.SUCCESS',
      ),
    );
    expect(other.kind).toBe('INCONSISTENT');
    expect(other.detail).toEqual({ field: 'mchid' });
  });

  it('refuses a partner refund without sub_mchid', () => {
    const r = without(resource({ partner: { spMchid: keys.mchid, subMchid: '1900000109' } }), 'sub_mchid');
    expect(thrown(() => readV3Refund(r, merchant, 'REFUND.SUCCESS')).reason).toBe(
      'refund.sub_mchid missing or malformed',
    );
  });

  it('refuses another merchant, and a missing mchid by name', () => {
    const e = thrown(() => readV3Refund(resource(), { mchid: '1999999999' }, 'REFUND.SUCCESS'));
    expect(e.kind).toBe('INCONSISTENT');
    const missing = thrown(() => readV3Refund(without(resource(), 'mchid'), merchant, 'REFUND.SUCCESS'));
    expect(missing.kind).toBe('MALFORMED');
    expect(missing.reason).toBe('refund.mchid missing or malformed');
  });

  it.each([
    ['out_trade_no', 'refund.out_trade_no missing or malformed'],
    ['out_refund_no', 'refund.out_refund_no missing or malformed'],
    ['refund_status', 'refund.refund_status missing or malformed'],
    ['refund_id', 'refund.refund_id missing or malformed'],
    ['amount', 'refund.amount missing'],
    ['success_time', 'refund.success_time missing'],
  ])('refuses a SUCCESS refund without %s', (field, reason) => {
    const e = thrown(() => readV3Refund(without(resource(), field), merchant, 'REFUND.SUCCESS'));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe(reason);
  });

  it.each([
    ['out_trade_no', 12345, 'refund.out_trade_no missing or malformed'],
    ['out_refund_no', 'R 1', 'refund.out_refund_no missing or malformed'],
    ['refund_status', 'PROCESSING', 'refund.refund_status unknown'],
    ['amount', [400, 1000], 'refund.amount missing'],
    ['amount', null, 'refund.amount missing'],
    ['refund_id', 5000000038, 'refund.refund_id missing or malformed'],
    ['transaction_id', 42, 'refund.transaction_id missing or malformed'],
    ['success_time', '2026-11-23 10:00:00', 'refund.success_time is not an RFC 3339 time'],
  ])('refuses %s = %j', (field, value, reason) => {
    const e = thrown(() => readV3Refund(resource({ extra: { [field]: value } }), merchant, 'REFUND.SUCCESS'));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe(reason);
  });

  it('refuses a status the event type does not announce', () => {
    const e = thrown(() => readV3Refund(resource(), merchant, 'REFUND.CLOSED'));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe('refund_status does not match the event type');
    expect(thrown(() => readV3Refund(resource(), merchant, 'TRANSACTION.SUCCESS')).reason).toBe(
      'refund_status does not match the event type',
    );
  });

  it.each([
    ['refund', { refund: '400', total: 1000 }, 'refund.amount.refund is not an integer amount in fen'],
    ['total', { refund: 400 }, 'refund.amount.total is not an integer amount in fen'],
    ['refund', { refund: 4.5, total: 1000 }, 'refund.amount.refund is not an integer amount in fen'],
  ])('refuses amount.%s that is not whole fen', (_f, amount, reason) => {
    const e = thrown(() => readV3Refund(resource({ extra: { amount } }), merchant, 'REFUND.SUCCESS'));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe(reason);
  });

  it('refuses a refund of nothing or of more than the order total as INCONSISTENT', () => {
    for (const [refund, total] of [
      [0, 1000],
      [1001, 1000],
    ] as const) {
      const e = thrown(() => readV3Refund(resource({ refund, total }), merchant, 'REFUND.SUCCESS'));
      expect(e.kind).toBe('INCONSISTENT');
      expect(e.detail).toEqual({ field: 'amount.refund' });
    }
    expect(readV3Refund(resource({ refund: 1000, total: 1000 }), merchant, 'REFUND.SUCCESS').refundFen).toBe(1000);
  });

  it('treats an absent or empty transaction_id as absent', () => {
    expect(
      readV3Refund(without(resource(), 'transaction_id'), merchant, 'REFUND.SUCCESS').transactionId,
    ).toBeUndefined();
    expect(
      readV3Refund(resource({ extra: { transaction_id: '' } }), merchant, 'REFUND.SUCCESS').transactionId,
    ).toBeUndefined();
  });

  it('treats an empty success_time of a SUCCESS refund as missing', () => {
    expect(
      thrown(() => readV3Refund(resource({ extra: { success_time: '' } }), merchant, 'REFUND.SUCCESS')).reason,
    ).toBe('refund.success_time missing');
  });
});
