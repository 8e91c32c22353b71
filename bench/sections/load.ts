/**
 * Section d: end-to-end load through the local stack (serverless-offline in front of DynamoDB Local),
 * loopback only, bounded in time: (i) first deliveries, every request a different pre-signed APIv3
 * notification for a different registered order; (ii) a duplicate storm, one notification over and
 * over. autocannon drives it from this process; throughput and latency percentiles come from it.
 */
import { join } from 'node:path';
import autocannon from 'autocannon';
import { DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { localClient } from '../../scripts/local/dynamodb';
import { createDynamoOrderStore } from '../../lib/orders/dynamodb';
import type { Stack } from '../../scripts/local/stack';
import { v3Notification, v3TransactionResource, type WireRequest } from '../../scripts/simulator/messages';
import { benchKeys, log, mapLimit, nextOutTradeNo, onCleanup, round } from '../lib/common';
import { snapshotService } from '../lib/snapshot';

export interface LoadScenario {
  name: string;
  connections: number;
  durationSec: number;
  requests: number;
  /** Completed requests per second over the run. */
  throughput: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  status: Record<string, number>;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export interface LoadResult {
  date: string;
  engine: string;
  ordersRegistered: number;
  firstDeliveries: LoadScenario & { ordersPaid: number; lambdaTimeouts: number; offlineErrors: Record<string, number> };
  duplicateStorm: LoadScenario & { lambdaTimeouts: number; offlineErrors: Record<string, number> };
  notes: string[];
}

const CONNECTIONS = 10;
const DURATION_SEC = 10;
const ORDERS = 3000;
const WARMUP = 40;

const lower = (h: Record<string, string>) =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));

/**
 * Hands out each request of `items` once. autocannon builds a connection's next request before it
 * knows whether it will be sent, so the run is capped a little below the pool's size and never asks
 * for more than it holds.
 */
function pool(items: readonly WireRequest[]): { next: () => WireRequest; amount: number } {
  let i = 0;
  return {
    next: () => items[Math.min(i++, items.length - 1)] as WireRequest,
    amount: Math.max(CONNECTIONS, items.length - 2 * CONNECTIONS),
  };
}

function cannon(name: string, url: string, opts: { next: () => WireRequest; amount?: number }): Promise<LoadScenario> {
  return new Promise((resolve, reject) => {
    const status: Record<string, number> = {};
    const instance = autocannon(
      {
        url,
        connections: CONNECTIONS,
        pipelining: 1,
        timeout: 10,
        ...(opts.amount ? { amount: opts.amount } : { duration: DURATION_SEC }),
        requests: [
          {
            method: 'POST',
            path: '/notify/payment',
            setupRequest: (req) => {
              const w = opts.next();
              return { ...req, method: 'POST', path: '/notify/payment', headers: w.headers, body: w.body };
            },
          },
        ],
      },
      (err, r) => {
        clearTimeout(guard);
        if (err) return reject(err);
        const durationSec = r.duration;
        const done = r['1xx'] + r['2xx'] + r['3xx'] + r['4xx'] + r['5xx'];
        resolve({
          name,
          connections: CONNECTIONS,
          durationSec: round(durationSec, 2),
          requests: done,
          throughput: round(done / durationSec, 1),
          latencyMs: {
            p50: r.latency.p50,
            p90: r.latency.p90,
            p99: r.latency.p99,
            max: r.latency.max,
            mean: round(r.latency.mean, 2),
          },
          status,
          non2xx: r.non2xx,
          errors: r.errors,
          timeouts: r.timeouts,
        });
      },
    );
    instance.on('response', (_client, statusCode) => {
      status[statusCode] = (status[statusCode] ?? 0) + 1;
    });
    // with `amount` autocannon has no clock of its own: bound it anyway
    const guard = setTimeout(() => instance.stop(), DURATION_SEC * 1000 + 500);
  });
}

export async function runLoad(): Promise<LoadResult> {
  const { keys, env } = benchKeys();
  let output = '';
  let lambdaTimeouts = 0;
  // serverless-offline's own complaints (not the handler's JSON log lines), counted by kind
  let offlineErrors = new Map<string, number>();
  let partial = '';
  const onOutput = (s: string) => {
    output = (output + s).slice(-8000);
    lambdaTimeouts += s.split('Lambda timeout').length - 1;
    const lines = (partial + s).split('\n');
    partial = lines.pop() ?? '';
    for (const raw of lines) {
      const line = raw.replace(/\x1b\[[0-9;]*m/g, '').trim();
      if (!line || line.startsWith('{') || !/error|timeout|exception|fail/i.test(line)) continue;
      const kind = line
        .replace(/[0-9a-f]{8}-[0-9a-f-]{27,}/gi, '<id>')
        .replace(/\d+/g, 'N')
        .slice(0, 200);
      if (offlineErrors.size < 20 || offlineErrors.has(kind))
        offlineErrors.set(kind, (offlineErrors.get(kind) ?? 0) + 1);
    }
  };
  // the stack runs from a private copy of the sources: no other stack from this checkout shares its
  // .esbuild/ folder, and nobody's edits make serverless-esbuild rebuild it mid-run (see lib/snapshot.ts)
  const src = snapshotService();
  let stack: Stack;
  try {
    log('load: starting the local stack (DynamoDB Local + serverless-offline) from a private copy of the sources');
    const { startStack } = (await import(
      join(src.dir, 'scripts', 'local', 'stack.ts')
    )) as typeof import('../../scripts/local/stack');
    stack = await startStack({ httpPort: 0, lambdaPort: 0, env, onOutput });
  } catch (err) {
    src.remove();
    throw err;
  }
  const forget = onCleanup(async () => {
    await stack.stop();
    src.remove();
  });
  try {
    // set-up traffic, not measured: a patient timeout, so a loaded machine does not make it retry
    const client = localClient(stack.dynamoEndpoint);
    const store = createDynamoOrderStore({ client, tableName: stack.tableName });

    log(`load: registering and signing ${ORDERS + WARMUP + 1} orders`);
    const tag = nextOutTradeNo('B').slice(0, 12);
    const group = (g: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        outTradeNo: `${tag}${g}${String(i).padStart(6, '0')}`,
        amountFen: 100 + (i % 900),
      }));
    const groups = { warm: group('W', WARMUP), storm: group('S', 1), first: group('F', ORDERS) };
    const all = [...groups.warm, ...groups.storm, ...groups.first];
    await mapLimit(all, 16, async (o) => {
      const r = await store.registerOrder({ outTradeNo: o.outTradeNo, amountFen: o.amountFen, merchantId: keys.mchid });
      if (r.kind !== 'REGISTERED') throw new Error(`register ${o.outTradeNo}: ${r.kind}`);
    });
    const sign = (o: { outTradeNo: string; amountFen: number }): WireRequest => {
      const w = v3Notification(keys, {
        eventType: 'TRANSACTION.SUCCESS',
        originalType: 'transaction',
        resource: v3TransactionResource(keys, { outTradeNo: o.outTradeNo, total: o.amountFen }),
      });
      return { headers: lower(w.headers), body: w.body };
    };
    const warm = groups.warm.map(sign);
    const storm = sign(groups.storm[0] as { outTradeNo: string; amountFen: number });
    const first = groups.first.map(sign);

    // warm the workers (the first invocation of each builds config, keys and the client)
    const warmRun = await cannon('warm-up', stack.httpUrl, pool(warm));
    if (warmRun.non2xx > 0)
      throw new Error(
        `warm-up: ${warmRun.non2xx} non-2xx replies ${JSON.stringify(warmRun.status)}\n${output.slice(-2000)}`,
      );
    // the storm's notification, applied once before the storm
    const applied = await fetch(`${stack.httpUrl}/notify/payment`, {
      method: 'POST',
      headers: storm.headers,
      body: storm.body,
    });
    if (applied.status !== 204) throw new Error(`storm order: HTTP ${applied.status} ${await applied.text()}`);

    log(`load: (i) first deliveries, ${CONNECTIONS} connections, up to ${DURATION_SEC} s or ${first.length} orders`);
    lambdaTimeouts = 0;
    offlineErrors = new Map();
    const firstRun = await cannon('first deliveries', stack.httpUrl, pool(first));
    const firstTimeouts = lambdaTimeouts;
    const firstErrors = Object.fromEntries(offlineErrors);

    log(`load: (ii) duplicate storm, ${CONNECTIONS} connections, ${DURATION_SEC} s`);
    lambdaTimeouts = 0;
    offlineErrors = new Map();
    const stormRun = await cannon('duplicate storm', stack.httpUrl, { next: () => storm });
    const stormTimeouts = lambdaTimeouts;
    const stormErrors = Object.fromEntries(offlineErrors);

    // every 204 of (i) must be a paid order (a request in flight when the clock stopped may add a few)
    const paidInFirst = await countPaid(stack.dynamoEndpoint, stack.tableName, `${tag}F`).catch((err: unknown) => {
      throw new Error(
        `load: DynamoDB Local stopped answering after the runs (${(err as Error).message}); was it killed by another process?`,
      );
    });
    const answered = firstRun.status['204'] ?? 0;
    if (paidInFirst < answered || paidInFirst > answered + CONNECTIONS) {
      throw new Error(`load: ${answered} first deliveries answered 204 but ${paidInFirst} orders are paid`);
    }
    if (firstRun.non2xx > 0 || stormRun.non2xx > 0)
      log(
        `load: WARNING non-2xx replies: first ${JSON.stringify(firstRun.status)}, storm ${JSON.stringify(stormRun.status)}`,
      );
    client.destroy();

    return {
      date: new Date().toISOString(),
      engine: stack.engine,
      ordersRegistered: all.length,
      firstDeliveries: {
        ...firstRun,
        ordersPaid: paidInFirst,
        lambdaTimeouts: firstTimeouts,
        offlineErrors: firstErrors,
      },
      duplicateStorm: { ...stormRun, lambdaTimeouts: stormTimeouts, offlineErrors: stormErrors },
      notes: [
        `serverless-offline ${'14.8.2'} (handlers in worker threads, the esbuild bundle) and ${stack.engine === 'dynamodb-local' ? 'DynamoDB Local (Java)' : 'dynalite'} share this machine's 2 cores with autocannon: this is a local figure, not Lambda's.`,
        `${CONNECTIONS} connections, no pipelining, ${DURATION_SEC} s per scenario (or until the ${first.length} pre-signed first deliveries run out); ${WARMUP} warm-up deliveries first, not measured.`,
        "Latency is autocannon's, per request, in ms.",
        "The stack runs from a private copy of the sources taken when the section started (the root's node_modules linked in): serverless-esbuild builds into the service folder and rebuilds on any file change, so a stack run from the checkout would share its bundle with other stacks started there and rebuild whenever someone saves a file.",
        'An invocation that fails inside serverless-offline (a worker error, or one exceeding the function\'s 6 s timeout, which it logs as "[504] - Lambda timeout." and which the Lambda timeouts column counts) comes back as HTTP 200 with an error body, where real API Gateway answers 502. Such a reply is not an acknowledgement: the project\'s success replies are 204 (v3), and WeChat retries anything else.',
      ],
    };
  } finally {
    log('load: stopping the stack');
    forget();
    await stack.stop();
    src.remove();
  }
}

async function countPaid(endpoint: string, tableName: string, prefix: string): Promise<number> {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    let count = 0;
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(
        new ScanCommand({
          TableName: tableName,
          FilterExpression: '#s = :paid AND begins_with(outTradeNo, :prefix)',
          ExpressionAttributeNames: { '#s': 'state' },
          ExpressionAttributeValues: { ':paid': { S: 'PAID' }, ':prefix': { S: prefix } },
          Select: 'COUNT',
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      count += page.Count ?? 0;
      start = page.LastEvaluatedKey;
    } while (start);
    return count;
  } finally {
    client.destroy();
  }
}
