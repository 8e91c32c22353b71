/**
 * The notify Lambda adapter: with the environment as Lambda provides it (no injected dependencies), a
 * notification is applied against DynamoDB Local; with a broken configuration, and when the core is
 * still running at the early timeout, the sender gets its own protocol's failure reply (WeChat keeps
 * the message and retries) and no internal detail. The deployed functions are the same chain.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { configError } from '../../../lib/errors';
import { handler as aggregatorFunction } from '../../../functions/aggregatorNotify';
import { handler as couponFunction } from '../../../functions/couponNotify';
import { handler as paymentFunction } from '../../../functions/paymentNotify';
import { handler as refundFunction } from '../../../functions/refundNotify';
import type { HttpEvent } from '../../../lib/lambda/http';
import type { NotifyDeps } from '../../../lib/notify/handle';
import { aggregatorFormat, HTTP_TIMING, httpHandler, notifyHandler, wechatFormat } from '../../../lib/notify/lambda';
import { v2PaymentNotification, v3Notification, v3TransactionResource } from '../../../scripts/simulator/messages';
import { createHarness, orderNo, toEvent, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

type Result = { statusCode: number; headers: Record<string, string>; body: string };
const broken = () => {
  throw configError('WECHATPAY_APIV3_KEY must be exactly 32 bytes');
};
/** Swallows the configuration log line the adapter writes to stdout. */
const silenceStdout = () => vi.spyOn(process.stdout, 'write').mockImplementation(() => true);

describe('a broken configuration', () => {
  it('answers an APIv3 request (Wechatpay-* headers, any case) with a 500 JSON FAIL, no detail', async () => {
    silenceStdout();
    for (const headers of [{ 'wechatpay-serial': 'X' }, { 'Wechatpay-Timestamp': '1' }]) {
      const r = (await notifyHandler('/notify/payment', broken)({ headers, body: '{}' })) as Result;
      expect(r.statusCode).toBe(500);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(r.body)).toEqual({ code: 'FAIL', message: 'service not configured' });
    }
  });

  it('answers an APIv2 request, or one without headers, with the FAIL XML', async () => {
    silenceStdout();
    for (const event of [
      { headers: { 'content-type': 'text/xml' }, body: '<xml/>' },
      { headers: null, body: '<xml/>' },
      {},
    ] as HttpEvent[]) {
      const r = (await notifyHandler('/notify/refund', broken)(event)) as Result;
      expect(r.statusCode).toBe(200);
      expect(r.body).toContain('<return_code><![CDATA[FAIL]]></return_code>');
      expect(r.body).not.toContain('WECHATPAY_APIV3_KEY');
    }
  });

  it('logs the configuration error for the operator, with the route', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(
      (chunk: string | Uint8Array) => (lines.push(String(chunk)), true),
    );
    await notifyHandler('/notify/coupon', broken)({ headers: {}, body: '' });
    const logged = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.message === 'configuration');
    expect(logged).toMatchObject({
      level: 'error',
      route: '/notify/coupon',
      reason: 'WECHATPAY_APIV3_KEY must be exactly 32 bytes',
    });
  });

  it('reads the environment when no dependencies are injected: a missing variable is a failure reply, not a crash', async () => {
    silenceStdout();
    vi.stubEnv('WECHATPAY_MCHID', '');
    const r = (await notifyHandler('/notify/payment')({ headers: {}, body: '<xml></xml>' })) as Result;
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('FAIL');
  });
});

describe('an event without headers (REST APIs may send null)', () => {
  it('is read by its body: an APIv2 payment is applied', async () => {
    const no = orderNo('L');
    await h.store.registerOrder({ outTradeNo: no, amountFen: 150, merchantId: h.keys.mchid });
    const wire = v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 150 });
    const r = (await notifyHandler('/notify/payment', () => h.deps())({ headers: null, body: wire.body })) as Result;
    expect(r.body).toContain('<return_code><![CDATA[SUCCESS]]></return_code>');
    expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('PAID');
  });
});

describe('with the environment Lambda provides', () => {
  it('applies an APIv3 payment and an APIv2 payment through the handler built without injected dependencies', async () => {
    for (const [name, value] of Object.entries(h.env)) vi.stubEnv(name, value);
    const handler = notifyHandler('/notify/payment');

    const v3no = orderNo('L');
    await h.store.registerOrder({ outTradeNo: v3no, amountFen: 300, merchantId: h.keys.mchid });
    const v3 = v3Notification(h.keys, {
      eventType: 'TRANSACTION.SUCCESS',
      originalType: 'transaction',
      resource: v3TransactionResource(h.keys, { outTradeNo: v3no, total: 300 }),
    });
    silenceStdout();
    expect(((await handler(toEvent(v3))) as Result).statusCode).toBe(204);

    const v2no = orderNo('L');
    await h.store.registerOrder({ outTradeNo: v2no, amountFen: 200, merchantId: h.keys.mchid });
    const v2 = (await handler(
      toEvent(v2PaymentNotification(h.keys, { outTradeNo: v2no, totalFee: 200 }), { base64: true }),
    )) as Result;
    expect(v2.body).toContain('<return_code><![CDATA[SUCCESS]]></return_code>');

    expect((await h.store.getOrder(h.keys.mchid, v3no))?.state).toBe('PAID');
    expect(await h.store.getOrder(h.keys.mchid, v2no)).toMatchObject({ state: 'PAID', paidVia: 'v2' });
  });
});

describe('the dependencies', () => {
  it('are built once per container: warm invocations reuse them', async () => {
    let builds = 0;
    const handler = notifyHandler('/notify/payment', () => (builds++, h.deps()));
    for (let i = 0; i < 3; i++) {
      const no = orderNo('L');
      await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid });
      const r = (await handler(toEvent(v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 100 })))) as Result;
      expect(r.body).toContain('SUCCESS');
    }
    expect(builds).toBe(1);
  });

  it('a failed build is retried by the next invocation: the fixed configuration is picked up', async () => {
    silenceStdout();
    let broken = true;
    const handler = notifyHandler('/notify/payment', async (): Promise<NotifyDeps> => {
      if (broken) throw configError('WECHATPAY_MCHID is not set');
      return h.deps();
    });
    const no = orderNo('L');
    await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid });
    const event = toEvent(v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 100 }));
    expect(((await handler(event)) as Result).body).toContain('FAIL');
    expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('NOTPAY');
    broken = false;
    expect(((await handler(event)) as Result).body).toContain('SUCCESS');
    expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('PAID');
  });
});

describe('a core still running at the early timeout', () => {
  // a pipeline that never answers: the store or a dependency stuck, which no real part does on demand
  const stuck = () => new Promise<never>(() => {});
  /** 20 ms left past the early margin: the fake context's remaining time decides, not a clock. */
  const short = { getRemainingTimeInMillis: () => HTTP_TIMING.timeoutEarlyInMillis + 20 };

  it('answers an APIv3 request with a 500 JSON FAIL (WeChat retries), not a generic error', async () => {
    const lines = silenceStdoutLines();
    const r = await httpHandler('/notify/payment', stuck, wechatFormat, () => h.deps())(
      { headers: { 'Wechatpay-Serial': 'X' }, body: '{}' },
      short,
    );
    expect(r).toEqual({
      statusCode: 500,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ code: 'FAIL', message: 'temporarily unavailable, retry later' }),
    });
    expect(lines()).toContainEqual(
      expect.objectContaining({ level: 'error', message: 'deadline', route: '/notify/payment', outcome: 'TIMEOUT' }),
    );
  });

  it('answers an APIv2 request with the FAIL XML, and the aggregator with `fail`', async () => {
    silenceStdout();
    const v2 = await httpHandler('/notify/refund', stuck, wechatFormat, () => h.deps())(
      { headers: { 'content-type': 'text/xml' }, body: '<xml/>' },
      short,
    );
    expect(v2.statusCode).toBe(200);
    expect(v2.body).toContain('<return_code><![CDATA[FAIL]]></return_code>');
    const agg = await httpHandler('/notify/aggregator', stuck, aggregatorFormat, () => h.deps())(
      { body: 'a=1' },
      short,
    );
    expect(agg).toMatchObject({ statusCode: 500, body: 'fail' });
  });

  it('a pipeline that answers in time is not cut short', async () => {
    const quick = async () => ({ statusCode: 204, headers: {}, body: '' });
    expect(await httpHandler('/notify/payment', quick, wechatFormat, () => h.deps())({}, short)).toEqual({
      statusCode: 204,
      headers: {},
      body: '',
    });
  });
});

describe('the deployed functions', () => {
  it('answer a broken environment in their own protocol: WeChat v2 and v3 routes, and the aggregator', async () => {
    silenceStdout();
    for (const [name, value] of Object.entries(h.env)) vi.stubEnv(name, value);
    vi.stubEnv('WECHATPAY_MCHID', 'not-digits');
    const context = { getRemainingTimeInMillis: () => 6000 };
    for (const fn of [paymentFunction, refundFunction, couponFunction]) {
      const v3 = await fn({ headers: { 'wechatpay-signature': 'x' }, body: '{}' }, context);
      expect(v3.statusCode).toBe(500);
      expect(JSON.parse(v3.body)).toEqual({ code: 'FAIL', message: 'service not configured' });
      const v2 = await fn({ headers: {}, body: '<xml/>' }, context);
      expect(v2.body).toContain('<return_code><![CDATA[FAIL]]></return_code>');
    }
    expect(await aggregatorFunction({ body: 'a=1' }, context)).toMatchObject({ statusCode: 500, body: 'fail' });
  });
});

/** Swallows stdout, keeping the JSON lines for the test to read. */
function silenceStdoutLines(): () => Array<Record<string, unknown>> {
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation(
    (chunk: string | Uint8Array) => (lines.push(String(chunk)), true),
  );
  return () => lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}
