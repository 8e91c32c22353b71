/**
 * The scheduled reconcile function as Lambda runs it: options from the RECONCILE_* environment read
 * once per cold start, the deadline from the invocation's context, a summary returned and logged,
 * nothing thrown, against DynamoDB Local and the local WeChat Pay simulator.
 */
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler } from '../../functions/reconcile';
import { reconcileHandler, reconcileRuntime } from '../../lib/reconcile/lambda';
import type { ReconcileSummary } from '../../lib/reconcile/reconcile';
import { generateTestKeys } from '../../scripts/simulator/keys';
import { startSimulator, type Simulator } from '../../scripts/simulator/server';
import { createHarness, orderNo, type Harness } from '../support/harness';

let h: Harness;
let sim: Simulator;
const RECONCILE_ENV = {
  RECONCILE_GRACE_SECONDS: '60',
  RECONCILE_HORIZON_HOURS: '2',
  RECONCILE_PAGE_SIZE: '3',
  RECONCILE_BUDGET: '50',
  RECONCILE_CONCURRENCY: '2',
};
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  const keys = generateTestKeys();
  sim = await startSimulator({ keys, port: 0, closeMinAgeSeconds: 0 });
  h = await createHarness({ keys, env: { WECHATPAY_API_BASE_URL: sim.url } });
  // the deployed handler reads process.env, as in Lambda; restored after this file
  for (const [name, value] of Object.entries({ ...h.env, ...RECONCILE_ENV })) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
});

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await sim?.close();
});

const context = (remainingMs: number) => ({ getRemainingTimeInMillis: () => remainingMs }) as unknown as Context;

/** Captures the JSON lines the functions write to stdout. */
async function capture<T>(f: () => Promise<T>): Promise<{ value: T; lines: Array<Record<string, unknown>> }> {
  const lines: Array<Record<string, unknown>> = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n'))
      if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
    return true;
  });
  try {
    return { value: await f(), lines };
  } finally {
    spy.mockRestore();
  }
}

async function paidOrder(ageMinutes: number): Promise<string> {
  const no = orderNo('F');
  await h.store.registerOrder({
    outTradeNo: no,
    amountFen: 990,
    merchantId: h.keys.mchid,
    createdAt: new Date(Date.now() - ageMinutes * 60_000).toISOString(),
  });
  sim.control.createOrder({ outTradeNo: no, amount: 990 });
  sim.state.pay(h.keys.mchid, no);
  return no;
}

describe('reconcile function', () => {
  it('a malformed RECONCILE_* variable: logged by name, a CONFIG summary, nothing thrown', async () => {
    const broken = reconcileHandler(() => reconcileRuntime({ ...h.env, RECONCILE_CONCURRENCY: 'lots' }));
    const { value, lines } = await capture(() => broken({}, context(60_000)));
    expect(value).toMatchObject({ reason: 'CONFIG', stoppedEarly: true, queried: 0 });
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'configuration',
        function: 'reconcile',
        reason: expect.stringContaining('RECONCILE_CONCURRENCY'),
      }),
    );
  });

  it('too little time left in the invocation: stops before querying; the next invocation settles the orders', async () => {
    const nos = await Promise.all([paidOrder(10), paidOrder(20), paidOrder(30), paidOrder(40)]);
    const young = await paidOrder(0.5); // inside RECONCILE_GRACE_SECONDS
    const old = await paidOrder(180); // past RECONCILE_HORIZON_HOURS

    const early = await capture(() => handler({ source: 'aws.events' }, context(5_000)) as Promise<ReconcileSummary>);
    expect(early.value).toMatchObject({ queried: 0, stoppedEarly: true, reason: 'DEADLINE' });

    const { value, lines } = await capture(
      () => handler({ source: 'aws.events' }, context(60_000)) as Promise<ReconcileSummary>,
    );
    expect(value).toMatchObject({
      scanned: 4,
      queried: 4,
      recovered: 4,
      errors: 0,
      reason: 'COMPLETE',
      pastHorizon: 1,
    });
    for (const no of nos) expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('PAID');
    expect((await h.store.getOrder(h.keys.mchid, young))?.state).toBe('NOTPAY');
    expect((await h.store.getOrder(h.keys.mchid, old))?.state).toBe('NOTPAY');
    expect(lines.filter((l) => l.message === 'reconcile.query')).toHaveLength(4);
    expect(lines.find((l) => l.message === 'reconcile')).toMatchObject({ recovered: 4, pastHorizon: 1 });
    // the metrics record the PendingPastHorizon alarm reads: {service, stage} exactly
    expect(lines.find((l) => l.PendingPastHorizon !== undefined)).toMatchObject({
      ReconcileRecovered: 4,
      PendingPastHorizon: 1,
      service: 'wechatpay-lambda',
      _aws: { CloudWatchMetrics: [{ Namespace: 'WechatPayLambda', Dimensions: [['service', 'stage']] }] },
    });
  });

  it('WeChat failing: errors counted in the summary, nothing thrown, orders left pending', async () => {
    const no = await paidOrder(15);
    sim.faults.next('v3.query', 'unsigned-500', 100);
    try {
      const { value } = await capture(() => handler({}, context(60_000)) as Promise<ReconcileSummary>);
      expect(value.errors).toBeGreaterThan(0);
      expect(value.recovered).toBe(0);
      expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('NOTPAY');
    } finally {
      sim.faults.clear();
    }
  });
});
