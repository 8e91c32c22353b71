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
import { ensureTable, startLocalDynamo } from '../../scripts/local/dynamodb';
import { cleanupAll, log, mapLimit, nextOutTradeNo, onCleanup, round } from '../lib/common';

const TABLE = 'wechatpay-lambda-bench-shards';

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
export async function runShards(
  opts: { orders?: number; shards?: number; concurrency?: number } = {},
): Promise<ShardsResult> {
  const orders = opts.orders ?? 10_000;
  const shards = opts.shards ?? DEFAULT_PENDING_SHARDS;
  const dynamo = await startLocalDynamo();
  const forget = onCleanup(() => dynamo.stop());
  log(`shards: ${dynamo.engine} at ${dynamo.endpoint}, ${orders} registrations over ${shards} shards`);
  try {
    await ensureTable(dynamo.endpoint, TABLE);
    const client = createDynamoClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      timeouts: { connectMs: 20_000, requestMs: 20_000 },
    });
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
    const base = Date.parse('2030-06-01T00:00:00.000Z');
    const started = performance.now();
    await mapLimit(
      Array.from({ length: orders }, (_, i) => i),
      opts.concurrency ?? 32,
      async (i) => {
        const r = await store.registerOrder({
          outTradeNo: nextOutTradeNo('SHD'),
          amountFen: 100 + (i % 1000),
          merchantId: '1900000109',
          createdAt: new Date(base + i * 100).toISOString(),
        });
        if (r.kind !== 'REGISTERED') throw new Error(`registration ${i}: ${r.kind}`);
      },
    );
    const seconds = (performance.now() - started) / 1000;

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
    };
  } finally {
    forget();
    await dynamo.stop();
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
