/** Coupon events in the DynamoDB store: one conditional put per coupon code and event, the first wins. */
import { ConditionalCheckFailedException, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { CouponEvent, CouponOutcome } from '../model';
import { couponKey } from '../table';
import { N, S, send, type Item, type Table } from './transition';

/** The only legal predecessor of a coupon event's item: none. */
const NEW_EVENT = 'attribute_not_exists(pk)';

/** Records a coupon event once; a repeat finds it recorded. */
export async function recordCoupon(table: Table, event: CouponEvent, eventId: string): Promise<CouponOutcome> {
  const optional: Array<[string, AttributeValue | undefined]> = [
    ['openid', event.openid === undefined ? undefined : S(event.openid)],
    ['sendChannel', event.channel === undefined ? undefined : S(event.channel)],
    ['transactionId', event.transactionId === undefined ? undefined : S(event.transactionId)],
    ['amountFen', event.amountFen === undefined ? undefined : N(event.amountFen)],
  ];
  const item: Item = {
    pk: S(couponKey(event.stockId, event.couponCode, event.kind)),
    entity: S('COUPON'),
    state: S(event.kind),
    couponCode: S(event.couponCode),
    stockId: S(event.stockId),
    merchantId: S(event.merchantId),
    at: S(event.at),
    eventId: S(eventId),
    recordedAt: S(table.iso()),
    ...Object.fromEntries(optional.filter((e): e is [string, AttributeValue] => e[1] !== undefined)),
  };
  try {
    await send(() =>
      table.client.send(new PutItemCommand({ TableName: table.tableName, Item: item, ConditionExpression: NEW_EVENT })),
    );
    return { kind: 'RECORDED' };
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return { kind: 'ALREADY_RECORDED' };
    throw err;
  }
}
