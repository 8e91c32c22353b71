/**
 * The closeOrder core with a scripted WeChat client over the real store (DynamoDB Local): the
 * decisions the simulator cannot stage on demand — a query that contradicts ORDERPAID, an answer for
 * another sub-merchant, a refunded order, a close recorded concurrently — and that nothing escapes
 * as a thrown error.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { closeOrder, type CloseOrderDeps } from '../../../lib/close/closeOrder';
import type { OrderStore } from '../../../lib/orders/store';
import { WechatPayApiError, wechatRefusal } from '../../../lib/wechatpay/apiError';
import type { WechatPayClient } from '../../../lib/wechatpay/client';
import type { V2Transaction } from '../../../lib/wechatpay/v2/client';
import type { Transaction } from '../../../lib/wechatpay/v3/transaction';
import { createHarness, orderNo, type Harness } from '../../support/harness';
import { PayError, unauthentic } from '../../../lib/errors';
import type { Order } from '../../../lib/orders/model';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

interface Script {
  close?: () => Promise<void>;
  query?: () => Promise<Transaction>;
  queryV2?: () => Promise<V2Transaction>;
}

function deps(script: Script, store: OrderStore = h.store): CloseOrderDeps & { calls: string[] } {
  const calls: string[] = [];
  const client = {
    v3: {
      closeOrderV3: async () => (calls.push('close'), (script.close ?? (async () => undefined))()),
      queryOrderV3: async () => (
        calls.push('query'), (script.query ?? (async () => Promise.reject(new Error('no query scripted'))))()
      ),
    },
    v2: {
      closeOrderV2: async () => (calls.push('close'), (script.close ?? (async () => undefined))()),
      queryOrderV2: async () => (
        calls.push('query'), (script.queryV2 ?? (async () => Promise.reject(new Error('no query scripted'))))()
      ),
    },
  } as unknown as WechatPayClient;
  return { config: h.config, store, client, logger: h.logger, now: Date.now, calls };
}

async function registered(amountFen = 1000, merchantId = h.keys.mchid): Promise<string> {
  const no = orderNo('K');
  await h.store.registerOrder({
    outTradeNo: no,
    amountFen,
    merchantId,
    createdAt: new Date(Date.now() - 3_600_000).toISOString(),
  });
  return no;
}

const tx = (no: string, over: Partial<Transaction> = {}): Transaction => ({
  outTradeNo: no,
  transactionId: '4200000000202601010000000099',
  tradeState: 'SUCCESS',
  mchid: h.keys.mchid,
  appid: h.keys.appid,
  subMchid: undefined,
  totalFen: 1000,
  successTime: '2026-01-01T04:05:06.000Z',
  ...over,
});

const refusal =
  (code: string, status = 400) =>
  async () =>
    Promise.reject(wechatRefusal(status, code, `${code} message`, ''));
const timeout = async () =>
  Promise.reject(
    new WechatPayApiError({ status: undefined, code: 'TIMEOUT', message: 'no answer within 4000 ms', retryable: true }),
  );

describe('ORDERPAID', () => {
  it('the query contradicts it (NOTPAY): FAILED ORDERPAID, retryable, nothing recorded', async () => {
    const no = await registered();
    const d = deps({
      close: refusal('ORDERPAID'),
      query: async () => tx(no, { tradeState: 'NOTPAY', transactionId: undefined }),
    });
    expect(await closeOrder({ outTradeNo: no }, d)).toMatchObject({
      status: 'FAILED',
      code: 'ORDERPAID',
      retryable: true,
      message: expect.stringContaining('NOTPAY'),
    });
    expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('NOTPAY');
  });

  it('a refunded order was paid first: recorded as the payment it was', async () => {
    const no = await registered();
    const d = deps({ close: refusal('ORDERPAID'), query: async () => tx(no, { tradeState: 'REFUND' }) });
    expect(await closeOrder({ outTradeNo: no }, d)).toMatchObject({
      status: 'PAID',
      transaction: {
        transactionId: '4200000000202601010000000099',
        amountFen: 1000,
        paidAt: '2026-01-01T04:05:06.000Z',
      },
    });
    expect(await h.store.getOrder(h.keys.mchid, no)).toMatchObject({ state: 'PAID', paidVia: 'query' });
  });

  it('an answer about another sub-merchant: FAILED MERCHANT_MISMATCH, anomaly logged, nothing recorded', async () => {
    const no = await registered(1000, '1230000109');
    const d = deps({ close: refusal('ORDERPAID'), query: async () => ({ ...tx(no), subMchid: '1999999999' }) });
    expect(await closeOrder({ outTradeNo: no, subMchId: '1230000109' }, d)).toMatchObject({
      status: 'FAILED',
      code: 'MERCHANT_MISMATCH',
      retryable: false,
    });
    expect((await h.store.getOrder('1230000109', no))?.state).toBe('NOTPAY');
    expect(h.logs.some((l) => l.message === 'anomaly' && l.kind === 'MERCHANT_MISMATCH' && l.outTradeNo === no)).toBe(
      true,
    );
  });

  it('an answer from another merchant (v2 mch_id): FAILED MERCHANT_MISMATCH', async () => {
    const no = await registered();
    const v2: V2Transaction = {
      outTradeNo: no,
      tradeState: 'SUCCESS',
      tradeStateDesc: undefined,
      transactionId: '4200000000202601010000000098',
      totalFen: 1000,
      paidAt: '2026-01-01T04:05:06.000Z',
      subMchId: undefined,
      fields: { mch_id: '1000000001', appid: h.keys.appid },
    };
    const d = deps({ close: refusal('ORDERPAID'), queryV2: async () => v2 });
    expect(await closeOrder({ outTradeNo: no, protocol: 'v2' }, d)).toMatchObject({
      status: 'FAILED',
      code: 'MERCHANT_MISMATCH',
    });
  });

  it('a paid answer without a transaction id: FAILED MALFORMED_RESPONSE', async () => {
    const no = await registered();
    const d = deps({ close: refusal('ORDERPAID'), query: async () => tx(no, { transactionId: undefined }) });
    expect(await closeOrder({ outTradeNo: no }, d)).toMatchObject({
      status: 'FAILED',
      code: 'MALFORMED_RESPONSE',
      retryable: false,
    });
  });
});

describe('an unmapped failure is decided by a query', () => {
  it('query CLOSED (the lost answer had closed it): ALREADY_CLOSED, the table follows', async () => {
    const no = await registered();
    const d = deps({ close: timeout, query: async () => tx(no, { tradeState: 'CLOSED', transactionId: undefined }) });
    expect(await closeOrder({ outTradeNo: no }, d)).toMatchObject({ status: 'ALREADY_CLOSED' });
    expect(d.calls).toEqual(['close', 'query']);
    expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('CLOSED');
  });

  it('query NOTPAY: FAILED with the close error (TIMEOUT, retryable), nothing recorded', async () => {
    const no = await registered();
    const d = deps({ close: timeout, query: async () => tx(no, { tradeState: 'NOTPAY', transactionId: undefined }) });
    expect(await closeOrder({ outTradeNo: no }, d)).toMatchObject({
      status: 'FAILED',
      code: 'TIMEOUT',
      retryable: true,
    });
    expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('NOTPAY');
  });

  it('query SUCCESS: the PAID transition', async () => {
    const no = await registered();
    const d = deps({ close: refusal('PARAM_ERROR'), query: async () => tx(no) });
    expect(await closeOrder({ outTradeNo: no }, d)).toMatchObject({ status: 'PAID' });
    expect((await h.store.getOrder(h.keys.mchid, no))?.transactionId).toBe('4200000000202601010000000099');
  });
});

describe('recording the close', () => {
  it('WeChat closed it and a concurrent call recorded it first: still CLOSED (WeChat says this call closed it)', async () => {
    const no = await registered();
    const racing: OrderStore = {
      ...h.store,
      applyClose: async (m, n) => {
        await h.store.applyClose(m, n);
        return h.store.applyClose(m, n);
      },
    };
    expect(await closeOrder({ outTradeNo: no }, deps({}, racing))).toMatchObject({ status: 'CLOSED' });
  });

  it('the order disappeared meanwhile: UNKNOWN_ORDER', async () => {
    const no = await registered();
    const gone: OrderStore = { ...h.store, applyClose: async () => ({ kind: 'UNKNOWN_ORDER' }) };
    expect(await closeOrder({ outTradeNo: no }, deps({}, gone))).toMatchObject({ status: 'UNKNOWN_ORDER' });
  });
});

it('never throws: a client that throws a plain bug becomes FAILED INTERNAL_ERROR', async () => {
  const no = await registered();
  const d = deps({ close: async () => Promise.reject(new TypeError('x is undefined')) });
  await expect(closeOrder({ outTradeNo: no }, d)).resolves.toMatchObject({
    status: 'FAILED',
    code: 'INTERNAL_ERROR',
    retryable: true,
  });
});

/**
 * The closeOrder core with a scripted WeChat client over the real store (DynamoDB Local), beyond
 * the cases above: APIv2 order-query answers that cannot be a payment report, answers about
 * another order, a payment that lost to another transaction or to an unregistered-order policy, and
 * failures that are not WeChat's. Every case checks the table was left as it should be.
 */
describe("with a scripted client: answers that cannot be a payment, payments that lose, failures that are not WeChat's", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });

  interface Script {
    close?: () => Promise<void>;
    query?: () => Promise<Transaction>;
    queryV2?: () => Promise<V2Transaction>;
  }

  function deps(script: Script, over: Partial<CloseOrderDeps> = {}): CloseOrderDeps {
    const none = async (): Promise<never> => Promise.reject(new Error('no query scripted'));
    const client = {
      v3: {
        closeOrderV3: async () => (script.close ?? (async () => undefined))(),
        queryOrderV3: async () => (script.query ?? none)(),
      },
      v2: {
        closeOrderV2: async () => (script.close ?? (async () => undefined))(),
        queryOrderV2: async () => (script.queryV2 ?? none)(),
      },
    } as unknown as WechatPayClient;
    return { config: h.config, store: h.store, client, logger: h.logger, now: Date.now, ...over };
  }

  async function registered(amountFen = 1000): Promise<string> {
    const no = orderNo('M');
    await h.store.registerOrder({
      outTradeNo: no,
      amountFen,
      merchantId: h.keys.mchid,
      createdAt: new Date(Date.now() - 3_600_000).toISOString(),
    });
    return no;
  }

  const refusal = (code: string) => async () => Promise.reject(wechatRefusal(400, code, `${code} message`, ''));
  const timeout = async () =>
    Promise.reject(
      new WechatPayApiError({
        status: undefined,
        code: 'TIMEOUT',
        message: 'no answer within 4000 ms',
        retryable: true,
      }),
    );

  const v2paid = (no: string, over: Partial<V2Transaction> = {}): V2Transaction => ({
    outTradeNo: no,
    tradeState: 'SUCCESS',
    tradeStateDesc: undefined,
    transactionId: '4200000000202601010000000077',
    totalFen: 1000,
    paidAt: '2026-01-01T04:05:06.000Z',
    subMchId: undefined,
    fields: { mch_id: h.keys.mchid, appid: h.keys.appid },
    ...over,
  });

  const v3paid = (no: string, over: Partial<Transaction> = {}): Transaction => ({
    outTradeNo: no,
    transactionId: '4200000000202601010000000088',
    tradeState: 'SUCCESS',
    mchid: h.keys.mchid,
    appid: h.keys.appid,
    subMchid: undefined,
    totalFen: 1000,
    successTime: '2026-01-01T04:05:06.000Z',
    ...over,
  });

  describe('APIv2: a close refused as ORDERPAID is settled by the order query', () => {
    it('records the payment the query reports, as a notification would', async () => {
      const no = await registered();
      expect(
        await closeOrder(
          { outTradeNo: no, protocol: 'v2' },
          deps({ close: refusal('ORDERPAID'), queryV2: async () => v2paid(no) }),
        ),
      ).toMatchObject({
        status: 'PAID',
        transaction: { transactionId: '4200000000202601010000000077', amountFen: 1000 },
      });
      expect(await h.store.getOrder(h.keys.mchid, no)).toMatchObject({ state: 'PAID', paidVia: 'query' });
    });

    it.each([
      ['another appid', 'MERCHANT_MISMATCH', { fields: { mch_id: '', appid: 'wx0000000000000000' } }],
      ['no transaction id', 'MALFORMED_RESPONSE', { transactionId: undefined }],
      ['a transaction id over 64 characters', 'MALFORMED_RESPONSE', { transactionId: '4'.repeat(65) }],
      ['no total_fee', 'MALFORMED_RESPONSE', { totalFen: undefined }],
      ['no time_end', 'MALFORMED_RESPONSE', { paidAt: undefined }],
    ] as const)(
      'refuses a paid answer with %s: FAILED %s, not retryable, nothing recorded',
      async (_name, code, over) => {
        const no = await registered();
        const patch = 'fields' in over ? { fields: { ...over.fields, mch_id: h.keys.mchid } } : over;
        const outcome = await closeOrder(
          { outTradeNo: no, protocol: 'v2' },
          deps({ close: refusal('ORDERPAID'), queryV2: async () => v2paid(no, patch) }),
        );
        expect(outcome).toMatchObject({ status: 'FAILED', code, retryable: false });
        expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('NOTPAY');
      },
    );

    it('refuses an answer about another order as MERCHANT_MISMATCH and flags the anomaly', async () => {
      const no = await registered();
      h.logs.length = 0;
      const outcome = await closeOrder(
        { outTradeNo: no, protocol: 'v2' },
        deps({ close: refusal('ORDERPAID'), queryV2: async () => v2paid(no, { outTradeNo: `${no}X` }) }),
      );
      expect(outcome).toMatchObject({
        status: 'FAILED',
        code: 'MERCHANT_MISMATCH',
        message: 'out_trade_no does not match the order queried',
      });
      expect(h.logs.some((l) => l.message === 'anomaly' && l.kind === 'MERCHANT_MISMATCH' && l.outTradeNo === no)).toBe(
        true,
      );
      expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('NOTPAY');
    });
  });

  describe('after an unmapped failure, the query decides', () => {
    it('a query that also fails at WeChat: FAILED with the close error, which is what the caller retries', async () => {
      const no = await registered();
      const outcome = await closeOrder(
        { outTradeNo: no },
        deps({ close: timeout, query: refusal('SYSTEM_ERROR') as () => Promise<Transaction> }),
      );
      expect(outcome).toMatchObject({ status: 'FAILED', code: 'TIMEOUT', retryable: true });
    });

    it('a query answer about another order: FAILED MERCHANT_MISMATCH, nothing recorded', async () => {
      const no = await registered();
      const outcome = await closeOrder(
        { outTradeNo: no },
        deps({ close: timeout, query: async () => v3paid(`${no}Y`) }),
      );
      expect(outcome).toMatchObject({ status: 'FAILED', code: 'MERCHANT_MISMATCH', retryable: false });
      expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('NOTPAY');
    });
  });

  describe('the PAID transition loses', () => {
    it('to another transaction recorded between the local read and the write: FAILED OTHER_TRANSACTION', async () => {
      const no = await registered();
      const close = async () => {
        await h.store.applyPayment(
          {
            outTradeNo: no,
            merchantId: h.keys.mchid,
            transactionId: '4200000000202601010000000002',
            amountFen: 1000,
            paidAt: '2026-01-01T04:00:00.000Z',
            channel: 'v2',
          },
          'record',
        );
        throw wechatRefusal(400, 'ORDERPAID', 'paid', '');
      };
      h.logs.length = 0;
      const outcome = await closeOrder({ outTradeNo: no }, deps({ close, query: async () => v3paid(no) }));
      expect(outcome).toMatchObject({
        status: 'FAILED',
        code: 'OTHER_TRANSACTION',
        message: 'the order is already paid by another transaction',
        retryable: false,
      });
      expect((await h.store.getOrder(h.keys.mchid, no))?.transactionId).toBe('4200000000202601010000000002');
      expect(h.logs.some((l) => l.message === 'anomaly' && l.kind === 'OTHER_TRANSACTION')).toBe(true);
    });

    it('to the reject policy when the order vanished: UNKNOWN_ORDER, anomaly flagged, nothing recorded', async () => {
      const no = orderNo('M');
      const ghost: Order = {
        outTradeNo: no,
        merchantId: h.keys.mchid,
        state: 'NOTPAY',
        amountFen: 1000,
        amountUnverified: false,
        createdAt: '2026-01-01T00:00:00.000Z',
      };
      const store: OrderStore = { ...h.store, getOrder: async () => ghost };
      h.logs.length = 0;
      const outcome = await closeOrder(
        { outTradeNo: no },
        deps(
          { close: refusal('ORDERPAID'), query: async () => v3paid(no) },
          { store, config: { ...h.config, unknownOrderPolicy: 'reject' } },
        ),
      );
      expect(outcome).toEqual({ outTradeNo: no, merchantId: h.keys.mchid, status: 'UNKNOWN_ORDER' });
      expect(await h.store.getOrder(h.keys.mchid, no)).toBeUndefined();
      expect(
        h.logs.some((l) => l.message === 'anomaly' && l.kind === 'UNREGISTERED_ORDER' && l.outTradeNo === no),
      ).toBe(true);
    });
  });

  describe('failures that are not WeChat answers', () => {
    it.each([
      ['UNAUTHENTIC', 'UNAUTHENTIC_RESPONSE', unauthentic('signature probe rejected')],
      ['UNKNOWN_ORDER', 'UNKNOWN_ORDER', new PayError('UNKNOWN_ORDER', 'order not registered')],
    ] as const)(
      'a %s PayError from a dependency is FAILED %s, not retryable, with its reason',
      async (_kind, code, err) => {
        const no = await registered();
        const outcome = await closeOrder({ outTradeNo: no }, deps({ close: async () => Promise.reject(err) }));
        expect(outcome).toEqual({
          outTradeNo: no,
          merchantId: h.keys.mchid,
          status: 'FAILED',
          code,
          message: err.reason,
          retryable: false,
        });
        expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('NOTPAY');
      },
    );
  });
});
