/**
 * The sparse pending index: unpaid orders by creation time, read page by page (never a table scan).
 * Its partition key is spread over shards (lib/orders/table.ts), so a listing queries every shard and
 * merges them oldest first; the cursor remembers where each shard stands.
 */
import { QueryCommand, type QueryCommandOutput } from '@aws-sdk/client-dynamodb';
import { malformed } from '../../errors';
import type { PendingOrder } from '../model';
import { PENDING_INDEX, pendingShardKey } from '../table';
import { S, send, type Item, type Table } from './transition';

/** Where one shard's listing stands: not started, after a key, or read to the end. */
type ShardPosition = 'start' | 'done' | Item;

/** Lists unpaid orders created in [createdAfter, createdBefore] across `shards`, oldest first, one page at a time. */
export async function listPending(
  table: Table,
  shards: number,
  q: { createdAfter: string; createdBefore: string; limit: number; cursor?: string },
): Promise<{ orders: PendingOrder[]; cursor?: string }> {
  const positions = q.cursor === undefined ? Array<ShardPosition>(shards).fill('start') : readCursor(q.cursor);
  const pages = await Promise.all(
    positions.map(async (position, k) => {
      if (position === 'done') return undefined;
      const res = await send(() =>
        table.client.send(
          new QueryCommand({
            TableName: table.tableName,
            IndexName: PENDING_INDEX,
            KeyConditionExpression: 'pending = :p AND createdAt BETWEEN :a AND :b',
            ExpressionAttributeValues: {
              ':p': S(pendingShardKey(k)),
              ':a': S(q.createdAfter),
              ':b': S(q.createdBefore),
            },
            Limit: q.limit,
            ...(position === 'start' ? {} : { ExclusiveStartKey: position }),
          }),
        ),
      );
      return res;
    }),
  );

  // Each shard returned its oldest `limit` items. An item not yet read from a shard that has more is
  // newer than everything read from it, so the merge is exact up to the oldest "last read" time among
  // such shards (the frontier); anything past it waits for the next page.
  let frontier: string | undefined;
  for (const page of pages) {
    if (!page?.LastEvaluatedKey) continue;
    const last = page.Items?.at(-1)?.createdAt?.S ?? '';
    if (frontier === undefined || last < frontier) frontier = last;
  }
  const merged = pages
    .flatMap((page, shard) => (page?.Items ?? []).map((item, i) => ({ item, shard, i })))
    .filter(({ item }) => frontier === undefined || (item.createdAt?.S ?? '') <= frontier)
    .sort((a, b) => compare(a.item.createdAt?.S ?? '', b.item.createdAt?.S ?? '') || a.shard - b.shard)
    .slice(0, q.limit);

  const next = positions.slice();
  const taken = new Map<number, number>();
  for (const { shard, i } of merged) taken.set(shard, Math.max(taken.get(shard) ?? -1, i));
  pages.forEach((page, shard) => {
    if (page === undefined) return;
    next[shard] = nextPosition(page, taken.get(shard), next[shard] as ShardPosition);
  });

  const orders = merged.map(({ item }) => ({
    merchantId: item.merchantId?.S ?? '',
    outTradeNo: item.outTradeNo?.S ?? '',
    createdAt: item.createdAt?.S ?? '',
    ...(item.appid?.S === undefined ? {} : { appid: item.appid.S }),
    ...(item.combineOutTradeNo?.S === undefined ? {} : { combineOutTradeNo: item.combineOutTradeNo.S }),
  }));
  return next.every((p) => p === 'done') ? { orders } : { orders, cursor: writeCursor(next) };
}

/** Where a shard stands after a page of which items 0..lastTaken were listed. */
function nextPosition(page: QueryCommandOutput, lastTaken: number | undefined, before: ShardPosition): ShardPosition {
  const items = page.Items ?? [];
  if (lastTaken === undefined) {
    // nothing of this shard listed: an empty shard is done; otherwise ask again from where it stood,
    // unless the page held nothing but a key to go on from (then go on from there)
    if (items.length === 0) return page.LastEvaluatedKey ?? 'done';
    return before;
  }
  if (lastTaken === items.length - 1 && !page.LastEvaluatedKey) return 'done';
  return indexKey(items[lastTaken] as Item);
}

/** The index key of an item: what DynamoDB wants as ExclusiveStartKey on the index. */
function indexKey(item: Item): Item {
  const key: Item = {};
  for (const name of ['pk', 'pending', 'createdAt']) {
    const value = item[name];
    if (value !== undefined) key[name] = value;
  }
  return key;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function writeCursor(positions: ShardPosition[]): string {
  return Buffer.from(JSON.stringify(positions)).toString('base64url');
}

/** Reads a cursor this module wrote; anything else is refused rather than queried with. */
function readCursor(cursor: string): ShardPosition[] {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw malformed('pending cursor is not one this store wrote');
  }
  const ok =
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((p) => p === 'start' || p === 'done' || (typeof p === 'object' && p !== null && !Array.isArray(p)));
  if (!ok) throw malformed('pending cursor is not one this store wrote');
  return value as ShardPosition[];
}

/** Counts unpaid orders created before `createdBefore` over `shards`, stopping at `max`. */
export async function countPendingBefore(
  table: Table,
  shards: number,
  createdBefore: string,
  max: number,
): Promise<number> {
  let count = 0;
  for (let k = 0; k < shards && count < max; k++) {
    let start: Item | undefined;
    do {
      const res = await send(() =>
        table.client.send(
          new QueryCommand({
            TableName: table.tableName,
            IndexName: PENDING_INDEX,
            KeyConditionExpression: 'pending = :p AND createdAt < :b',
            ExpressionAttributeValues: { ':p': S(pendingShardKey(k)), ':b': S(createdBefore) },
            Select: 'COUNT',
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        ),
      );
      count += res.Count ?? 0;
      start = res.LastEvaluatedKey;
    } while (start && count < max);
  }
  return Math.min(count, max);
}
