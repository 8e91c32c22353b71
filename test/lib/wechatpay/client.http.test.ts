/**
 * The transport on its own: timeouts, network errors, the retry rule (only what an error marks
 * retryable), full-jitter backoff, the attempt bound and the total budget. Time is injected: no test
 * waits for a backoff.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config';
import { PayError, malformed } from '../../../lib/errors';
import { WechatPayApiError, httpError, wechatRefusal } from '../../../lib/wechatpay/apiError';
import { backoffMs, createTransport, type FetchLike } from '../../../lib/wechatpay/http';
import { createWechatPayClient } from '../../../lib/wechatpay/client';
import { generateTestKeys, toEnv } from '../../../scripts/simulator/keys';

const transient = () => wechatRefusal(500, 'SYSTEM_ERROR', 'busy', '');

describe('backoffMs', () => {
  it('is full jitter: uniform below min(cap, base·2^(n−1))', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (n, r) => {
          const d = backoffMs(n, () => r, 200, 2000);
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThan(Math.max(1, Math.min(2000, 200 * 2 ** (n - 1))));
        },
      ),
    );
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, () => 0.999, 200, 2000))).toEqual([199, 399, 799, 1598, 1998]);
  });
});

describe('run', () => {
  it('retries a retryable error up to maxAttempts, sleeping the jittered backoff in between', async () => {
    const sleeps: number[] = [];
    const t = createTransport({ maxAttempts: 3, random: () => 0.5, sleep: async (ms) => void sleeps.push(ms) });
    let calls = 0;
    const err = await t
      .run(async () => {
        calls += 1;
        throw transient();
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SYSTEM_ERROR', retryable: true });
    expect(calls).toBe(3);
    expect(sleeps).toEqual([100, 200]);
  });

  it('returns the first success', async () => {
    const t = createTransport({ sleep: async () => undefined });
    let calls = 0;
    const value = await t.run(async ({ attempt }) => {
      calls += 1;
      if (attempt < 2) throw httpError(503, '');
      return 'ok';
    });
    expect(value).toBe('ok');
    expect(calls).toBe(2);
  });

  it.each([
    ['a parameter error', wechatRefusal(400, 'PARAM_ERROR', 'bad', '')],
    ['a signature error', wechatRefusal(401, 'SIGN_ERROR', 'bad', '')],
    ['an unsigned 4xx', httpError(404, '')],
    ['a non-API PayError', malformed('bad field')],
    ['a plain bug', new TypeError('x is undefined')],
  ])('never retries %s', async (_name, error) => {
    const t = createTransport({ sleep: async () => undefined });
    let calls = 0;
    await expect(
      t.run(async () => {
        calls += 1;
        throw error;
      }),
    ).rejects.toBe(error);
    expect(calls).toBe(1);
  });

  it('stays inside the total budget and cuts the last timeout to what is left', async () => {
    let clock = 0;
    const timeouts: number[] = [];
    const t = createTransport({
      now: () => clock,
      budgetMs: 15_000,
      timeoutMs: 5000,
      maxAttempts: 10,
      random: () => 0,
      sleep: async () => undefined,
    });
    const err = await t
      .run(async ({ timeoutMs }) => {
        timeouts.push(timeoutMs);
        clock += 6000;
        throw transient();
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WechatPayApiError);
    expect(timeouts).toEqual([5000, 5000, 3000]);
  });

  it('does not sleep past the budget', async () => {
    let clock = 0;
    const sleeps: number[] = [];
    const t = createTransport({
      now: () => clock,
      budgetMs: 1000,
      maxAttempts: 5,
      random: () => 0.99,
      baseDelayMs: 800,
      sleep: async (ms) => void sleeps.push(ms),
    });
    let calls = 0;
    await t
      .run(async () => {
        calls += 1;
        clock += 100;
        throw transient();
      })
      .catch(() => undefined);
    // after 100 ms, a 792 ms backoff still leaves room; after 992 + 100 ms, the next would not
    expect(calls).toBe(2);
    expect(sleeps).toEqual([792]);
  });
});

describe('send', () => {
  it('turns a stalled answer into a retryable TIMEOUT', async () => {
    const stall: FetchLike = (_url, init) =>
      new Promise((_resolve, reject) => init.signal?.addEventListener('abort', () => reject(init.signal?.reason)));
    const t = createTransport({ fetch: stall });
    const err = await t.send({ method: 'GET', url: 'http://127.0.0.1:9/x', headers: {} }, 20).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TIMEOUT', retryable: true, status: undefined });
  });

  it('turns a refused connection into a retryable NETWORK_ERROR', async () => {
    // port 9 (discard) on loopback is closed in any sane test environment
    const err = await createTransport()
      .send({ method: 'GET', url: 'http://127.0.0.1:9/x', headers: {} }, 2000)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NETWORK_ERROR', retryable: true });
  });

  it('reads the exact body bytes and the status', async () => {
    const t = createTransport({
      fetch: async () => new Response(Buffer.from([0xe4, 0xb8, 0xad, 0x0a]), { status: 418 }),
    });
    const res = await t.send({ method: 'POST', url: 'http://x/y', headers: {}, body: 'b' }, 1000);
    expect(res.status).toBe(418);
    expect([...res.body]).toEqual([0xe4, 0xb8, 0xad, 0x0a]);
  });
});

describe('createWechatPayClient', () => {
  const keys = generateTestKeys();
  const config = loadConfig({ ...toEnv(keys), PAYMENTS_TABLE: 'x', WECHATPAY_API_BASE_URL: 'http://127.0.0.1:9' });

  it('draws nonce_str from the default source: 32 random hex characters', async () => {
    const bodies: string[] = [];
    const c = createWechatPayClient({
      config,
      fetch: async (_url, init) => {
        bodies.push(String(init.body));
        return new Response('<xml><return_code>FAIL</return_code><return_msg>stop</return_msg></xml>', { status: 200 });
      },
    });
    await c.v2.closeOrderV2({ outTradeNo: 'T1' }).catch(() => undefined);
    await c.v2.closeOrderV2({ outTradeNo: 'T1' }).catch(() => undefined);
    const nonces = bodies.map((b) => /<nonce_str><!\[CDATA\[([^\]]*)]]>/.exec(b)?.[1]);
    expect(nonces[0]).toMatch(/^[0-9A-F]{32}$/);
    expect(nonces[0]).not.toBe(nonces[1]);
  });

  it('reports missing APIv2 and APIv3 settings as CONFIG errors at call time', async () => {
    const c = createWechatPayClient({ config: { ...config, apiV2Key: undefined, merchant: undefined } });
    for (const p of [c.v2.queryOrderV2({ outTradeNo: 'T1' }), c.v3.queryOrderV3({ outTradeNo: 'T1' })]) {
      const err = await p.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PayError);
      expect(err).toMatchObject({ kind: 'CONFIG' });
    }
  });
});
