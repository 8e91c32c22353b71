/**
 * The pending index's write distribution: 10,000 order registrations through the project's store on
 * DynamoDB Local, each registration's UpdateItem counted by the pending-index key it writes (the shard),
 * then the index read back shard by shard. Runnable alone: `npx tsx bench/sections/shards.ts`
 * (options: `--orders N`, `--shards N`, `--concurrency N`). Prints JSON.
 */
import { randomBytes } from 'node:crypto';
import { QueryCommand, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../../lib/orders/client';
import { createDynamoOrderStore } from '../../lib/orders/dynamodb';
import { DEFAULT_PENDING_SHARDS, PENDING_INDEX, pendingShardKey, pendingShardOf } from '../../lib/orders/table';
import { ensureTable, startLocalDynamo, type LocalDynamo } from '../../scripts/local/dynamodb';
import { cleanupAll, log, mapLimit, nextOutTradeNo, onCleanup, round } from '../lib/common';
import { emptyCounts, instrument } from '../lib/ddbcount';

const DEFAULT_TABLE = 'wechatpay-lambda-bench-shards';

export interface ShardsResult {
  date: string;
  engine: string;
  orders: number;
  shards: number;
  /** Registration writes by pending-index key, as sent. */
  writesByShard: Record<string, number>;
  /** Items the index holds per key afterwards (Query, Select COUNT). */
  indexItemsByShard: Record<string, number>;
  /** The busiest shard's share over an even share (1 is perfectly even). */
  maxOverMean: number;
  minOverMean: number;
  /** Registrations per second on the local store (a property of this machine, not of DynamoDB). */
  registrationsPerSecond: number;
  /** Queries one page of a reconciliation listing sends (one per shard). */
  queriesPerListingPage: number;
  /** The hash alone over 100,000 order numbers of random letters (no store): busiest and idlest shard over mean. */
  randomLetters: { maxOverMean: number; minOverMean: number };
  /** What one registerOrder cost: requests and write units (the item and its pending-index entry). */
  registration?: { requestsPerRegistration: number; capacityPerRegistration: number };
}

/** Options of {@link runShards}; the last four let another section reuse the registrations. */
export interface ShardsOptions {
  orders?: number;
  shards?: number;
  concurrency?: number;
  /** A running DynamoDB Local to use (left running); by default one is started and stopped. */
  dynamo?: LocalDynamo;
  tableName?: string;
  /** Epoch ms of the first order's creation (each next one 100 ms later); default 2030-06-01. */
  createdAtBase?: number;
  /** The merchant the orders are registered for (default 1900000109). */
  merchantId?: string;
  /** Called after each registration (e.g. to create the same order at the simulator). */
  onRegistered?: (order: { outTradeNo: string; amountFen: number; index: number }) => void;
}

/** Shard counts of the hash alone for `count` random 20-letter order numbers. */
function randomLetterSpread(count: number, shards: number): { maxOverMean: number; minOverMean: number } {
  const counts = new Array<number>(shards).fill(0);
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  for (let i = 0; i < count; i++) {
    const no = [...randomBytes(20)].map((b) => letters[b % letters.length]).join('');
    const k = pendingShardOf('1900000109', no, shards);
    counts[k] = (counts[k] ?? 0) + 1;
  }
  const mean = count / shards;
  return { maxOverMean: round(Math.max(...counts) / mean, 3), minOverMean: round(Math.min(...counts) / mean, 3) };
}

/** Registers `orders` orders over `shards` shards and counts where their pending-index writes went. */
export async function runShards(opts: ShardsOptions = {}): Promise<ShardsResult> {
  const orders = opts.orders ?? 10_000;
  const shards = opts.shards ?? DEFAULT_PENDING_SHARDS;
  const TABLE = opts.tableName ?? DEFAULT_TABLE;
  const own = opts.dynamo === undefined;
  const dynamo = opts.dynamo ?? (await startLocalDynamo());
  const forget = own ? onCleanup(() => dynamo.stop()) : () => {};
  log(`shards: ${dynamo.engine} at ${dynamo.endpoint}, ${orders} registrations over ${shards} shards`);
  try {
    await ensureTable(dynamo.endpoint, TABLE);
    const client = createDynamoClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      timeouts: { connectMs: 20_000, requestMs: 20_000 },
    });
    const registrationCounts = emptyCounts();
    instrument(client, () => registrationCounts);
    const writesByShard: Record<string, number> = {};
    let queries = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UpdateItemCommand') {
          const key = (args.input as UpdateItemCommandInput).ExpressionAttributeValues?.[':shard']?.S ?? '(none)';
          writesByShard[key] = (writesByShard[key] ?? 0) + 1;
        }
        if (context.commandName === 'QueryCommand') queries += 1;
        return next(args);
      },
      { step: 'initialize', name: 'countByShard' },
    );
    const store = createDynamoOrderStore({ client, tableName: TABLE, pendingShards: { write: shards, read: shards } });
    const base = opts.createdAtBase ?? Date.parse('2030-06-01T00:00:00.000Z');
    const started = performance.now();
    await mapLimit(
      Array.from({ length: orders }, (_, i) => i),
      opts.concurrency ?? 32,
      async (i) => {
        const outTradeNo = nextOutTradeNo('SHD');
        const amountFen = 100 + (i % 1000);
        const r = await store.registerOrder({
          outTradeNo,
          amountFen,
          merchantId: opts.merchantId ?? '1900000109',
          createdAt: new Date(base + i * 100).toISOString(),
        });
        if (r.kind !== 'REGISTERED') throw new Error(`registration ${i}: ${r.kind}`);
        opts.onRegistered?.({ outTradeNo, amountFen, index: i });
      },
    );
    const seconds = (performance.now() - started) / 1000;
    const registration = {
      requestsPerRegistration: round(registrationCounts.requests / orders, 2),
      capacityPerRegistration: round(
        (registrationCounts.reportedCapacity + registrationCounts.failedConditions) / orders,
        2,
      ),
    };

    const indexItemsByShard: Record<string, number> = {};
    for (let k = 0; k < shards; k++) {
      let count = 0;
      let start: Record<string, never> | undefined;
      do {
        const res = await client.send(
          new QueryCommand({
            TableName: TABLE,
            IndexName: PENDING_INDEX,
            KeyConditionExpression: 'pending = :p',
            ExpressionAttributeValues: { ':p': { S: pendingShardKey(k) } },
            Select: 'COUNT',
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        count += res.Count ?? 0;
        start = res.LastEvaluatedKey as typeof start;
      } while (start);
      indexItemsByShard[pendingShardKey(k)] = count;
    }

    queries = 0;
    await store.listPending({
      createdAfter: new Date(base).toISOString(),
      createdBefore: new Date(base + orders * 100).toISOString(),
      limit: 100,
    });
    const mean = orders / shards;
    const counts = Object.values(writesByShard);
    return {
      date: new Date().toISOString(),
      engine: dynamo.engine,
      orders,
      shards,
      writesByShard,
      indexItemsByShard,
      maxOverMean: round(Math.max(...counts) / mean, 3),
      minOverMean: round(Math.min(...counts) / mean, 3),
      registrationsPerSecond: Math.round(orders / seconds),
      queriesPerListingPage: queries,
      randomLetters: randomLetterSpread(100_000, shards),
      registration,
    };
  } finally {
    forget();
    if (own) await dynamo.stop();
  }
}

function option(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  const n = i >= 0 ? Number(process.argv[i + 1]) : undefined;
  if (n !== undefined && !(Number.isInteger(n) && n > 0)) throw new Error(`--${name} must be a positive integer`);
  return n;
}

if (process.argv[1]?.endsWith('shards.ts')) {
  runShards({ orders: option('orders'), shards: option('shards'), concurrency: option('concurrency') })
    .then((result) => console.log(JSON.stringify(result, null, 2)))
    .catch(async (err: unknown) => {
      console.error(err);
      await cleanupAll();
      process.exitCode = 1;
    });
}
