/** The table's key layout and definition, shared by the store, the local stack and the tests. */
import { hash } from 'node:crypto';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { configError } from '../errors';
import { isoFromMillis } from '../time';

/** Partition key of an order item. */
export const orderKey = (merchantId: string, outTradeNo: string) => `ORDER#${merchantId}#${outTradeNo}`;

/** Partition key of a refund item (one per out_refund_no). */
export const refundKey = (merchantId: string, outRefundNo: string) => `REFUND#${merchantId}#${outRefundNo}`;

/** Partition key of a coupon event item (one per coupon code and event). */
export const couponKey = (stockId: string, couponCode: string, kind: 'SENT' | 'USED') =>
  `COUPON#${stockId}#${couponCode}#${kind}`;

/** Partition key of a transfer to a user (one per out_bill_no). */
export const transferKey = (merchantId: string, outBillNo: string) => `TRANSFER#${merchantId}#${outBillNo}`;

/**
 * Partition key of a profit-sharing movement (one per event type, WeChat's sharing order and receiver;
 * and per notification when the event type cannot tell a split from its return).
 */
export const profitSharingKey = (m: {
  eventType: string;
  merchantId: string;
  orderId: string;
  receiverType: string;
  receiverAccount: string;
  notificationId?: string;
}) =>
  `PROFITSHARING#${m.merchantId}#${m.orderId}#${m.eventType}#${m.receiverType}#${m.receiverAccount}` +
  (m.notificationId === undefined ? '' : `#${m.notificationId}`);

/** Partition key of an event kept as it came (one per notification id). */
export const eventKey = (eventId: string) => `EVENT#${eventId}`;

/** Name of the sparse index of unpaid orders (items carry `pending`, their shard key, only while NOTPAY). */
export const PENDING_INDEX = 'pending-by-created';

/**
 * How many partition-key values the pending index spreads unpaid orders over. One value (`NOTPAY`)
 * is one index partition, and a partition takes about 1,000 writes a second (the README's "Operating it").
 */
export const DEFAULT_PENDING_SHARDS = 8;
/** The most shards a deployment may configure: reconciliation queries every one of them per page. */
export const MAX_PENDING_SHARDS = 64;

/**
 * The index partition key of shard `k`. Shard 0 keeps the unsharded value `NOTPAY`, so orders written
 * before sharding (and any written with one shard) stay where every reader looks.
 */
export const pendingShardKey = (k: number) => (k === 0 ? 'NOTPAY' : `NOTPAY#${k}`);

/**
 * The shard an order's pending entry goes to: the first 32 bits of the SHA-256 of its key, mod
 * `shards`. (A multiply-and-xor hash such as FNV-1a would not do: its low bits depend only on the low
 * bits of each character, so order numbers that differ in letters alone could all share a shard.)
 */
export function pendingShardOf(merchantId: string, outTradeNo: string, shards: number): number {
  // crypto.hash: the one-shot digest (Node 20.12+), the same SHA-256 without a Hash object per call. Its
  // first 8 hex digits are the first 32 bits, big-endian: the hex text costs a third of a Buffer's making
  return Number.parseInt(hash('sha256', orderKey(merchantId, outTradeNo), 'hex').slice(0, 8), 16) % shards;
}

/** Name of the sparse index of paid orders by Beijing paid day (items carry `paidDay` once paid through WeChat Pay). */
export const PAID_DAY_INDEX = 'paid-by-day';

const BEIJING_OFFSET_MS = 8 * 3_600_000;

/** The index partition key of shard `k` of a Beijing day (`yyyy-MM-dd`): `PAIDDAY#<yyyymmdd>#<k>`. */
export const paidDayShardKey = (day: string, k: number) => `PAIDDAY#${day.replaceAll('-', '')}#${k}`;

/**
 * The paid-day entry of an order paid at `paidAt` (an ISO instant): its Beijing calendar day, on the
 * order's shard (the same hash as its pending entry, over the same count). Undefined for a time that
 * does not parse: such a payment is simply not listed by day.
 */
export function paidDayKey(paidAt: string, merchantId: string, outTradeNo: string, shards: number): string | undefined {
  const ms = Date.parse(paidAt);
  if (Number.isNaN(ms)) return undefined;
  const day = isoFromMillis(ms + BEIJING_OFFSET_MS).slice(0, 10);
  return paidDayShardKey(day, pendingShardOf(merchantId, outTradeNo, shards));
}

/** Shard counts: `write` spreads new orders, `read` (≥ write) is how many shards reconciliation reads. */
export interface PendingShards {
  write: number;
  read: number;
}

/**
 * Reads PENDING_SHARDS (default DEFAULT_PENDING_SHARDS) and PENDING_SHARDS_READ (default: the same).
 * Lowering PENDING_SHARDS would strand orders written to the higher shards, so PENDING_SHARDS_READ
 * keeps the old count until they have left the index (the README's "Operating it"); it may never be lower.
 */
export function pendingShardsFromEnv(env: Readonly<Record<string, string | undefined>>): PendingShards {
  const count = (name: string, fallback: number) => {
    const text = env[name]?.trim();
    if (!text) return fallback;
    const n = /^\d{1,3}$/.test(text) ? Number(text) : Number.NaN;
    if (!(n >= 1 && n <= MAX_PENDING_SHARDS)) {
      throw configError(`${name} must be a whole number of shards from 1 to ${MAX_PENDING_SHARDS}`);
    }
    return n;
  };
  const write = count('PENDING_SHARDS', DEFAULT_PENDING_SHARDS);
  const read = count('PENDING_SHARDS_READ', write);
  if (read < write) throw configError('PENDING_SHARDS_READ must not be lower than PENDING_SHARDS');
  return { write, read };
}

/** The table as serverless.yml declares it, for DynamoDB Local and tests. */
export function tableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'pending', AttributeType: 'S' },
      { AttributeName: 'createdAt', AttributeType: 'S' },
      { AttributeName: 'paidDay', AttributeType: 'S' },
      { AttributeName: 'merchantId', AttributeType: 'S' },
    ],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    GlobalSecondaryIndexes: [
      {
        IndexName: PENDING_INDEX,
        KeySchema: [
          { AttributeName: 'pending', KeyType: 'HASH' },
          { AttributeName: 'createdAt', KeyType: 'RANGE' },
        ],
        Projection: {
          ProjectionType: 'INCLUDE',
          NonKeyAttributes: ['merchantId', 'outTradeNo', 'appid', 'combineOutTradeNo'],
        },
      },
      {
        // sparse: only orders paid through WeChat Pay carry `paidDay`; sorted by merchant, so the bill
        // run lists one merchant's day and finds which merchants had one (lib/bills/table.ts)
        IndexName: PAID_DAY_INDEX,
        KeySchema: [
          { AttributeName: 'paidDay', KeyType: 'HASH' },
          { AttributeName: 'merchantId', KeyType: 'RANGE' },
        ],
        Projection: {
          ProjectionType: 'INCLUDE',
          NonKeyAttributes: ['outTradeNo', 'state', 'transactionId', 'paidFen'],
        },
      },
    ],
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
  };
}
