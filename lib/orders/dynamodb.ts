/**
 * The DynamoDB order store: the OrderStore interface assembled from one module per entity (orders,
 * refunds, coupons, the pending index), all writing through the one `transition` primitive in
 * dynamo/transition.ts, whose conditions are built from named parts.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { recordCoupon } from './dynamo/coupons';
import { applyClose, applyPayment, getOrder, registerOrder } from './dynamo/orders';
import { recordEvent } from './dynamo/events';
import { countPendingBefore, listPending } from './dynamo/pending';
import {
  abandonRefund,
  applyRefund,
  getRefund,
  listPendingRefunds,
  recordRefundId,
  requestRefund,
  reserveRefund,
} from './dynamo/refunds';
import { recordProfitSharing } from './dynamo/profitSharing';
import { applyTransfer, getTransfer } from './dynamo/transfers';
import type { Table } from './dynamo/transition';
import type { OrderStore } from './store';
import { DEFAULT_PENDING_SHARDS, MAX_PENDING_SHARDS, type PendingShards } from './table';
import { configError } from '../errors';
import { isoFromMillis } from '../time';

export { toOrder } from './dynamo/orders';
export { toRefund } from './dynamo/refunds';
export { toTransfer } from './dynamo/transfers';

export interface DynamoOrderStoreOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Injected clock (epoch milliseconds). */
  now?: () => number;
  /**
   * Pending-index shards: new orders are spread over `write`, listings read `read` (≥ write). Must
   * match the stack's PENDING_SHARDS (lib/orders/table.ts); default DEFAULT_PENDING_SHARDS for both.
   */
  pendingShards?: PendingShards;
}

/** Creates the DynamoDB implementation of the order store. */
export function createDynamoOrderStore(opts: DynamoOrderStoreOptions): OrderStore {
  const now = opts.now ?? Date.now;
  const table: Table = { client: opts.client, tableName: opts.tableName, iso: () => isoFromMillis(now()) };
  const shards = opts.pendingShards ?? { write: DEFAULT_PENDING_SHARDS, read: DEFAULT_PENDING_SHARDS };
  const whole = Number.isInteger(shards.write) && Number.isInteger(shards.read);
  if (!(whole && shards.write >= 1 && shards.read >= shards.write && shards.read <= MAX_PENDING_SHARDS)) {
    throw configError(`pendingShards must satisfy 1 <= write <= read <= ${MAX_PENDING_SHARDS}`);
  }
  return {
    registerOrder: (input) => registerOrder(table, input, shards.write),
    applyPayment: (report, policy) => applyPayment(table, report, policy, shards.write),
    applyClose: (merchantId, outTradeNo, reason) => applyClose(table, merchantId, outTradeNo, reason),
    listPending: (q) => listPending(table, shards.read, q),
    countPendingBefore: (createdBefore, max) => countPendingBefore(table, shards.read, createdBefore, max),
    getOrder: (merchantId, outTradeNo) => getOrder(table, merchantId, outTradeNo),
    applyRefund: (report) => applyRefund(table, report),
    recordCoupon: (event, eventId) => recordCoupon(table, event, eventId),
    getRefund: (merchantId, outRefundNo) => getRefund(table, merchantId, outRefundNo),
    requestRefund: (request) => requestRefund(table, request),
    reserveRefund: (request) => reserveRefund(table, request),
    recordRefundId: (merchantId, outRefundNo, refundId) => recordRefundId(table, merchantId, outRefundNo, refundId),
    abandonRefund: (request) => abandonRefund(table, request),
    listPendingRefunds: (q) => listPendingRefunds(table, q),
    applyTransfer: (report) => applyTransfer(table, report),
    getTransfer: (merchantId, outBillNo) => getTransfer(table, merchantId, outBillNo),
    recordProfitSharing: (report) => recordProfitSharing(table, report),
    recordEvent: (event) => recordEvent(table, event),
  };
}
