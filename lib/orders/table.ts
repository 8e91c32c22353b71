/** The table's key layout and definition, shared by the store, the local stack and the tests. */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/** Partition key of an order item. */
export const orderKey = (merchantId: string, outTradeNo: string) => `ORDER#${merchantId}#${outTradeNo}`;

/** Partition key of a refund item (one per out_refund_no). */
export const refundKey = (merchantId: string, outRefundNo: string) => `REFUND#${merchantId}#${outRefundNo}`;

/** Partition key of a coupon event item (one per coupon code and event). */
export const couponKey = (stockId: string, couponCode: string, kind: 'SENT' | 'USED') =>
  `COUPON#${stockId}#${couponCode}#${kind}`;

/** Partition key of a transfer to a user (one per out_bill_no). */
export const transferKey = (merchantId: string, outBillNo: string) => `TRANSFER#${merchantId}#${outBillNo}`;

/** Partition key of a profit-sharing movement (one per event type, WeChat's sharing order and receiver). */
export const profitSharingKey = (m: {
  eventType: string;
  merchantId: string;
  orderId: string;
  receiverType: string;
  receiverAccount: string;
}) => `PROFITSHARING#${m.merchantId}#${m.orderId}#${m.eventType}#${m.receiverType}#${m.receiverAccount}`;

/** Partition key of an event kept as it came (one per notification id). */
export const eventKey = (eventId: string) => `EVENT#${eventId}`;

/** Name of the sparse index of unpaid orders (items carry `pending` only while NOTPAY). */
export const PENDING_INDEX = 'pending-by-created';

/** The table as serverless.yml declares it, for DynamoDB Local and tests. */
export function tableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'pending', AttributeType: 'S' },
      { AttributeName: 'createdAt', AttributeType: 'S' },
    ],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    GlobalSecondaryIndexes: [
      {
        IndexName: PENDING_INDEX,
        KeySchema: [
          { AttributeName: 'pending', KeyType: 'HASH' },
          { AttributeName: 'createdAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['merchantId', 'outTradeNo'] },
      },
    ],
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
  };
}
