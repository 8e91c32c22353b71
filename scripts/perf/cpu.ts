/**
 * Profiling aid (issue 17): the CPU a delivery costs, with DynamoDB's HTTP exchange answered at once
 * by a canned reply inside the SDK's request handler (no network, no DynamoDB Local: only the code's
 * own time is left, so differences of a few µs show through). The real Lambda handler, its layers
 * peeled off one by one, and a minimal hand-written handler (RSA, AES-GCM, JSON.parse, one
 * UpdateItem, as bench/sections/handler.ts writes it, on a client with the SDK's defaults) run
 * interleaved round by round; each variant's µs per delivery is printed with its difference to the
 * minimal handler, the median of the paired per-round differences. Two diagnostics beside them: the
 * minimal handler on the project's client settings (createDynamoClient), and the minimal handler
 * handed the project's ALL_NEW item as its reply (the cost of parsing it).
 *
 *   npx tsx scripts/perf/cpu.ts [rounds=15] [deliveries=256]
 *   PERF_ONLY=real PERF_PROFILE=.local/prof/real.cpuprofile npx tsx scripts/perf/cpu.ts 9
 *
 * The canned reply is a stub of the transport, the one way to take the network out; the figures are
 * for comparing code paths on this machine, not what Lambda bills (bench section e is that).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import middy from '@middy/core';
import { lambdaContext } from '../../bench/lib/common';
import { minimalPaymentWrite, minimalV3Read } from '../../bench/lib/minimal';
import { notifyDeps, notifyRuntime } from '../../lib/lambda/deps';
import { createLogger } from '../../lib/log';
import { createDynamoClient } from '../../lib/orders/client';
import { handleNotification } from '../../lib/notify/handle';
import { httpCore, httpMiddlewares, HTTP_TIMING, wechatFormat } from '../../lib/notify/lambda';
import type { HttpEvent, HttpResult } from '../../lib/lambda/http';
import { orderKey } from '../../lib/orders/table';
import { generateTestKeys, toEnv } from '../simulator/keys';
import { answerDynamoWith } from './canned';
import { v3Notification, v3TransactionResource } from '../simulator/messages';

const rounds = Number(process.argv[2] ?? 15);
const deliveries = Number(process.argv[3] ?? 256);
const MCHID_ITEM = (no: string, mchid: string) =>
  JSON.stringify({
    Attributes: {
      pk: { S: orderKey(mchid, no) },
      entity: { S: 'ORDER' },
      outTradeNo: { S: no },
      merchantId: { S: mchid },
      state: { S: 'PAID' },
      amountFen: { N: '100' },
      amountUnverified: { BOOL: false },
      createdAt: { S: '2026-11-30T10:00:00.000Z' },
      channel: { S: 'wechatpay' },
      transactionId: { S: '4200000000202611300000000001' },
      paidFen: { N: '100' },
      paidAt: { S: '2026-11-30T10:00:01.000Z' },
      paidVia: { S: 'v3' },
      appliedAt: { S: '2026-11-30T10:00:02.000Z' },
      previousState: { S: 'NOTPAY' },
      paidDay: { S: 'PAIDDAY#20261130#3' },
    },
  });

// every DynamoDB request is answered at once with `answer` (the store's ALL_NEW item, or {} for the minimal write)
let answer = '{}';
answerDynamoWith(() => answer);

const keys = generateTestKeys();
const env = { ...toEnv(keys), PAYMENTS_TABLE: 'perf-cpu', DYNAMODB_ENDPOINT: 'http://127.0.0.1:9' };
Object.assign(process.env, env, {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
});
process.env.POWERTOOLS_METRICS_NAMESPACE ??= 'WechatPayLambda';

const events = Array.from({ length: deliveries }, (_, i) => {
  const no = `CPU${String(i).padStart(8, '0')}`;
  const w = v3Notification(keys, {
    eventType: 'TRANSACTION.SUCCESS',
    originalType: 'transaction',
    resource: v3TransactionResource(keys, { outTradeNo: no, total: 100 }),
  });
  const headers = Object.fromEntries(Object.entries(w.headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { no, event: { headers, body: w.body, isBase64Encoded: false } as HttpEvent };
});
const context = lambdaContext();

type Handler = (event: HttpEvent) => Promise<{ statusCode: number }>;

const minimalClient = new DynamoDBClient({
  endpoint: env.DYNAMODB_ENDPOINT,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
const aesKey = Buffer.from(keys.apiV3Key, 'utf8');
const minimalOn =
  (client: DynamoDBClient): Handler =>
  async (event) => {
    const tx = minimalV3Read(event.headers ?? {}, event.body ?? '', keys.platform.publicKey, aesKey);
    if (tx === undefined) return { statusCode: 401 };
    const input = minimalPaymentWrite(
      'perf-cpu',
      orderKey(tx.mchid, tx.out_trade_no),
      tx.transaction_id,
      tx.amount.total,
    );
    await client.send(new UpdateItemCommand(input));
    return { statusCode: 204 };
  };
const minimal = minimalOn(minimalClient);
// the same on the project's own client settings (createDynamoClient: middleware cached, no logger middleware)
const minimalTuned = minimalOn(createDynamoClient({ endpoint: env.DYNAMODB_ENDPOINT, region: 'us-east-1' }));

async function main(): Promise<void> {
  const realWrite = process.stdout.write.bind(process.stdout);
  // what the functions write to standard output is dropped, not printed (bench section e counts it)
  process.stdout.write = (() => true) as typeof process.stdout.write;
  const real = (await import('../../functions/paymentNotify')).handler as unknown as (
    e: HttpEvent,
    c: unknown,
  ) => Promise<HttpResult>;
  // the same chain, one layer off at a time
  const logger = createLogger();
  const runtime = notifyRuntime({ logger });
  const core = httpCore('/notify/payment', runtime.pipeline(handleNotification));
  const noPowertools = middy(core, HTTP_TIMING).use(
    httpMiddlewares('/notify/payment', wechatFormat, runtime.deps, logger).slice(2),
  );
  const deps = notifyDeps({ ...process.env }, createLogger());
  const quietDeps = { ...deps, logger: { log() {}, anomaly() {}, count() {}, gauge() {} } };
  const item = (i: number) => MCHID_ITEM((events[i] as (typeof events)[number]).no, keys.mchid);
  const request = (i: number) => {
    const e = (events[i] as (typeof events)[number]).event;
    return { route: '/notify/payment', headers: e.headers ?? {}, body: e.body ?? '' };
  };
  const variants: Record<string, (i: number) => Promise<{ statusCode: number }>> = {
    minimal: (i) => ((answer = '{}'), minimal((events[i] as (typeof events)[number]).event)),
    "minimal, project's client": (i) => ((answer = '{}'), minimalTuned((events[i] as (typeof events)[number]).event)),
    'minimal, the ALL_NEW reply': (i) => ((answer = item(i)), minimal((events[i] as (typeof events)[number]).event)),
    'real handler': (i) => ((answer = item(i)), real((events[i] as (typeof events)[number]).event, context)),
    'no Powertools middlewares': (i) => (
      (answer = item(i)), noPowertools((events[i] as (typeof events)[number]).event, context as never)
    ),
    'no middy': (i) => ((answer = item(i)), core((events[i] as (typeof events)[number]).event, { deps } as never)),
    'pipeline alone': (i) => ((answer = item(i)), handleNotification(request(i), deps)),
    'pipeline, logger quiet': (i) => ((answer = item(i)), handleNotification(request(i), quietDeps)),
  };
  const only = process.env.PERF_ONLY;
  // warm-up, and a check that every variant acknowledges every delivery
  for (const [name, run] of Object.entries(variants))
    for (let i = 0; i < deliveries; i++) {
      const { statusCode } = await run(i);
      if (statusCode !== 204) throw new Error(`${name}: HTTP ${statusCode}`);
    }
  const session = new Session();
  if (process.env.PERF_PROFILE) {
    session.connect();
    await session.post('Profiler.setSamplingInterval', { interval: 50 });
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const perRound: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++)
    for (const [name, run] of Object.entries(variants)) {
      if (only !== undefined && name !== only && name !== 'minimal') continue;
      const t0 = performance.now();
      for (let i = 0; i < deliveries; i++) await run(i);
      (perRound[name] ??= []).push(((performance.now() - t0) * 1000) / deliveries);
    }
  if (process.env.PERF_PROFILE) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(process.env.PERF_PROFILE, JSON.stringify(profile));
  }
  process.stdout.write = realWrite;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const base = perRound.minimal ?? [];
  for (const [name, xs] of Object.entries(perRound)) {
    const delta = median(xs.map((x, k) => x - (base[k] ?? Number.NaN)));
    process.stdout.write(
      `${name.padEnd(26)} ${median(xs).toFixed(1).padStart(7)} µs per delivery   ${name === 'minimal' ? '' : `minimal +${delta.toFixed(1)} µs`}\n`,
    );
  }
}

void main();
