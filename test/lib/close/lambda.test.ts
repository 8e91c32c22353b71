/**
 * The closeOrder Lambda adapter: dependencies from the environment once per cold start, and nothing
 * ever thrown to the invoking function: a broken configuration, a bug while building, or a bug inside
 * the core all come back as a typed FAILED outcome with the right retry advice.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { closeOrderDeps, closeOrderHandler, deadlineOutcome } from '../../../lib/close/lambda';
import type { CloseOrderDeps } from '../../../lib/close/closeOrder';
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
  it('is built once per cold start, with the WeChat client, and reused by warm invocations', () => {
    const first = closeOrderDeps(h.env, quiet);
    expect(first.config.mchid).toBe(h.keys.mchid);
    expect(typeof first.client.v3.closeOrderV3).toBe('function');
    expect(typeof first.client.v2.closeOrderV2).toBe('function');
    expect(closeOrderDeps({}, quiet)).toBe(first);
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
    const throwing: Logger = {
      log: () => {
        throw new Error('stdout closed');
      },
      anomaly: () => {},
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
