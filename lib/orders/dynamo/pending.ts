/** The sparse pending index: unpaid orders by creation time, read page by page (never a table scan). */
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import type { PendingOrder } from '../model';
import { PENDING_INDEX } from '../table';
import { S, send, type Item, type Table } from './transition';

/** Lists unpaid orders created in [createdAfter, createdBefore], oldest first, one page at a time. */
export async function listPending(
  table: Table,
  q: { createdAfter: string; createdBefore: string; limit: number; cursor?: string },
): Promise<{ orders: PendingOrder[]; cursor?: string }> {
  const res = await send(() =>
    table.client.send(
      new QueryCommand({
        TableName: table.tableName,
        IndexName: PENDING_INDEX,
        KeyConditionExpression: 'pending = :p AND createdAt BETWEEN :a AND :b',
        ExpressionAttributeValues: { ':p': S('NOTPAY'), ':a': S(q.createdAfter), ':b': S(q.createdBefore) },
        Limit: q.limit,
        ...(q.cursor
          ? { ExclusiveStartKey: JSON.parse(Buffer.from(q.cursor, 'base64url').toString('utf8')) as Item }
          : {}),
      }),
    ),
  );
  const orders = (res.Items ?? []).map((item) => ({
    merchantId: item.merchantId?.S ?? '',
    outTradeNo: item.outTradeNo?.S ?? '',
    createdAt: item.createdAt?.S ?? '',
    ...(item.appid?.S === undefined ? {} : { appid: item.appid.S }),
    ...(item.combineOutTradeNo?.S === undefined ? {} : { combineOutTradeNo: item.combineOutTradeNo.S }),
  }));
  return res.LastEvaluatedKey
    ? { orders, cursor: Buffer.from(JSON.stringify(res.LastEvaluatedKey)).toString('base64url') }
    : { orders };
}

/** Counts unpaid orders created before `createdBefore`, stopping at `max`. */
export async function countPendingBefore(table: Table, createdBefore: string, max: number): Promise<number> {
  let count = 0;
  let start: Item | undefined;
  do {
    const res = await send(() =>
      table.client.send(
        new QueryCommand({
          TableName: table.tableName,
          IndexName: PENDING_INDEX,
          KeyConditionExpression: 'pending = :p AND createdAt < :b',
          ExpressionAttributeValues: { ':p': S('NOTPAY'), ':b': S(createdBefore) },
          Select: 'COUNT',
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      ),
    );
    count += res.Count ?? 0;
    start = res.LastEvaluatedKey;
  } while (start && count < max);
  return Math.min(count, max);
}
