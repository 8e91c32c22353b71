/**
 * Where protocol readings become the service's notices and reports (lib/notify/read.ts): a v3
 * transaction checked against our ids, the refund and coupon mappings, and the aggregator's payment.
 * The readers themselves are tested beside their modules; these cases start from their results.
 */
import { describe, expect, it } from 'vitest';
import { transactionNotice } from '../../../lib/notify/read';
import { readTransaction, type Transaction } from '../../../lib/wechatpay/v3/transaction';
import { generateTestKeys } from '../../../scripts/simulator/keys';
import { v3TransactionResource } from '../../../scripts/simulator/messages';
import { thrownPayError as thrown } from '../../support/errors';

const keys = generateTestKeys();
const merchant = { mchid: keys.mchid, appids: [keys.appid] };

const direct = (extra: Record<string, unknown> = {}) =>
  v3TransactionResource(keys, {
    outTradeNo: 'T2026112300001',
    total: 1999,
    transactionId: '4200000001202611230000000001',
    successTime: '2026-11-23T10:00:00+08:00',
    extra,
  });

describe('transactionNotice', () => {
  const tx = (over: Partial<Transaction> = {}): Transaction => ({ ...readTransaction(direct()), ...over });

  it('turns a paid transaction into a payment report for the merchant', () => {
    expect(transactionNotice(tx(), merchant, 'v3')).toEqual({
      kind: 'PAYMENT',
      report: {
        outTradeNo: 'T2026112300001',
        merchantId: keys.mchid,
        transactionId: '4200000001202611230000000001',
        amountFen: 1999,
        paidAt: '2026-11-23T02:00:00.000Z',
        channel: 'v3',
      },
    });
  });

  it('records a partner payment under the sub-merchant and keeps the channel it came by', () => {
    const n = transactionNotice(tx({ subMchid: '1900000109' }), merchant, 'query');
    expect(n.kind === 'PAYMENT' && n.report).toMatchObject({ merchantId: '1900000109', channel: 'query' });
  });

  it('refuses another merchant id as INCONSISTENT naming the field', () => {
    const e = thrown(() => transactionNotice(tx({ mchid: '1999999999' }), merchant, 'v3'));
    expect(e.kind).toBe('INCONSISTENT');
    expect(e.detail).toEqual({ field: 'mchid' });
  });

  it('refuses another appid, and accepts a transaction that names none', () => {
    const e = thrown(() => transactionNotice(tx({ appid: 'wx0000000000000000' }), merchant, 'v3'));
    expect(e.kind).toBe('INCONSISTENT');
    expect(e.detail).toEqual({ field: 'appid' });
    expect(transactionNotice(tx({ appid: undefined }), merchant, 'v3').kind).toBe('PAYMENT');
  });

  it('checks the merchant before the trade state: a NOTPAY for another merchant is still INCONSISTENT', () => {
    expect(
      thrown(() => transactionNotice(tx({ tradeState: 'NOTPAY', mchid: '1999999999' }), merchant, 'v3')).kind,
    ).toBe('INCONSISTENT');
  });

  it.each(['NOTPAY', 'CLOSED', 'REFUND', 'PAYERROR'] as const)(
    'ignores trade_state %s, naming it and the order',
    (state) => {
      expect(
        transactionNotice(
          tx({ tradeState: state, transactionId: undefined, totalFen: undefined, successTime: undefined }),
          merchant,
          'v3',
        ),
      ).toEqual({
        kind: 'IGNORED',
        reason: `trade_state ${state}`,
        outTradeNo: 'T2026112300001',
      });
    },
  );

  it.each([
    ['transaction_id', { transactionId: undefined }, 'transaction.transaction_id missing'],
    ['amount.total', { totalFen: undefined }, 'transaction.amount.total missing'],
    ['success_time', { successTime: undefined }, 'transaction.success_time missing'],
  ] as const)('refuses a SUCCESS without %s', (_name, over, reason) => {
    const e = thrown(() => transactionNotice(tx(over), merchant, 'v3'));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe(reason);
  });
});
