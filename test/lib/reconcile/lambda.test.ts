/**
 * The scheduled reconcile adapter with injected runtimes over DynamoDB Local: an invocation context
 * without a deadline function runs unbounded by time, and a bug inside the core comes back as an
 * INTERNAL_ERROR summary (logged), never as a thrown error that Lambda would retry.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../lib/log';
import { reconcileHandler, type ReconcileRuntime } from '../../../lib/reconcile/lambda';
import { DEFAULT_RECONCILE_OPTIONS } from '../../../lib/reconcile/options';
import type { WechatPayClient } from '../../../lib/wechatpay/client';
import { createHarness, orderNo, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

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
