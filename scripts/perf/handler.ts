/**
 * Profiling driver for the notification pipeline (issue 17): handleNotification with its live
 * dependencies against DynamoDB Local, first deliveries then duplicates, in a loop, so that
 * a CPU profile shows where the pipeline's own time goes outside DynamoDB's answer.
 *
 *   npx tsx scripts/perf/handler.ts v3 2000          # protocol, deliveries; prints ms per delivery
 *   PERF_PROFILE=.local/prof/handler.cpuprofile npx tsx scripts/perf/handler.ts v3 4000
 *   PERF_NOLOG=1 npx tsx scripts/perf/handler.ts v3 2000   # a logger that writes nothing: the logging's share
 *
 * Not a benchmark against peers (bench/sections/handler.ts is): only this project, one at a time.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { hookClientClass, resetWaitClock, waitClock } from '../../bench/lib/sendtime';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { readNotice } from '../../lib/notify/read';
import { headerGetter } from '../../lib/wechatpay/v3/verify';
import { notifyDeps } from '../../lib/lambda/deps';
import { createLogger } from '../../lib/log';
import { handleNotification } from '../../lib/notify/handle';
import { createDynamoClient } from '../../lib/orders/client';
import { createDynamoOrderStore } from '../../lib/orders/dynamodb';
import { ensureTable, startLocalDynamo } from '../local/dynamodb';
import { generateTestKeys, toEnv } from '../simulator/keys';
import { v2PaymentNotification, v3Notification, v3TransactionResource } from '../simulator/messages';

const protocol = process.argv[2] === 'v2' ? 'v2' : 'v3';
const count = Number(process.argv[3] ?? 2000);
const TABLE = 'perf-handler';

async function main(): Promise<void> {
  const keys = generateTestKeys();
  const dynamo = await startLocalDynamo();
  try {
    await ensureTable(dynamo.endpoint, TABLE);
    const env = { ...toEnv(keys), PAYMENTS_TABLE: TABLE, DYNAMODB_ENDPOINT: dynamo.endpoint, AWS_REGION: 'us-east-1' };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });
    let logBytes = 0;
    const quiet = process.env.PERF_NOLOG === '1';
    const deps = notifyDeps(
      env,
      quiet
        ? { log() {}, anomaly() {}, count() {}, gauge() {} }
        : createLogger({ write: (line) => void (logBytes += line.length) }),
    );
    const store = createDynamoOrderStore({
      client: createDynamoClient({
        endpoint: dynamo.endpoint,
        region: 'us-east-1',
        timeouts: { connectMs: 20_000, requestMs: 20_000 },
      }),
      tableName: TABLE,
    });
    const events: { headers: Record<string, string>; body: Buffer }[] = [];
    for (let i = 0; i < count; i++) {
      const outTradeNo = `PERFH${Date.now().toString(36)}${String(i).padStart(6, '0')}`;
      const amount = 100 + (i % 900);
      const r = await store.registerOrder({ outTradeNo, amountFen: amount, merchantId: keys.mchid });
      if (r.kind !== 'REGISTERED') throw new Error(r.kind);
      const w =
        protocol === 'v3'
          ? v3Notification(keys, {
              eventType: 'TRANSACTION.SUCCESS',
              originalType: 'transaction',
              resource: v3TransactionResource(keys, { outTradeNo, total: amount }),
            })
          : v2PaymentNotification(keys, { outTradeNo, totalFee: amount });
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(w.headers)) headers[k.toLowerCase()] = v;
      events.push({ headers, body: Buffer.from(w.body) });
    }
    const ok = protocol === 'v3' ? 204 : 200;
    hookClientClass(DynamoDBClient.prototype);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
    const run = async (label: string) => {
      const outside: number[] = [];
      const own: number[] = [];
      const read: number[] = [];
      for (const e of events) {
        const r0 = performance.now();
        readNotice(protocol, headerGetter(e.headers), e.body, deps.config, Date.now());
        read.push(performance.now() - r0);
        resetWaitClock();
        const t0 = performance.now();
        const reply = await handleNotification({ route: '/notify/payment', headers: e.headers, body: e.body }, deps);
        const wall = performance.now() - t0;
        if (reply.statusCode !== ok) throw new Error(`HTTP ${reply.statusCode} ${reply.body}`);
        outside.push(wall - waitClock.sendMs);
        own.push(wall - waitClock.httpMs);
      }
      process.stdout.write(
        `${protocol} ${label}: median ms own ${median(own).toFixed(3)}, outside send ${median(outside).toFixed(3)}, readNotice alone ${median(read).toFixed(3)}\n`,
      );
    };
    // PERF_PROFILE=file.cpuprofile: sample the deliveries only, not the set-up
    const profile = process.env.PERF_PROFILE;
    const session = new Session();
    if (profile) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    await run('first');
    await run('duplicate');
    if (profile) {
      const { profile: data } = await session.post('Profiler.stop');
      writeFileSync(profile, JSON.stringify(data));
    }
    process.stdout.write(`log bytes per delivery: ${(logBytes / (2 * events.length)).toFixed(0)}\n`);
  } finally {
    await dynamo.stop();
  }
}

void main();
