/**
 * The refund part of reconciliation against DynamoDB Local and the simulator: refunds still
 * REQUESTED past the grace period are queried and settled once; dry runs write nothing; a failed
 * query, a store that cannot list, the budget and the deadline each stop or skip cleanly.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_RECONCILE_OPTIONS, type ReconcileOptions } from '../../../lib/reconcile/options';
import { reconcileRefunds, type RefundSweepDeps } from '../../../lib/reconcile/refunds';
import type { Simulator } from '../../../scripts/simulator/server';
import { orderNo, type Harness } from '../../support/harness';
import { invoker, paidOrder, refundCalls, refundWorld, until } from '../refund/support';

const world = refundWorld();
let h: Harness;
let sim: Simulator;

beforeAll(() => {
  h = world.h;
  sim = world.sim;
});

beforeEach(() => {
  sim.faults.clear();
  sim.control.suppress(true);
  sim.refunds.settleAfterMs = 0;
});

const options = (o: Partial<ReconcileOptions> = {}): ReconcileOptions => ({
  ...DEFAULT_RECONCILE_OPTIONS,
  graceSeconds: 0,
  ...o,
});
const deps = (o: Partial<RefundSweepDeps> = {}): RefundSweepDeps => ({ ...h.deps(), refunds: refundCalls(h), ...o });
const forever = () => Number.POSITIVE_INFINITY;

/** A refund requested through the function whose every answer was lost to a timeout, so it stays REQUESTED. */
async function requested(fen: number): Promise<{ outTradeNo: string; outRefundNo: string }> {
  const outTradeNo = orderNo('Q');
  await paidOrder(h, sim, outTradeNo, 1000);
  const outRefundNo = `${outTradeNo}r`;
  sim.faults.next('v3.refund', 'hang', 3, { hangMs: 300 });
  await invoker(h, { timeoutMs: 100 })({ outTradeNo, outRefundNo, refundFen: fen });
  await until(() => sim.refunds.listFor(outTradeNo).length === 1);
  return { outTradeNo, outRefundNo };
}

describe('reconcileRefunds', () => {
  it('a dry run writes nothing; a run settles each once; a second run finds nothing', async () => {
    const a = await requested(100);
    const dry = await reconcileRefunds(options({ dryRun: true }), 'v3', 100, forever, deps());
    expect(dry.actions.WOULD_SETTLE).toBeGreaterThanOrEqual(1);
    expect((await h.store.getRefund(h.config.mchid, a.outRefundNo))?.state).toBe('REQUESTED');
    const run = await reconcileRefunds(options({ pageSize: 1 }), 'v3', 100, forever, deps());
    expect(run.settled).toBeGreaterThanOrEqual(1);
    expect(await h.store.getOrder(h.config.mchid, a.outTradeNo)).toMatchObject({ refundedFen: 100, reservedFen: 0 });
    const again = await reconcileRefunds(options(), 'v3', 100, forever, deps());
    expect(again.settled).toBe(0);
  });

  it('a failed query is an ERROR and leaves the refund for the next run', async () => {
    const a = await requested(50);
    sim.faults.next('v3.refundquery', 'forged-signature', 50);
    const run = await reconcileRefunds(options(), 'v3', 100, forever, deps());
    expect(run.errors).toBeGreaterThanOrEqual(1);
    expect((await h.store.getRefund(h.config.mchid, a.outRefundNo))?.state).toBe('REQUESTED');
    sim.faults.clear();
    await reconcileRefunds(options(), 'v3', 100, forever, deps());
    expect((await h.store.getRefund(h.config.mchid, a.outRefundNo))?.state).toBe('SUCCESS');
  });

  it('stops at the budget and before the deadline, and reports a store that cannot list', async () => {
    await requested(10);
    expect(await reconcileRefunds(options(), 'v3', 0, forever, deps())).toMatchObject({ scanned: 0 });
    expect(await reconcileRefunds(options(), 'v3', 100, () => 0, deps())).toMatchObject({ scanned: 0 });
    const store = h.faultyStore(5, () => new Error('connection reset'));
    expect(await reconcileRefunds(options(), 'v3', 100, forever, deps({ store }))).toMatchObject({
      scanned: 0,
      errors: 1,
    });
    // the deadline met between two refunds
    let left = 2;
    const run = await reconcileRefunds(options(), 'v3', 100, () => (left-- > 0 ? Number.POSITIVE_INFINITY : 0), deps());
    expect(run.queried).toBeLessThanOrEqual(1);
  });

  it('a refund WeChat never received is NOT_AT_WECHAT; v2 reads the same answers', async () => {
    const outTradeNo = orderNo('Z');
    await paidOrder(h, sim, outTradeNo, 100);
    sim.faults.next('v2.refund', 'system-error', 3);
    await invoker(h)({ outTradeNo, outRefundNo: `${outTradeNo}r`, refundFen: 10, protocol: 'v2' });
    const run = await reconcileRefunds(options(), 'v2', 100, forever, deps());
    expect(run.actions.NOT_AT_WECHAT).toBeGreaterThanOrEqual(1);
    expect((await h.store.getOrder(h.config.mchid, outTradeNo))?.reservedFen).toBe(10);
  });
});
