/** The table's key layout and definition, shared by the store, the local stack and the tests. */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/** Partition key of an order item. */
export const orderKey = (merchantId: string, outTradeNo: string) => `ORDER#${merchantId}#${outTradeNo}`;

/** Partition key of a refund item (one per out_refund_no). */
export const refundKey = (merchantId: string, outRefundNo: string) => `REFUND#${merchantId}#${outRefundNo}`;

/** Partition key of a coupon event item (one per coupon code and event). */
export const couponKey = (stockId: string, couponCode: string, kind: 'SENT' | 'USED') =>
  `COUPON#${stockId}#${couponCode}#${kind}`;

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
        Projection: {
          ProjectionType: 'INCLUDE',
          NonKeyAttributes: ['merchantId', 'outTradeNo', 'appid', 'combineOutTradeNo'],
        },
      },
    ],
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
  };
}
