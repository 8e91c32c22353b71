/**
 * The DynamoDB order store. Every state change is one conditional write whose condition admits only
 * the legal predecessor states: the write is the deduplication. A failed condition hands back the
 * current item (ALL_OLD), from which the outcome is decided without a second write.
 */
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { unavailable } from '../errors';
import {
  judgePayment,
  judgeRefund,
  REFUND_PREDECESSORS,
  type Channel,
  type CloseOutcome,
  type CloseReason,
  type PendingOrder,
  type CouponEvent,
  type CouponOutcome,
  type Order,
  type OrderRegistration,
  type OrderState,
  type PaymentOutcome,
  type PaymentReport,
  type Refund,
  type RefundOutcome,
  type RefundReport,
  type RefundState,
  type RegisterOutcome,
} from './model';
import type { OrderStore, UnknownOrderPolicy } from './store';
import { couponKey, orderKey, PENDING_INDEX, refundKey } from './table';

type Item = Record<string, AttributeValue>;
type Write = Omit<UpdateItemCommandInput, 'TableName'>;

export interface DynamoOrderStoreOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Injected clock (epoch milliseconds). */
  now?: () => number;
}

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });
const MAX_PASSES = 3;

/** Creates the DynamoDB implementation of the order store. */
export function createDynamoOrderStore(opts: DynamoOrderStoreOptions): OrderStore {
  const { client, tableName } = opts;
  const now = opts.now ?? Date.now;
  const iso = () => new Date(now()).toISOString();

  async function read(pk: string): Promise<Item | undefined> {
    const res = await send(() =>
      client.send(new GetItemCommand({ TableName: tableName, Key: { pk: S(pk) }, ConsistentRead: true })),
    );
    return res.Item;
  }

  /**
   * One conditional write, and on refusal the decision from the current item: from the exception
   * when the store returns it (ALL_OLD), else from one consistent read. `decide` may answer 'RETRY'
   * only when the item changed between a refused write and that read (stores without ALL_OLD).
   */
  async function transition<T>(
    input: Write,
    onWritten: (item: Item) => T,
    decide: (current: Item | undefined) => T | 'RETRY',
  ): Promise<T> {
    const request: UpdateItemCommandInput = {
      ...input,
      TableName: tableName,
      ReturnValues: 'ALL_NEW',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    };
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      try {
        const res = await send(() => client.send(new UpdateItemCommand(request)));
        return onWritten(res.Attributes ?? {});
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
        const current = err.Item && Object.keys(err.Item).length > 0 ? err.Item : await read(request.Key?.pk?.S ?? '');
        const verdict = decide(current);
        if (verdict !== 'RETRY') return verdict;
      }
    }
    throw unavailable('record changed concurrently, retry');
  }

  async function registerOrder(input: OrderRegistration): Promise<RegisterOutcome> {
    // an UpdateItem, not a PutItem: a refund that arrived first may have left its tally on the key
    return transition<RegisterOutcome>(
      {
        Key: { pk: S(orderKey(input.merchantId, input.outTradeNo)) },
        UpdateExpression:
          'SET entity = :entity, outTradeNo = :otn, merchantId = :mid, #state = :notpay, amountFen = :fen, amountUnverified = :false, createdAt = :created, pending = :notpay' +
          (input.expiresAt !== undefined ? ', #ttl = :ttl' : ''),
        ConditionExpression: 'attribute_not_exists(#state)',
        ExpressionAttributeNames: { '#state': 'state', ...(input.expiresAt !== undefined ? { '#ttl': 'ttl' } : {}) },
        ExpressionAttributeValues: {
          ':entity': S('ORDER'),
          ':otn': S(input.outTradeNo),
          ':mid': S(input.merchantId),
          ':notpay': S('NOTPAY'),
          ':fen': N(input.amountFen),
          ':false': { BOOL: false },
          ':created': S(input.createdAt ?? iso()),
          ...(input.expiresAt !== undefined ? { ':ttl': N(input.expiresAt) } : {}),
        },
      },
      (item) => ({ kind: 'REGISTERED', order: toOrder(item) as Order }),
      (item) => {
        const current = item && toOrder(item);
        if (!current) return 'RETRY';
        const same = current.state === 'NOTPAY' && current.amountFen === input.amountFen;
        return { kind: same ? 'ALREADY_REGISTERED' : 'CONFLICT', order: current };
      },
    );
  }

  async function applyPayment(report: PaymentReport, policy: UnknownOrderPolicy): Promise<PaymentOutcome> {
    const legal = '#state IN (:notpay, :closed) AND amountFen = :fen';
    return transition(
      {
        Key: { pk: S(orderKey(report.merchantId, report.outTradeNo)) },
        UpdateExpression:
          'SET #state = :paid, transactionId = :tx, paidFen = :fen, paidAt = :paidAt, paidVia = :via, appliedAt = :now, ' +
          'previousState = if_not_exists(#state, :unregistered), amountFen = if_not_exists(amountFen, :fen), ' +
          'amountUnverified = if_not_exists(amountUnverified, :true), outTradeNo = :otn, merchantId = :mid, entity = :entity ' +
          'REMOVE pending, #ttl',
        // no state at all: never registered (at most a refund tally is there)
        ConditionExpression: policy === 'record' ? `attribute_not_exists(#state) OR (${legal})` : legal,
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
          ':now': S(iso()),
          ':true': { BOOL: true },
          ':otn': S(report.outTradeNo),
          ':mid': S(report.merchantId),
          ':entity': S('ORDER'),
        },
      },
      (item): PaymentOutcome => {
        const order = toOrder(item) as Order;
        return { kind: 'APPLIED', previous: order.previousState ?? 'UNREGISTERED', order };
      },
      (item) => {
        const current = item && toOrder(item);
        if (!current && policy === 'reject') return { kind: 'UNKNOWN_ORDER' };
        const verdict = judgePayment(current, report);
        return verdict === 'APPLY' ? 'RETRY' : verdict;
      },
    );
  }

  async function applyClose(
    merchantId: string,
    outTradeNo: string,
    reason: CloseReason = 'CLOSED',
  ): Promise<CloseOutcome> {
    return transition<CloseOutcome>(
      {
        Key: { pk: S(orderKey(merchantId, outTradeNo)) },
        UpdateExpression: 'SET #state = :closed, closedAt = :now, closedReason = :reason REMOVE pending',
        ConditionExpression: '#state = :notpay',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: {
          ':closed': S('CLOSED'),
          ':notpay': S('NOTPAY'),
          ':now': S(iso()),
          ':reason': S(reason),
        },
      },
      (item) => ({ kind: 'CLOSED', order: toOrder(item) as Order }),
      (item) => {
        const current = item && toOrder(item);
        if (!current) return { kind: 'UNKNOWN_ORDER' };
        if (current.state === 'PAID') return { kind: 'PAID', order: current };
        if (current.state === 'CLOSED') return { kind: 'ALREADY_CLOSED', order: current };
        return 'RETRY';
      },
    );
  }

  async function listPending(q: {
    createdAfter: string;
    createdBefore: string;
    limit: number;
    cursor?: string;
  }): Promise<{ orders: PendingOrder[]; cursor?: string }> {
    const res = await send(() =>
      client.send(
        new QueryCommand({
          TableName: tableName,
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
    }));
    return res.LastEvaluatedKey
      ? { orders, cursor: Buffer.from(JSON.stringify(res.LastEvaluatedKey)).toString('base64url') }
      : { orders };
  }

  async function countPendingBefore(createdBefore: string, max: number): Promise<number> {
    let count = 0;
    let start: Item | undefined;
    do {
      const res = await send(() =>
        client.send(
          new QueryCommand({
            TableName: tableName,
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

  async function applyRefund(report: RefundReport): Promise<RefundOutcome & { exceedsPaid?: boolean }> {
    const preds = REFUND_PREDECESSORS[report.state];
    const names: Record<string, string> = { '#state': 'state' };
    const values: Item = {
      ':to': S(report.state),
      ':entity': S('REFUND'),
      ':orn': S(report.outRefundNo),
      ':otn': S(report.outTradeNo),
      ':mid': S(report.merchantId),
      ':rid': S(report.refundId),
      ':rf': N(report.refundFen),
      ':tf': N(report.totalFen),
      ':via': S(report.channel),
      ':now': S(iso()),
      ':processing': S('PROCESSING'),
    };
    for (const [i, p] of preds.entries()) values[`:p${i}`] = S(p);
    let set =
      'SET #state = :to, entity = :entity, outRefundNo = :orn, outTradeNo = :otn, merchantId = :mid, refundId = :rid, ' +
      'refundFen = :rf, totalFen = :tf, lastVia = :via, updatedAt = :now, previousState = if_not_exists(#state, :processing)';
    if (report.transactionId !== undefined) {
      set += ', transactionId = :tx';
      values[':tx'] = S(report.transactionId);
    }
    if (report.successAt !== undefined) {
      set += ', successAt = :sa';
      values[':sa'] = S(report.successAt);
    }
    const outcome = await transition<RefundOutcome>(
      {
        Key: { pk: S(refundKey(report.merchantId, report.outRefundNo)) },
        UpdateExpression: set,
        ConditionExpression: `attribute_not_exists(#state) OR #state IN (${preds.map((_, i) => `:p${i}`).join(', ')})`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
      (item) => {
        const refund = toRefund(item);
        return { kind: 'APPLIED', refund, previous: refund.previousState ?? 'PROCESSING' };
      },
      (item) => {
        // no item after a refused write: it changed in between (stores without ALL_OLD); write again
        if (!item?.state) return 'RETRY';
        const verdict = judgeRefund(toRefund(item), report);
        return verdict === 'APPLY' ? 'RETRY' : verdict;
      },
    );
    const succeeded = report.state === 'SUCCESS' && (outcome.kind === 'APPLIED' || outcome.kind === 'ALREADY_APPLIED');
    return succeeded ? { ...outcome, exceedsPaid: await tallyRefund(report) } : outcome;
  }

  /**
   * Adds a successful refund to its order's refunded total, once per out_refund_no (the set of
   * counted refund numbers is the guard). Run on every successful delivery, so a crash between the
   * refund's write and this one is repaired by WeChat's retry. Says whether refunds now exceed the paid amount.
   */
  async function tallyRefund(report: RefundReport): Promise<boolean> {
    const exceeds = (item: Item | undefined) => {
      const order = item && toOrder(item);
      return order?.state === 'PAID' && (order.refundedFen ?? 0) > (order.paidFen ?? order.amountFen);
    };
    return transition(
      {
        Key: { pk: S(orderKey(report.merchantId, report.outTradeNo)) },
        UpdateExpression: 'ADD refundedFen :rf, refundNos :no',
        ConditionExpression: 'NOT contains(refundNos, :one)',
        ExpressionAttributeValues: {
          ':rf': N(report.refundFen),
          ':no': { SS: [report.outRefundNo] },
          ':one': S(report.outRefundNo),
        },
      },
      (item) => exceeds(item),
      (item) => exceeds(item),
    );
  }

  async function recordCoupon(event: CouponEvent, eventId: string): Promise<CouponOutcome> {
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
      recordedAt: S(iso()),
      ...Object.fromEntries(optional.filter((e): e is [string, AttributeValue] => e[1] !== undefined)),
    };
    try {
      await send(() =>
        client.send(
          new PutItemCommand({ TableName: tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }),
        ),
      );
      return { kind: 'RECORDED' };
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return { kind: 'ALREADY_RECORDED' };
      throw err;
    }
  }

  return {
    registerOrder,
    recordCoupon,
    applyPayment,
    applyClose,
    listPending,
    countPendingBefore,
    getOrder: async (merchantId, outTradeNo) => {
      const item = await read(orderKey(merchantId, outTradeNo));
      return item && toOrder(item);
    },
    applyRefund,
    getRefund: async (merchantId, outRefundNo) => {
      const item = await read(refundKey(merchantId, outRefundNo));
      return item?.state ? toRefund(item) : undefined;
    },
  };
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

type Reader = { s(k: string): string | undefined; n(k: string): number | undefined };
const reader = (item: Item): Reader => ({
  s: (k) => item[k]?.S,
  n: (k) => (item[k]?.N === undefined ? undefined : Number(item[k]?.N)),
});

/** Copies the defined values of `extra` onto `target`. */
function withOptional<T extends object>(target: T, extra: Partial<T>): T {
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) (target as Record<string, unknown>)[k] = v;
  return target;
}

/** Reads an order item; undefined for a key that holds no order yet (only an early refund tally). */
export function toOrder(item: Item): Order | undefined {
  const { s, n } = reader(item);
  const state = s('state') as OrderState | undefined;
  if (state === undefined) return undefined;
  return withOptional<Order>(
    {
      outTradeNo: s('outTradeNo') ?? '',
      merchantId: s('merchantId') ?? '',
      state,
      amountFen: n('amountFen') ?? 0,
      amountUnverified: item.amountUnverified?.BOOL === true,
    },
    {
      createdAt: s('createdAt'),
      transactionId: s('transactionId'),
      paidFen: n('paidFen'),
      paidAt: s('paidAt'),
      paidVia: s('paidVia') as Channel | undefined,
      previousState: s('previousState') as Order['previousState'],
      closedAt: s('closedAt'),
      closedReason: s('closedReason') as Order['closedReason'],
      refundedFen: n('refundedFen'),
    },
  );
}

/** Reads a refund item; an absent item reads as a PROCESSING refund with no fields. */
export function toRefund(item: Item): Refund {
  const { s, n } = reader(item);
  return withOptional<Refund>(
    {
      outRefundNo: s('outRefundNo') ?? '',
      outTradeNo: s('outTradeNo') ?? '',
      merchantId: s('merchantId') ?? '',
      refundId: s('refundId') ?? '',
      state: (s('state') as RefundState | undefined) ?? 'PROCESSING',
      refundFen: n('refundFen') ?? 0,
      totalFen: n('totalFen') ?? 0,
    },
    { successAt: s('successAt'), previousState: s('previousState') as RefundState | undefined },
  );
}
