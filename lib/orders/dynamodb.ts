/**
 * The DynamoDB order store. Every state change is one conditional write whose condition admits only
 * the legal predecessor states: the write is the deduplication. A failed condition hands back the
 * current item (ALL_OLD), from which the outcome is decided without a second write.
 */
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { unavailable } from '../errors';
import { judgePayment, type Channel, type Order, type OrderRegistration, type OrderState, type PaymentOutcome, type PaymentReport, type RegisterOutcome } from './model';
import type { OrderStore, UnknownOrderPolicy } from './store';
import { orderKey } from './table';

type Item = Record<string, AttributeValue>;

export interface DynamoOrderStoreOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Injected clock (epoch milliseconds). */
  now?: () => number;
}

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });

/** Creates the DynamoDB implementation of the order store. */
export function createDynamoOrderStore(opts: DynamoOrderStoreOptions): OrderStore {
  const { client, tableName } = opts;
  const now = opts.now ?? Date.now;

  async function getOrder(merchantId: string, outTradeNo: string): Promise<Order | undefined> {
    const res = await send(() => client.send(new GetItemCommand({ TableName: tableName, Key: { pk: S(orderKey(merchantId, outTradeNo)) }, ConsistentRead: true })));
    return res.Item ? toOrder(res.Item) : undefined;
  }

  /** The current item after a failed condition: from the exception when the store returns it. */
  async function currentAfterFailure(err: ConditionalCheckFailedException, merchantId: string, outTradeNo: string): Promise<Order | undefined> {
    if (err.Item && Object.keys(err.Item).length > 0) return toOrder(err.Item);
    return getOrder(merchantId, outTradeNo);
  }

  async function registerOrder(input: OrderRegistration): Promise<RegisterOutcome> {
    const createdAt = input.createdAt ?? new Date(now()).toISOString();
    const item: Item = {
      pk: S(orderKey(input.merchantId, input.outTradeNo)),
      entity: S('ORDER'),
      outTradeNo: S(input.outTradeNo),
      merchantId: S(input.merchantId),
      state: S('NOTPAY'),
      amountFen: N(input.amountFen),
      amountUnverified: { BOOL: false },
      createdAt: S(createdAt),
      pending: S('NOTPAY'),
      ...(input.expiresAt !== undefined ? { ttl: N(input.expiresAt) } : {}),
    };
    try {
      await send(() =>
        client.send(new PutItemCommand({ TableName: tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })),
      );
      return { kind: 'REGISTERED', order: toOrder(item) };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const current = await currentAfterFailure(err, input.merchantId, input.outTradeNo);
      if (!current) return registerOrder(input); // deleted in between (TTL): try again
      const same = current.state === 'NOTPAY' && current.amountFen === input.amountFen;
      return { kind: same ? 'ALREADY_REGISTERED' : 'CONFLICT', order: current };
    }
  }

  async function applyPayment(report: PaymentReport, policy: UnknownOrderPolicy): Promise<PaymentOutcome> {
    const legal = '#state IN (:notpay, :closed) AND amountFen = :fen';
    const input = {
      TableName: tableName,
      Key: { pk: S(orderKey(report.merchantId, report.outTradeNo)) },
      UpdateExpression:
        'SET #state = :paid, transactionId = :tx, paidFen = :fen, paidAt = :paidAt, paidVia = :via, appliedAt = :now, ' +
        'previousState = if_not_exists(#state, :unregistered), amountFen = if_not_exists(amountFen, :fen), ' +
        'amountUnverified = if_not_exists(amountUnverified, :true), outTradeNo = :otn, merchantId = :mid, entity = :entity ' +
        'REMOVE pending, #ttl',
      ConditionExpression: policy === 'record' ? `attribute_not_exists(pk) OR (${legal})` : legal,
      ExpressionAttributeNames: { '#state': 'state', '#ttl': 'ttl' },
      ExpressionAttributeValues: {
        ':paid': S('PAID'),
        ':notpay': S('NOTPAY'),
        ':closed': S('CLOSED'),
        ':unregistered': S('UNREGISTERED'),
        ':tx': S(report.transactionId),
        ':fen': N(report.amountFen),
        ':paidAt': S(report.paidAt),
        ':via': S(report.channel),
        ':now': S(new Date(now()).toISOString()),
        ':true': { BOOL: true },
        ':otn': S(report.outTradeNo),
        ':mid': S(report.merchantId),
        ':entity': S('ORDER'),
      },
      ReturnValues: 'ALL_NEW' as const,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
    // Loops only where the store cannot return the old item and the order changed between the
    // failed write and the read: each pass is still one conditional write.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const res = await send(() => client.send(new UpdateItemCommand(input)));
        const order = toOrder(res.Attributes ?? {});
        return { kind: 'APPLIED', previous: order.previousState ?? 'UNREGISTERED', order };
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
        const current = await currentAfterFailure(err, report.merchantId, report.outTradeNo);
        if (!current && policy === 'reject') return { kind: 'UNKNOWN_ORDER' };
        const verdict = judgePayment(current, report);
        if (verdict !== 'APPLY') return verdict;
      }
    }
    throw unavailable('order changed concurrently, retry');
  }

  return { registerOrder, applyPayment, getOrder };
}

/** Runs a store call, turning every failure other than a failed condition into UNAVAILABLE. */
async function send<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) throw err;
    throw unavailable('order store unavailable', err);
  }
}

/** Reads an order item. */
export function toOrder(item: Item): Order {
  const s = (k: string) => item[k]?.S;
  const n = (k: string) => (item[k]?.N === undefined ? undefined : Number(item[k]?.N));
  const order: Order = {
    outTradeNo: s('outTradeNo') ?? '',
    merchantId: s('merchantId') ?? '',
    state: (s('state') ?? 'NOTPAY') as OrderState,
    amountFen: n('amountFen') ?? 0,
    amountUnverified: item.amountUnverified?.BOOL === true,
  };
  const optional: Array<[keyof Order, unknown]> = [
    ['createdAt', s('createdAt')],
    ['transactionId', s('transactionId')],
    ['paidFen', n('paidFen')],
    ['paidAt', s('paidAt')],
    ['paidVia', s('paidVia') as Channel | undefined],
    ['previousState', s('previousState')],
    ['closedAt', s('closedAt')],
  ];
  for (const [k, v] of optional) if (v !== undefined) (order as unknown as Record<string, unknown>)[k] = v;
  return order;
}
