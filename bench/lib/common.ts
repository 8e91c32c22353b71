/** Small helpers shared by the bench sections: statistics, formatting, timing, the test configuration. */
import { performance } from 'node:perf_hooks';
import type { Context } from 'aws-lambda';
import { loadConfig, type Config } from '../../lib/config';
import { generateTestKeys, toEnv, type TestKeys } from '../../scripts/simulator/keys';

export const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx] as number;
}

/** Rounds to `digits` significant decimals for the report. */
export const round = (n: number, digits = 2): number => (Number.isFinite(n) ? Number(n.toFixed(digits)) : n);

/** 12345.6 → "12,346". */
export const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');

export const fmtRatio = (n: number | null | undefined): string =>
  n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : `${n.toFixed(2)}×`;

export const now = (): number => performance.now();

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `fn` on every item with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The keys and the service configuration every section uses (one key set per run). */
export interface BenchKeys {
  keys: TestKeys;
  env: Record<string, string>;
  config: Config;
}

let cachedKeys: BenchKeys | undefined;

export function benchKeys(tableName = 'wechatpay-lambda-bench-payments'): BenchKeys {
  if (cachedKeys) return cachedKeys;
  const keys = generateTestKeys();
  const env = { ...toEnv(keys), PAYMENTS_TABLE: tableName, AWS_REGION: 'us-east-1' };
  cachedKeys = { keys, env, config: loadConfig(env) };
  return cachedKeys;
}

/** A unique out_trade_no (WeChat allows 6-32 of [A-Za-z0-9_-|*]). */
let orderSeq = 0;
const runTag = Date.now().toString(36).toUpperCase();
export function nextOutTradeNo(prefix: string): string {
  orderSeq += 1;
  return `${prefix}${runTag}${String(orderSeq).padStart(6, '0')}`.slice(0, 32);
}

/** Stop functions of child processes started by the bench, run on exit paths and signals. */
const cleanups = new Set<() => Promise<void>>();

/** Registers `stop` to run if the bench is interrupted; returns the unregister function. */
export function onCleanup(stop: () => Promise<void>): () => void {
  cleanups.add(stop);
  return () => cleanups.delete(stop);
}

/** Runs every registered cleanup once (each bounded by its own timeouts). */
export async function cleanupAll(): Promise<void> {
  const all = [...cleanups];
  cleanups.clear();
  await Promise.allSettled(all.map((f) => f()));
}

/** A Lambda context as the runtime hands one to the paymentNotify function (6 s left), for in-process calls. */
export const lambdaContext = (): Context =>
  ({
    awsRequestId: 'bench-request',
    functionName: 'wechatpay-lambda-bench-paymentNotify',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:bench',
    memoryLimitInMB: '256',
    logGroupName: '/aws/lambda/bench',
    logStreamName: 'bench',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 6000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  }) as Context;
