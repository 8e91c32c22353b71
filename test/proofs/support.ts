/**
 * The one import point of the proofs: a DynamoDB client whose requests and replies pass through a
 * gate (fast-check's scheduler, or the exhaustive enumerator), the operations a schedule is built
 * from, and the invariants every finished schedule must satisfy, checked against a model.
 *
 * Only stable surfaces are used: the OrderStore interface over `createDynamoOrderStore`, and the
 * exported Lambda handlers of functions/*. Import paths of the code under test live here only.
 */
import { randomUUID } from 'node:crypto';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { createDynamoOrderStore } from '../../lib/orders/dynamodb';
import type { OrderStore } from '../../lib/orders/store';
import { orderKey, refundKey } from '../../lib/orders/table';
import { ensureTable, startLocalDynamo, type LocalDynamo } from '../../scripts/local/dynamodb';

export {
  createDynamoOrderStore,
  orderKey,
  refundKey,
  ensureTable,
  startLocalDynamo,
  type LocalDynamo,
  type OrderStore,
};
export { createHarness, orderNo, toEvent, type Harness } from '../support/harness';
export {
  v2PaymentNotification,
  v2RefundNotification,
  v3Notification,
  v3TransactionResource,
  v3RefundResource,
  type WireRequest,
} from '../../scripts/simulator/messages';
export { generateTestKeys, toEnv, type TestKeys } from '../../scripts/simulator/keys';
export { aggregatorNotification, aggregatorResult } from '../../scripts/simulator/aggregator';
export { handler as paymentNotify } from '../../functions/paymentNotify';
export { handler as refundNotify } from '../../functions/refundNotify';
export { handler as couponNotify } from '../../functions/couponNotify';
export { handler as aggregatorNotify } from '../../functions/aggregatorNotify';

type Item = Record<string, AttributeValue>;

/** A plain client on a local endpoint with generous timeouts (the proofs are about order, not latency). */
export function rawClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 30_000, requestTimeout: 30_000 },
  });
}

/** A fresh table on `endpoint`. */
export async function freshTable(endpoint: string): Promise<string> {
  const tableName = `proofs-${randomUUID().slice(0, 8)}`;
  await ensureTable(endpoint, tableName);
  return tableName;
}

// ---------------------------------------------------------------------------------------------
// Gating: every request waits for the gate before it reaches the store, and the real request runs
// alone (the driver releases nothing while one is in flight), so a schedule is exactly the order
// in which the gate released requests; replies come back through the gate too.

/** Decides when a pending request (or reply) may proceed. */
export interface Gate {
  wait(label: string): Promise<void>;
}

/** Counts real I/O in flight so the driver can wait for quiet before releasing the next step. */
export class Quiet {
  private n = 0;
  private waiters: Array<() => void> = [];
  /** Runs `f` as busy time. */
  async busy<T>(f: () => Promise<T>): Promise<T> {
    this.n++;
    try {
      return await f();
    } finally {
      this.n--;
      if (this.n === 0) for (const w of this.waiters.splice(0)) w();
    }
  }
  /** Resolves once nothing is in flight and the microtask queue has drained. */
  async settle(): Promise<void> {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      if (this.n === 0) return;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
}

/** One successful write the store made, as the gated client saw it. */
export interface WriteSeen {
  op: string;
  pk: string;
  state: string | undefined;
  /** True for the refund tally (ADD refundedFen) on the order key. */
  tally: boolean;
}

/**
 * A client for one operation: its requests wait on the gate, run alone against the real client, and
 * their replies wait on the gate again. With `crashOnFirstWrite` the reply of the operation's first
 * write never returns (the Lambda died after the write reached the store) and `onCrash` runs.
 */
export function gatedClient(
  real: DynamoDBClient,
  opts: {
    label: string;
    gate: Gate;
    quiet: Quiet;
    writes: WriteSeen[];
    /** Gate replies as well as requests (the scheduler does; the enumerator needs requests only). */
    gateReplies: boolean;
    crashOnFirstWrite?: boolean;
    onCrash?: () => void;
    /** Changes a request before it is sent: only to prove the checks catch a broken store. */
    tamper?: (name: string, input: Record<string, unknown>) => void;
  },
): DynamoDBClient {
  let n = 0;
  let crashed = false;
  const send = async (command: { constructor: { name: string }; input: unknown }): Promise<unknown> => {
    const name = command.constructor.name.replace(/Command$/, '');
    const label = `${opts.label} ${name}#${n++}`;
    opts.tamper?.(name, command.input as Record<string, unknown>);
    await opts.gate.wait(`${label} →store`);
    let result: { ok: true; value: Record<string, unknown> } | { ok: false; error: unknown };
    result = await opts.quiet.busy(async () => {
      try {
        return { ok: true, value: (await real.send(command as never)) as unknown as Record<string, unknown> };
      } catch (error) {
        return { ok: false, error };
      }
    });
    if (name === 'UpdateItem') {
      const input = command.input as { Key?: Item; UpdateExpression?: string };
      if (result.ok) {
        const attrs = result.value.Attributes as Item | undefined;
        opts.writes.push({
          op: opts.label,
          pk: input.Key?.pk?.S ?? '',
          state: attrs?.state?.S,
          tally: input.UpdateExpression?.startsWith('ADD refundedFen') === true,
        });
      }
      if (opts.crashOnFirstWrite && !crashed) {
        crashed = true;
        opts.onCrash?.();
        return new Promise(() => {});
      }
    }
    if (opts.gateReplies) await opts.gate.wait(`${label} ←reply`);
    if (!result.ok) throw result.error;
    return result.value;
  };
  // the store only calls send(); everything else is the real client's
  const client = Object.create(real) as DynamoDBClient;
  (client as unknown as { send: typeof send }).send = send;
  return client;
}

// ---------------------------------------------------------------------------------------------
// Operations on one order: what WeChat, closeOrder and the reconciler do to it.

export const AMOUNT = 100;
export const REFUND_FEN: Record<RefundNo, number> = { R1: 30, R2: 50 };
export type RefundNo = 'R1' | 'R2';
export type Tx = 'T1' | 'T2';

export type Op =
  /** A payment report: v2 or v3 delivery, or the reconciler's query result; right or wrong amount. */
  | { kind: 'pay'; channel: 'v2' | 'v3' | 'query'; tx: Tx; wrongAmount: boolean; crash: boolean }
  /** closeOrder (or a query's CLOSED) closing the order locally. */
  | { kind: 'close'; crash: boolean }
  /** A refund report in a final or abnormal state. */
  | { kind: 'refund'; no: RefundNo; state: 'SUCCESS' | 'CLOSED' | 'ABNORMAL'; crash: boolean };

/** A short name for an operation, for labels and counterexamples. */
export function opName(op: Op): string {
  const crash = op.crash ? '!crash' : '';
  if (op.kind === 'pay') return `pay(${op.channel},${op.tx}${op.wrongAmount ? ',wrong-amount' : ''})${crash}`;
  if (op.kind === 'close') return `close${crash}`;
  return `refund(${op.no},${op.state})${crash}`;
}

/** Every distinct operation kind (crashes included), for the exhaustive enumeration. */
export const OP_KINDS: Op[] = [
  { kind: 'pay', channel: 'v3', tx: 'T1', wrongAmount: false, crash: false },
  { kind: 'pay', channel: 'v2', tx: 'T1', wrongAmount: false, crash: false },
  { kind: 'pay', channel: 'query', tx: 'T1', wrongAmount: false, crash: false },
  { kind: 'pay', channel: 'v3', tx: 'T2', wrongAmount: false, crash: false },
  { kind: 'pay', channel: 'v3', tx: 'T1', wrongAmount: true, crash: false },
  { kind: 'pay', channel: 'v3', tx: 'T1', wrongAmount: false, crash: true },
  { kind: 'close', crash: false },
  { kind: 'refund', no: 'R1', state: 'SUCCESS', crash: false },
  { kind: 'refund', no: 'R1', state: 'CLOSED', crash: false },
  { kind: 'refund', no: 'R1', state: 'ABNORMAL', crash: false },
  { kind: 'refund', no: 'R2', state: 'SUCCESS', crash: false },
  { kind: 'refund', no: 'R1', state: 'SUCCESS', crash: true },
];

/** The identifiers of one schedule's order (fresh per schedule, in a shared table). */
export interface Subject {
  merchantId: string;
  outTradeNo: string;
  refundNo(no: RefundNo): string;
  txId(tx: Tx): string;
}

let subjects = 0;
/** A fresh order for one schedule. */
export function freshSubject(): Subject {
  const outTradeNo = `P${process.pid}x${(subjects++).toString(36)}${randomUUID().slice(0, 6)}`;
  return {
    merchantId: '1900000109',
    outTradeNo,
    refundNo: (no) => `${outTradeNo}${no}`,
    txId: (tx) => (tx === 'T1' ? '4200000001202611300000000001' : '4200000001202611300000000002'),
  };
}

/** What one operation ended with. */
export type Observed = { op: Op; label: string; outcome: { kind: string; reason?: string } | 'CRASHED' };

/** Runs one operation against a store (the call a handler or the reconciler makes). */
export async function runOp(store: OrderStore, s: Subject, op: Op): Promise<{ kind: string; reason?: string }> {
  switch (op.kind) {
    case 'pay':
      return store.applyPayment(
        {
          outTradeNo: s.outTradeNo,
          merchantId: s.merchantId,
          transactionId: s.txId(op.tx),
          amountFen: op.wrongAmount ? AMOUNT + 1 : AMOUNT,
          paidAt: '2026-11-30T01:02:03.000Z',
          channel: op.channel,
        },
        'reject',
      );
    case 'close':
      return store.applyClose(s.merchantId, s.outTradeNo);
    case 'refund':
      return store.applyRefund({
        outRefundNo: s.refundNo(op.no),
        outTradeNo: s.outTradeNo,
        merchantId: s.merchantId,
        refundId: `50300000${op.no === 'R1' ? '01' : '02'}2026113000000000001`,
        transactionId: s.txId('T1'),
        state: op.state,
        refundFen: REFUND_FEN[op.no],
        totalFen: AMOUNT,
        successAt: op.state === 'SUCCESS' ? '2026-11-30T02:00:00.000Z' : undefined,
        channel: 'v3',
      });
  }
}

/** Consistent reads of several items in one request, by partition key. */
export async function readItems(client: DynamoDBClient, tableName: string, pks: string[]): Promise<Map<string, Item>> {
  const res = await client.send(
    new BatchGetItemCommand({
      RequestItems: { [tableName]: { Keys: pks.map((pk) => ({ pk: { S: pk } })), ConsistentRead: true } },
    }),
  );
  if (Object.keys(res.UnprocessedKeys ?? {}).length > 0) throw new Error('a local store left keys unprocessed');
  return new Map((res.Responses?.[tableName] ?? []).map((item) => [item.pk?.S ?? '', item]));
}

/** A consistent read of one item. */
export async function readItem(client: DynamoDBClient, tableName: string, pk: string): Promise<Item | undefined> {
  const res = await client.send(
    new GetItemCommand({ TableName: tableName, Key: { pk: { S: pk } }, ConsistentRead: true }),
  );
  return res.Item;
}

/**
 * What a reply promises must already be in the table when the reply is given (read back at that
 * moment): returns the broken promise, or undefined.
 */
export async function checkDurable(
  client: DynamoDBClient,
  tableName: string,
  s: Subject,
  op: Op,
  outcome: { kind: string },
): Promise<string | undefined> {
  // only a reply that promises a state needs the read (a refusal promises nothing about the table)
  const promises =
    op.kind === 'close'
      ? ['PAID', 'CLOSED', 'ALREADY_CLOSED'].includes(outcome.kind)
      : outcome.kind === 'APPLIED' || outcome.kind === 'ALREADY_APPLIED';
  if (!promises) return undefined;
  const oKey = orderKey(s.merchantId, s.outTradeNo);
  const rKey = op.kind === 'refund' ? refundKey(s.merchantId, s.refundNo(op.no)) : undefined;
  const items = await readItems(client, tableName, rKey ? [oKey, rKey] : [oKey]);
  const order = items.get(oKey);
  const state = order?.state?.S;
  if (op.kind === 'pay') {
    if (outcome.kind !== 'APPLIED' && outcome.kind !== 'ALREADY_APPLIED') return undefined;
    if (state !== 'PAID' || order?.transactionId?.S !== s.txId(op.tx))
      return `${opName(op)} answered ${outcome.kind} but the order reads ${state}/${order?.transactionId?.S}`;
    return undefined;
  }
  if (op.kind === 'close') {
    if (outcome.kind === 'PAID' && state !== 'PAID') return `close answered PAID but the order reads ${state}`;
    if ((outcome.kind === 'CLOSED' || outcome.kind === 'ALREADY_CLOSED') && state !== 'CLOSED' && state !== 'PAID')
      return `close answered ${outcome.kind} but the order reads ${state}`;
    if (outcome.kind === 'CLOSED' && state === 'PAID' && order?.previousState?.S !== 'CLOSED')
      return 'close answered CLOSED but the payment that followed did not find it closed';
    return undefined;
  }
  if (outcome.kind !== 'APPLIED' && outcome.kind !== 'ALREADY_APPLIED') return undefined;
  const refund = items.get(rKey ?? '');
  const rs = refund?.state?.S;
  const later: Record<string, string[]> = {
    SUCCESS: ['SUCCESS'],
    CLOSED: ['CLOSED'],
    ABNORMAL: ['ABNORMAL', 'SUCCESS', 'CLOSED'],
  };
  if (!rs || !later[op.state]?.includes(rs)) return `${opName(op)} answered ${outcome.kind} but the refund reads ${rs}`;
  if (op.state === 'SUCCESS' && !order?.refundNos?.SS?.includes(s.refundNo(op.no)))
    return `${opName(op)} answered ${outcome.kind} before the order's tally counted it`;
  return undefined;
}

const ORDER_ATTRS = new Set([
  'pk',
  'entity',
  'outTradeNo',
  'merchantId',
  'state',
  'amountFen',
  'amountUnverified',
  'channel',
  'creditedFen',
  'createdAt',
  'pending',
  'transactionId',
  'paidFen',
  'paidAt',
  'paidDay',
  'paidVia',
  'appliedAt',
  'previousState',
  'closedAt',
  'closedReason',
  'refundedFen',
  'refundNos',
]);
const REFUND_ATTRS = new Set([
  'pk',
  'entity',
  'state',
  'outRefundNo',
  'outTradeNo',
  'merchantId',
  'refundId',
  'refundFen',
  'totalFen',
  'lastVia',
  'updatedAt',
  'previousState',
  'transactionId',
  'successAt',
]);

/**
 * The invariants of a finished schedule, checked against what the model allows for the operations
 * that ran: returns every violation found (empty when the schedule was correct).
 */
export async function checkSchedule(
  client: DynamoDBClient,
  tableName: string,
  s: Subject,
  ops: Observed[],
  writes: WriteSeen[],
): Promise<string[]> {
  const bad: string[] = [];
  const oKey = orderKey(s.merchantId, s.outTradeNo);
  const items = await readItems(client, tableName, [
    oKey,
    ...(['R1', 'R2'] as const).map((no) => refundKey(s.merchantId, s.refundNo(no))),
  ]);
  const order = items.get(oKey);
  const refunds: Partial<Record<RefundNo, Item | undefined>> = {};
  for (const no of ['R1', 'R2'] as const) refunds[no] = items.get(refundKey(s.merchantId, s.refundNo(no)));

  // no attribute the model cannot explain
  for (const k of Object.keys(order ?? {})) if (!ORDER_ATTRS.has(k)) bad.push(`order has unexplained attribute ${k}`);
  for (const [no, r] of Object.entries(refunds)) {
    // a refund not yet final sits on the pending index (key REFUND) for refund reconciliation, and only then
    const open = r?.state?.S === 'ABNORMAL' || r?.state?.S === 'REQUESTED';
    for (const k of Object.keys(r ?? {})) {
      // createdAt stays as the time the refund was first seen open; pending only while it is open
      if (k === 'createdAt') continue;
      if (k === 'pending') {
        if (!open) bad.push(`refund ${no} is ${r?.state?.S} and still on the pending index`);
        else if (r?.pending?.S !== 'REFUND') bad.push(`refund ${no} pending is ${r?.pending?.S}`);
      } else if (!REFUND_ATTRS.has(k)) bad.push(`refund ${no} has unexplained attribute ${k}`);
    }
    if (open && r?.pending?.S !== 'REFUND') bad.push(`refund ${no} is ${r?.state?.S} but not on the pending index`);
  }

  // one transition per event: payment and close writes at most once each, tallies once per refund
  const orderWrites = writes.filter((w) => w.pk === oKey && !w.tally);
  const payWrites = orderWrites.filter((w) => w.state === 'PAID');
  const closeWrites = orderWrites.filter((w) => w.state === 'CLOSED');
  if (payWrites.length > 1) bad.push(`order moved to PAID ${payWrites.length} times (${payWrites.map((w) => w.op)})`);
  if (closeWrites.length > 1) bad.push(`order closed ${closeWrites.length} times`);

  const pays = ops.filter((o): o is Observed & { op: Extract<Op, { kind: 'pay' }> } => o.op.kind === 'pay');
  const closes = ops.filter((o) => o.op.kind === 'close');
  const valid = pays.filter((o) => !o.op.wrongAmount);
  const state = order?.state?.S;
  const expected = valid.length > 0 ? 'PAID' : closes.length > 0 ? 'CLOSED' : 'NOTPAY';
  if (state !== expected) bad.push(`order ends ${state}, the model says ${expected}`);

  const paidTx = order?.transactionId?.S;
  if (expected === 'PAID') {
    if (payWrites.length !== 1) bad.push(`a paid order with ${payWrites.length} payment writes`);
    const winner = payWrites[0] && ops.find((o) => o.label === payWrites[0]?.op);
    if (winner && winner.op.kind === 'pay' && s.txId(winner.op.tx) !== paidTx)
      bad.push(`the order holds ${paidTx}, the write came from ${winner.label}`);
    const closedFirst = closeWrites.length === 1;
    if ((order?.previousState?.S === 'CLOSED') !== closedFirst)
      bad.push(`previousState ${order?.previousState?.S} but ${closeWrites.length} close writes`);
    if (order?.pending) bad.push('a paid order is still in the pending index');
  }
  for (const o of pays) {
    if (o.outcome === 'CRASHED') continue;
    const k = o.outcome.kind;
    const mine = s.txId(o.op.tx) === paidTx;
    if (k === 'APPLIED' && (o.op.wrongAmount || !mine)) bad.push(`${o.label} answered APPLIED but ${paidTx} won`);
    if (k === 'APPLIED' && !payWrites.some((w) => w.op === o.label)) bad.push(`${o.label} APPLIED without its write`);
    if (k === 'ALREADY_APPLIED' && !mine) bad.push(`${o.label} ALREADY_APPLIED but ${paidTx} is recorded`);
    if (k === 'CONFLICT' && o.outcome.reason === 'OTHER_TRANSACTION' && (mine || state !== 'PAID'))
      bad.push(`${o.label} OTHER_TRANSACTION against ${paidTx}`);
    if (k === 'CONFLICT' && o.outcome.reason === 'AMOUNT_MISMATCH' && !o.op.wrongAmount)
      bad.push(`${o.label} AMOUNT_MISMATCH with the registered amount`);
    if (k === 'UNKNOWN_ORDER') bad.push(`${o.label} did not find the registered order`);
  }
  const appliedPays = pays.filter((o) => o.outcome !== 'CRASHED' && o.outcome.kind === 'APPLIED');
  if (appliedPays.length > 1) bad.push(`${appliedPays.length} payments answered APPLIED`);

  const closedNow = closes.filter((o) => o.outcome !== 'CRASHED' && o.outcome.kind === 'CLOSED');
  if (closedNow.length > 1) bad.push(`${closedNow.length} closes answered CLOSED`);
  for (const o of closes) {
    if (o.outcome === 'CRASHED') continue;
    if (o.outcome.kind === 'PAID' && state !== 'PAID') bad.push(`${o.label} answered PAID, the order is ${state}`);
    if (o.outcome.kind === 'UNKNOWN_ORDER') bad.push(`${o.label} did not find the registered order`);
    if (o.outcome.kind === 'CLOSED' && !closeWrites.some((w) => w.op === o.label))
      bad.push(`${o.label} answered CLOSED without its write`);
  }

  // refunds: final states are final, and the tally is the sum of the distinct successful refunds
  let tally = 0;
  const counted: string[] = [];
  for (const no of ['R1', 'R2'] as const) {
    const mine = ops.filter(
      (o): o is Observed & { op: Extract<Op, { kind: 'refund' }> } => o.op.kind === 'refund' && o.op.no === no,
    );
    const rKey = refundKey(s.merchantId, s.refundNo(no));
    const rWrites = writes.filter((w) => w.pk === rKey);
    const rState = refunds[no]?.state?.S;
    if (mine.length === 0) {
      if (refunds[no]) bad.push(`refund ${no} exists without a report`);
      continue;
    }
    const finals = rWrites.filter((w) => w.state === 'SUCCESS' || w.state === 'CLOSED');
    if (finals.length > 1) bad.push(`refund ${no} reached a final state ${finals.length} times`);
    const states = rWrites.map((w) => w.state);
    if (new Set(states).size !== states.length) bad.push(`refund ${no} wrote the same state twice: ${states}`);
    if (states.indexOf('ABNORMAL') > 0) bad.push(`refund ${no} went back to ABNORMAL: ${states}`);
    const anyFinal = mine.some((o) => o.op.state !== 'ABNORMAL');
    const expectedStates = anyFinal ? ['SUCCESS', 'CLOSED'] : ['ABNORMAL'];
    if (!rState || !expectedStates.includes(rState)) bad.push(`refund ${no} ends ${rState}`);
    if (rState !== states[states.length - 1])
      bad.push(`refund ${no} ends ${rState}, its last write was ${states.at(-1)}`);
    for (const o of mine) {
      if (o.outcome === 'CRASHED') continue;
      const k = o.outcome.kind;
      if ((k === 'APPLIED' || k === 'ALREADY_APPLIED') && o.op.state !== 'ABNORMAL' && rState !== o.op.state)
        bad.push(`${o.label} answered ${k}, the refund ends ${rState}`);
      if (k === 'CONFLICT' && (o.op.state === rState || o.op.state === 'ABNORMAL'))
        bad.push(`${o.label} CONFLICT, the refund ends ${rState}`);
      if (k === 'STALE' && (o.op.state !== 'ABNORMAL' || rState === 'ABNORMAL'))
        bad.push(`${o.label} STALE, the refund ends ${rState}`);
    }
    if (rState === 'SUCCESS') {
      tally += REFUND_FEN[no];
      counted.push(s.refundNo(no));
    }
    const tallies = writes.filter((w) => w.tally && w.op.includes(`refund(${no},`));
    if (tallies.length > (rState === 'SUCCESS' ? 1 : 0)) bad.push(`refund ${no} tallied ${tallies.length} times`);
  }
  const refunded = Number(order?.refundedFen?.N ?? 0);
  if (refunded !== tally) bad.push(`refundedFen ${refunded}, the successful refunds sum to ${tally}`);
  const nos = [...(order?.refundNos?.SS ?? [])].sort();
  if (nos.join() !== counted.sort().join()) bad.push(`refundNos [${nos}] but successful [${counted}]`);
  return bad;
}

/** Deletes a schedule's items so the shared table stays small (scans over it stay cheap). */
export async function clearSubject(client: DynamoDBClient, tableName: string, s: Subject): Promise<void> {
  const keys = [
    orderKey(s.merchantId, s.outTradeNo),
    ...(['R1', 'R2'] as const).map((no) => refundKey(s.merchantId, s.refundNo(no))),
  ];
  await client.send(
    new BatchWriteItemCommand({
      RequestItems: { [tableName]: keys.map((pk) => ({ DeleteRequest: { Key: { pk: { S: pk } } } })) },
    }),
  );
}

/** Every item in the table (small tables only). */
export async function scanAll(client: DynamoDBClient, tableName: string): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const res = await client.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    items.push(...(res.Items ?? []));
    start = res.LastEvaluatedKey;
  } while (start);
  return items;
}

/** Registers the schedule's order before its operations start (the merchant creates orders first). */
export async function register(store: OrderStore, s: Subject): Promise<void> {
  const r = await store.registerOrder({ outTradeNo: s.outTradeNo, merchantId: s.merchantId, amountFen: AMOUNT });
  if (r.kind !== 'REGISTERED') throw new Error(`could not register ${s.outTradeNo}: ${r.kind}`);
}

/**
 * Runs a set of operations on one fresh order through gated clients and checks the invariants.
 * `release` drives the gate: it is called whenever the system is quiet and returns false when
 * nothing is left to release. A crashed operation is retried (WeChat's retry) as a new operation.
 */
export async function explore(opts: {
  real: DynamoDBClient;
  tableName: string;
  ops: Op[];
  gate: Gate;
  gateReplies: boolean;
  quiet: Quiet;
  release: () => Promise<boolean>;
  tamper?: (name: string, input: Record<string, unknown>) => void;
}): Promise<{ violations: string[]; observed: Observed[]; subject: Subject }> {
  const { real, tableName, quiet } = opts;
  const s = freshSubject();
  await register(createDynamoOrderStore({ client: real, tableName }), s);
  const writes: WriteSeen[] = [];
  const observed: Observed[] = [];
  const violations: string[] = [];
  const running: Promise<void>[] = [];
  const start = (op: Op, label: string) => {
    const entry: Observed = { op, label, outcome: 'CRASHED' };
    observed.push(entry);
    const client = gatedClient(real, {
      label,
      gate: opts.gate,
      quiet,
      writes,
      gateReplies: opts.gateReplies,
      crashOnFirstWrite: op.crash,
      tamper: opts.tamper,
      // WeChat got no reply: it delivers the same message again
      onCrash: () => start({ ...op, crash: false }, `${label}→retry`),
    });
    const store = createDynamoOrderStore({ client, tableName, now: () => Date.UTC(2026, 10, 30, 3) });
    running.push(
      (async () => {
        const outcome = await runOp(store, s, op);
        entry.outcome = outcome;
        const broken = await quiet.busy(() => checkDurable(real, tableName, s, op, outcome));
        if (broken) violations.push(broken);
      })().catch((err: unknown) => {
        violations.push(`${label} threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
      }),
    );
  };
  opts.ops.forEach((op, i) => start(op, `#${i} ${opName(op)}`));
  for (;;) {
    await quiet.settle();
    if (!(await opts.release())) break;
  }
  await quiet.settle();
  violations.push(...(await checkSchedule(real, tableName, s, observed, writes)));
  return { violations, observed, subject: s };
}

/**
 * A broken store for the checks to catch: every conditional write's condition also passes whenever
 * the item exists, as if the store had lost its guards (the real store cannot be made to do this, so
 * the request is rewritten on its way out; the expression keeps every placeholder it had).
 */
export function loseConditions(name: string, input: Record<string, unknown>): void {
  if (name === 'UpdateItem' && typeof input.ConditionExpression === 'string')
    input.ConditionExpression = `(${input.ConditionExpression}) OR attribute_exists(pk)`;
}

/** True for the store's refusal (used where a test wants to tell it from a transport failure). */
export const isConditionFailure = (err: unknown) => err instanceof ConditionalCheckFailedException;

/**
 * A deterministic gate that enumerates every order in which pending requests can be released,
 * depth-first: each run replays a prefix of choices and takes the first option after it; `next()`
 * moves to the following unexplored branch. Execution between two releases is deterministic (each
 * request runs alone), so replaying a prefix reproduces the same pending sets.
 */
export class Enumerator implements Gate {
  private pending: Array<{ label: string; go: () => void }> = [];
  private prefix: number[] = [];
  private trace: Array<{ options: number; pick: number; label: string }> = [];
  private expected: string[] = [];

  /** Queues a request until the enumerator releases it. */
  wait(label: string): Promise<void> {
    return new Promise((go) => this.pending.push({ label, go }));
  }

  /** Releases the next request on this run's path; false when nothing is pending. */
  async release(): Promise<boolean> {
    if (this.pending.length === 0) return false;
    const depth = this.trace.length;
    const pick = this.prefix[depth] ?? 0;
    const chosen = this.pending[pick];
    if (!chosen) throw new Error(`replay diverged at step ${depth}: no option ${pick} among ${this.pending.length}`);
    const want = this.expected[depth];
    if (want !== undefined && want !== chosen.label)
      throw new Error(`replay diverged at step ${depth}: ${chosen.label}, expected ${want}`);
    this.trace.push({ options: this.pending.length, pick, label: chosen.label });
    this.pending.splice(pick, 1);
    chosen.go();
    return true;
  }

  /** The order of releases of the run just finished. */
  path(): string[] {
    return this.trace.map((t) => t.label);
  }

  /** How many requests were pending at each release of the run just finished (the choices it had). */
  choices(): number[] {
    return this.trace.map((t) => t.options);
  }

  /** Prepares the next unexplored ordering; false when every ordering has been run. */
  next(): boolean {
    for (let d = this.trace.length - 1; d >= 0; d--) {
      const step = this.trace[d]!;
      if (step.pick + 1 < step.options) {
        this.prefix = [...this.trace.slice(0, d).map((t) => t.pick), step.pick + 1];
        this.expected = this.trace.slice(0, d).map((t) => t.label);
        this.trace = [];
        this.pending = [];
        return true;
      }
    }
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// The arithmetic an enumeration is held to, so it cannot silently run fewer orderings than exist.

/** n! as a bigint. */
function factorial(n: number): bigint {
  let f = 1n;
  for (let i = 2n; i <= BigInt(n); i++) f *= i;
  return f;
}

/**
 * The number of interleavings of sequential operations of `steps[i]` requests each: the multinomial
 * (Σ steps)! / Π steps[i]!. What an enumeration must reach when every ordering takes the same steps.
 */
export function interleavings(steps: number[]): bigint {
  return steps.reduce((acc, n) => acc / factorial(n), factorial(steps.reduce((a, b) => a + b, 0)));
}

const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));

/**
 * The share of the tree of orderings the runs covered: each ordering weighs 1 / (the product of the
 * choices along its path), a full tree's orderings weigh exactly 1 together; less means a branch was
 * skipped, more that one ran twice. Exact (bigint fractions), for trees whose steps vary by path.
 */
export class Coverage {
  private num = 0n;
  private den = 1n;
  /** Adds one ordering, given the choices it had at each release. */
  add(choices: number[]): void {
    const d = choices.reduce((acc, c) => acc * BigInt(c), 1n);
    const num = this.num * d + this.den;
    const den = this.den * d;
    const g = gcd(num, den);
    this.num = num / g;
    this.den = den / g;
  }
  /** True when the orderings added weigh exactly 1. */
  complete(): boolean {
    return this.num === this.den;
  }
  /** The covered share, as a fraction. */
  toString(): string {
    return `${this.num}/${this.den}`;
  }
}

/** The operation a gated request label belongs to (the label without its `Name#n →store` tail). */
export function opOfLabel(label: string): string {
  return label.replace(/ \w+#\d+ →store$/, '');
}
