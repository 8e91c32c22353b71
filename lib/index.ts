/**
 * The public library surface for the merchant's own functions: register orders before the customer
 * pays, read them back, and the types of what the service records.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from './orders/client';
import { createDynamoOrderStore } from './orders/dynamodb';
import type { OrderStore } from './orders/store';

export type {
  Order,
  OrderRegistration,
  OrderState,
  PaymentOutcome,
  PaymentReport,
  RegisterOutcome,
} from './orders/model';
export type { OrderStore, UnknownOrderPolicy } from './orders/store';
export { fenToYuan, yuanToFen } from './money';

/** The order store on the payments table (PAYMENTS_TABLE by default), for the merchant's functions. */
export function createOrderStore(
  opts: { tableName?: string; client?: DynamoDBClient; endpoint?: string } = {},
): OrderStore {
  const tableName = opts.tableName ?? process.env.PAYMENTS_TABLE;
  if (!tableName) throw new Error('createOrderStore: tableName or PAYMENTS_TABLE is required');
  const client = opts.client ?? createDynamoClient({ endpoint: opts.endpoint ?? process.env.DYNAMODB_ENDPOINT });
  return createDynamoOrderStore({ client, tableName });
}
