/**
 * The closeOrder Lambda adapter: dependencies from the environment once per container, and nothing
 * ever thrown to the invoking function: a broken configuration, a bug while building, a bug inside
 * the core and the deadline all come back as a typed FAILED outcome with the right retry advice.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler } from '../../../functions/closeOrder';
import { CLOSE_TIMING, closeOrderDeps, closeOrderHandler, deadlineOutcome } from '../../../lib/close/lambda';
import type { CloseOrderDeps } from '../../../lib/close/closeOrder';
import type { OrderStore } from '../../../lib/orders/store';
import { configError } from '../../../lib/errors';
import { createLogger, type Logger } from '../../../lib/log';
import { createHarness, orderNo, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  // WeChat is never reached in these tests: a closed port makes any accidental call fail loudly
  h = await createHarness({ env: { WECHATPAY_API_BASE_URL: 'http://127.0.0.1:9' } });
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

const quiet = createLogger({ service: 'test', write: () => {} });
const silenceStdout = () => vi.spyOn(process.stdout, 'write').mockImplementation(() => true);

describe('closeOrderHandler without dependencies', () => {
  it('a broken configuration is FAILED CONFIG_ERROR, not retryable, naming the variable', async () => {
    silenceStdout();
    vi.stubEnv('WECHATPAY_MCHID', '');
    expect(await closeOrderHandler()({ outTradeNo: 'T1' })).toEqual({
      status: 'FAILED',
      code: 'CONFIG_ERROR',
      message: 'WECHATPAY_MCHID is not set',
      retryable: false,
    });
  });

  it('with the environment Lambda provides: an order never registered is UNKNOWN_ORDER, WeChat is not asked', async () => {
    for (const [name, value] of Object.entries(h.env)) vi.stubEnv(name, value);
    silenceStdout();
    const no = orderNo('CL');
    expect(await closeOrderHandler()({ out_trade_no: no })).toEqual({
      outTradeNo: no,
      merchantId: h.keys.mchid,
      status: 'UNKNOWN_ORDER',
    });
    // already closed here: answered from the table, WeChat not asked either
    await h.store.registerOrder({ outTradeNo: no, amountFen: 1, merchantId: h.keys.mchid });
    await h.store.applyClose(h.keys.mchid, no);
    expect(await closeOrderHandler()({ out_trade_no: no })).toMatchObject({ status: 'ALREADY_CLOSED' });
  });
});

describe('closeOrderDeps', () => {
  it('builds the store and the WeChat client from the environment, afresh on each call', () => {
    const first = closeOrderDeps(h.env, quiet);
    expect(first.config.mchid).toBe(h.keys.mchid);
    expect(typeof first.client.v3.closeOrderV3).toBe('function');
    expect(typeof first.client.v2.closeOrderV2).toBe('function');
    expect(closeOrderDeps(h.env, quiet)).not.toBe(first);
    expect(() => closeOrderDeps({ ...h.env, WECHATPAY_MCHID: '' }, quiet)).toThrow('WECHATPAY_MCHID is not set');
  });
});

describe('closeOrderHandler', () => {
  it('builds the dependencies once per container and reuses them while warm', async () => {
    let builds = 0;
    const invoke = closeOrderHandler(() => (builds++, closeOrderDeps(h.env, quiet)));
    for (let i = 0; i < 3; i++)
      expect(await invoke({ outTradeNo: orderNo('CW') })).toMatchObject({ status: 'UNKNOWN_ORDER' });
    expect(builds).toBe(1);
  });

  it('a core stuck past the early timeout answers FAILED TIMEOUT, retryable, and logs the deadline', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(
      (chunk: string | Uint8Array) => (lines.push(String(chunk)), true),
    );
    // a store that never answers: DynamoDB Local cannot be made to hang on demand
    const stuck = new Proxy(h.store, { get: () => () => new Promise<never>(() => {}) }) as OrderStore;
    const deps: CloseOrderDeps = { ...closeOrderDeps(h.env, quiet), store: stuck };
    const remaining = CLOSE_TIMING.timeoutEarlyInMillis + 20;
    const outcome = await closeOrderHandler(() => deps)(
      { outTradeNo: orderNo('CT') },
      { getRemainingTimeInMillis: () => remaining },
    );
    expect(outcome).toEqual(deadlineOutcome());
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ level: 'error', message: 'deadline', function: 'closeOrder', outcome: 'TIMEOUT' }),
    );
  });

  it('the deployed function (functions/closeOrder.ts) is the same chain: a broken environment is CONFIG_ERROR', async () => {
    silenceStdout();
    for (const [name, value] of Object.entries(h.env)) vi.stubEnv(name, value);
    vi.stubEnv('WECHATPAY_APIV3_KEY', 'short');
    expect(await handler({ outTradeNo: 'T1' }, { getRemainingTimeInMillis: () => 20_000 })).toMatchObject({
      status: 'FAILED',
      code: 'CONFIG_ERROR',
      retryable: false,
      message: expect.stringContaining('WECHATPAY_APIV3_KEY'),
    });
  });
});

describe('nothing escapes the handler', () => {
  it('a bug while building the dependencies is FAILED INTERNAL_ERROR, retryable, without its text', async () => {
    silenceStdout();
    const outcome = await closeOrderHandler(() => {
      throw new TypeError('cannot read properties of undefined (reading "mchid")');
    })({ outTradeNo: 'T1' });
    expect(outcome).toEqual({ status: 'FAILED', code: 'INTERNAL_ERROR', message: 'internal error', retryable: true });
  });

  it('a CONFIG error thrown by an injected builder is CONFIG_ERROR, not retryable', async () => {
    silenceStdout();
    expect(
      await closeOrderHandler(() => {
        throw configError('WECHATPAY_APIV2_KEY must be 32 printable ASCII characters');
      })({ outTradeNo: 'T1' }),
    ).toMatchObject({
      code: 'CONFIG_ERROR',
      retryable: false,
      message: 'WECHATPAY_APIV2_KEY must be 32 printable ASCII characters',
    });
  });

  it('a bug inside the core (a logger that throws) is FAILED INTERNAL_ERROR, retryable', async () => {
    silenceStdout();
    const throwing: Logger = {
      log: () => {
        throw new Error('stdout closed');
      },
      anomaly: () => {},
      count: () => {},
      gauge: () => {},
    };
    const deps = { ...closeOrderDeps(h.env, quiet), logger: throwing } as CloseOrderDeps;
    expect(await closeOrderHandler(() => deps)({ outTradeNo: 'T1' })).toEqual({
      status: 'FAILED',
      code: 'INTERNAL_ERROR',
      message: 'internal error',
      retryable: true,
    });
  });
});

it('answers a retryable TIMEOUT when the function runs out of time (the close may have happened)', () => {
  const o = deadlineOutcome();
  expect(o).toMatchObject({ status: 'FAILED', code: 'TIMEOUT', retryable: true });
  expect(o.status === 'FAILED' && o.message).toMatch(/call again/);
});
