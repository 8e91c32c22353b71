/**
 * Refund test wiring: the refund function's dependencies over the harness's table and the real
 * simulator, a loopback receiver that hands the simulator's refund notifications to the real notify
 * handler, and reconciliation with refund queries.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { notifyHandler } from '../../../lib/notify/lambda';
import { createRefundCalls, type RefundCalls } from '../../../lib/refund/calls';
import type { RefundCallOutcome, RefundDeps } from '../../../lib/refund/refund';
import { refundHandler } from '../../../lib/refund/lambda';
import { reconcile, type ReconcileSummary } from '../../../lib/reconcile/reconcile';
import { createWechatPayClient } from '../../../lib/wechatpay/client';
import type { FetchLike } from '../../../lib/wechatpay/http';
import type { Simulator } from '../../../scripts/simulator/server';
import type { Harness } from '../../support/harness';

/** Refund calls to the simulator; backoff sleeps skipped, timeouts real. */
export function refundCalls(h: Harness, o: { timeoutMs?: number; fetch?: FetchLike } = {}): RefundCalls {
  return createRefundCalls({
    config: h.config,
    sleep: async () => undefined,
    timeoutMs: o.timeoutMs ?? 4000,
    budgetMs: 30_000,
    ...(o.fetch === undefined ? {} : { fetch: o.fetch }),
  });
}

/** The refund function as Lambda runs it (the adapter over the core), on the harness and the simulator. */
export function invoker(h: Harness, o: { timeoutMs?: number; deps?: Partial<RefundDeps> } = {}) {
  const deps: RefundDeps = { ...h.deps(), refunds: refundCalls(h, o), ...o.deps };
  const handler = refundHandler(() => deps);
  return (event: unknown): Promise<RefundCallOutcome> => handler(event);
}

/** One reconciliation run with refund queries (grace 0: every pending refund is due). */
export function reconcileNow(h: Harness, protocol?: 'v2' | 'v3'): Promise<ReconcileSummary> {
  return reconcile(
    { graceSeconds: 0, ...(protocol === undefined ? {} : { protocol }) },
    {
      ...h.deps(),
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
export async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
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
