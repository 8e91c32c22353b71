/**
 * The scheduled reconcile adapter with injected runtimes over DynamoDB Local: an invocation context
 * without a deadline function runs unbounded by time; a bug inside the core, a broken runtime and a
 * core stuck past the early timeout come back as summaries (logged), never as a thrown error that
 * Lambda would retry.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { configError } from '../../../lib/errors';
import { createLogger } from '../../../lib/log';
import type { OrderStore } from '../../../lib/orders/store';
import { RECONCILE_TIMING, reconcileHandler, type ReconcileRuntime } from '../../../lib/reconcile/lambda';
import { DEFAULT_RECONCILE_OPTIONS } from '../../../lib/reconcile/options';
import type { WechatPayClient } from '../../../lib/wechatpay/client';
import { createHarness, orderNo, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Swallows stdout, keeping the JSON lines for the test to read. */
function stdoutLines(): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  vi.spyOn(process.stdout, 'write').mockImplementation(
    (chunk: string | Uint8Array) => (lines.push(JSON.parse(String(chunk)) as Record<string, unknown>), true),
  );
  return lines;
}

function runtime(now: () => number) {
  const logs: Array<Record<string, unknown>> = [];
  const queried: string[] = [];
  const client = {
    v3: {
      queryOrderV3: async (ref: { outTradeNo: string }) => {
        queried.push(ref.outTradeNo);
        return {
          outTradeNo: ref.outTradeNo,
          transactionId: undefined,
          tradeState: 'NOTPAY',
          mchid: h.keys.mchid,
          appid: h.keys.appid,
          subMchid: undefined,
          totalFen: undefined,
          successTime: undefined,
        };
      },
    },
  } as unknown as WechatPayClient;
  const rt: ReconcileRuntime = {
    deps: {
      config: h.config,
      store: h.store,
      client,
      logger: createLogger({ service: 'test', write: (l) => logs.push(JSON.parse(l) as Record<string, unknown>) }),
      now,
      sleep: async () => undefined,
    },
    options: { ...DEFAULT_RECONCILE_OPTIONS },
  };
  return { rt, logs, queried };
}

describe('reconcileHandler', () => {
  it('runs with no deadline when the context has no getRemainingTimeInMillis', async () => {
    const now = Date.parse('2034-06-01T00:00:00.000Z');
    const no = orderNo('LD');
    await h.store.registerOrder({
      outTradeNo: no,
      amountFen: 1,
      merchantId: h.keys.mchid,
      createdAt: new Date(now - 3_600_000).toISOString(),
    });
    const r = runtime(() => now);
    const summary = await reconcileHandler(() => r.rt)({}, {});
    expect(summary).toMatchObject({ reason: 'COMPLETE', queried: 1, stillPending: 1 });
    expect(r.queried).toEqual([no]);
    // and with no context at all
    expect((await reconcileHandler(() => r.rt)({})).reason).toBe('COMPLETE');
  });

  it('a bug inside the core is an INTERNAL_ERROR summary, logged, not thrown', async () => {
    const r = runtime(() => {
      throw new TypeError('clock is broken');
    });
    const summary = await reconcileHandler(() => r.rt)({}, { getRemainingTimeInMillis: () => 60_000 });
    expect(summary).toMatchObject({ reason: 'INTERNAL_ERROR', stoppedEarly: true, scanned: 0, queried: 0 });
    expect(r.logs.find((l) => l.message === 'reconcile')).toMatchObject({
      level: 'error',
      reason: 'temporarily unavailable',
    });
  });
});

describe('what the middlewares answer', () => {
  it('a core stuck past the early timeout: a DEADLINE summary, logged, not a thrown TimeoutError', async () => {
    const lines = stdoutLines();
    const r = runtime(() => Date.now());
    // a store that never answers: DynamoDB Local cannot be made to hang on demand
    const stuck = new Proxy(h.store, { get: () => () => new Promise<never>(() => {}) }) as OrderStore;
    const rt: ReconcileRuntime = { ...r.rt, deps: { ...r.rt.deps, store: stuck } };
    const remaining = RECONCILE_TIMING.timeoutEarlyInMillis + 20;
    // the core's own margin is zero here, so only the middleware can stop it
    rt.options = { ...rt.options, deadlineMarginMs: 0 };
    const summary = await reconcileHandler(() => rt)({}, { getRemainingTimeInMillis: () => remaining });
    expect(summary).toMatchObject({ reason: 'DEADLINE', stoppedEarly: true, queried: 0 });
    expect(lines).toContainEqual(expect.objectContaining({ message: 'deadline', function: 'reconcile' }));
  });

  it('a runtime that cannot be built: CONFIG for a configuration error, INTERNAL_ERROR for a bug; built again next time', async () => {
    const lines = stdoutLines();
    let calls = 0;
    const r = runtime(() => Date.parse('2034-06-01T00:00:00.000Z'));
    const handler = reconcileHandler(() => {
      calls += 1;
      if (calls === 1) throw configError('RECONCILE_BUDGET must be a whole number from 1 to 100000');
      if (calls === 2) throw new TypeError('undefined is not a function');
      return r.rt;
    });
    expect((await handler({})).reason).toBe('CONFIG');
    expect((await handler({})).reason).toBe('INTERNAL_ERROR');
    expect((await handler({})).reason).toBe('COMPLETE');
    expect(lines).toContainEqual(
      expect.objectContaining({
        message: 'configuration',
        function: 'reconcile',
        reason: expect.stringContaining('RECONCILE_BUDGET'),
      }),
    );
    expect(lines).toContainEqual(expect.objectContaining({ message: 'unhandled error', cause: 'TypeError' }));
  });
});
