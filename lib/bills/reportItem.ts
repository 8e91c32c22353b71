/**
 * The table's record of a day's reconciliation: one item per bill date and merchant, written with one
 * unconditional UpdateItem that replaces its fields, so a re-run overwrites it instead of adding one.
 * The item has no `state` or `entity`, so the stream consumer sees no domain event in it.
 */
import { type DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { type BillReport, discrepancies } from './run';

/** Partition key of a day's report item. */
export const billReportKey = (merchantId: string, billDate: string) => `BILLREPORT#${merchantId}#${billDate}`;

/** What the item says of a run (the findings themselves are in the report file at `location`). */
export interface BillReportItem {
  billDate: string;
  merchantId: string;
  ranAt: string;
  protocol: 'v2' | 'v3';
  sha1: string;
  rows: number;
  repaired: number;
  /** Non-MATCH findings. */
  discrepancies: number;
  counts: Record<string, number>;
  /** Where the report file went (a path locally, `s3://bucket/key` in AWS). */
  location: string;
}

/** Writes (or overwrites) the day's report item: BillRunDeps.recordReport. */
export function billReportRecorder(
  client: DynamoDBClient,
  tableName: string,
): (report: BillReport, location: string) => Promise<void> {
  return async (report: BillReport, location: string): Promise<void> => {
    const { totals } = report;
    await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: { S: billReportKey(report.merchantId, report.billDate) } },
        UpdateExpression:
          'SET billDate = :d, merchantId = :m, ranAt = :at, protocol = :p, sha1 = :h, #rows = :r, repaired = :rep, discrepancies = :x, #counts = :c, #location = :l',
        ExpressionAttributeNames: { '#rows': 'rows', '#counts': 'counts', '#location': 'location' },
        ExpressionAttributeValues: {
          ':d': { S: report.billDate },
          ':m': { S: report.merchantId },
          ':at': { S: report.ranAt },
          ':p': { S: report.protocol },
          ':h': { S: report.sha1 },
          ':r': { N: String(totals.rows) },
          ':rep': { N: String(totals.repaired) },
          ':x': { N: String(discrepancies(totals)) },
          ':c': { M: Object.fromEntries(Object.entries(totals.counts).map(([k, n]) => [k, { N: String(n) }])) },
          ':l': { S: location },
        },
      }),
    );
  };
}

/** Reads the day's report item (strongly consistent); undefined when that day was never reconciled. */
export async function readBillReport(
  client: DynamoDBClient,
  tableName: string,
  merchantId: string,
  billDate: string,
): Promise<BillReportItem | undefined> {
  const out = await client.send(
    new GetItemCommand({
      TableName: tableName,
      Key: { pk: { S: billReportKey(merchantId, billDate) } },
      ConsistentRead: true,
    }),
  );
  const item = out.Item;
  if (item === undefined) return undefined;
  const s = (k: string) => item[k]?.S ?? '';
  const n = (k: string) => Number(item[k]?.N ?? 0);
  return {
    billDate: s('billDate'),
    merchantId: s('merchantId'),
    ranAt: s('ranAt'),
    protocol: s('protocol') === 'v2' ? 'v2' : 'v3',
    sha1: s('sha1'),
    rows: n('rows'),
    repaired: n('repaired'),
    discrepancies: n('discrepancies'),
    counts: Object.fromEntries(Object.entries(item.counts?.M ?? {}).map(([k, v]) => [k, Number(v.N ?? 0)])),
    location: s('location'),
  };
}
