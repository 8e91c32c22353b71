/**
 * Shared pieces of the reliability suite: delivering through the real Lambda handler, classifying
 * replies, signing raw APIv3 bodies, reading raw items, a seeded PRNG, and a DynamoDB client with
 * programmable faults. Messages are built by the independent sender in scripts/simulator/.
 */
import { sign } from 'node:crypto';
import {
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  ScanCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import type { NotifyDeps } from '../../lib/notify/handle';
import { notifyHandler } from '../../lib/notify/lambda';
import { createDynamoClient } from '../../lib/orders/client';
import { createDynamoOrderStore } from '../../lib/orders/dynamodb';
import type { OrderStore } from '../../lib/orders/store';
import type { HttpEvent } from '../../lib/lambda/http';
import type { TestKeys } from '../../scripts/simulator/keys';
import type { WireRequest } from '../../scripts/simulator/messages';
import { toEvent, type Harness } from '../support/harness';

export type Protocol = 'v2' | 'v3';
export type Reply = { statusCode: number; headers?: Record<string, string>; body: string };
export type Item = Record<string, AttributeValue>;

const isWire = (x: WireRequest | HttpEvent): x is WireRequest =>
  typeof (x as WireRequest).body === 'string' && !('isBase64Encoded' in x);

/** One delivery through the real handler (lib/notify/lambda.ts), as API Gateway would invoke it. */
export async function deliver(
  deps: NotifyDeps,
  request: WireRequest | HttpEvent,
  route = '/notify/payment',
): Promise<Reply> {
  const event = isWire(request) ? toEvent(request) : request;
  return (await notifyHandler(route, () => deps)(event)) as Reply;
}

const V2_SUCCESS = '<return_code><![CDATA[SUCCESS]]></return_code>';
const V2_FAIL = '<return_code><![CDATA[FAIL]]></return_code>';
const TRANSIENT_REASON = 'temporarily unavailable, retry later';

/** "Received": WeChat stops retrying (v2 200 + SUCCESS, v3 2xx). */
export function isSuccess(r: Reply): boolean {
  return r.statusCode === 204 || (r.statusCode === 200 && r.body.includes(V2_SUCCESS));
}

/** A retryable failure: the store was unavailable (v2 FAIL with the transient reason, v3 500). */
export function isTransientFailure(protocol: Protocol, r: Reply): boolean {
  if (protocol === 'v3') return r.statusCode === 500 && jsonFail(r)?.message === TRANSIENT_REASON;
  return r.statusCode === 200 && r.body.includes(V2_FAIL) && r.body.includes(`<![CDATA[${TRANSIENT_REASON}]]>`);
}

/**
 * A clear, final rejection of the request itself: v2 FAIL XML with a non-empty reason that is not the
 * transient one; v3 400 or 401 with `{"code":"FAIL","message":…}`.
 */
export function isClearRejection(protocol: Protocol, r: Reply): boolean {
  if (protocol === 'v3') {
    const j = jsonFail(r);
    return (r.statusCode === 400 || r.statusCode === 401) && j !== undefined && j.message.length > 0;
  }
  const m =
    /^<xml><return_code><!\[CDATA\[FAIL\]\]><\/return_code><return_msg><!\[CDATA\[([^\]]+)\]\]><\/return_msg><\/xml>$/.exec(
      r.body,
    );
  return r.statusCode === 200 && m !== null && m[1] !== TRANSIENT_REASON;
}

function jsonFail(r: Reply): { code: string; message: string } | undefined {
  try {
    const j = JSON.parse(r.body) as unknown;
    if (
      typeof j === 'object' &&
      j !== null &&
      (j as { code?: unknown }).code === 'FAIL' &&
      typeof (j as { message?: unknown }).message === 'string'
    ) {
      return j as { code: string; message: string };
    }
  } catch {
    // not JSON
  }
  return undefined;
}

/**
 * An APIv3 request over exact bytes (which may be invalid UTF-8), validly signed by the platform key,
 * delivered base64-encoded as API Gateway does for binary bodies.
 */
export function signedV3Event(
  keys: TestKeys,
  body: Buffer | string,
  opts: { nonce?: string; timestamp?: number; headers?: Record<string, string> } = {},
): HttpEvent {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = opts.nonce ?? 'C0FFEE0123456789ABCDEF0123456789';
  const message = Buffer.concat([Buffer.from(`${ts}\n${nonce}\n`, 'utf8'), bytes, Buffer.from('\n')]);
  const signature = sign('sha256', message, keys.platform.privateKey).toString('base64');
  return {
    headers: {
      'content-type': 'application/json',
      'wechatpay-serial': keys.platform.serial,
      'wechatpay-signature': signature,
      'wechatpay-timestamp': ts,
      'wechatpay-nonce': nonce,
      'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
      ...opts.headers,
    },
    body: bytes.toString('base64'),
    isBase64Encoded: true,
  };
}

/** An APIv2 (or any) request over exact bytes, base64-encoded as API Gateway does for binary bodies. */
export function rawEvent(body: Buffer | string, headers: Record<string, string> = {}): HttpEvent {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return { headers, body: bytes.toString('base64'), isBase64Encoded: true };
}

/** The raw item under `pk`, read consistently with the harness's client (undefined when absent). */
export async function rawItem(h: Harness, pk: string): Promise<Item | undefined> {
  const res = await h.client.send(
    new GetItemCommand({ TableName: h.tableName, Key: { pk: { S: pk } }, ConsistentRead: true }),
  );
  return res.Item;
}

/** Every item of the harness's table. */
export async function scanAll(h: Harness): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const res = await h.client.send(
      new ScanCommand({ TableName: h.tableName, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }),
    );
    items.push(...(res.Items ?? []));
    start = res.LastEvaluatedKey;
  } while (start);
  return items;
}

/** A stable text form of an item, for before/after comparisons. */
export function itemText(item: Item | undefined): string {
  if (!item) return '(absent)';
  const sorted = Object.keys(item)
    .sort()
    .map((k) => {
      const v = item[k] as AttributeValue;
      return [k, v.SS ? { SS: [...v.SS].sort() } : v];
    });
  return JSON.stringify(sorted);
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness
// ---------------------------------------------------------------------------------------------

/** A small seeded PRNG (mulberry32) with the helpers the suites need. */
export interface Rng {
  seed: number;
  next(): number;
  int(maxExclusive: number): number;
  range(min: number, maxInclusive: number): number;
  chance(p: number): boolean;
  pick<T>(xs: readonly T[]): T;
  shuffle<T>(xs: T[]): T[];
  /** A digit string of the given length. */
  digits(n: number): string;
}

export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    seed,
    next,
    int,
    range: (min, max) => min + int(max - min + 1),
    chance: (p) => next() < p,
    pick: (xs) => xs[int(xs.length)] as (typeof xs)[number],
    shuffle: (xs) => {
      for (let i = xs.length - 1; i > 0; i--) {
        const j = int(i + 1);
        [xs[i], xs[j]] = [xs[j] as (typeof xs)[number], xs[i] as (typeof xs)[number]];
      }
      return xs;
    },
    digits: (n) => Array.from({ length: n }, () => String(int(10))).join(''),
  };
}

/** The seed named by `envName`, else a fresh one; printed so a failure can be replayed. */
export function seedFrom(envName: string, label: string, fallback?: number): number {
  const fromEnv = process.env[envName];
  const seed =
    fromEnv !== undefined && fromEnv !== ''
      ? Number(fromEnv) >>> 0
      : (fallback ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
  process.stdout.write(`${label}: seed ${seed} (replay with ${envName}=${seed})\n`);
  return seed;
}

// ---------------------------------------------------------------------------------------------
// Fault injection at the DynamoDB client
// ---------------------------------------------------------------------------------------------

/**
 * What happens to one HTTP attempt to DynamoDB:
 * - `throttle`: refused before it is sent, as DynamoDB throttles (ProvisionedThroughputExceeded);
 * - `timeout`: times out before it reaches DynamoDB (nothing written);
 * - `lostReply`: reaches DynamoDB and is applied, then the reply is lost (a timeout after the write);
 * - `die`: reaches DynamoDB and is applied, then the delivery never continues (the Lambda died).
 */
export type Fault = 'throttle' | 'timeout' | 'lostReply' | 'die';

export interface FaultyStore {
  store: OrderStore;
  client: DynamoDBClient;
  /** Attempts seen so far (each SDK retry is an attempt), by command name. */
  attempts: string[];
  /** Resolves when a `die` fault has let its write through (the delivery then hangs forever). */
  died: Promise<void>;
}

export function faultError(kind: 'throttle' | 'timeout' | 'lostReply'): Error {
  if (kind === 'throttle')
    return new ProvisionedThroughputExceededException({
      message: 'Rate of requests exceeds the allowed throughput',
      $metadata: {},
    });
  return Object.assign(
    new Error(kind === 'timeout' ? 'connect timed out' : 'socket timed out after the request was sent'),
    { name: 'TimeoutError', $metadata: {} },
  );
}

/**
 * A store over the real DynamoDB whose client consults `plan` before every HTTP attempt (the
 * middleware sits inside the SDK's retry loop). `sdk: 'production'` uses the service's own client
 * factory (3 attempts, short timeouts); the default makes one attempt per request, so every fault
 * reaches the handler.
 */
export function faultyStore(
  h: Harness,
  plan: (attempt: number, command: string) => Fault | undefined,
  opts: { sdk?: 'single' | 'production'; endpoint?: string } = {},
): FaultyStore {
  const endpoint = opts.endpoint ?? inject('dynamoEndpoint');
  const client =
    opts.sdk === 'production'
      ? createDynamoClient({ endpoint, timeouts: { connectMs: 1000, requestMs: 2000 } })
      : new DynamoDBClient({
          endpoint,
          region: 'us-east-1',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
          maxAttempts: 1,
        });
  const attempts: string[] = [];
  let signalDied: () => void = () => undefined;
  const died = new Promise<void>((resolve) => (signalDied = resolve));
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName);
      const fault = plan(attempts.length, command);
      attempts.push(command);
      if (fault === 'throttle' || fault === 'timeout') throw faultError(fault);
      if (fault === 'lostReply') {
        // whatever DynamoDB answered (applied, or a failed condition), the answer never arrives
        await next(args).catch(() => undefined);
        throw faultError('lostReply');
      }
      const result = await next(args);
      if (fault === 'die') {
        signalDied();
        return new Promise<never>(() => undefined);
      }
      return result;
    },
    { step: 'finalizeRequest', name: 'injectFault' },
  );
  return { store: createDynamoOrderStore({ client, tableName: h.tableName }), client, attempts, died };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let i = 0;
  const worker = async () => {
    while (i < items.length) {
      const at = i++;
      out[at] = await fn(items[at] as T, at);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
