/**
 * The one write primitive of the DynamoDB store, and the named parts its conditions are built from.
 * Every state change is one conditional UpdateItem whose condition admits only the legal predecessor
 * states: the write is the deduplication. A refused write hands back the current item (ALL_OLD), or,
 * where the engine does not, one consistent read does; the outcome is decided from it without a
 * second write.
 */
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { unavailable } from '../../errors';

export type Item = Record<string, AttributeValue>;

/** The table an entity module writes to, with the injected clock. */
export interface Table {
  client: DynamoDBClient;
  tableName: string;
  /** The injected clock, as an ISO-8601 instant. */
  iso: () => string;
}

/** A string attribute value. */
export const S = (s: string): AttributeValue => ({ S: s });
/** A number attribute value. */
export const N = (n: number): AttributeValue => ({ N: String(n) });

const MAX_PASSES = 3;

/** A condition part: its expression and the names and values it uses. */
export interface Condition {
  expression: string;
  names: Record<string, string>;
  values: Item;
}

const STATE = { '#state': 'state' };

/** The key holds no state yet: never registered (at most an early refund tally is there), or a refund never seen. */
export const NO_STATE: Condition = { expression: 'attribute_not_exists(#state)', names: STATE, values: {} };

/** The item is in one of `states`. */
export function stateIn(...states: string[]): Condition {
  const values: Item = Object.fromEntries(states.map((s) => [`:was_${s}`, S(s)]));
  return { expression: `#state IN (${Object.keys(values).join(', ')})`, names: STATE, values };
}

/** The registered amount is the write's own value `valueName` (the condition sends no value of its own). */
export function amountIsWriteValue(valueName: string): Condition {
  return { expression: `amountFen = ${valueName}`, names: {}, values: {} };
}

/**
 * The order was registered for `channel`. Orders stored before channels existed carry none and are
 * WeChat Pay's, so only the WeChat side admits a missing attribute; the aggregator needs it stated.
 * Given `valueName`, the channel is compared with that value of the write itself (which must hold
 * `channel`), and the condition sends no value of its own.
 */
export function channelIs(channel: 'wechatpay' | 'aggregator', valueName?: string): Condition {
  const names = { '#channel': 'channel' };
  const ref = valueName ?? ':was_channel';
  const values: Item = valueName === undefined ? { ':was_channel': S(channel) } : {};
  return channel === 'aggregator'
    ? { expression: `#channel = ${ref}`, names, values }
    : { expression: `attribute_not_exists(#channel) OR #channel = ${ref}`, names, values };
}

/** `outRefundNo` is not yet among the refunds counted in the order's refunded total. */
export function notCounted(outRefundNo: string): Condition {
  return { expression: 'NOT contains(refundNos, :was_counted)', names: {}, values: { ':was_counted': S(outRefundNo) } };
}

/** The order was paid exactly `fen` (pins the paid amount a reservation was computed from). */
export function paidIs(fen: number): Condition {
  return { expression: 'paidFen = :was_paidFen', names: {}, values: { ':was_paidFen': N(fen) } };
}

/** The order's refunded total is exactly `fen` (absent counts as 0). */
export function refundedIs(fen: number): Condition {
  const values = { ':was_refundedFen': N(fen) };
  return fen === 0
    ? { expression: 'attribute_not_exists(refundedFen) OR refundedFen = :was_refundedFen', names: {}, values }
    : { expression: 'refundedFen = :was_refundedFen', names: {}, values };
}

/** The order holds at most `fen` in reservations (absent counts as 0). */
export function reservedAtMost(fen: number): Condition {
  return {
    expression: 'attribute_not_exists(reservedFen) OR reservedFen <= :max_reservedFen',
    names: {},
    values: { ':max_reservedFen': N(fen) },
  };
}

/** `outRefundNo` holds no reservation on the order. */
export function notReserved(outRefundNo: string): Condition {
  return {
    expression: 'NOT contains(reservedNos, :was_unreserved)',
    names: {},
    values: { ':was_unreserved': S(outRefundNo) },
  };
}

/** `outRefundNo` holds a reservation on the order. */
export function reservedFor(outRefundNo: string): Condition {
  return { expression: 'contains(reservedNos, :was_reserved)', names: {}, values: { ':was_reserved': S(outRefundNo) } };
}

/** WeChat has not yet handed out an id for the refund. */
export function noRefundId(): Condition {
  return { expression: 'attribute_not_exists(refundId)', names: {}, values: {} };
}

/** A refund item asks for exactly `fen`. */
export function refundIs(fen: number): Condition {
  return { expression: 'refundFen = :was_refundFen', names: {}, values: { ':was_refundFen': N(fen) } };
}

/** Any of the parts holds. */
export function anyOf(...parts: Condition[]): Condition {
  return join(parts, ' OR ');
}

/** All of the parts hold. */
export function allOf(...parts: Condition[]): Condition {
  return join(parts, ' AND ');
}

function join(parts: Condition[], op: string): Condition {
  return {
    expression: parts
      .map((p) => (parts.length > 1 && / (AND|OR) /.test(p.expression) ? `(${p.expression})` : p.expression))
      .join(op),
    names: Object.assign({}, ...parts.map((p) => p.names)),
    values: Object.assign({}, ...parts.map((p) => p.values)),
  };
}

/** One conditional update: the item's key, the update, and the condition naming its legal predecessors. */
export interface Write {
  pk: string;
  update: string;
  when: Condition;
  names?: Record<string, string>;
  values?: Item;
}

/**
 * One conditional write, and on refusal the decision from the current item: from the exception
 * when the store returns it (ALL_OLD), else from one consistent read. `decide` may answer 'RETRY'
 * only when the item changed between a refused write and that read (stores without ALL_OLD).
 */
export async function transition<T>(
  table: Table,
  write: Write,
  onWritten: (item: Item) => T,
  decide: (current: Item | undefined) => T | 'RETRY',
): Promise<T> {
  // merged with Object.assign: on Node 20 a literal of two spreads costs some 20 times as much
  const names: Record<string, string> = Object.assign({}, write.names, write.when.names);
  const request: UpdateItemCommandInput = {
    TableName: table.tableName,
    Key: { pk: S(write.pk) },
    UpdateExpression: write.update,
    ConditionExpression: write.when.expression,
    ExpressionAttributeValues: Object.assign({}, write.values, write.when.values),
    ReturnValues: 'ALL_NEW',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
  if (Object.keys(names).length > 0) request.ExpressionAttributeNames = names;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    try {
      const res = await send(() => table.client.send(new UpdateItemCommand(request)));
      return onWritten(res.Attributes ?? {});
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const current = err.Item && Object.keys(err.Item).length > 0 ? err.Item : await read(table, write.pk);
      const verdict = decide(current);
      if (verdict !== 'RETRY') return verdict;
    }
  }
  throw unavailable('record changed concurrently, retry');
}

/** Reads one item with a consistent read. */
export async function read(table: Table, pk: string): Promise<Item | undefined> {
  const res = await send(() =>
    table.client.send(new GetItemCommand({ TableName: table.tableName, Key: { pk: S(pk) }, ConsistentRead: true })),
  );
  return res.Item;
}

/** Runs a store call, turning every failure other than a failed condition into UNAVAILABLE. */
export async function send<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) throw err;
    throw unavailable('order store unavailable', err);
  }
}

/** Typed reads of an item's string and number attributes. */
export function reader(item: Item): { s(k: string): string | undefined; n(k: string): number | undefined } {
  return {
    s: (k) => item[k]?.S,
    n: (k) => (item[k]?.N === undefined ? undefined : Number(item[k]?.N)),
  };
}

/** Copies the defined values of `extra` onto `target`. */
export function withOptional<T extends object>(target: T, extra: Partial<T>): T {
  // for…in over the literal's own keys: no array of entries per item read
  for (const k in extra) {
    const v = extra[k];
    if (v !== undefined) (target as Record<string, unknown>)[k] = v;
  }
  return target;
}
