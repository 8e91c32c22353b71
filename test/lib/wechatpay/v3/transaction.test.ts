/**
 * The decrypted TRANSACTION resource (direct and service-provider shapes): resources built by the
 * independent sender, every required field refused by name when missing or of the wrong type,
 * optional fields allowed to be absent. The notice it becomes is tested in test/lib/notify/read.test.ts.
 */
import { thrownPayError as thrown } from '../../../support/errors';
import { describe, expect, it } from 'vitest';
import { readTransaction } from '../../../../lib/wechatpay/v3/transaction';
import { generateTestKeys } from '../../../../scripts/simulator/keys';
import { v3TransactionResource } from '../../../../scripts/simulator/messages';

const keys = generateTestKeys();
const partner = { spMchid: keys.mchid, subMchid: '1900000109', spAppid: keys.appid };

const direct = (extra: Record<string, unknown> = {}) =>
  v3TransactionResource(keys, {
    outTradeNo: 'T2026112300001',
    total: 1999,
    transactionId: '4200000001202611230000000001',
    successTime: '2026-11-23T10:00:00+08:00',
    extra,
  });

function without(resource: Record<string, unknown>, ...fields: string[]): Record<string, unknown> {
  const copy = { ...resource };
  for (const f of fields) delete copy[f];
  return copy;
}

describe('readTransaction', () => {
  it('reads the direct shape: ids, state, amount in fen, success time as a UTC instant', () => {
    expect(readTransaction(direct())).toEqual({
      outTradeNo: 'T2026112300001',
      transactionId: '4200000001202611230000000001',
      tradeState: 'SUCCESS',
      mchid: keys.mchid,
      appid: keys.appid,
      subMchid: undefined,
      totalFen: 1999,
      successTime: '2026-11-23T02:00:00.000Z',
    });
  });

  it('reads the partner shape: sp_mchid / sp_appid as the merchant, sub_mchid kept', () => {
    const tx = readTransaction(v3TransactionResource(keys, { outTradeNo: 'P1', total: 5, partner }));
    expect(tx.mchid).toBe(keys.mchid);
    expect(tx.appid).toBe(keys.appid);
    expect(tx.subMchid).toBe('1900000109');
  });

  it('refuses a partner resource without sub_mchid', () => {
    const r = without(v3TransactionResource(keys, { outTradeNo: 'P1', total: 5, partner }), 'sub_mchid');
    const e = thrown(() => readTransaction(r));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe('transaction.sub_mchid missing or malformed');
  });

  it('refuses a direct resource without mchid (no sp_mchid means the direct shape)', () => {
    const e = thrown(() => readTransaction(without(direct(), 'mchid')));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe('transaction.mchid missing or malformed');
  });

  it.each([
    ['missing', undefined],
    ['a number', 12345],
    ['too long', 'A'.repeat(33)],
    ['with a forbidden character', 'T 1'],
    ['empty', ''],
  ])('refuses out_trade_no %s', (_name, value) => {
    const r = value === undefined ? without(direct(), 'out_trade_no') : direct({ out_trade_no: value });
    const e = thrown(() => readTransaction(r));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe('transaction.out_trade_no missing or malformed');
  });

  it('refuses a missing or non-string trade_state by name, and an unknown one as unknown', () => {
    expect(thrown(() => readTransaction(without(direct(), 'trade_state'))).reason).toBe(
      'transaction.trade_state missing or malformed',
    );
    expect(thrown(() => readTransaction(direct({ trade_state: 1 }))).reason).toBe(
      'transaction.trade_state missing or malformed',
    );
    const unknown = thrown(() => readTransaction(direct({ trade_state: 'PAID' })));
    expect(unknown.kind).toBe('MALFORMED');
    expect(unknown.reason).toBe('transaction.trade_state unknown');
  });

  it.each(['SUCCESS', 'REFUND', 'NOTPAY', 'CLOSED', 'REVOKED', 'USERPAYING', 'PAYERROR'])(
    'accepts trade_state %s',
    (state) => {
      expect(readTransaction(direct({ trade_state: state })).tradeState).toBe(state);
    },
  );

  it.each([
    ['a number', 1999],
    ['an array', [1999]],
    ['null', null],
    ['a string', '{"total":1}'],
  ])('refuses an amount that is %s', (_name, amount) => {
    const e = thrown(() => readTransaction(direct({ amount })));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe('transaction.amount malformed');
  });

  it('reads an absent amount, or an amount without total, as no total', () => {
    expect(readTransaction(without(direct(), 'amount')).totalFen).toBeUndefined();
    expect(readTransaction(direct({ amount: { currency: 'CNY' } })).totalFen).toBeUndefined();
  });

  it.each([
    ['text', '1999'],
    ['a fraction', 19.99],
    ['negative', -1],
    ['beyond 2^53', 2 ** 53],
  ])('refuses amount.total given as %s', (_name, total) => {
    const e = thrown(() => readTransaction(direct({ amount: { total } })));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toMatch(/^transaction\.amount\.total /);
  });

  it('treats an absent or empty success_time and transaction_id as absent', () => {
    const tx = readTransaction(direct({ success_time: '', transaction_id: '' }));
    expect(tx.successTime).toBeUndefined();
    expect(tx.transactionId).toBeUndefined();
    const tx2 = readTransaction(without(direct(), 'success_time', 'transaction_id', 'appid'));
    expect(tx2.successTime).toBeUndefined();
    expect(tx2.transactionId).toBeUndefined();
    expect(tx2.appid).toBeUndefined();
  });

  it.each([
    ['not a time', 'yesterday', 'transaction.success_time is not an RFC 3339 time'],
    ['February 30th', '2026-02-30T10:00:00+08:00', 'transaction.success_time is not an RFC 3339 time'],
    ['a number', 1764000000, 'transaction.success_time missing or malformed'],
    [
      'longer than 64 characters',
      `2026-11-23T10:00:00.${'0'.repeat(60)}+08:00`,
      'transaction.success_time missing or malformed',
    ],
  ])('refuses success_time that is %s', (_name, value, reason) => {
    const e = thrown(() => readTransaction(direct({ success_time: value })));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe(reason);
  });

  it('refuses a transaction_id longer than 64 characters or not a string', () => {
    expect(thrown(() => readTransaction(direct({ transaction_id: '4'.repeat(65) }))).reason).toBe(
      'transaction.transaction_id missing or malformed',
    );
    expect(thrown(() => readTransaction(direct({ transaction_id: 4200000001 }))).reason).toBe(
      'transaction.transaction_id missing or malformed',
    );
  });
});
