/**
 * TEST-ONLY: delivers notifications to a merchant's notify URL the way WeChat Pay does.
 *
 * - Acceptance (docs/protocol.md A, D): APIv2 needs HTTP 200 AND an XML reply whose return_code is SUCCESS;
 *   APIv3 needs any 2xx status, the body is ignored. The reply must arrive within 5 s.
 * - Retries (docs/protocol.md A): 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h after the first
 *   attempt, multiplied by `timeScale` so tests and the local stack can compress a day into seconds.
 *   Delivery stops at the first accepted attempt.
 * Uses node's global fetch; imports nothing from lib/.
 */
import type { KeyObject } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { signV3Message, type WireRequest } from './messages';
import { UPPER_HEX, randomString } from './random';
import { parseFlatXml } from './xml';

/** The official payment/refund retry gaps in seconds, in order (16 attempts in all). */
export const OFFICIAL_RETRY_SCHEDULE_SECONDS: readonly number[] = [
  15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
];

/** Merchant-coupon (COUPON.SEND) retry gaps: every 60 s, 11 times (docs/protocol.md F). */
export const COUPON_RETRY_SCHEDULE_SECONDS: readonly number[] = Array.from({ length: 11 }, () => 60);

/** How long WeChat waits for a reply before counting the attempt as failed. */
export const REPLY_TIMEOUT_MS = 5000;

/** Notification protocol generation: decides how a reply is judged. */
export type NotificationProtocol = 'v2' | 'v3';

/** A notification to deliver; `wire` may be a function so each attempt can be freshly signed. */
export interface OutgoingNotification {
  protocol: NotificationProtocol;
  wire: WireRequest | (() => WireRequest);
}

/** What one POST produced. */
export interface AttemptResult {
  /** Attempt start (ms, the notifier's clock). */
  at: number;
  /** HTTP status, or null when no response arrived (refused, reset, timed out before headers). */
  status: number | null;
  accepted: boolean;
  /** Why the attempt failed at transport level (timeout, connection error), if it did. */
  error?: string;
  /** Wall-clock time from sending to the whole reply (or the failure), in ms; for people watching. */
  latencyMs?: number;
  /** The start of the reply body (at most {@link REPLY_EXCERPT_CHARS} characters), for people watching. */
  reply?: string;
}

/** How much of a reply body an attempt keeps. */
export const REPLY_EXCERPT_CHARS = 300;

/** One entry of a delivery's attempt log. */
export interface AttemptRecord extends AttemptResult {
  /** 1-based attempt number. */
  attempt: number;
  /** The scheduled wait before this attempt (0 for the first), already scaled. */
  delayMs: number;
}

/** The full log of one delivery. */
export interface DeliveryLog {
  url: string;
  attempts: AttemptRecord[];
  /** Whether some attempt was accepted (it is then the last one). */
  accepted: boolean;
  /** Whether delivery stopped because the signal aborted it. */
  aborted: boolean;
}

/** Options of {@link deliverOnce}. */
export interface DeliverOnceOptions {
  /** Reply deadline in ms (default 5000; not scaled: the receiver's work takes real time). */
  replyTimeoutMs?: number;
  /** Clock for `at` (default Date.now). */
  now?: () => number;
}

/** Options of {@link deliverWithRetries}. */
export interface DeliverOptions extends DeliverOnceOptions {
  /** Factor applied to every scheduled gap (e.g. 0.001 turns 15 s into 15 ms). Default 1. */
  timeScale?: number;
  /** Retry gaps in seconds (default the official schedule). */
  schedule?: readonly number[];
  /** Waits between attempts (default an abortable timer); injectable to observe the schedule. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Stops further attempts (the one in flight is abandoned too). */
  signal?: AbortSignal;
  /** Called after every attempt, e.g. to report progress before delivery finishes. */
  onAttempt?: (record: AttemptRecord) => void;
}

/** Whether WeChat counts a reply as received: v2 = 200 + return_code SUCCESS, v3 = any 2xx. */
export function replyAccepted(protocol: NotificationProtocol, status: number, body: string): boolean {
  if (protocol === 'v3') return status >= 200 && status < 300;
  return status === 200 && parseFlatXml(body)?.return_code === 'SUCCESS';
}

/** The retry gaps in ms after applying `timeScale`. */
export function scaledSchedule(schedule: readonly number[], timeScale: number): number[] {
  if (!Number.isFinite(timeScale) || timeScale < 0) throw new Error('timeScale must be a non-negative number');
  return schedule.map((seconds) => seconds * 1000 * timeScale);
}

/** One POST of the notification, judged as WeChat would; never throws. */
export async function deliverOnce(
  url: string,
  notification: OutgoingNotification,
  opts: DeliverOnceOptions & { signal?: AbortSignal } = {},
): Promise<AttemptResult> {
  const at = (opts.now ?? Date.now)();
  const wire = typeof notification.wire === 'function' ? notification.wire() : notification.wire;
  const timeout = AbortSignal.timeout(opts.replyTimeoutMs ?? REPLY_TIMEOUT_MS);
  const signal = opts.signal === undefined ? timeout : AbortSignal.any([timeout, opts.signal]);
  let status: number | null = null;
  const started = performance.now();
  const latencyMs = () => Math.round((performance.now() - started) * 10) / 10;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'User-Agent': 'Mozilla/4.0', ...wire.headers },
      body: wire.body,
      signal,
      redirect: 'manual', // WeChat does not follow redirects from a notify URL
    });
    status = response.status;
    // The whole reply must arrive in time, not just its headers.
    const body = await response.text();
    return {
      at,
      status,
      accepted: replyAccepted(notification.protocol, status, body),
      latencyMs: latencyMs(),
      reply: body.slice(0, REPLY_EXCERPT_CHARS),
    };
  } catch (error) {
    const reason = timeout.aborted ? 'reply timeout' : describe(error);
    return { at, status, accepted: false, error: reason, latencyMs: latencyMs() };
  }
}

/** Delivers with WeChat's retry schedule, stopping at the first accepted attempt. */
export async function deliverWithRetries(
  url: string,
  notification: OutgoingNotification,
  opts: DeliverOptions = {},
): Promise<DeliveryLog> {
  const gaps = [0, ...scaledSchedule(opts.schedule ?? OFFICIAL_RETRY_SCHEDULE_SECONDS, opts.timeScale ?? 1)];
  const sleep = opts.sleep ?? abortableSleep;
  const log: DeliveryLog = { url, attempts: [], accepted: false, aborted: false };
  for (const [index, delayMs] of gaps.entries()) {
    if (index > 0 && !(await sleptFully(sleep, delayMs, opts.signal))) break;
    if (opts.signal?.aborted === true) break;
    const result = await deliverOnce(url, notification, opts);
    const record: AttemptRecord = { attempt: index + 1, delayMs, ...result };
    log.attempts.push(record);
    opts.onAttempt?.(record);
    if (record.accepted) {
      log.accepted = true;
      break;
    }
  }
  log.aborted = !log.accepted && opts.signal?.aborted === true;
  return log;
}

/** Sends the same notification `n` times at once (a duplicate storm); results in start order. */
export async function deliverConcurrently(
  url: string,
  notification: OutgoingNotification,
  n: number,
  opts: DeliverOnceOptions & { signal?: AbortSignal } = {},
): Promise<AttemptRecord[]> {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error('n must be a positive integer');
  const results = await Promise.all(Array.from({ length: n }, () => deliverOnce(url, notification, opts)));
  return results.map((result, index) => ({ attempt: index + 1, delayMs: 0, ...result }));
}

/** Re-signs an APIv3 notification's exact body with a fresh timestamp and nonce, as a retry is. */
export function resignV3(
  wire: WireRequest,
  privateKey: KeyObject,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): WireRequest {
  const timestamp = String(nowSeconds);
  const nonce = randomString(UPPER_HEX, 32);
  return {
    headers: {
      ...wire.headers,
      'Wechatpay-Timestamp': timestamp,
      'Wechatpay-Nonce': nonce,
      'Wechatpay-Signature': signV3Message(privateKey, timestamp, nonce, wire.body),
    },
    body: wire.body,
  };
}

async function sleptFully(
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>,
  ms: number,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  try {
    await sleep(ms, signal);
    return signal?.aborted !== true;
  } catch {
    return false; // an aborted sleep ends the delivery
  }
}

async function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  await delay(ms, undefined, signal === undefined ? {} : { signal });
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}
