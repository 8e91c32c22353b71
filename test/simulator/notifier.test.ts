import { verify } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateTestKeys, type TestKeys } from '../../scripts/simulator/keys';
import { v2PaymentNotification, v3Notification, v3TransactionResource } from '../../scripts/simulator/messages';
import {
  COUPON_RETRY_SCHEDULE_SECONDS,
  OFFICIAL_RETRY_SCHEDULE_SECONDS,
  deliverConcurrently,
  deliverOnce,
  deliverWithRetries,
  replyAccepted,
  resignV3,
  scaledSchedule,
  type OutgoingNotification,
} from '../../scripts/simulator/notifier';
import { startReceiver, type Receiver, type ReceiverReply } from './support';

const V2_SUCCESS = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';
const V2_FAIL = '<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[busy]]></return_msg></xml>';

let keys: TestKeys;
let receiver: Receiver | undefined;

beforeAll(() => {
  keys = generateTestKeys();
});

afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

async function receive(respond: (index: number) => ReceiverReply): Promise<Receiver> {
  receiver = await startReceiver((index) => respond(index));
  return receiver;
}

function v2Notification(): OutgoingNotification {
  return { protocol: 'v2', wire: v2PaymentNotification(keys, { outTradeNo: 'N-v2', totalFee: 100 }) };
}

function v3Payment(): OutgoingNotification {
  const resource = v3TransactionResource(keys, { outTradeNo: 'N-v3', total: 100 });
  const wire = v3Notification(keys, { eventType: 'TRANSACTION.SUCCESS', originalType: 'transaction', resource });
  return { protocol: 'v3', wire: () => resignV3(wire, keys.platform.privateKey) };
}

/** A sleep that returns at once but remembers what it was asked to wait. */
function recordingSleep(): { sleeps: number[]; sleep: (ms: number) => Promise<void> } {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms) => void sleeps.push(ms) };
}

describe('the retry schedule', () => {
  it('is the official 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h', () => {
    expect(OFFICIAL_RETRY_SCHEDULE_SECONDS).toEqual([
      15,
      15,
      30,
      180,
      600,
      1200,
      1800,
      1800,
      1800,
      3600,
      3 * 3600,
      3 * 3600,
      3 * 3600,
      6 * 3600,
      6 * 3600,
    ]);
    const total = OFFICIAL_RETRY_SCHEDULE_SECONDS.reduce((a, b) => a + b, 0);
    expect(total).toBe(24 * 3600 + 4 * 60); // ≈ 24h4m, as documented
    expect(COUPON_RETRY_SCHEDULE_SECONDS).toEqual(Array.from({ length: 11 }, () => 60));
  });

  it('scales by timeScale and rejects a negative factor', () => {
    expect(scaledSchedule([15, 30], 0.001)).toEqual([15, 30]);
    expect(() => scaledSchedule([15], -1)).toThrow();
  });
});

describe('deliverWithRetries', () => {
  it('stops exactly at the first success: 3 failures then success is 4 attempts on the scaled schedule', async () => {
    const r = await receive((i) => (i < 3 ? { status: 500, body: '{"code":"FAIL"}' } : { status: 204 }));
    const log = await deliverWithRetries(r.url, v3Payment(), { timeScale: 0.001 });
    expect(log.accepted).toBe(true);
    expect(log.attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4]);
    expect(log.attempts.map((a) => a.accepted)).toEqual([false, false, false, true]);
    expect(log.attempts.map((a) => a.status)).toEqual([500, 500, 500, 204]);
    expect(log.attempts.map((a) => a.delayMs)).toEqual([0, 15, 15, 30]);
    expect(r.received).toHaveLength(4);
  });

  it('waits the unscaled official gaps in order (observed through an injected sleep)', async () => {
    const r = await receive((i) =>
      i < 5 ? { status: 503 } : { status: 200, body: '{"code":"FAIL","message":"ignored"}' },
    );
    const { sleeps, sleep } = recordingSleep();
    const log = await deliverWithRetries(r.url, v3Payment(), { sleep });
    expect(sleeps).toEqual([15_000, 15_000, 30_000, 180_000, 600_000]);
    expect(log.attempts).toHaveLength(6);
    expect(log.accepted).toBe(true);
  });

  it('gives up after 16 attempts when the merchant never accepts', async () => {
    const r = await receive(() => ({ status: 500 }));
    const { sleeps, sleep } = recordingSleep();
    const log = await deliverWithRetries(r.url, v2Notification(), { sleep, timeScale: 0.5 });
    expect(log.accepted).toBe(false);
    expect(log.attempts).toHaveLength(16);
    expect(sleeps).toEqual(OFFICIAL_RETRY_SCHEDULE_SECONDS.map((s) => s * 500));
    expect(r.received).toHaveLength(16);
  });

  it('counts a v2 FAIL reply and a non-200 SUCCESS reply as failures', async () => {
    const replies: ReceiverReply[] = [
      { status: 200, body: V2_FAIL },
      { status: 500, body: V2_SUCCESS },
      { status: 204, body: '' },
      { status: 200, body: 'SUCCESS' },
      { status: 200, body: V2_SUCCESS },
    ];
    const r = await receive((i) => replies[i] ?? { status: 500 });
    const log = await deliverWithRetries(r.url, v2Notification(), { timeScale: 0.0001 });
    expect(log.attempts.map((a) => a.accepted)).toEqual([false, false, false, false, true]);
    expect(r.received).toHaveLength(5);
  });

  it('treats a slow reply (past the reply timeout) as a failure and retries', async () => {
    const r = await receive((i) => (i === 0 ? { status: 204, delayMs: 1500 } : { status: 204 }));
    const log = await deliverWithRetries(r.url, v3Payment(), { timeScale: 0.001, replyTimeoutMs: 100 });
    expect(log.attempts.map((a) => a.accepted)).toEqual([false, true]);
    expect(log.attempts[0]?.error).toBe('reply timeout');
  });

  it('stops when aborted between attempts', async () => {
    const r = await receive(() => ({ status: 500 }));
    const stop = new AbortController();
    const log = await deliverWithRetries(r.url, v3Payment(), {
      timeScale: 1, // the first gap is 15 s: the abort must cut it short
      signal: stop.signal,
      onAttempt: () => stop.abort(),
    });
    expect(log.aborted).toBe(true);
    expect(log.attempts).toHaveLength(1);
  });

  it('re-signs an APIv3 notification for every attempt, over the same body', async () => {
    const r = await receive((i) => (i < 2 ? { status: 500 } : { status: 204 }));
    await deliverWithRetries(r.url, v3Payment(), { timeScale: 0.0001 });
    const bodies = new Set(r.received.map((req) => req.body));
    const nonces = new Set(r.received.map((req) => String(req.headers['wechatpay-nonce'])));
    expect(bodies.size).toBe(1);
    expect(nonces.size).toBe(3);
    for (const req of r.received) expect(verifiesWithPlatform(req.headers, req.body)).toBe(true);
  });
});

describe('deliverOnce', () => {
  it('accepts any v3 2xx whatever the body, rejects 4xx/5xx and redirects', async () => {
    const replies: ReceiverReply[] = [
      { status: 200, body: '{"code":"FAIL","message":"失败"}' },
      { status: 204 },
      { status: 202, body: 'whatever' },
      { status: 400, body: '{"code":"FAIL"}' },
      { status: 302, headers: { Location: 'http://127.0.0.1:1/' } },
    ];
    const r = await receive((i) => replies[i] ?? { status: 500 });
    const results = [];
    for (let i = 0; i < replies.length; i += 1) results.push(await deliverOnce(r.url, v3Payment()));
    expect(results.map((res) => res.accepted)).toEqual([true, true, true, false, false]);
    expect(results.map((res) => res.status)).toEqual([200, 204, 202, 400, 302]);
  });

  it('reports a refused connection as a failure without throwing', async () => {
    const url = await closedPortUrl();
    const result = await deliverOnce(url, v2Notification(), { replyTimeoutMs: 1000 });
    expect(result).toMatchObject({ status: null, accepted: false });
    expect(result.error).toBeTruthy();
  });

  it('sends the notification wire exactly (headers and body)', async () => {
    const r = await receive(() => ({ status: 200, body: V2_SUCCESS }));
    const notification = v2Notification();
    const result = await deliverOnce(r.url, notification);
    expect(result.accepted).toBe(true);
    const wire = typeof notification.wire === 'function' ? notification.wire() : notification.wire;
    expect(r.received[0]?.body).toBe(wire.body);
    expect(r.received[0]?.headers['content-type']).toBe('text/xml');
  });
});

describe('replyAccepted', () => {
  it('needs HTTP 200 and return_code SUCCESS for v2, with or without CDATA', () => {
    expect(replyAccepted('v2', 200, V2_SUCCESS)).toBe(true);
    expect(replyAccepted('v2', 200, '<xml><return_code>SUCCESS</return_code></xml>')).toBe(true);
    expect(replyAccepted('v2', 200, V2_FAIL)).toBe(false);
    expect(replyAccepted('v2', 201, V2_SUCCESS)).toBe(false);
    expect(replyAccepted('v2', 200, '')).toBe(false);
    expect(replyAccepted('v2', 200, '<html>SUCCESS</html>')).toBe(false);
  });

  it('needs only a 2xx status for v3', () => {
    expect(replyAccepted('v3', 200, '{"code":"FAIL"}')).toBe(true);
    expect(replyAccepted('v3', 299, '')).toBe(true);
    expect(replyAccepted('v3', 300, '')).toBe(false);
    expect(replyAccepted('v3', 500, '')).toBe(false);
  });
});

describe('deliverConcurrently', () => {
  it('fires n identical deliveries at once (a duplicate storm)', async () => {
    const r = await receive(() => ({ status: 204 }));
    const results = await deliverConcurrently(r.url, v3Payment(), 25);
    expect(results).toHaveLength(25);
    expect(results.every((res) => res.accepted)).toBe(true);
    expect(r.received).toHaveLength(25);
    expect(new Set(r.received.map((req) => req.body)).size).toBe(1);
  });
});

function verifiesWithPlatform(headers: Record<string, string | string[] | undefined>, body: string): boolean {
  const message = `${String(headers['wechatpay-timestamp'])}\n${String(headers['wechatpay-nonce'])}\n${body}\n`;
  const signature = Buffer.from(String(headers['wechatpay-signature']), 'base64');
  return verify('sha256', Buffer.from(message), keys.platform.publicKey, signature);
}

async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/notify`;
}
