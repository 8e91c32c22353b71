/**
 * Reconciliation with a scripted WeChat client over the real store (DynamoDB Local): the answers and
 * failures the simulator does not stage on demand. Every failure of one order is an ERROR result that
 * weighs on the run as it should (a rate limit or a configuration error stops it, a store failure
 * counts towards the failure streak, a bad answer is only that order's problem), a stop that happens
 * while another worker waits is honoured, and the auto-close outcomes are counted right.
 *
 * Every test uses its own creation window (an injected `now` days apart from the others).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { configError, PayError } from '../../../lib/errors';
import { createLogger } from '../../../lib/log';
import type { OrderStore } from '../../../lib/orders/store';
import { reconcile, reconcileOne, type ReconcileDeps, type ReconcileOptions } from '../../../lib/reconcile/reconcile';
import { WechatPayApiError, wechatRefusal } from '../../../lib/wechatpay/apiError';
import type { WechatPayClient } from '../../../lib/wechatpay/client';
import type { V2Transaction } from '../../../lib/wechatpay/v2/client';
import type { Transaction } from '../../../lib/wechatpay/v3/transaction';
import { createHarness, orderNo, type Harness } from '../../support/harness';

const MINUTE = 60_000;
const DAY = 86_400_000;
let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

let windows = 0;
const freshNow = () => Date.parse('2033-01-01T00:00:00.000Z') + windows++ * 5 * DAY;

type Answer = Transaction | Error | (() => Promise<Transaction>);
interface Script {
  /** The order query's answer per out_trade_no (a Transaction, an error to throw, or a function). */
  query?: Record<string, Answer>;
  close?: (outTradeNo: string) => Promise<void>;
}

function setup(now: number, script: Script, over: Partial<ReconcileDeps> = {}) {
  const queried: string[] = [];
  const closed: string[] = [];
  const answer = async (outTradeNo: string): Promise<Transaction> => {
    queried.push(outTradeNo);
    const a = script.query?.[outTradeNo];
    if (a === undefined) throw wechatRefusal(404, 'ORDER_NOT_EXIST', 'no such order', '');
    if (a instanceof Error) throw a;
    return typeof a === 'function' ? a() : a;
  };
  const client = {
    v3: {
      queryOrderV3: async (ref: { outTradeNo: string }) => answer(ref.outTradeNo),
      closeOrderV3: async (ref: { outTradeNo: string }) => {
        closed.push(ref.outTradeNo);
        return (script.close ?? (async () => undefined))(ref.outTradeNo);
      },
    },
    v2: {
      queryOrderV2: async (): Promise<V2Transaction> => Promise.reject(new Error('v2 not scripted')),
      closeOrderV2: async () => Promise.reject(new Error('v2 not scripted')),
    },
  } as unknown as WechatPayClient;
  const logs: Array<Record<string, unknown>> = [];
  const deps: ReconcileDeps = {
    config: h.config,
    store: h.store,
    client,
    logger: createLogger({ service: 'test', write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>) }),
    now: () => now,
    sleep: async () => undefined,
    ...over,
  };
  const results = () => logs.filter((l) => l.message === 'reconcile.query');
  return { deps, queried, closed, logs, results, run: (o: Partial<ReconcileOptions> = {}) => reconcile(o, deps) };
}

async function pendingOrder(now: number, ageMinutes = 10, amountFen = 1000): Promise<string> {
  const no = orderNo('Q');
  await h.store.registerOrder({
    outTradeNo: no,
    amountFen,
    merchantId: h.keys.mchid,
    createdAt: new Date(now - ageMinutes * MINUTE).toISOString(),
  });
  return no;
}

const tx = (no: string, over: Partial<Transaction> = {}): Transaction => ({
  outTradeNo: no,
  transactionId: `4200${no}`.slice(0, 32),
  tradeState: 'SUCCESS',
  mchid: h.keys.mchid,
  appid: h.keys.appid,
  subMchid: undefined,
  totalFen: 1000,
  successTime: '2033-01-01T00:00:00.000Z',
  ...over,
});
const notpay = (no: string) => tx(no, { tradeState: 'NOTPAY', transactionId: undefined, successTime: undefined });

describe('how a failed order weighs on the run', () => {
  it('an answer about another merchant: ERROR INCONSISTENT with a MERCHANT_MISMATCH anomaly, nothing recorded, the run goes on', async () => {
    const now = freshNow();
    const a = await pendingOrder(now, 20);
    const b = await pendingOrder(now, 10);
    const s = setup(now, { query: { [a]: tx(a, { mchid: '1999999999' }), [b]: tx(b) } });
    const summary = await s.run({ concurrency: 1 });
    expect(summary).toMatchObject({ queried: 2, errors: 1, recovered: 1, reason: 'COMPLETE' });
    expect(s.results().find((r) => r.outTradeNo === a)).toMatchObject({
      action: 'ERROR',
      code: 'INCONSISTENT',
      anomaly: 'MERCHANT_MISMATCH',
    });
    expect(
      s.logs.some(
        (l) => l.message === 'anomaly' && l.kind === 'MERCHANT_MISMATCH' && l.outTradeNo === a && l.field === 'mchid',
      ),
    ).toBe(true);
    expect((await h.store.getOrder(h.keys.mchid, a))?.state).toBe('NOTPAY');
  });

  it('a paid answer it cannot read: ERROR MALFORMED (not retried by the run); a plain bug: ERROR INTERNAL_ERROR', async () => {
    const now = freshNow();
    const a = await pendingOrder(now, 20);
    const b = await pendingOrder(now, 10);
    const s = setup(now, {
      query: { [a]: tx(a, { transactionId: undefined }), [b]: new TypeError('cannot read properties of undefined') },
    });
    const summary = await s.run({ concurrency: 1 });
    expect(summary).toMatchObject({ queried: 2, errors: 2, reason: 'COMPLETE' });
    expect(s.results().find((r) => r.outTradeNo === a)).toMatchObject({
      action: 'ERROR',
      code: 'MALFORMED',
      reason: 'transaction.transaction_id missing',
    });
    expect(s.results().find((r) => r.outTradeNo === b)).toMatchObject({
      action: 'ERROR',
      code: 'INTERNAL_ERROR',
      reason: 'internal error',
    });
  });

  it('a non-retryable WeChat refusal is only that order’s error; the run completes', async () => {
    const now = freshNow();
    const a = await pendingOrder(now);
    const s = setup(now, { query: { [a]: wechatRefusal(401, 'SIGN_ERROR', 'bad signature', '') } });
    const summary = await s.run();
    expect(summary).toMatchObject({ errors: 1, reason: 'COMPLETE', stoppedEarly: false });
    expect(s.results()[0]).toMatchObject({ action: 'ERROR', code: 'SIGN_ERROR', reason: 'bad signature' });
  });

  it('a store that fails while recording is a transient ERROR (the order stays pending for the next run)', async () => {
    const now = freshNow();
    const a = await pendingOrder(now);
    const failing: OrderStore = {
      ...h.store,
      applyPayment: async () => Promise.reject(new PayError('UNAVAILABLE', 'order store unavailable')),
    };
    const s = setup(now, { query: { [a]: tx(a) } }, { store: failing });
    const summary = await s.run({ maxConsecutiveFailures: 2 });
    expect(summary).toMatchObject({ errors: 1, recovered: 0, reason: 'COMPLETE' });
    expect(s.results()[0]).toMatchObject({ action: 'ERROR', code: 'UNAVAILABLE' });
    expect((await h.store.getOrder(h.keys.mchid, a))?.state).toBe('NOTPAY');
  });

  it('a configuration error from a query stops the run at once (every query would fail the same)', async () => {
    const now = freshNow();
    const a = await pendingOrder(now, 30);
    const b = await pendingOrder(now, 20);
    const s = setup(now, {
      query: { [a]: configError('WECHATPAY_MERCHANT_PRIVATE_KEY is not a valid PEM private key'), [b]: tx(b) },
    });
    const summary = await s.run({ concurrency: 1 });
    expect(summary).toMatchObject({ queried: 1, errors: 1, reason: 'CONFIG', stoppedEarly: true });
    expect(s.queried).toEqual([a]);
    expect((await h.store.getOrder(h.keys.mchid, b))?.state).toBe('NOTPAY');
  });

  it('an order that expired between listing and recording is NOT_REGISTERED under the reject policy; nothing is recorded', async () => {
    const now = freshNow();
    const ghost = orderNo('G');
    const store: OrderStore = {
      ...h.store,
      listPending: async () => ({
        orders: [{ merchantId: h.keys.mchid, outTradeNo: ghost, createdAt: new Date(now - 10 * MINUTE).toISOString() }],
      }),
    };
    const s = setup(
      now,
      { query: { [ghost]: tx(ghost) } },
      { store, config: { ...h.config, unknownOrderPolicy: 'reject' } },
    );
    const summary = await s.run();
    expect(summary.actions).toEqual({ NOT_REGISTERED: 1 });
    expect(s.logs.some((l) => l.message === 'anomaly' && l.kind === 'UNREGISTERED_ORDER')).toBe(true);
    expect(await h.store.getOrder(h.keys.mchid, ghost)).toBeUndefined();
  });
});

describe('a stop while another worker waits', () => {
  it('a rate limit during a pause: the paused worker queries nothing more', async () => {
    const now = freshNow();
    const a = await pendingOrder(now, 40);
    const b = await pendingOrder(now, 30);
    const c = await pendingOrder(now, 20);
    const d = await pendingOrder(now, 10);
    const later = (ms: number, err: Error) => () =>
      new Promise<Transaction>((_, reject) => setTimeout(() => reject(err), ms));
    const s = setup(
      now,
      {
        query: {
          [a]: wechatRefusal(500, 'SYSTEM_ERROR', 'busy', ''),
          [b]: later(10, wechatRefusal(429, 'RATELIMIT_EXCEEDED', 'slow down', '')),
          [c]: tx(c),
          [d]: tx(d),
        },
      },
      { sleep: () => new Promise((resolve) => setTimeout(resolve, 60)) },
    );
    const summary = await s.run({ concurrency: 2, pageSize: 10 });
    expect(summary.reason).toBe('RATE_LIMITED');
    expect(s.queried.sort()).toEqual([a, b].sort());
    expect((await h.store.getOrder(h.keys.mchid, c))?.state).toBe('NOTPAY');
  });

  it('a rate limit while the next page is read: no order of that page is queried', async () => {
    const now = freshNow();
    const a = await pendingOrder(now, 30);
    const b = await pendingOrder(now, 20);
    const c = await pendingOrder(now, 10);
    const s = setup(now, {
      query: { [a]: wechatRefusal(429, 'FREQUENCY_LIMITED', 'slow down', ''), [b]: tx(b), [c]: tx(c) },
    });
    const summary = await s.run({ concurrency: 3, pageSize: 1 });
    expect(summary.reason).toBe('RATE_LIMITED');
    expect(s.queried).toEqual([a]);
    expect(summary.scanned).toBe(1);
  });
});

describe('auto-close outcomes', () => {
  const aged = async (now: number) => pendingOrder(now, 90);

  it('dry run: WOULD_AUTO_CLOSE, nothing asked of WeChat beyond the query', async () => {
    const now = freshNow();
    const a = await aged(now);
    const s = setup(now, { query: { [a]: notpay(a) } });
    const summary = await s.run({ closeAfterMinutes: 60, dryRun: true });
    expect(summary.actions).toEqual({ WOULD_AUTO_CLOSE: 1 });
    expect(summary.stillPending).toBe(1);
    expect(s.closed).toEqual([]);
  });

  it('WeChat refuses the close for now (five-minute rule): AUTO_CLOSE TOO_EARLY, counted as still pending', async () => {
    const now = freshNow();
    const a = await aged(now);
    const s = setup(now, {
      query: { [a]: notpay(a) },
      close: async () => Promise.reject(wechatRefusal(400, 'RULE_LIMIT', 'too early', '')),
    });
    const summary = await s.run({ closeAfterMinutes: 60 });
    expect(summary).toMatchObject({ closed: 0, stillPending: 1, errors: 0 });
    expect(s.results()[0]).toMatchObject({ action: 'AUTO_CLOSE', closeStatus: 'TOO_EARLY' });
  });

  it('the order turns out paid at the close: AUTO_CLOSE PAID, recorded as paid, not counted closed', async () => {
    const now = freshNow();
    const a = await aged(now);
    let queries = 0;
    const s = setup(now, {
      query: { [a]: async () => (++queries === 1 ? notpay(a) : tx(a)) },
      close: async () => Promise.reject(wechatRefusal(400, 'ORDER_PAID', 'paid', '')),
    });
    // ORDER_PAID is not a mapped code: closeOrder asks the order query, which now says SUCCESS
    const summary = await s.run({ closeAfterMinutes: 60 });
    expect(summary).toMatchObject({ closed: 0, stillPending: 0, errors: 0, actions: { AUTO_CLOSE: 1 } });
    expect(s.results()[0]).toMatchObject({ action: 'AUTO_CLOSE', closeStatus: 'PAID' });
    expect((await h.store.getOrder(h.keys.mchid, a))?.state).toBe('PAID');
  });

  it.each([
    ['retryable', wechatRefusal(500, 'SYSTEM_ERROR', 'busy', ''), 'SYSTEM_ERROR', 'TOO_MANY_ERRORS'],
    ['not retryable', wechatRefusal(401, 'SIGN_ERROR', 'bad signature', ''), 'SIGN_ERROR', 'TOO_MANY_ERRORS'],
  ] as const)(
    'a close that fails (%s): ERROR with closeOrder code, counted towards the failure streak',
    async (_name, err, code, reason) => {
      const now = freshNow();
      const a = await aged(now);
      const s = setup(now, { query: { [a]: notpay(a) }, close: async () => Promise.reject(err) });
      const summary = await s.run({ closeAfterMinutes: 60, maxConsecutiveFailures: 1 });
      expect(summary).toMatchObject({ errors: 1, reason });
      expect(s.results()[0]).toMatchObject({ action: 'ERROR', closeStatus: 'FAILED', code, reason: err.message });
      expect((await h.store.getOrder(h.keys.mchid, a))?.state).toBe('NOTPAY');
    },
  );
});

describe('reconcileOne', () => {
  it('an order not registered here but paid at WeChat: reports the transaction, records nothing', async () => {
    const now = freshNow();
    const no = orderNo('N');
    const s = setup(now, { query: { [no]: tx(no) } });
    const { before, result, after } = await reconcileOne({ merchantId: h.keys.mchid, outTradeNo: no }, {}, s.deps);
    expect(before).toBeUndefined();
    expect(after).toBeUndefined();
    expect(result).toMatchObject({
      action: 'NOT_REGISTERED',
      tradeState: 'SUCCESS',
      transactionId: tx(no).transactionId,
    });
    expect(await h.store.getOrder(h.keys.mchid, no)).toBeUndefined();
  });

  it('an order unknown here and at WeChat: NOT_REGISTERED with WeChat code', async () => {
    const no = orderNo('N');
    const s = setup(freshNow(), {});
    const { result } = await reconcileOne({ merchantId: h.keys.mchid, outTradeNo: no }, {}, s.deps);
    expect(result).toMatchObject({ action: 'NOT_REGISTERED', code: 'ORDER_NOT_EXIST' });
    expect(result.tradeState).toBeUndefined();
  });

  it('an order unknown here whose query fails: ERROR with the failure', async () => {
    const no = orderNo('N');
    const s = setup(freshNow(), {
      query: {
        [no]: new WechatPayApiError({
          status: undefined,
          code: 'TIMEOUT',
          message: 'no answer within 4000 ms',
          retryable: true,
        }),
      },
    });
    const { result } = await reconcileOne({ merchantId: h.keys.mchid, outTradeNo: no }, {}, s.deps);
    expect(result).toMatchObject({ action: 'ERROR', code: 'TIMEOUT', reason: 'no answer within 4000 ms' });
  });

  it('a payment recorded without registration (no creation time) is reconciled like any order', async () => {
    const no = orderNo('N');
    await h.store.applyPayment(
      {
        outTradeNo: no,
        merchantId: h.keys.mchid,
        transactionId: tx(no).transactionId as string,
        amountFen: 1000,
        paidAt: '2033-01-01T00:00:00.000Z',
        channel: 'v3',
      },
      'record',
    );
    const s = setup(freshNow(), { query: { [no]: tx(no) } });
    const { before, result, after } = await reconcileOne({ merchantId: h.keys.mchid, outTradeNo: no }, {}, s.deps);
    expect(before?.createdAt).toBeUndefined();
    expect(result.action).toBe('ALREADY_PAID');
    expect(after?.state).toBe('PAID');
  });

  it.each([
    ['closed here already', 'ALREADY_CLOSED'],
    ['paid here', 'ALREADY_PAID'],
  ] as const)('WeChat reports CLOSED for an order %s: %s, the local record unchanged', async (state, action) => {
    const now = freshNow();
    const no = await pendingOrder(now);
    if (state === 'closed here already') await h.store.applyClose(h.keys.mchid, no);
    else
      await h.store.applyPayment(
        {
          outTradeNo: no,
          merchantId: h.keys.mchid,
          transactionId: '4200000000000000000000000042',
          amountFen: 1000,
          paidAt: '2033-01-01T00:00:00.000Z',
          channel: 'v2',
        },
        'record',
      );
    const beforeState = (await h.store.getOrder(h.keys.mchid, no))?.state;
    const s = setup(now, {
      query: { [no]: tx(no, { tradeState: 'CLOSED', transactionId: undefined, successTime: undefined }) },
    });
    const { result, after } = await reconcileOne({ merchantId: h.keys.mchid, outTradeNo: no }, {}, s.deps);
    expect(result.action).toBe(action);
    expect(after?.state).toBe(beforeState);
  });
});

describe('recording a close for an order that is gone', () => {
  it('WeChat reports CLOSED for a listed order no longer in the table: NOT_REGISTERED', async () => {
    const now = freshNow();
    const ghost = orderNo('G');
    const store: OrderStore = {
      ...h.store,
      listPending: async () => ({
        orders: [{ merchantId: h.keys.mchid, outTradeNo: ghost, createdAt: new Date(now - 10 * MINUTE).toISOString() }],
      }),
    };
    const s = setup(
      now,
      { query: { [ghost]: tx(ghost, { tradeState: 'REVOKED', transactionId: undefined, successTime: undefined }) } },
      { store },
    );
    expect((await s.run()).actions).toEqual({ NOT_REGISTERED: 1 });
    expect(await h.store.getOrder(h.keys.mchid, ghost)).toBeUndefined();
  });
});

describe('the pause after a failure', () => {
  it('uses a real timer by default, and the run goes on after it', async () => {
    const now = freshNow();
    const a = await pendingOrder(now, 20);
    const b = await pendingOrder(now, 10);
    const s = setup(
      now,
      { query: { [a]: wechatRefusal(500, 'SYSTEM_ERROR', 'busy', ''), [b]: tx(b) } },
      { sleep: undefined },
    );
    // one failure: the pause before the next query is full jitter below 500 ms
    const summary = await s.run({ concurrency: 1 });
    expect(summary).toMatchObject({ queried: 2, errors: 1, recovered: 1, reason: 'COMPLETE' });
    expect((await h.store.getOrder(h.keys.mchid, b))?.state).toBe('PAID');
  });
});

describe('a store adapter that throws raw errors', () => {
  it('ends the run with STORE_UNAVAILABLE and an unknown past-horizon count, nothing thrown', async () => {
    const now = freshNow();
    const raw: OrderStore = {
      ...h.store,
      listPending: async () => Promise.reject(new Error('ECONNRESET')),
      countPendingBefore: async () => Promise.reject(new Error('ECONNRESET')),
    };
    const s = setup(now, {}, { store: raw, sleep: undefined });
    const summary = await s.run();
    expect(summary).toMatchObject({ reason: 'STORE_UNAVAILABLE', pastHorizon: null, errors: 1, stoppedEarly: true });
    expect(s.logs.find((l) => l.message === 'reconcile.list')).toMatchObject({
      level: 'error',
      reason: 'pending index unavailable',
    });
    expect(s.logs.find((l) => l.message === 'reconcile.count')).toMatchObject({
      level: 'error',
      reason: 'pending index unavailable',
    });
  });
});
