/**
 * closeOrder against real DynamoDB Local and the local WeChat Pay simulator (an independent
 * implementation of WeChat's side): every outcome, both event shapes, direct and service-provider
 * paths, APIv2 and APIv3, every mapped WeChat code and fault, and the PAID transition after ORDERPAID.
 * WeChat calls are counted by a recording fetch; backoff sleeps are skipped, timeouts are real.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeOrderHandler } from '../../lib/close/lambda';
import type { CloseOrderDeps, CloseOrderOutcome } from '../../lib/close/closeOrder';
import type { Config } from '../../lib/config';
import { configError, unavailable } from '../../lib/errors';
import { notifyHandler } from '../../lib/notify/lambda';
import { createDynamoClient } from '../../lib/orders/client';
import { createDynamoOrderStore } from '../../lib/orders/dynamodb';
import type { OrderStore } from '../../lib/orders/store';
import type { FetchLike } from '../../lib/wechatpay/http';
import { createWechatPayClient } from '../../lib/wechatpay/client';
import { v2PaymentNotification } from '../../scripts/simulator/messages';
import { startSimulator, type Simulator } from '../../scripts/simulator/server';
import { createHarness, orderNo, toEvent, type Harness } from '../support/harness';

const SUB = '1230000109';
const PROTOCOLS = ['v2', 'v3'] as const;

let h: Harness;
let sim: Simulator;

beforeAll(async () => {
  const { generateTestKeys } = await import('../../scripts/simulator/keys');
  const keys = generateTestKeys();
  sim = await startSimulator({ keys, port: 0, closeMinAgeSeconds: 300 });
  h = await createHarness({ keys, env: { WECHATPAY_API_BASE_URL: sim.url } });
});

afterAll(async () => {
  await sim?.close();
});

beforeEach(() => {
  sim.faults.clear();
});

interface Call {
  method: string;
  path: string;
  kind: 'close' | 'query';
}

interface Setup {
  config?: Config;
  store?: OrderStore;
  rewrite?: (init: RequestInit) => RequestInit;
  before?: (call: Call) => Promise<void> | void;
  timeoutMs?: number;
  now?: () => number;
}

/** closeOrder's dependencies over the harness's table and the simulator, with every WeChat call recorded. */
function setup(o: Setup = {}): {
  deps: CloseOrderDeps;
  calls: Call[];
  invoke: (event: unknown) => Promise<CloseOrderOutcome>;
} {
  const calls: Call[] = [];
  const recording: FetchLike = async (url, init) => {
    const u = new URL(url);
    const call: Call = {
      method: init.method ?? 'GET',
      path: u.pathname,
      kind: /\/close(order)?$/.test(u.pathname) ? 'close' : 'query',
    };
    calls.push(call);
    await o.before?.(call);
    return fetch(url, o.rewrite ? o.rewrite(init) : init);
  };
  const config = o.config ?? h.config;
  const client = createWechatPayClient({
    config,
    fetch: recording,
    sleep: async () => undefined,
    random: () => 0.5,
    timeoutMs: o.timeoutMs ?? 3000,
  });
  const deps: CloseOrderDeps = { config, store: o.store ?? h.store, client, logger: h.logger, now: o.now ?? Date.now };
  return { deps, calls, invoke: (event) => closeOrderHandler(() => deps)(event) };
}

const kinds = (calls: Call[]) => calls.map((c) => c.kind);

/** An order registered here and created at WeChat, both old enough to close unless told otherwise. */
async function order(
  o: { amount?: number; sub?: string; localAge?: number; simAge?: number; atSim?: boolean; simAmount?: number } = {},
) {
  const no = orderNo('C');
  const merchantId = o.sub ?? h.keys.mchid;
  const amount = o.amount ?? 1999;
  const createdAt = new Date(Date.now() - (o.localAge ?? 600) * 1000).toISOString();
  expect((await h.store.registerOrder({ outTradeNo: no, amountFen: amount, merchantId, createdAt })).kind).toBe(
    'REGISTERED',
  );
  if (o.atSim !== false)
    sim.control.createOrder({
      outTradeNo: no,
      amount: o.simAmount ?? amount,
      ageSeconds: o.simAge ?? 600,
      ...(o.sub ? { subMchid: o.sub } : {}),
    });
  return { no, merchantId };
}

const local = (no: string, merchantId = h.keys.mchid) => h.store.getOrder(merchantId, no);
const atWechat = (no: string, merchantId = h.keys.mchid) => sim.state.findOrder(merchantId, no);

function logLine(outTradeNo: string): Record<string, unknown> {
  const lines = h.logs.filter((l) => l.message === 'closeOrder' && l.outTradeNo === outTradeNo);
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('CLOSED', () => {
  it.each(PROTOCOLS)('%s direct, camelCase: WeChat closes, then the table', async (protocol) => {
    const { no } = await order();
    const { invoke, calls } = setup();
    expect(await invoke({ outTradeNo: no, protocol })).toEqual({
      status: 'CLOSED',
      outTradeNo: no,
      merchantId: h.keys.mchid,
    });
    expect(kinds(calls)).toEqual(['close']);
    expect(calls[0]!.path).toBe(
      protocol === 'v2' ? '/pay/closeorder' : `/v3/pay/transactions/out-trade-no/${no}/close`,
    );
    expect(atWechat(no)?.state).toBe('CLOSED');
    expect(await local(no)).toMatchObject({ state: 'CLOSED', closedAt: expect.any(String) });
    expect((await local(no))?.transactionId).toBeUndefined();
    expect(logLine(no)).toMatchObject({
      level: 'info',
      protocol,
      outcome: 'CLOSED',
      queried: false,
      latencyMs: expect.any(Number),
    });
  });

  it.each(PROTOCOLS)('%s service provider, cloud-function snake_case shape', async (protocol) => {
    const { no } = await order({ sub: SUB });
    const { invoke, calls } = setup();
    const event = { out_trade_no: no, sub_mch_id: SUB, sub_appid: 'wxsub0000000001', nonce_str: 'N0nce123', protocol };
    expect(await invoke(event)).toEqual({ status: 'CLOSED', outTradeNo: no, merchantId: SUB });
    expect(calls[0]!.path).toBe(
      protocol === 'v2' ? '/pay/closeorder' : `/v3/pay/partner/transactions/out-trade-no/${no}/close`,
    );
    expect(atWechat(no, SUB)?.state).toBe('CLOSED');
    expect((await local(no, SUB))?.state).toBe('CLOSED');
  });

  it('uses APIv3 when the merchant key is configured, APIv2 when it is not', async () => {
    const a = await order();
    const v3 = setup();
    await v3.invoke({ out_trade_no: a.no });
    expect(v3.calls[0]!.path).toMatch(/^\/v3\//);
    const b = await order();
    const v2 = setup({ config: { ...h.config, merchant: undefined } });
    expect((await v2.invoke({ outTradeNo: b.no })).status).toBe('CLOSED');
    expect(v2.calls[0]!.path).toBe('/pay/closeorder');
  });
});

describe('ALREADY_CLOSED', () => {
  it('closed locally: answered without calling WeChat', async () => {
    const { no } = await order();
    await setup().invoke({ outTradeNo: no });
    const again = setup();
    expect(await again.invoke({ out_trade_no: no })).toEqual({
      status: 'ALREADY_CLOSED',
      outTradeNo: no,
      merchantId: h.keys.mchid,
    });
    expect(again.calls).toEqual([]);
  });

  it.each(PROTOCOLS)('%s: WeChat says ORDERCLOSED / ORDER_CLOSED, and the table follows', async (protocol) => {
    const { no } = await order();
    sim.state.close(h.keys.mchid, no, 0);
    const { invoke, calls } = setup();
    expect((await invoke({ outTradeNo: no, protocol })).status).toBe('ALREADY_CLOSED');
    expect(kinds(calls)).toEqual(['close']);
    expect((await local(no))?.state).toBe('CLOSED');
    expect(logLine(no)).toMatchObject({
      wechatCode: protocol === 'v2' ? 'ORDERCLOSED' : 'ORDER_CLOSED',
      outcome: 'ALREADY_CLOSED',
    });
  });
});

describe('PAID', () => {
  it('paid locally (the notification came first): answered with the transaction, no WeChat call', async () => {
    const { no } = await order({ amount: 2600 });
    const paid = await sim.control.pay({ outTradeNo: no, protocol: 'v2', wait: 'none', notifyUrl: undefined });
    const wire = v2PaymentNotification(h.keys, {
      outTradeNo: no,
      totalFee: 2600,
      transactionId: paid.order.transactionId!,
    });
    const reply = await notifyHandler('/notify/payment', () => h.deps())(toEvent(wire));
    expect(reply).toMatchObject({ statusCode: 200 });
    const { invoke, calls } = setup();
    const outcome = await invoke({ outTradeNo: no });
    expect(outcome).toEqual({
      status: 'PAID',
      outTradeNo: no,
      merchantId: h.keys.mchid,
      transaction: { transactionId: paid.order.transactionId, amountFen: 2600, paidAt: expect.stringMatching(/Z$/) },
    });
    expect(calls).toEqual([]);
  });

  it.each([
    ['v2', undefined],
    ['v3', undefined],
    ['v2', SUB],
    ['v3', SUB],
  ] as const)(
    '%s ORDERPAID (sub-merchant %s): the order query settles it with the PAID transition a notification makes',
    async (protocol, sub) => {
      const { no, merchantId } = await order({ amount: 1234, ...(sub ? { sub } : {}) });
      const paidAtWechat = sim.state.pay(merchantId, no); // paid, its notification not (yet) delivered
      const { invoke, calls } = setup();
      const outcome = await invoke({ outTradeNo: no, protocol, ...(sub ? { subMchId: sub } : {}) });
      const paidAt = new Date(Math.floor(paidAtWechat.successTime! / 1000) * 1000).toISOString();
      expect(outcome).toEqual({
        status: 'PAID',
        outTradeNo: no,
        merchantId,
        transaction: { transactionId: paidAtWechat.transactionId, amountFen: 1234, paidAt },
      });
      expect(kinds(calls)).toEqual(['close', 'query']);
      expect(await local(no, merchantId)).toMatchObject({
        state: 'PAID',
        transactionId: paidAtWechat.transactionId,
        paidFen: 1234,
        paidAt,
        paidVia: 'query',
        previousState: 'NOTPAY',
      });
      expect(logLine(no)).toMatchObject({
        outcome: 'PAID',
        wechatCode: 'ORDERPAID',
        queried: true,
        transactionId: paidAtWechat.transactionId,
      });

      // the late notification is then a duplicate: acknowledged, nothing changes
      const wire = v2PaymentNotification(h.keys, {
        outTradeNo: no,
        totalFee: 1234,
        transactionId: paidAtWechat.transactionId!,
        ...(sub ? { extra: { sub_mch_id: sub } } : {}),
      });
      const before = await local(no, merchantId);
      expect(await notifyHandler('/notify/payment', () => h.deps())(toEvent(wire))).toMatchObject({
        statusCode: 200,
        body: expect.stringContaining('SUCCESS'),
      });
      expect(await local(no, merchantId)).toEqual(before);
    },
  );

  it('ORDERPAID with another amount than registered: not applied, FAILED AMOUNT_MISMATCH, anomaly logged', async () => {
    const { no } = await order({ amount: 100, simAmount: 200 });
    sim.state.pay(h.keys.mchid, no);
    const outcome = await setup().invoke({ outTradeNo: no, protocol: 'v3' });
    expect(outcome).toMatchObject({ status: 'FAILED', code: 'AMOUNT_MISMATCH', retryable: false });
    expect((await local(no))?.state).toBe('NOTPAY');
    expect(h.logs.some((l) => l.message === 'anomaly' && l.kind === 'AMOUNT_MISMATCH' && l.outTradeNo === no)).toBe(
      true,
    );
  });

  it("ORDERPAID and the query fails: FAILED with the query's code, retryable, nothing recorded", async () => {
    const { no } = await order();
    sim.state.pay(h.keys.mchid, no);
    sim.faults.next('v3.query', 'system-error', 3);
    const { invoke, calls } = setup();
    expect(await invoke({ outTradeNo: no, protocol: 'v3' })).toMatchObject({
      status: 'FAILED',
      code: 'SYSTEM_ERROR',
      retryable: true,
    });
    expect(kinds(calls)).toEqual(['close', 'query', 'query', 'query']);
    expect((await local(no))?.state).toBe('NOTPAY');
    expect(logLine(no)).toMatchObject({ wechatCode: 'ORDERPAID', queryCode: 'SYSTEM_ERROR' });
  });

  it('paid wins: WeChat confirms the close, but a payment was recorded meanwhile', async () => {
    const { no } = await order({ amount: 500 });
    const wire = v2PaymentNotification(h.keys, {
      outTradeNo: no,
      totalFee: 500,
      transactionId: '4200000000202601010000000042',
    });
    const racing = setup({
      before: async (call) => {
        if (call.kind === 'close') await notifyHandler('/notify/payment', () => h.deps())(toEvent(wire));
      },
    });
    const outcome = await racing.invoke({ outTradeNo: no, protocol: 'v2' });
    expect(outcome).toMatchObject({
      status: 'PAID',
      transaction: { transactionId: '4200000000202601010000000042', amountFen: 500 },
    });
    expect(await local(no)).toMatchObject({ state: 'PAID', transactionId: '4200000000202601010000000042' });
  });
});

describe('TOO_EARLY', () => {
  it('younger than five minutes here: the wait, counted from registration, and no WeChat call', async () => {
    const t = Date.now();
    const { no } = await order({ localAge: 100, simAge: 100 });
    const { invoke, calls } = setup({ now: () => t + 1000 });
    const outcome = await invoke({ outTradeNo: no });
    expect(outcome).toMatchObject({ status: 'TOO_EARLY', outTradeNo: no });
    const wait = (outcome as { retryAfterSeconds: number }).retryAfterSeconds;
    expect(wait).toBeGreaterThanOrEqual(199);
    expect(wait).toBeLessThanOrEqual(201);
    expect(calls).toEqual([]);
    expect((await local(no))?.state).toBe('NOTPAY');
  });

  it.each(PROTOCOLS)(
    "%s: WeChat's own five-minute rule (its order is younger than ours), not retried",
    async (protocol) => {
      const { no } = await order({ localAge: 600, simAge: 10 });
      const { invoke, calls } = setup();
      expect(await invoke({ outTradeNo: no, protocol })).toEqual({
        status: 'TOO_EARLY',
        outTradeNo: no,
        merchantId: h.keys.mchid,
        retryAfterSeconds: 300,
      });
      expect(kinds(calls)).toEqual(['close']);
      expect((await local(no))?.state).toBe('NOTPAY');
      expect(atWechat(no)?.state).toBe('NOTPAY');
    },
  );
});

describe('UNKNOWN_ORDER and ORDERNOTEXIST', () => {
  it('an order never registered here: UNKNOWN_ORDER, no WeChat call', async () => {
    const { invoke, calls } = setup();
    const no = orderNo('U');
    expect(await invoke({ outTradeNo: no })).toEqual({
      status: 'UNKNOWN_ORDER',
      outTradeNo: no,
      merchantId: h.keys.mchid,
    });
    expect(await invoke({ outTradeNo: no, subMchId: SUB })).toEqual({
      status: 'UNKNOWN_ORDER',
      outTradeNo: no,
      merchantId: SUB,
    });
    expect(calls).toEqual([]);
  });

  it.each(PROTOCOLS)(
    '%s: registered here, unknown to WeChat: FAILED ORDERNOTEXIST, the order left as it was',
    async (protocol) => {
      const { no } = await order({ atSim: false });
      const { invoke, calls } = setup();
      expect(await invoke({ outTradeNo: no, protocol })).toMatchObject({
        status: 'FAILED',
        code: 'ORDERNOTEXIST',
        retryable: false,
        outTradeNo: no,
      });
      expect(kinds(calls)).toEqual(['close']);
      expect((await local(no))?.state).toBe('NOTPAY');
    },
  );
});

describe('WeChat failures', () => {
  it.each([
    ['v2', 'v2.closeorder', 'SYSTEMERROR'],
    ['v3', 'v3.close', 'SYSTEM_ERROR'],
  ] as const)('%s: %s answers %s twice, retried, then closed', async (protocol, endpoint, _code) => {
    const { no } = await order();
    sim.faults.next(endpoint, 'system-error', 2);
    const { invoke, calls } = setup();
    expect((await invoke({ outTradeNo: no, protocol })).status).toBe('CLOSED');
    expect(kinds(calls)).toEqual(['close', 'close', 'close']);
    expect((await local(no))?.state).toBe('CLOSED');
  });

  it.each([
    ['v2', 'v2.closeorder', 'SYSTEMERROR'],
    ['v3', 'v3.close', 'SYSTEM_ERROR'],
  ] as const)(
    '%s: %s answers %s on every attempt: the query finds it unpaid, FAILED retryable, nothing recorded',
    async (protocol, endpoint, code) => {
      const { no } = await order();
      sim.faults.next(endpoint, 'system-error', 3);
      const { invoke, calls } = setup();
      expect(await invoke({ outTradeNo: no, protocol })).toMatchObject({ status: 'FAILED', code, retryable: true });
      expect(kinds(calls)).toEqual(['close', 'close', 'close', 'query']);
      expect((await local(no))?.state).toBe('NOTPAY');
      expect(logLine(no)).toMatchObject({ level: 'error', outcome: 'FAILED', code, wechatCode: code, queried: true });
    },
  );

  it('v3: a persistent SYSTEM_ERROR on an order that is in fact paid: the query decides PAID', async () => {
    const { no } = await order({ amount: 777 });
    const paid = sim.state.pay(h.keys.mchid, no);
    sim.faults.next('v3.close', 'system-error', 3);
    const outcome = await setup().invoke({ outTradeNo: no, protocol: 'v3' });
    expect(outcome).toMatchObject({
      status: 'PAID',
      transaction: { transactionId: paid.transactionId, amountFen: 777 },
    });
    expect(await local(no)).toMatchObject({ state: 'PAID', paidVia: 'query' });
  });

  it('v2 SIGNERROR (a request altered on the way): not retried, FAILED', async () => {
    const { no } = await order();
    const flip = (xml: string) =>
      xml.replace(/<sign><!\[CDATA\[(.)/, (_m, c: string) => `<sign><![CDATA[${c === '0' ? '1' : '0'}`);
    const { invoke, calls } = setup({ rewrite: (init) => ({ ...init, body: flip(String(init.body)) }) });
    expect(await invoke({ outTradeNo: no, protocol: 'v2' })).toMatchObject({
      status: 'FAILED',
      code: 'SIGNERROR',
      retryable: false,
    });
    expect(kinds(calls).filter((k) => k === 'close')).toHaveLength(1);
    expect((await local(no))?.state).toBe('NOTPAY');
    expect(atWechat(no)?.state).toBe('NOTPAY');
  });

  it('v3 401 SIGN_ERROR (a merchant key that does not match its serial): not retried, FAILED', async () => {
    const { no } = await order();
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const { invoke, calls } = setup({
      config: { ...h.config, merchant: { privateKey: other, serialNo: h.config.merchant!.serialNo } },
    });
    expect(await invoke({ outTradeNo: no, protocol: 'v3' })).toMatchObject({
      status: 'FAILED',
      code: 'SIGN_ERROR',
      retryable: false,
    });
    expect(kinds(calls).filter((k) => k === 'close')).toHaveLength(1);
    expect((await local(no))?.state).toBe('NOTPAY');
  });

  it.each([
    ['v2', 'v2.closeorder'],
    ['v3', 'v3.close'],
  ] as const)('%s: a hanging call times out and is retried, then closed', async (protocol, endpoint) => {
    const { no } = await order();
    sim.faults.next(endpoint, 'hang', 1, { hangMs: 3000 });
    const { invoke, calls } = setup({ timeoutMs: 250 });
    expect((await invoke({ outTradeNo: no, protocol })).status).toBe('CLOSED');
    expect(kinds(calls)).toEqual(['close', 'close']);
    expect((await local(no))?.state).toBe('CLOSED');
  });

  it.each([
    ['v2', 'v2.closeorder'],
    ['v3', 'v3.close'],
  ] as const)(
    '%s: a forged success is never believed; the query sees the close and the table follows',
    async (protocol, endpoint) => {
      const { no } = await order();
      sim.faults.next(endpoint, 'forged-signature', 1); // the simulator really closes it, then signs its answer wrongly
      const { invoke, calls } = setup();
      expect((await invoke({ outTradeNo: no, protocol })).status).toBe('ALREADY_CLOSED');
      expect(kinds(calls)).toEqual(['close', 'query']);
      expect((await local(no))?.state).toBe('CLOSED');
      expect(logLine(no)).toMatchObject({ wechatCode: 'UNAUTHENTIC_RESPONSE', queried: true });
    },
  );

  it('v3: an unsigned 500 page on every attempt, and the query fails too: FAILED with the close error, retryable', async () => {
    const { no } = await order();
    sim.faults.next('v3.close', 'unsigned-500', 3);
    sim.faults.next('v3.query', 'unsigned-500', 3);
    expect(await setup().invoke({ outTradeNo: no, protocol: 'v3' })).toMatchObject({
      status: 'FAILED',
      code: 'HTTP_ERROR',
      retryable: true,
    });
    expect((await local(no))?.state).toBe('NOTPAY');
  });
});

describe('bad input, configuration and the store', () => {
  it.each([
    [{ outTradeNo: 'x'.repeat(33) }],
    [{ out_trade_no: 'bad no' }],
    [{ outTradeNo: 'OK1', sub_mch_id: 'abc' }],
    [{ outTradeNo: 'OK1', out_trade_no: 'OK2' }],
    [{ outTradeNo: 'OK1', protocol: 'v1' }],
    ['{"out_trade_no":'],
    [42],
    [null],
  ])('%j: FAILED PARAM_ERROR, nothing read or called', async (event) => {
    const { invoke, calls } = setup();
    const outcome = await invoke(event);
    expect(outcome).toMatchObject({ status: 'FAILED', code: 'PARAM_ERROR', retryable: false });
    expect(calls).toEqual([]);
  });

  it('asks for APIv3 without its keys: FAILED CONFIG_ERROR naming the variable; local-only answers still work', async () => {
    const { no } = await order();
    const { invoke, calls } = setup({ config: { ...h.config, merchant: undefined } });
    expect(await invoke({ outTradeNo: no, protocol: 'v3' })).toMatchObject({
      status: 'FAILED',
      code: 'CONFIG_ERROR',
      retryable: false,
      message: expect.stringContaining('WECHATPAY_MERCHANT_PRIVATE_KEY'),
    });
    expect(calls).toEqual([]);
    expect((await invoke({ outTradeNo: orderNo('U') })).status).toBe('UNKNOWN_ORDER');
  });

  it('a configuration that does not load: FAILED CONFIG_ERROR, never thrown', async () => {
    const outcome = await closeOrderHandler(() => {
      throw configError('WECHATPAY_MCHID is not set');
    })({ outTradeNo: 'N1' });
    expect(outcome).toEqual({
      status: 'FAILED',
      code: 'CONFIG_ERROR',
      message: 'WECHATPAY_MCHID is not set',
      retryable: false,
    });
  });

  it('DynamoDB unreachable: FAILED STORE_UNAVAILABLE, retryable, no WeChat call', async () => {
    const dead = createDynamoOrderStore({
      client: createDynamoClient({ endpoint: 'http://127.0.0.1:9', timeouts: { connectMs: 200, requestMs: 200 } }),
      tableName: h.tableName,
    });
    const { invoke, calls } = setup({ store: dead });
    expect(await invoke({ outTradeNo: orderNo('D') })).toMatchObject({
      status: 'FAILED',
      code: 'STORE_UNAVAILABLE',
      retryable: true,
    });
    expect(calls).toEqual([]);
  });

  it('the store fails after WeChat closed: FAILED retryable; the retry finds ORDERCLOSED and records it', async () => {
    const { no } = await order();
    const flaky: OrderStore = {
      ...h.store,
      applyClose: async () => Promise.reject(unavailable('order store unavailable')),
    };
    expect(await setup({ store: flaky }).invoke({ outTradeNo: no, protocol: 'v2' })).toMatchObject({
      status: 'FAILED',
      code: 'STORE_UNAVAILABLE',
      retryable: true,
    });
    expect(atWechat(no)?.state).toBe('CLOSED');
    expect((await local(no))?.state).toBe('NOTPAY');
    expect((await setup().invoke({ outTradeNo: no, protocol: 'v2' })).status).toBe('ALREADY_CLOSED');
    expect((await local(no))?.state).toBe('CLOSED');
  });

  it('a bug in a dependency becomes FAILED INTERNAL_ERROR, never a thrown error', async () => {
    const broken: OrderStore = { ...h.store, getOrder: async () => Promise.reject(new TypeError('boom')) };
    expect(await setup({ store: broken }).invoke({ outTradeNo: orderNo('B') })).toEqual(
      expect.objectContaining({ status: 'FAILED', code: 'INTERNAL_ERROR', message: 'internal error', retryable: true }),
    );
  });
});

describe('logs', () => {
  it('one JSON line per call, with no secret, signature or body in any line', async () => {
    const start = h.logs.length;
    const { no } = await order();
    sim.state.pay(h.keys.mchid, no);
    await setup().invoke({ outTradeNo: no, protocol: 'v2' });
    const b = await order();
    await setup().invoke({ outTradeNo: b.no, protocol: 'v3' });
    const lines = h.logs.slice(start).filter((l) => l.message === 'closeOrder');
    expect(lines.map((l) => [l.outTradeNo, l.protocol, l.outcome])).toEqual([
      [no, 'v2', 'PAID'],
      [b.no, 'v3', 'CLOSED'],
    ]);
    const text = JSON.stringify(h.logs.slice(start));
    const pemBody = (pem: string) => pem.split('\n')[1]!;
    for (const secret of [
      h.keys.apiV2Key,
      h.keys.apiV3Key,
      pemBody(h.keys.merchant.privateKeyPem),
      '<xml>',
      'signature=',
    ]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('functions/closeOrder', () => {
  it('is the middy handler over the environment', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, h.env);
    try {
      const { handler } = await import('../../functions/closeOrder');
      const { no } = await order();
      const invoke = handler as unknown as (e: unknown, c: unknown) => Promise<CloseOrderOutcome>;
      expect(await invoke({ out_trade_no: no, nonce_str: 'abc' }, {})).toEqual({
        status: 'CLOSED',
        outTradeNo: no,
        merchantId: h.keys.mchid,
      });
      expect(await invoke({ out_trade_no: 'no way' }, {})).toMatchObject({ status: 'FAILED', code: 'PARAM_ERROR' });
      expect((await local(no))?.state).toBe('CLOSED');
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});
