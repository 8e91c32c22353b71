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
import { recordProfitSharing } from './dynamo/profitSharing';
import { applyTransfer, getTransfer } from './dynamo/transfers';
import { applyRefund, getRefund } from './dynamo/refunds';
import type { Table } from './dynamo/transition';
import type { OrderStore } from './store';

export { toOrder } from './dynamo/orders';
export { toRefund } from './dynamo/refunds';
export { toTransfer } from './dynamo/transfers';

export interface DynamoOrderStoreOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Injected clock (epoch milliseconds). */
  now?: () => number;
}

/** Creates the DynamoDB implementation of the order store. */
export function createDynamoOrderStore(opts: DynamoOrderStoreOptions): OrderStore {
  const now = opts.now ?? Date.now;
  const table: Table = { client: opts.client, tableName: opts.tableName, iso: () => new Date(now()).toISOString() };
  return {
    registerOrder: (input) => registerOrder(table, input),
    applyPayment: (report, policy) => applyPayment(table, report, policy),
    applyClose: (merchantId, outTradeNo, reason) => applyClose(table, merchantId, outTradeNo, reason),
    listPending: (q) => listPending(table, q),
    countPendingBefore: (createdBefore, max) => countPendingBefore(table, createdBefore, max),
    getOrder: (merchantId, outTradeNo) => getOrder(table, merchantId, outTradeNo),
    applyRefund: (report) => applyRefund(table, report),
    recordCoupon: (event, eventId) => recordCoupon(table, event, eventId),
    getRefund: (merchantId, outRefundNo) => getRefund(table, merchantId, outRefundNo),
    applyTransfer: (report) => applyTransfer(table, report),
    getTransfer: (merchantId, outBillNo) => getTransfer(table, merchantId, outBillNo),
    recordProfitSharing: (report) => recordProfitSharing(table, report),
    recordEvent: (event) => recordEvent(table, event),
  };
}
