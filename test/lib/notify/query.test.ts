/**
 * Reading an order-query answer the way a notification is read (pure): a paid APIv2 answer must carry
 * everything a payment report needs, refused by name otherwise; an unpaid one needs none of it; a
 * refunded order is read as the payment it was.
 */
import { thrownPayError as thrown } from '../../support/errors';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config';
import { readV2, readV3 } from '../../../lib/notify/query';
import type { V2Transaction } from '../../../lib/wechatpay/v2/client';
import type { Transaction } from '../../../lib/wechatpay/v3/transaction';
import { generateTestKeys, toEnv } from '../../../scripts/simulator/keys';

const keys = generateTestKeys();
const config = loadConfig({ ...toEnv(keys), PAYMENTS_TABLE: 't' });
const ref = { merchantId: keys.mchid, outTradeNo: 'ORDER1' };

const v2 = (over: Partial<V2Transaction> = {}): V2Transaction => ({
  outTradeNo: 'ORDER1',
  tradeState: 'SUCCESS',
  tradeStateDesc: undefined,
  transactionId: '4200000000000000000000000001',
  totalFen: 100,
  paidAt: '2031-01-01T00:00:00.000Z',
  subMchId: undefined,
  fields: { mch_id: keys.mchid, appid: keys.appid },
  ...over,
});

describe('readV2', () => {
  it.each([
    ['no transaction_id', { transactionId: undefined }, 'orderquery transaction_id missing or malformed'],
    ['an empty transaction_id', { transactionId: '' }, 'orderquery transaction_id missing or malformed'],
    [
      'a transaction_id over 64 characters',
      { transactionId: '4'.repeat(65) },
      'orderquery transaction_id missing or malformed',
    ],
    ['no time_end', { paidAt: undefined }, 'orderquery time_end missing'],
    ['no total_fee', { totalFen: undefined }, 'orderquery total_fee missing'],
  ] as const)('refuses a paid answer with %s (MALFORMED)', (_name, over, reason) => {
    const e = thrown(() => readV2(v2(over), ref, config));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe(reason);
  });

  it('reads an unpaid answer without payment fields as no report', () => {
    expect(
      readV2(
        v2({ tradeState: 'NOTPAY', transactionId: undefined, totalFen: undefined, paidAt: undefined }),
        ref,
        config,
      ),
    ).toEqual({ tradeState: 'NOTPAY', report: undefined });
  });

  it('reads a refunded order as the payment it was, for the sub-merchant asked about', () => {
    const sub = { merchantId: '1230000109', outTradeNo: 'ORDER1' };
    expect(readV2(v2({ tradeState: 'REFUND', subMchId: '1230000109' }), sub, config)).toEqual({
      tradeState: 'REFUND',
      report: {
        outTradeNo: 'ORDER1',
        merchantId: '1230000109',
        transactionId: '4200000000000000000000000001',
        amountFen: 100,
        paidAt: '2031-01-01T00:00:00.000Z',
        channel: 'query',
      },
    });
  });
});

describe('readV3', () => {
  const tx = (over: Partial<Transaction> = {}): Transaction => ({
    outTradeNo: 'ORDER1',
    transactionId: '4200000000000000000000000002',
    tradeState: 'SUCCESS',
    mchid: keys.mchid,
    appid: keys.appid,
    subMchid: undefined,
    totalFen: 100,
    successTime: '2031-01-01T00:00:00.000Z',
    ...over,
  });

  it('reads a refunded order as the payment it was', () => {
    expect(readV3(tx({ tradeState: 'REFUND' }), ref, config)).toMatchObject({
      tradeState: 'REFUND',
      report: { transactionId: '4200000000000000000000000002', channel: 'query' },
    });
  });

  it('refuses a paid answer without an amount, and reads an unpaid one without it', () => {
    expect(thrown(() => readV3(tx({ totalFen: undefined }), ref, config)).reason).toBe(
      'transaction.amount.total missing',
    );
    expect(
      readV3(
        tx({ tradeState: 'USERPAYING', totalFen: undefined, transactionId: undefined, successTime: undefined }),
        ref,
        config,
      ),
    ).toEqual({ tradeState: 'USERPAYING', report: undefined });
  });
});
