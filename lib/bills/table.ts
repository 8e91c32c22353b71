/**
 * What the bill run reads from the table in bulk (the README's "Next-day bill reconciliation"): a page
 * of the bill's orders and refunds in one consistent BatchGetItem, and the day's paid orders from the
 * sparse `paid-by-day` index (lib/orders/table.ts), one merchant at a time, a page of each shard at a time. Writes never happen here: repairs go through the settle path.
 */
import { createHash } from 'node:crypto';
import {
  type AttributeValue,
  BatchGetItemCommand,
  type DynamoDBClient,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import { unavailable } from '../errors';
import { send } from '../orders/dynamo/transition';
import { PAID_DAY_INDEX, paidDayShardKey } from '../orders/table';

/** The table the run reads: its client and name, and how many paid-day shards to read (PENDING_SHARDS_READ). */
export interface BillTable {
  client: DynamoDBClient;
  tableName: string;
  shards: number;
}

type Item = Record<string, AttributeValue>;

/** Keys per BatchGetItem (DynamoDB's own limit). */
const BATCH = 100;
/** BatchGetItem requests of one page in flight at once. */
const IN_FLIGHT = 4;
/** Rounds of unprocessed keys tolerated before the read is given up as UNAVAILABLE. */
const MAX_ROUNDS = 8;

/**
 * Reads the items of `pks` with consistent reads, 100 keys a request and up to 4 requests at once,
 * asking again for the keys DynamoDB left unprocessed (throttling) after a growing pause; a key with
 * no item is absent from the map.
 */
export async function readItems(
  table: BillTable,
  pks: Iterable<string>,
  pause: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<Map<string, Item>> {
  const found = new Map<string, Item>();
  const unique = [...new Set(pks)];
  const batches = Array.from({ length: Math.ceil(unique.length / BATCH) }, (_, b) =>
    unique.slice(b * BATCH, b * BATCH + BATCH),
  );
  let next = 0;
  const worker = async () => {
    for (let b = next++; b < batches.length; b = next++) {
      for (const item of await readBatch(table, batches[b] as string[], pause)) found.set(item.pk?.S as string, item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, batches.length) }, worker));
  return found;
}

async function readBatch(table: BillTable, pks: string[], pause: (ms: number) => Promise<void>): Promise<Item[]> {
  const items: Item[] = [];
  let keys: Item[] = pks.map((pk) => ({ pk: { S: pk } }));
  for (let round = 0; keys.length > 0; round += 1) {
    if (round >= MAX_ROUNDS) throw unavailable('order store kept bill reads unprocessed');
    if (round > 0) await pause(25 * 2 ** round);
    const out = await send(() =>
      table.client.send(
        new BatchGetItemCommand({ RequestItems: { [table.tableName]: { Keys: keys, ConsistentRead: true } } }),
      ),
    );
    items.push(...(out.Responses?.[table.tableName] ?? []));
    keys = out.UnprocessedKeys?.[table.tableName]?.Keys ?? [];
  }
  return items;
}

/** A paid order as the paid-day index holds it. */
export interface PaidEntry {
  merchantId: string;
  outTradeNo: string;
  state: string;
  transactionId?: string;
  paidFen?: number;
}

/**
 * Hands every order of `merchantId` paid on the Beijing day `billDate` (`yyyy-MM-dd`) to `visit`:
 * the shards are read 4 at a time, each page by page (at most 4 pages in hand), in no particular order.
 */
export async function forEachPaidOnDay(
  table: BillTable,
  billDate: string,
  merchantId: string,
  visit: (entry: PaidEntry) => void | Promise<void>,
  pageSize = 1000,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let k = next++; k < table.shards; k = next++) {
      let start: Item | undefined;
      do {
        const page = await query(table, {
          KeyConditionExpression: 'paidDay = :day AND merchantId = :m',
          ExpressionAttributeValues: { ':day': { S: paidDayShardKey(billDate, k) }, ':m': { S: merchantId } },
          Limit: pageSize,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        });
        for (const item of page.items) await visit(paidEntry(item));
        start = page.next;
      } while (start !== undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, table.shards) }, worker));
}

/**
 * The merchants with at least one order paid on `billDate`: on each shard, one entry is read per
 * merchant, then the query jumps past that merchant (the index sorts by merchant), so the cost is a
 * small query per merchant and shard, whatever the number of orders.
 */
export async function merchantsPaidOnDay(table: BillTable, billDate: string): Promise<string[]> {
  const merchants = new Set<string>();
  for (let k = 0; k < table.shards; k += 1) {
    let after: string | undefined;
    for (;;) {
      const page = await query(table, {
        KeyConditionExpression: after === undefined ? 'paidDay = :day' : 'paidDay = :day AND merchantId > :after',
        ExpressionAttributeValues: {
          ':day': { S: paidDayShardKey(billDate, k) },
          ...(after === undefined ? {} : { ':after': { S: after } }),
        },
        Limit: 1,
      });
      const merchant = page.items[0]?.merchantId?.S;
      if (merchant === undefined) break;
      merchants.add(merchant);
      after = merchant;
    }
  }
  return [...merchants].sort();
}

async function query(
  table: BillTable,
  input: Pick<
    QueryCommandInput,
    'KeyConditionExpression' | 'ExpressionAttributeValues' | 'Limit' | 'ExclusiveStartKey'
  >,
): Promise<{ items: Item[]; next: Item | undefined }> {
  const out = await send(() =>
    table.client.send(new QueryCommand({ TableName: table.tableName, IndexName: PAID_DAY_INDEX, ...input })),
  );
  return { items: out.Items ?? [], next: out.LastEvaluatedKey };
}

function paidEntry(item: Item): PaidEntry {
  const entry: PaidEntry = {
    // the index's sort key: every entry has it
    merchantId: item.merchantId?.S as string,
    outTradeNo: item.outTradeNo?.S ?? '',
    state: item.state?.S ?? '',
  };
  if (item.transactionId?.S !== undefined) entry.transactionId = item.transactionId.S;
  if (item.paidFen?.N !== undefined) entry.paidFen = Number(item.paidFen.N);
  return entry;
}

/**
 * The orders a bill listed, 8 bytes each: the first 64 bits of the SHA-256 of merchant and order
 * number, kept in a typed array that is sorted once and then searched. A million payment rows take
 * 8 MB where a Set of their strings would take well over 100 MB. Two different orders share a
 * fingerprint with a chance of about rows × entries / 2^64 (5 × 10^-8 for a million of each): that
 * order would be taken as listed, never the other way round, so nothing is ever reported wrongly.
 */
export class SeenOrders {
  #keys = new BigUint64Array(1024);
  #size = 0;
  #sealed = false;

  /** Notes that the bill lists this order. */
  add(merchantId: string, outTradeNo: string): void {
    if (this.#sealed) throw new Error('SeenOrders is sealed');
    if (this.#size === this.#keys.length) {
      const grown = new BigUint64Array(this.#keys.length * 2);
      grown.set(this.#keys);
      this.#keys = grown;
    }
    this.#keys[this.#size] = fingerprint(merchantId, outTradeNo);
    this.#size += 1;
  }

  /** How many orders were noted. */
  get size(): number {
    return this.#size;
  }

  /** Ends the adding: sorts the fingerprints so {@link has} can search them. */
  seal(): void {
    if (this.#sealed) return;
    this.#keys = this.#keys.slice(0, this.#size).sort();
    this.#sealed = true;
  }

  /** Whether the bill listed this order (after {@link seal}). */
  has(merchantId: string, outTradeNo: string): boolean {
    this.seal();
    const key = fingerprint(merchantId, outTradeNo);
    let lo = 0;
    let hi = this.#size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = this.#keys[mid] as bigint;
      if (at === key) return true;
      if (at < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }
}

function fingerprint(merchantId: string, outTradeNo: string): bigint {
  return createHash('sha256').update(`${merchantId}#${outTradeNo}`, 'utf8').digest().readBigUInt64BE(0);
}
