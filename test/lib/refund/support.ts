/**
 * Refund test wiring: one world per test file (a simulator whose `secapi` demands the merchant's
 * client certificate, a harness over DynamoDB Local whose environment carries that certificate, and a
 * loopback receiver handing the simulator's refund notifications to the real notify handler), the
 * refund function's dependencies over it in either API mode, and reconciliation with refund queries.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { Config } from '../../../lib/config';
import { notifyHandler } from '../../../lib/notify/lambda';
import { createRefundCalls, type RefundCalls } from '../../../lib/refund/calls';
import type { RefundCallOutcome, RefundDeps } from '../../../lib/refund/refund';
import { refundHandler } from '../../../lib/refund/lambda';
import { reconcile, type ReconcileSummary } from '../../../lib/reconcile/reconcile';
import { createWechatPayClient } from '../../../lib/wechatpay/client';
import type { FetchLike } from '../../../lib/wechatpay/http';
import { readSecapiSettings, type SecapiSettings } from '../../../lib/wechatpay/v2/clientCert';
import { generateTestKeys } from '../../../scripts/simulator/keys';
import { startSimulator, type Simulator } from '../../../scripts/simulator/server';
import { createHarness, orderNo, type Harness } from '../../support/harness';

/** Which API the refund function is configured with: both (it picks APIv3), or APIv2 alone. */
export type RefundMode = 'v3' | 'v2-only';

/** The `secapi` settings the harness's environment names (the simulator's client-certificate port). */
export function secapiOf(h: Harness): SecapiSettings {
  return readSecapiSettings(h.env, h.config.mchid, h.config.apiBaseUrl);
}

/** The configuration of a mode: APIv2 alone is the harness's with the APIv3 merchant key removed. */
export function configOf(h: Harness, mode: RefundMode): Config {
  return mode === 'v3' ? h.config : { ...h.config, merchant: undefined };
}

/** Refund calls to the simulator; backoff sleeps skipped, timeouts real; `secapi` over the client certificate. */
export function refundCalls(
  h: Harness,
  o: { timeoutMs?: number; fetch?: FetchLike; secapi?: SecapiSettings } = {},
): RefundCalls {
  return createRefundCalls({
    config: h.config,
    sleep: async () => undefined,
    timeoutMs: o.timeoutMs ?? 4000,
    budgetMs: 30_000,
    ...(o.fetch === undefined ? {} : { fetch: o.fetch }),
    secapi: o.secapi ?? secapiOf(h),
  });
}

/** The refund function as Lambda runs it (the adapter over the core), on the harness and the simulator. */
export function invoker(
  h: Harness,
  o: { timeoutMs?: number; deps?: Partial<RefundDeps>; mode?: RefundMode; secapi?: SecapiSettings } = {},
) {
  const deps: RefundDeps = {
    ...h.deps(),
    refunds: refundCalls(h, o),
    ...(o.mode === undefined ? {} : { config: configOf(h, o.mode) }),
    ...o.deps,
  };
  const handler = refundHandler(() => deps);
  return (event: unknown): Promise<RefundCallOutcome> => handler(event);
}

/**
 * One reconciliation run with refund queries (grace 0: every pending refund is due); `protocol`
 * forces a generation, a mode configures one (APIv2 alone: the run must pick it by itself).
 */
export function reconcileNow(h: Harness, protocol?: 'v2' | 'v3', mode: RefundMode = 'v3'): Promise<ReconcileSummary> {
  return reconcile(
    { graceSeconds: 0, ...(protocol === undefined ? {} : { protocol }) },
    {
      ...h.deps(),
      config: configOf(h, mode),
      client: createWechatPayClient({ config: h.config, sleep: async () => undefined }),
      refunds: refundCalls(h),
    },
  );
}

/** A loopback endpoint that hands each notification to the real refund notify handler. */
export async function startNotifyEndpoint(h: Harness): Promise<{ url: string; close(): Promise<void> }> {
  const handle = notifyHandler('/notify/refund', () => h.deps());
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      void handle({ headers, body: Buffer.concat(chunks).toString('utf8'), isBase64Encoded: false }).then((reply) => {
        const r = reply as { statusCode: number; headers?: Record<string, string>; body: string };
        res.writeHead(r.statusCode, r.headers ?? {});
        res.end(r.body);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/notify/refund`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Polls `check` until it holds (the simulator settles and notifies asynchronously); fails after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A PAID order of `fen` at the simulator and in the table, paid through the simulator's notification to nowhere. */
export async function paidOrder(h: Harness, sim: Simulator, outTradeNo: string, fen: number): Promise<void> {
  await h.store.registerOrder({ outTradeNo, amountFen: fen, merchantId: h.config.mchid });
  sim.control.createOrder({ outTradeNo, amount: fen });
  const { order } = await sim.control.pay({ outTradeNo, notifyUrl: undefined, wait: 'none' });
  await h.store.applyPayment(
    {
      outTradeNo,
      merchantId: h.config.mchid,
      transactionId: order.transactionId ?? '',
      amountFen: fen,
      paidAt: new Date().toISOString(),
      channel: 'v3',
    },
    'reject',
  );
}

/** What a refund test file works with; valid inside its tests (set up in beforeAll). */
export interface RefundWorld {
  readonly h: Harness;
  readonly sim: Simulator;
  /** The loopback refund notification endpoint the simulator delivers to. */
  readonly endpoint: { url: string; close(): Promise<void> };
  /** A new PAID order of `fen` (at the simulator and in the table); `prefix` starts its number. */
  paid(fen: number, prefix?: string): Promise<string>;
}

/**
 * Registers the hooks of a refund test file: the simulator (with its client-certificate port), the
 * harness whose environment carries the merchant certificate for it, the notification endpoint, and
 * before each test a clean fault plan, notifications on and results 20 ms after the apply.
 */
export function refundWorld(): RefundWorld {
  let h: Harness | undefined;
  let sim: Simulator | undefined;
  let endpoint: { url: string; close(): Promise<void> } | undefined;
  beforeAll(async () => {
    const keys = generateTestKeys();
    sim = await startSimulator({ keys, port: 0, clientCertificates: true });
    const secapi = sim.secapi;
    if (secapi === undefined) throw new Error('the simulator has no client-certificate port');
    h = await createHarness({
      keys,
      env: {
        WECHATPAY_API_BASE_URL: sim.url,
        WECHATPAY_SECAPI_BASE_URL: secapi.url,
        WECHATPAY_SECAPI_CA: secapi.caPem,
        WECHATPAY_MERCHANT_CERT: secapi.merchantCertPem,
      },
    });
    endpoint = await startNotifyEndpoint(h);
    sim.control.configure({ refundNotifyUrl: endpoint.url });
  });
  afterAll(async () => {
    await sim?.close();
    await endpoint?.close();
  });
  beforeEach(() => {
    if (sim === undefined) return;
    sim.faults.clear();
    sim.control.suppress(false);
    sim.refunds.settleAfterMs = 20;
    sim.refunds.outcomes.length = 0;
    sim.refunds.lostNotifications = 0;
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the refund world is used outside a test');
    return value;
  };
  return {
    get h() {
      return ready(h);
    },
    get sim() {
      return ready(sim);
    },
    get endpoint() {
      return ready(endpoint);
    },
    async paid(fen, prefix = 'R') {
      const no = orderNo(prefix);
      await paidOrder(ready(h), ready(sim), no, fen);
      return no;
    },
  };
}
