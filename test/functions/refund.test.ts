/**
 * The refund function end to end, against real DynamoDB Local and the local WeChat Pay simulator
 * (refund apply and query, PROCESSING first, the result and its notification afterwards): the issue's
 * done-when cases. Refunds are counted at the simulator, never inferred from our own records.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateTestKeys } from '../../scripts/simulator/keys';
import { startSimulator, type Simulator } from '../../scripts/simulator/server';
import { createHarness, orderNo, type Harness } from '../support/harness';
import { invoker, paidOrder, reconcileNow, startNotifyEndpoint, until } from '../lib/refund/support';

let h: Harness;
let sim: Simulator;
let endpoint: { url: string; close(): Promise<void> };

beforeAll(async () => {
  const keys = generateTestKeys();
  sim = await startSimulator({ keys, port: 0 });
  h = await createHarness({ keys, env: { WECHATPAY_API_BASE_URL: sim.url } });
  endpoint = await startNotifyEndpoint(h);
  sim.control.configure({ refundNotifyUrl: endpoint.url });
});

afterAll(async () => {
  await sim?.close();
  await endpoint?.close();
});

beforeEach(() => {
  sim.faults.clear();
  sim.control.suppress(false);
  sim.refunds.settleAfterMs = 20;
});

const order = async (fen: number) => {
  const no = orderNo('R');
  await paidOrder(h, sim, no, fen);
  return no;
};
const createdAtSim = (outTradeNo: string) => sim.refunds.listFor(outTradeNo);

describe('one out_refund_no, 50 concurrent invocations', () => {
  it('makes at most one refund at WeChat; every caller is told ACCEPTED or ALREADY_REQUESTED', async () => {
    const outTradeNo = await order(500);
    const outRefundNo = orderNo('N');
    sim.refunds.settleAfterMs = 60_000;
    const invoke = invoker(h);
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, () => invoke({ outTradeNo, outRefundNo, refundFen: 200 })),
    );
    const statuses = outcomes.map((o) => o.status);
    expect(statuses.filter((s) => s !== 'ACCEPTED' && s !== 'ALREADY_REQUESTED')).toEqual([]);
    expect(statuses.filter((s) => s === 'ACCEPTED')).toHaveLength(1);
    expect(createdAtSim(outTradeNo)).toHaveLength(1);
    expect((await h.store.getOrder(h.config.mchid, outTradeNo))?.reservedFen).toBe(200);

    await sim.refunds.settleAll();
    await until(async () => (await h.store.getRefund(h.config.mchid, outRefundNo))?.state === 'SUCCESS');
    const after = await h.store.getOrder(h.config.mchid, outTradeNo);
    expect(after?.refundedFen).toBe(200);
    expect(after?.reservedFen).toBe(0);
  });
});

describe('50 out_refund_nos over one order of 1,000 fen, 30 fen each', () => {
  it('accepts exactly 33, refuses 17 as EXCEEDS_REFUNDABLE, and never asks WeChat for more than was paid', async () => {
    const outTradeNo = await order(1000);
    sim.refunds.settleAfterMs = 60_000;
    const invoke = invoker(h);
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

    await sim.refunds.settleAll();
    await until(async () => (await h.store.getOrder(h.config.mchid, outTradeNo))?.refundedFen === 990);
    expect((await h.store.getOrder(h.config.mchid, outTradeNo))?.reservedFen).toBe(0);
    // what the refused asked for is still refundable: 10 fen
    expect(await invoke({ outTradeNo, outRefundNo: `${outTradeNo}-x`, refundFen: 11 })).toMatchObject({
      status: 'EXCEEDS_REFUNDABLE',
      refundableFen: 10,
    });
    expect(await invoke({ outTradeNo, outRefundNo: `${outTradeNo}-y`, refundFen: 10 })).toMatchObject({
      status: 'ACCEPTED',
    });
  });
});

describe.each(['v3', 'v2'] as const)('every refund notification lost (%s)', (protocol) => {
  it('ends SUCCESS after one reconciliation run, counted once in refundedFen', async () => {
    const outTradeNo = await order(800);
    const outRefundNo = orderNo('L');
    sim.control.suppress(true);
    const invoke = invoker(h);
    expect(await invoke({ outTradeNo, outRefundNo, refundFen: 300, protocol })).toMatchObject({ status: 'ACCEPTED' });
    await until(() => sim.state.listRefunds().some((r) => r.outRefundNo === outRefundNo && r.status === 'SUCCESS'));
    expect((await h.store.getRefund(h.config.mchid, outRefundNo))?.state).toBe('REQUESTED');

    const summary = await reconcileNow(h, protocol);
    expect(summary.refunds?.actions.SETTLED).toBe(1);
    expect((await h.store.getRefund(h.config.mchid, outRefundNo))?.state).toBe('SUCCESS');
    const once = await h.store.getOrder(h.config.mchid, outTradeNo);
    expect(once).toMatchObject({ refundedFen: 300, reservedFen: 0 });

    // a second run finds nothing pending; the late notification changes nothing
    const again = await reconcileNow(h, protocol);
    expect(again.refunds?.actions.SETTLED ?? 0).toBe(0);
    sim.control.suppress(false);
    await sim.control.replay({ url: endpoint.url });
    expect(await h.store.getOrder(h.config.mchid, outTradeNo)).toMatchObject({ refundedFen: 300, reservedFen: 0 });
  });
});

describe('a refund call that timed out after reaching WeChat', () => {
  it('is retried with the same out_refund_no and makes one refund', async () => {
    const outTradeNo = await order(600);
    const outRefundNo = orderNo('T');
    sim.refunds.settleAfterMs = 60_000;
    // every attempt of the first call hangs past the client's timeout, and each still reaches WeChat
    sim.faults.next('v3.refund', 'hang', 3, { hangMs: 600 });
    const first = await invoker(h, { timeoutMs: 200 })({ outTradeNo, outRefundNo, refundFen: 250 });
    expect(first).toMatchObject({ status: 'FAILED', code: 'TIMEOUT', retryable: true });
    // the reservation is kept: the result is unknown
    expect((await h.store.getOrder(h.config.mchid, outTradeNo))?.reservedFen).toBe(250);
    await until(() => createdAtSim(outTradeNo).length === 1);

    const retry = await invoker(h)({ outTradeNo, outRefundNo, refundFen: 250 });
    expect(retry).toMatchObject({ status: 'ALREADY_REQUESTED', state: 'REQUESTED' });
    await new Promise((r) => setTimeout(r, 700)); // let every hung attempt land at the simulator
    expect(createdAtSim(outTradeNo)).toHaveLength(1);
    expect((await h.store.getOrder(h.config.mchid, outTradeNo))?.reservedFen).toBe(250);

    await sim.refunds.settleAll();
    await until(async () => (await h.store.getOrder(h.config.mchid, outTradeNo))?.refundedFen === 250);
    expect((await h.store.getOrder(h.config.mchid, outTradeNo))?.reservedFen).toBe(0);
  });
});
