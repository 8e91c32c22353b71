/**
 * Reconciliation against real DynamoDB Local and the local WeChat Pay simulator (an independent
 * implementation of WeChat's side): payments whose notifications were all dropped are recovered,
 * WeChat's closes are recorded, unpaid orders stay pending; the budget, the page size, the deadline
 * and failures bound a run and the next run finishes; a notification or a second run racing a run
 * never applies a payment twice. APIv2 and APIv3, direct and service-provider.
 *
 * Every test uses its own creation window (an injected `now` days apart from the others), because the
 * pending index is shared by all tests of this file's table. WeChat calls are counted by a recording
 * fetch; the client's backoff sleeps are skipped.
 */
import { createServer, type Server } from 'node:http';
import { BatchWriteItemCommand } from '@aws-sdk/client-dynamodb';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../../lib/config';
import { unavailable, configError, PayError } from '../../../lib/errors';
import { createLogger } from '../../../lib/log';
import { notifyHandler } from '../../../lib/notify/lambda';
import type { OrderStore } from '../../../lib/orders/store';
import { orderKey } from '../../../lib/orders/table';
import { reconcile, type ReconcileDeps, type ReconcileOptions, reconcileOne } from '../../../lib/reconcile/reconcile';
import { readV2, readV3 } from '../../../lib/notify/query';
import type { FetchLike } from '../../../lib/wechatpay/http';
import { createWechatPayClient, type WechatPayClient } from '../../../lib/wechatpay/client';
import type { TradeState } from '../../../lib/wechatpay/tradeState';
import type { Transaction } from '../../../lib/wechatpay/v3/transaction';
import { generateTestKeys } from '../../../scripts/simulator/keys';
import { paymentNotification } from '../../../scripts/simulator/outgoing';
import { startSimulator, type Simulator } from '../../../scripts/simulator/server';
import { createHarness, orderNo, toEvent, type Harness } from '../../support/harness';
import { WechatPayApiError, wechatRefusal } from '../../../lib/wechatpay/apiError';
import type { V2Transaction } from '../../../lib/wechatpay/v2/client';

const SUB = '1230000109';
const MINUTE = 60_000;
const DAY = 86_400_000;

let h: Harness;
let sim: Simulator;
let notifyServer: Server;
/** Notifications that reached the service over HTTP (the simulator's default notify URL). */
let notified = 0;

beforeAll(async () => {
  const keys = generateTestKeys();
  notifyServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      notified += 1;
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]),
      );
      void notifyHandler('/notify/payment', () => h.deps())({
        headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }).then((r) => {
        const reply = r as { statusCode: number; headers?: Record<string, string>; body: string };
        res.writeHead(reply.statusCode, reply.headers ?? {}).end(reply.body);
      });
    });
  });
  await new Promise<void>((resolve) => notifyServer.listen(0, '127.0.0.1', resolve));
  const notifyUrl = `http://127.0.0.1:${(notifyServer.address() as AddressInfo).port}/notify/payment`;
  sim = await startSimulator({ keys, port: 0, closeMinAgeSeconds: 0, notifyUrl });
  // every notification is dropped: WeChat paid, the service never heard of it
  sim.control.suppress(true);
  h = await createHarness({ keys, env: { WECHATPAY_API_BASE_URL: sim.url } });
});

afterAll(async () => {
  await sim?.close();
  await new Promise((resolve) => notifyServer?.close(resolve));
});

beforeEach(() => {
  sim.faults.clear();
});

let windows = 0;
/** A `now` whose 48-hour window no other test of this file writes into. */
const freshNow = () => Date.parse('2031-01-01T00:00:00.000Z') + windows++ * 5 * DAY;

interface Call {
  path: string;
}

interface Setup {
  now: number;
  config?: Config;
  store?: OrderStore;
  deadline?: () => number;
  before?: (call: Call) => void;
}

/** reconcile's dependencies over the harness's table and the simulator, WeChat calls and log lines recorded. */
function setup(o: Setup) {
  const calls: Call[] = [];
  const recording: FetchLike = async (url, init) => {
    const call = { path: new URL(url).pathname };
    calls.push(call);
    o.before?.(call);
    return fetch(url, init);
  };
  const config = o.config ?? h.config;
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    service: 'test',
    write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
  });
  const client = createWechatPayClient({
    config,
    fetch: recording,
    sleep: async () => undefined,
    random: () => 0.5,
    timeoutMs: 3000,
  });
  const sleeps: number[] = [];
  const deps: ReconcileDeps = {
    config,
    store: o.store ?? h.store,
    client,
    logger,
    now: () => o.now,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...(o.deadline ? { deadline: o.deadline } : {}),
  };
  const queries = (outTradeNo?: string) =>
    logs.filter((l) => l.message === 'reconcile.query' && (outTradeNo === undefined || l.outTradeNo === outTradeNo));
  return {
    deps,
    calls,
    logs,
    sleeps,
    logger,
    queries,
    run: (options: Partial<ReconcileOptions> = {}) => reconcile(options, deps),
  };
}

/** An order registered here (created `ageMinutes` before `now`) and at WeChat, unpaid. */
async function order(
  now: number,
  o: { amount?: number; sub?: string; ageMinutes?: number; atWechat?: boolean; wechatAmount?: number } = {},
) {
  const no = orderNo('R');
  const merchantId = o.sub ?? h.keys.mchid;
  const amount = o.amount ?? 1999;
  const createdAt = new Date(now - (o.ageMinutes ?? 10) * MINUTE).toISOString();
  expect((await h.store.registerOrder({ outTradeNo: no, amountFen: amount, merchantId, createdAt })).kind).toBe(
    'REGISTERED',
  );
  if (o.atWechat !== false)
    sim.control.createOrder({
      outTradeNo: no,
      amount: o.wechatAmount ?? amount,
      ...(o.sub ? { subMchid: o.sub } : {}),
    });
  return { no, merchantId };
}

/**
 * Many orders, all paid at WeChat with no notification delivered. Registered with BatchWriteItem, 25
 * items a request, in the shape registerOrder writes (the README's data model; the first one is
 * checked by registering it again): hundreds of single conditional writes would dominate the file's runtime.
 */
async function paidOrders(now: number, n: number): Promise<string[]> {
  const nos = Array.from({ length: n }, (_, i) => ({
    no: orderNo('B'),
    createdAt: new Date(now - (10 + (i % 600)) * MINUTE).toISOString(),
  }));
  const item = ({ no, createdAt }: { no: string; createdAt: string }) => ({
    pk: { S: orderKey(h.keys.mchid, no) },
    entity: { S: 'ORDER' },
    outTradeNo: { S: no },
    merchantId: { S: h.keys.mchid },
    state: { S: 'NOTPAY' },
    amountFen: { N: '1999' },
    amountUnverified: { BOOL: false },
    createdAt: { S: createdAt },
    pending: { S: 'NOTPAY' },
  });
  for (let i = 0; i < n; i += 25) {
    const batch = nos.slice(i, i + 25);
    const res = await h.client.send(
      new BatchWriteItemCommand({
        RequestItems: { [h.tableName]: batch.map((o) => ({ PutRequest: { Item: item(o) } })) },
      }),
    );
    expect(Object.keys(res.UnprocessedItems ?? {})).toHaveLength(0);
  }
  const first = nos[0]!;
  expect(
    (
      await h.store.registerOrder({
        outTradeNo: first.no,
        amountFen: 1999,
        merchantId: h.keys.mchid,
        createdAt: first.createdAt,
      })
    ).kind,
  ).toBe('ALREADY_REGISTERED');
  for (const { no } of nos) {
    sim.control.createOrder({ outTradeNo: no, amount: 1999 });
    sim.state.pay(h.keys.mchid, no);
  }
  return nos.map((o) => o.no);
}

const local = (no: string, merchantId = h.keys.mchid) => h.store.getOrder(merchantId, no);

/** The simulator has no control for REVOKED, PAYERROR or USERPAYING (micropay states): set them on its state. */
function setTradeState(merchantId: string, no: string, state: TradeState): void {
  const orders = (sim.state as unknown as { orders: Map<string, { state: string }> }).orders;
  const stored = orders.get(`${merchantId}\u0000${no}`);
  if (stored === undefined) throw new Error(`no simulator order ${no}`);
  stored.state = state;
}

const v2Config = () => ({ ...h.config, merchant: undefined });

describe('a payment whose notifications were all dropped', () => {
  it.each([
    ['v2', undefined],
    ['v3', undefined],
    ['v2', SUB],
    ['v3', SUB],
  ] as const)(
    '%s (sub-merchant %s): ends PAID after one run, via query, with a recovered metric',
    async (protocol, sub) => {
      const now = freshNow();
      const { no, merchantId } = await order(now, { amount: 2599, ...(sub ? { sub } : {}) });
      const before = notified;
      const paid = await sim.control.pay({ outTradeNo: no, protocol, wait: 'all', ...(sub ? { subMchid: sub } : {}) });
      expect(paid.delivery.skipped).toBe('suppressed');
      expect(notified).toBe(before);
      expect((await local(no, merchantId))?.state).toBe('NOTPAY');

      const t = setup({ now, ...(protocol === 'v2' ? { config: v2Config() } : {}) });
      const summary = await t.run();

      expect(summary).toMatchObject({
        scanned: 1,
        queried: 1,
        recovered: 1,
        closed: 0,
        stillPending: 0,
        errors: 0,
        stoppedEarly: false,
        reason: 'COMPLETE',
      });
      const paidAt = new Date(Math.floor(paid.order.successTime! / 1000) * 1000).toISOString();
      expect(await local(no, merchantId)).toMatchObject({
        state: 'PAID',
        transactionId: paid.order.transactionId,
        paidFen: 2599,
        paidAt,
        paidVia: 'query',
        previousState: 'NOTPAY',
      });
      const path =
        protocol === 'v2' ? '/pay/orderquery' : `/v3/pay/${sub ? 'partner/' : ''}transactions/out-trade-no/${no}`;
      expect(t.calls).toEqual([{ path }]);
      expect(t.queries(no)).toEqual([
        expect.objectContaining({
          level: 'info',
          outTradeNo: no,
          merchantId,
          protocol,
          tradeState: 'SUCCESS',
          action: 'RECOVERED',
          transactionId: paid.order.transactionId,
          latencyMs: expect.any(Number),
        }),
      ]);
      const at = t.logs.findIndex((l) => l.message === 'reconcile');
      expect(t.logs[at]).toMatchObject({ recovered: 1 });
      // the run's metrics, one record just before its summary, in the alarms' {service, stage} set
      expect(t.logs[at - 1]).toMatchObject({
        _aws: {
          CloudWatchMetrics: [
            {
              Namespace: 'WechatPayLambda',
              Dimensions: [['service', 'stage']],
              Metrics: expect.arrayContaining([{ Name: 'ReconcileRecovered', Unit: 'Count' }]),
            },
          ],
        },
        ReconcileRecovered: 1,
      });
      // never a secret in a log line
      const text = JSON.stringify(t.logs);
      for (const secret of [h.keys.apiV2Key, h.keys.apiV3Key, 'PRIVATE KEY']) expect(text).not.toContain(secret);
    },
  );

  it('REFUND at WeChat (paid, then refunded): recorded as the payment it was', async () => {
    const now = freshNow();
    const { no } = await order(now, { amount: 800 });
    const paid = sim.state.pay(h.keys.mchid, no);
    await sim.control.refund({ outTradeNo: no, outRefundNo: `${no}R`, amount: 300, wait: 'all' });
    const t = setup({ now });
    expect(await t.run()).toMatchObject({ recovered: 1 });
    expect(await local(no)).toMatchObject({ state: 'PAID', transactionId: paid.transactionId, paidFen: 800 });
    expect(t.queries(no)[0]).toMatchObject({ tradeState: 'REFUND', action: 'RECOVERED' });
  });

  it('paid with another amount than registered: not applied, an AMOUNT_MISMATCH anomaly, left pending', async () => {
    const now = freshNow();
    const { no } = await order(now, { amount: 100, wechatAmount: 200 });
    sim.state.pay(h.keys.mchid, no);
    const t = setup({ now });
    expect(await t.run()).toMatchObject({ queried: 1, recovered: 0, conflicts: 1 });
    expect((await local(no))?.state).toBe('NOTPAY');
    expect(t.queries(no)[0]).toMatchObject({ level: 'warn', action: 'CONFLICT', anomaly: 'AMOUNT_MISMATCH' });
    expect(t.logs.find((l) => l.message === 'anomaly')).toMatchObject({
      kind: 'AMOUNT_MISMATCH',
      outTradeNo: no,
      source: 'reconcile',
    });
    expect(t.logs.find((l) => l.Anomaly === 1)).toMatchObject({ kind: 'AMOUNT_MISMATCH', outTradeNo: no });
  });

  it('dry run: reports what it would record, writes nothing', async () => {
    const now = freshNow();
    const { no } = await order(now);
    sim.state.pay(h.keys.mchid, no);
    const t = setup({ now });
    expect(await t.run({ dryRun: true })).toMatchObject({
      queried: 1,
      recovered: 0,
      stillPending: 1,
      dryRun: true,
      actions: { WOULD_RECORD_PAYMENT: 1 },
    });
    expect((await local(no))?.state).toBe('NOTPAY');
    expect((await t.run()).recovered).toBe(1);
  });
});

describe('orders not paid at WeChat', () => {
  it.each(['v2', 'v3'] as const)(
    '%s: NOTPAY and USERPAYING stay pending, an order WeChat does not know too',
    async (protocol) => {
      const now = freshNow();
      const notpay = await order(now, { ageMinutes: 600 });
      const paying = await order(now);
      setTradeState(h.keys.mchid, paying.no, 'USERPAYING');
      const unknown = await order(now, { atWechat: false });
      const t = setup({ now, ...(protocol === 'v2' ? { config: v2Config() } : {}) });

      expect(await t.run()).toMatchObject({
        queried: 3,
        recovered: 0,
        closed: 0,
        stillPending: 3,
        errors: 0,
        reason: 'COMPLETE',
      });
      for (const { no } of [notpay, paying, unknown]) expect((await local(no))?.state).toBe('NOTPAY');
      expect(t.queries(notpay.no)[0]).toMatchObject({ tradeState: 'NOTPAY', action: 'LEFT_PENDING' });
      expect(t.queries(paying.no)[0]).toMatchObject({ tradeState: 'USERPAYING', action: 'LEFT_PENDING' });
      expect(t.queries(unknown.no)[0]).toMatchObject({
        action: 'NOT_AT_WECHAT',
        code: protocol === 'v2' ? 'ORDERNOTEXIST' : 'ORDER_NOT_EXIST',
      });
      // still in the pending index: the next run asks again
      const listed = await h.store.listPending({
        createdAfter: new Date(now - 2 * DAY).toISOString(),
        createdBefore: new Date(now).toISOString(),
        limit: 10,
      });
      expect(listed.orders.map((o) => o.outTradeNo).sort()).toEqual([notpay.no, paying.no, unknown.no].sort());
    },
  );

  it.each([
    ['v2', undefined],
    ['v3', undefined],
    ['v2', SUB],
    ['v3', SUB],
  ] as const)(
    '%s (sub-merchant %s): CLOSED, REVOKED and PAYERROR at WeChat are recorded with their reason',
    async (protocol, sub) => {
      const now = freshNow();
      const opts = sub ? { sub } : {};
      const closed = await order(now, opts);
      sim.state.close(closed.merchantId, closed.no, 0);
      const revoked = await order(now, opts);
      setTradeState(revoked.merchantId, revoked.no, 'REVOKED');
      const failed = await order(now, opts);
      setTradeState(failed.merchantId, failed.no, 'PAYERROR');
      const t = setup({ now, ...(protocol === 'v2' ? { config: v2Config() } : {}) });

      expect(await t.run()).toMatchObject({ queried: 3, closed: 3, recovered: 0, stillPending: 0, errors: 0 });
      expect(await local(closed.no, closed.merchantId)).toMatchObject({ state: 'CLOSED', closedReason: 'CLOSED' });
      expect(await local(revoked.no, revoked.merchantId)).toMatchObject({ state: 'CLOSED', closedReason: 'REVOKED' });
      expect(await local(failed.no, failed.merchantId)).toMatchObject({ state: 'CLOSED', closedReason: 'PAYERROR' });
      expect(t.queries(revoked.no)[0]).toMatchObject({ protocol, tradeState: 'REVOKED', action: 'CLOSED' });
      // closed orders leave the index: a second run finds nothing
      expect(await setup({ now }).run()).toMatchObject({ scanned: 0, queried: 0, reason: 'COMPLETE' });
    },
  );
});

describe('the window', () => {
  it('skips orders inside the grace period and past the horizon, and counts the latter as PendingPastHorizon', async () => {
    // the earliest window of the file: only this test's orders lie before its horizon
    const now = Date.parse('2001-06-01T00:00:00.000Z');
    const young = await order(now, { ageMinutes: 2 });
    const due = await order(now, { ageMinutes: 6 });
    const old = await Promise.all([49, 50, 72].map((hours) => order(now, { ageMinutes: hours * 60 })));
    for (const o of [young, due, ...old]) sim.state.pay(h.keys.mchid, o.no);
    const t = setup({ now });

    const summary = await t.run();
    expect(summary).toMatchObject({ scanned: 1, queried: 1, recovered: 1, pastHorizon: 3 });
    expect(t.queries().map((l) => l.outTradeNo)).toEqual([due.no]);
    expect(t.logs.find((l) => l.message === 'reconcile')).toMatchObject({ pastHorizon: 3, recovered: 1 });
    expect(t.logs.find((l) => l._aws !== undefined)).toMatchObject({ PendingPastHorizon: 3, ReconcileRecovered: 1 });
    expect((await local(young.no))?.state).toBe('NOTPAY');
    for (const o of old) expect((await local(o.no))?.state).toBe('NOTPAY');
  });
});

describe('racing', () => {
  it('a notification and a run for the same orders apply each payment once', async () => {
    const now = freshNow();
    const nos: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { no } = await order(now);
      sim.state.pay(h.keys.mchid, no);
      nos.push(no);
    }
    // the notifications arrive once the run has listed the orders and sent its first query
    let queryStarted = () => {};
    const firstQuery = new Promise<void>((resolve) => (queryStarted = resolve));
    const t = setup({ now, before: () => queryStarted() });
    const deps = h.deps({ logger: t.logger });
    const deliveries = nos.map(async (no, i) => {
      await firstQuery;
      const outgoing = paymentNotification(h.keys, sim.state.findOrder(h.keys.mchid, no)!, {
        protocol: i % 2 ? 'v3' : 'v2',
        signer: 'platform',
        signType: 'MD5',
      });
      const wire = typeof outgoing.wire === 'function' ? outgoing.wire() : outgoing.wire;
      return notifyHandler('/notify/payment', () => deps)(toEvent(wire));
    });
    const [summary] = await Promise.all([t.run({ concurrency: 4 }), ...deliveries]);

    const applied = t.logs.filter((l) => l.message === 'delivery' && l.outcome === 'APPLIED').length;
    expect(applied + summary.recovered).toBe(20);
    for (const no of nos) {
      const outcomes = [
        ...t.logs.filter((l) => l.message === 'delivery' && l.outTradeNo === no).map((l) => l.outcome),
        ...t.queries(no).map((l) => l.action),
      ].sort();
      // exactly one of the two applied; the other found it done
      expect([
        ['ALREADY_APPLIED', 'RECOVERED'],
        ['ALREADY_PAID', 'APPLIED'],
      ]).toContainEqual(outcomes);
      expect(await local(no)).toMatchObject({
        state: 'PAID',
        transactionId: sim.state.findOrder(h.keys.mchid, no)!.transactionId,
      });
    }
  });

  it('two overlapping runs over the same orders never apply a payment twice', async () => {
    const now = freshNow();
    const nos = await paidOrders(now, 30);
    const a = setup({ now });
    const b = setup({ now });
    const [ra, rb] = await Promise.all([
      a.run({ concurrency: 4, pageSize: 7 }),
      b.run({ concurrency: 4, pageSize: 7 }),
    ]);

    expect(ra.recovered + rb.recovered).toBe(30);
    expect(ra.errors + rb.errors).toBe(0);
    for (const no of nos) {
      const actions = [...a.queries(no), ...b.queries(no)].map((l) => l.action);
      expect(actions.filter((x) => x === 'RECOVERED')).toHaveLength(1);
      expect(actions.every((x) => x === 'RECOVERED' || x === 'ALREADY_PAID')).toBe(true);
      expect(await local(no)).toMatchObject({ state: 'PAID', previousState: 'NOTPAY' });
    }
    const snapshot = await Promise.all(nos.map((no) => local(no)));
    // and a third run later changes nothing
    expect(await setup({ now }).run()).toMatchObject({ scanned: 0, recovered: 0 });
    expect(await Promise.all(nos.map((no) => local(no)))).toEqual(snapshot);
  });
});

describe('bounds', () => {
  it('honours the budget and the page size over 300 pending orders: 100 queries a run, the rest in later runs', async () => {
    const now = freshNow();
    const nos = await paidOrders(now, 300);
    const limits: number[] = [];
    const store: OrderStore = {
      ...h.store,
      listPending: async (q) => {
        limits.push(q.limit);
        return h.store.listPending(q);
      },
    };
    const runs = [];
    for (let i = 0; i < 4; i++) {
      const t = setup({ now, store });
      const summary = await t.run({ budget: 100, pageSize: 30, concurrency: 8 });
      runs.push({ summary, calls: t.calls.length });
    }
    expect(runs.map((r) => r.calls)).toEqual([100, 100, 100, 0]);
    expect(runs.map((r) => r.summary.queried)).toEqual([100, 100, 100, 0]);
    expect(runs.map((r) => r.summary.recovered)).toEqual([100, 100, 100, 0]);
    expect(runs.map((r) => r.summary.reason)).toEqual(['BUDGET', 'BUDGET', 'BUDGET', 'COMPLETE']);
    expect(runs[3]?.summary.stoppedEarly).toBe(false);
    // pages of at most 30, the last one of a run cut to what is left of the budget
    expect(limits).toEqual([30, 30, 30, 10, 30, 30, 30, 10, 30, 30, 30, 10, 30]);
    const states = await Promise.all(nos.map((no) => local(no)));
    expect(states.every((o) => o?.state === 'PAID')).toBe(true);
  });

  it('stops cleanly before the deadline, and the next run finishes', async () => {
    const now = freshNow();
    const nos = await paidOrders(now, 10);
    let left = 13_500;
    const first = setup({ now, deadline: () => left, before: () => (left -= 1000) });
    const summary = await first.run({ concurrency: 1, deadlineMarginMs: 10_000 });
    expect(summary).toMatchObject({ stoppedEarly: true, reason: 'DEADLINE' });
    expect(summary.queried).toBeGreaterThan(0);
    expect(summary.queried).toBeLessThan(10);
    expect(summary.recovered).toBe(summary.queried);
    const paid = (await Promise.all(nos.map((no) => local(no)))).filter((o) => o?.state === 'PAID');
    expect(paid).toHaveLength(summary.queried);

    const second = await setup({ now, deadline: () => 60_000 }).run({ concurrency: 1 });
    expect(second).toMatchObject({
      queried: 10 - summary.queried,
      recovered: 10 - summary.queried,
      reason: 'COMPLETE',
    });
    expect((await Promise.all(nos.map((no) => local(no)))).every((o) => o?.state === 'PAID')).toBe(true);
  });

  it.each([
    ['v2', 'v2.orderquery', 'SYSTEMERROR'],
    ['v3', 'v3.query', 'SYSTEM_ERROR'],
  ] as const)(
    '%s: a query error leaves the order for the next run, with a pause before the next query',
    async (protocol, endpoint, code) => {
      const now = freshNow();
      const a = await order(now, { ageMinutes: 30 });
      const b = await order(now, { ageMinutes: 20 });
      sim.state.pay(h.keys.mchid, a.no);
      sim.state.pay(h.keys.mchid, b.no);
      sim.faults.next(endpoint, 'system-error', 3); // every attempt of the client's first call
      const config = protocol === 'v2' ? v2Config() : h.config;
      const t = setup({ now, config });

      expect(await t.run({ concurrency: 1 })).toMatchObject({
        queried: 2,
        recovered: 1,
        errors: 1,
        reason: 'COMPLETE',
      });
      expect(t.calls).toHaveLength(4);
      expect(t.queries(a.no)[0]).toMatchObject({ level: 'warn', action: 'ERROR', code });
      expect(t.sleeps).toHaveLength(1);
      expect((await local(a.no))?.state).toBe('NOTPAY');
      expect((await local(b.no))?.state).toBe('PAID');

      expect(await setup({ now, config }).run()).toMatchObject({ queried: 1, recovered: 1, errors: 0 });
      expect((await local(a.no))?.state).toBe('PAID');
    },
  );

  it.each([
    ['v2', 'v2.orderquery', 'FREQUENCY_LIMITED'],
    ['v3', 'v3.query', 'RATELIMIT_EXCEEDED'],
  ] as const)(
    '%s: a rate limit that outlasts the client retries stops the run; the next run finishes',
    async (protocol, endpoint, code) => {
      const now = freshNow();
      const nos = await paidOrders(now, 5);
      sim.faults.next(endpoint, 'rate-limit', 3);
      const config = protocol === 'v2' ? v2Config() : h.config;
      const t = setup({ now, config });

      expect(await t.run({ concurrency: 1 })).toMatchObject({
        queried: 1,
        errors: 1,
        recovered: 0,
        stoppedEarly: true,
        reason: 'RATE_LIMITED',
      });
      expect(t.calls).toHaveLength(3);
      expect(t.queries()[0]).toMatchObject({ action: 'ERROR', code });
      expect(await setup({ now, config }).run()).toMatchObject({ queried: 5, recovered: 5, reason: 'COMPLETE' });
      expect((await Promise.all(nos.map((no) => local(no)))).every((o) => o?.state === 'PAID')).toBe(true);
    },
  );

  it('stops after a run of failures (WeChat down), leaving every order pending', async () => {
    const now = freshNow();
    const nos = await paidOrders(now, 8);
    sim.faults.next('v3.query', 'unsigned-500', 100);
    const t = setup({ now });
    expect(await t.run({ concurrency: 1, maxConsecutiveFailures: 3 })).toMatchObject({
      queried: 3,
      errors: 3,
      recovered: 0,
      reason: 'TOO_MANY_ERRORS',
    });
    expect(t.sleeps).toHaveLength(2);
    sim.faults.clear();
    expect(await setup({ now }).run()).toMatchObject({ queried: 8, recovered: 8 });
    expect((await Promise.all(nos.map((no) => local(no)))).every((o) => o?.state === 'PAID')).toBe(true);
  });

  it('an unreadable index or a configuration that cannot query ends the run with its reason, nothing thrown', async () => {
    const now = freshNow();
    await order(now);
    const broken: OrderStore = {
      ...h.store,
      listPending: async () => {
        throw unavailable('order store unavailable');
      },
      countPendingBefore: async () => {
        throw unavailable('order store unavailable');
      },
    };
    expect(await setup({ now, store: broken }).run()).toMatchObject({
      queried: 0,
      errors: 1,
      pastHorizon: null,
      reason: 'STORE_UNAVAILABLE',
      stoppedEarly: true,
    });
    const noKeys = { ...h.config, merchant: undefined, apiV2Key: undefined };
    const t = setup({ now, config: noKeys });
    expect(await t.run()).toMatchObject({ queried: 0, reason: 'CONFIG' });
    expect(t.calls).toEqual([]);
  });
});

describe('auto-close (off by default)', () => {
  it('closes orders unpaid past the payment timeout through closeOrder; younger and paid ones are not closed', async () => {
    const now = freshNow();
    const expired = await order(now, { ageMinutes: 40 });
    const young = await order(now, { ageMinutes: 10 });
    const paid = await order(now, { ageMinutes: 45 });
    sim.state.pay(h.keys.mchid, paid.no);
    const sub = await order(now, { ageMinutes: 50, sub: SUB });

    const off = setup({ now });
    expect(await off.run({ dryRun: true })).toMatchObject({ queried: 4, actions: { WOULD_RECORD_PAYMENT: 1 } });
    expect(off.queries(expired.no)[0]).toMatchObject({ action: 'LEFT_PENDING' });

    const t = setup({ now });
    expect(await t.run({ closeAfterMinutes: 30 })).toMatchObject({
      queried: 4,
      closed: 2,
      recovered: 1,
      stillPending: 1,
    });
    expect(t.queries(expired.no)[0]).toMatchObject({
      tradeState: 'NOTPAY',
      action: 'AUTO_CLOSE',
      closeStatus: 'CLOSED',
    });
    expect(t.queries(young.no)[0]).toMatchObject({ action: 'LEFT_PENDING' });
    expect(sim.state.findOrder(h.keys.mchid, expired.no)?.state).toBe('CLOSED');
    expect(sim.state.findOrder(SUB, sub.no)?.state).toBe('CLOSED');
    expect(await local(expired.no)).toMatchObject({ state: 'CLOSED' });
    expect(await local(sub.no, SUB)).toMatchObject({ state: 'CLOSED' });
    expect((await local(young.no))?.state).toBe('NOTPAY');
    expect((await local(paid.no))?.state).toBe('PAID');
    expect(
      t.logs
        .filter((l) => l.message === 'closeOrder')
        .map((l) => l.outTradeNo)
        .sort(),
    ).toEqual([expired.no, sub.no].sort());
  });
});

describe('reading a query answer (the checks a notification applies)', () => {
  const ref = () => ({ merchantId: h.keys.mchid, outTradeNo: 'ORDER1' });
  const v3tx = (over: Record<string, unknown> = {}) => ({
    outTradeNo: 'ORDER1',
    transactionId: '4200000001',
    tradeState: 'SUCCESS' as TradeState,
    mchid: h.keys.mchid,
    appid: h.keys.appid,
    subMchid: undefined,
    totalFen: 100,
    successTime: '2031-01-01T00:00:00.000Z',
    ...over,
  });

  it('refuses an answer for another merchant, app, sub-merchant or order', () => {
    expect(() => readV3(v3tx({ mchid: '1999999999' }), ref(), h.config)).toThrow(/mchid/);
    expect(() => readV3(v3tx({ appid: 'wxother' }), ref(), h.config)).toThrow(/appid/);
    expect(() => readV3(v3tx({ outTradeNo: 'ORDER2' }), ref(), h.config)).toThrow(/out_trade_no/);
    expect(() => readV3(v3tx({ tradeState: 'CLOSED', mchid: '1999999999' }), ref(), h.config)).toThrow(/mchid/);
    expect(() => readV3(v3tx({ subMchid: SUB }), ref(), h.config)).toThrow(/sub-merchant/);
    const fields = { mch_id: h.keys.mchid, appid: h.keys.appid };
    const v2tx = {
      outTradeNo: 'ORDER1',
      tradeState: 'SUCCESS' as TradeState,
      tradeStateDesc: undefined,
      transactionId: '42',
      totalFen: 100,
      paidAt: '2031-01-01T00:00:00.000Z',
      subMchId: undefined,
      fields,
    };
    expect(readV2(v2tx, ref(), h.config).report).toMatchObject({
      amountFen: 100,
      channel: 'query',
      merchantId: h.keys.mchid,
    });
    expect(() => readV2({ ...v2tx, fields: { ...fields, mch_id: '1' } }, ref(), h.config)).toThrow(/mch_id/);
    expect(() => readV2({ ...v2tx, fields: { ...fields, appid: 'wxother' } }, ref(), h.config)).toThrow(/appid/);
    expect(() => readV2({ ...v2tx, subMchId: SUB }, ref(), h.config)).toThrow(/sub-merchant/);
    expect(() => readV2({ ...v2tx, totalFen: undefined }, ref(), h.config)).toThrow(/total_fee/);
  });
});

/**
 * Reconciliation with a scripted WeChat client over the real store (DynamoDB Local): the answers and
 * failures the simulator does not stage on demand. Every failure of one order is an ERROR result that
 * weighs on the run as it should (a rate limit or a configuration error stops it, a store failure
 * counts towards the failure streak, a bad answer is only that order's problem), a stop that happens
 * while another worker waits is honoured, and the auto-close outcomes are counted right.
 *
 * Every test uses its own creation window (an injected `now` days apart from the others).
 */
describe('with a scripted WeChat client', () => {
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
      logger: createLogger({
        service: 'test',
        write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
      }),
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
          orders: [
            { merchantId: h.keys.mchid, outTradeNo: ghost, createdAt: new Date(now - 10 * MINUTE).toISOString() },
          ],
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
      expect(after?.state).toBe('PAID_UNVERIFIED');
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
          orders: [
            { merchantId: h.keys.mchid, outTradeNo: ghost, createdAt: new Date(now - 10 * MINUTE).toISOString() },
          ],
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
});
