/**
 * The refund function end to end, against real DynamoDB Local and the local WeChat Pay simulator
 * (refund apply and query, PROCESSING first, the result and its notification afterwards): the issue's
 * done-when cases, with both APIs configured (APIv3 is used) and with APIv2 alone (the refund goes
 * to `secapi/pay/refund` over TLS with the merchant's client certificate, reconciliation asks
 * `refundquery`). Refunds are counted at the simulator, never inferred from our own records.
 */
import { describe, expect, it } from 'vitest';
import { orderNo } from '../support/harness';
import { invoker, reconcileNow, refundWorld, type RefundMode, until } from '../lib/refund/support';

const world = refundWorld();
const MODES: RefundMode[] = ['v3', 'v2-only'];
// 50 invocations at once, or waits on the simulator's timers: bounded, but slow on a loaded 2-core runner
const HEAVY = 90_000;
const createdAtSim = (outTradeNo: string) => world.sim.refunds.listFor(outTradeNo);
const applyEndpoint = (mode: RefundMode) => (mode === 'v3' ? 'v3.refund' : 'v2.refund');
/** Calls served on the simulator's client-certificate port: APIv2 refund applies, and only those. */
const secapiCalls = () => world.sim.secapi?.served ?? 0;

describe.each(MODES)('one out_refund_no, 50 concurrent invocations (%s)', (mode) => {
  it(
    'makes at most one refund at WeChat; every caller is told ACCEPTED or ALREADY_REQUESTED',
    async () => {
      const outTradeNo = await world.paid(500);
      const outRefundNo = orderNo('N');
      world.sim.refunds.settleAfterMs = 60_000;
      // 50 calls at once on a loaded machine: give each attempt time, a timeout here would prove nothing
      const invoke = invoker(world.h, { mode, timeoutMs: 15_000 });
      const before = secapiCalls();
      const outcomes = await Promise.all(
        Array.from({ length: 50 }, () => invoke({ outTradeNo, outRefundNo, refundFen: 200 })),
      );
      // APIv2 alone goes through the client certificate; with both configured APIv3 is chosen
      if (mode === 'v2-only') expect(secapiCalls()).toBeGreaterThan(before);
      else expect(secapiCalls()).toBe(before);
      const statuses = outcomes.map((o) => o.status);
      // a FAILED one shows its code
      expect(outcomes.flatMap((o) => (o.status === 'FAILED' ? [`${o.code}: ${o.message}`] : []))).toEqual([]);
      expect(statuses.filter((s) => s !== 'ACCEPTED' && s !== 'ALREADY_REQUESTED')).toEqual([]);
      expect(statuses.filter((s) => s === 'ACCEPTED')).toHaveLength(1);
      expect(createdAtSim(outTradeNo)).toHaveLength(1);
      expect((await world.h.store.getOrder(world.h.config.mchid, outTradeNo))?.reservedFen).toBe(200);

      await world.sim.refunds.settleAll();
      // the refund's record and the order's tally are two writes: wait for the second
      await until(
        async () => (await world.h.store.getOrder(world.h.config.mchid, outTradeNo))?.refundedFen !== undefined,
      );
      expect((await world.h.store.getRefund(world.h.config.mchid, outRefundNo))?.state).toBe('SUCCESS');
      const after = await world.h.store.getOrder(world.h.config.mchid, outTradeNo);
      expect(after?.refundedFen).toBe(200);
      expect(after?.reservedFen).toBe(0);
    },
    HEAVY,
  );
});

describe.each(MODES)('50 out_refund_nos over one order of 1,000 fen, 30 fen each (%s)', (mode) => {
  it(
    'accepts exactly 33, refuses 17 as EXCEEDS_REFUNDABLE, and never asks WeChat for more than was paid',
    async () => {
      const outTradeNo = await world.paid(1000);
      world.sim.refunds.settleAfterMs = 60_000;
      const invoke = invoker(world.h, { mode, timeoutMs: 15_000 });
      const outcomes = await Promise.all(
        Array.from({ length: 50 }, (_, i) => invoke({ outTradeNo, outRefundNo: `${outTradeNo}-${i}`, refundFen: 30 })),
      );
      const count = (s: string) => outcomes.filter((o) => o.status === s).length;
      expect(count('ACCEPTED')).toBe(33);
      expect(count('EXCEEDS_REFUNDABLE')).toBe(17);
      const atWechat = createdAtSim(outTradeNo);
      expect(atWechat).toHaveLength(33);
      expect(atWechat.reduce((sum, r) => sum + r.amount, 0)).toBeLessThanOrEqual(1000);
      const refused = outcomes.find((o) => o.status === 'EXCEEDS_REFUNDABLE');
      expect(refused).toMatchObject({ refundableFen: 10 });

      await world.sim.refunds.settleAll();
      await until(async () => (await world.h.store.getOrder(world.h.config.mchid, outTradeNo))?.refundedFen === 990);
      expect((await world.h.store.getOrder(world.h.config.mchid, outTradeNo))?.reservedFen).toBe(0);
      // what the refused asked for is still refundable: 10 fen
      expect(await invoke({ outTradeNo, outRefundNo: `${outTradeNo}-x`, refundFen: 11 })).toMatchObject({
        status: 'EXCEEDS_REFUNDABLE',
        refundableFen: 10,
      });
      expect(await invoke({ outTradeNo, outRefundNo: `${outTradeNo}-y`, refundFen: 10 })).toMatchObject({
        status: 'ACCEPTED',
      });
    },
    HEAVY,
  );
});

describe.each(MODES)('every refund notification lost (%s)', (mode) => {
  it(
    'ends SUCCESS after one reconciliation run, counted once in refundedFen',
    async () => {
      const outTradeNo = await world.paid(800);
      const outRefundNo = orderNo('L');
      world.sim.control.suppress(true);
      const invoke = invoker(world.h, { mode });
      expect(await invoke({ outTradeNo, outRefundNo, refundFen: 300 })).toMatchObject({ status: 'ACCEPTED' });
      await until(() =>
        world.sim.state.listRefunds().some((r) => r.outRefundNo === outRefundNo && r.status === 'SUCCESS'),
      );
      expect((await world.h.store.getRefund(world.h.config.mchid, outRefundNo))?.state).toBe('REQUESTED');

      const summary = await reconcileNow(world.h, undefined, mode);
      expect(summary.refunds?.actions.SETTLED).toBeGreaterThanOrEqual(1);
      expect((await world.h.store.getRefund(world.h.config.mchid, outRefundNo))?.state).toBe('SUCCESS');
      const once = await world.h.store.getOrder(world.h.config.mchid, outTradeNo);
      expect(once).toMatchObject({ refundedFen: 300, reservedFen: 0 });

      // a second run finds nothing pending; the late notification changes nothing
      const again = await reconcileNow(world.h, undefined, mode);
      expect(again.refunds?.actions.SETTLED ?? 0).toBe(0);
      world.sim.control.suppress(false);
      await world.sim.control.replay({ url: world.endpoint.url });
      expect(await world.h.store.getOrder(world.h.config.mchid, outTradeNo)).toMatchObject({
        refundedFen: 300,
        reservedFen: 0,
      });
    },
    HEAVY,
  );
});

describe.each(MODES)('a refund call that timed out after reaching WeChat (%s)', (mode) => {
  it(
    'is retried with the same out_refund_no and makes one refund',
    async () => {
      const outTradeNo = await world.paid(600);
      const outRefundNo = orderNo('T');
      world.sim.refunds.settleAfterMs = 60_000;
      // every attempt of the first call hangs past the client's timeout, and each still reaches WeChat
      world.sim.faults.next(applyEndpoint(mode), 'hang', 3, { hangMs: 600 });
      const first = await invoker(world.h, { timeoutMs: 200, mode })({ outTradeNo, outRefundNo, refundFen: 250 });
      expect(first).toMatchObject({ status: 'FAILED', code: 'TIMEOUT', retryable: true });
      // the reservation is kept: the result is unknown
      expect((await world.h.store.getOrder(world.h.config.mchid, outTradeNo))?.reservedFen).toBe(250);
      await until(() => createdAtSim(outTradeNo).length === 1);

      const retry = await invoker(world.h, { mode })({ outTradeNo, outRefundNo, refundFen: 250 });
      expect(retry).toMatchObject({ status: 'ALREADY_REQUESTED', state: 'REQUESTED' });
      await new Promise((r) => setTimeout(r, 700)); // let every hung attempt land at the simulator
      expect(createdAtSim(outTradeNo)).toHaveLength(1);
      expect((await world.h.store.getOrder(world.h.config.mchid, outTradeNo))?.reservedFen).toBe(250);

      await world.sim.refunds.settleAll();
      await until(async () => (await world.h.store.getOrder(world.h.config.mchid, outTradeNo))?.refundedFen === 250);
      expect((await world.h.store.getOrder(world.h.config.mchid, outTradeNo))?.reservedFen).toBe(0);
    },
    HEAVY,
  );
});
