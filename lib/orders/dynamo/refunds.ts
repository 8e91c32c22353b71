/**
 * Refunds in the DynamoDB store. A refund's own item moves by one conditional write from the states
 * its new state may follow. A refund requested here first holds its amount on the order (a
 * reservation admitted only while paid − refunded − reserved ≥ the amount); its result releases the
 * reservation exactly once: into the refunded total on SUCCESS, back to the order on CLOSED. A
 * success never requested here is counted into the refunded total once, as before.
 */
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { unavailable } from '../../errors';
import {
  judgeRefund,
  REFUND_PREDECESSORS,
  type Order,
  type PendingRefund,
  type Refund,
  type RefundOutcome,
  type RefundReport,
  type RefundRequest,
  type RefundState,
  type RequestOutcome,
  type ReserveOutcome,
  isPaid,
} from '../model';
import { orderKey, PENDING_INDEX, refundKey } from '../table';
import { toOrder } from './orders';
import {
  allOf,
  anyOf,
  N,
  NO_STATE,
  noRefundId,
  notCounted,
  notReserved,
  paidIs,
  read,
  reader,
  refundedIs,
  refundIs,
  reservedAtMost,
  reservedFor,
  S,
  send,
  stateIn,
  transition,
  withOptional,
  type Item,
  type Table,
} from './transition';

/** The `pending` key a refund item carries while REQUESTED or ABNORMAL (orders use NOTPAY on the same index). */
export const REFUND_PENDING = 'REFUND';

const MAX_PASSES = 5;

/** Applies a refund report; its result then settles the order's reservation and refunded total. */
export async function applyRefund(
  table: Table,
  report: RefundReport,
): Promise<RefundOutcome & { exceedsPaid?: boolean }> {
  const final = report.state !== 'ABNORMAL';
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
    ':now': S(table.iso()),
    ':processing': S('PROCESSING'),
  };
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
  // ABNORMAL is not final: the refund stays on the pending index for reconciliation to ask about
  if (final) set += ' REMOVE pending';
  else {
    set += ', pending = :pending, createdAt = if_not_exists(createdAt, :now)';
    values[':pending'] = S(REFUND_PENDING);
  }
  const others = REFUND_PREDECESSORS[report.state].filter((s) => s !== 'REQUESTED');
  const outcome = await transition<RefundOutcome>(
    table,
    {
      pk: refundKey(report.merchantId, report.outRefundNo),
      update: set,
      // a refund never seen counts as PROCESSING; one requested here must carry the amount asked for
      when: anyOf(NO_STATE, stateIn(...others), allOf(stateIn('REQUESTED'), refundIs(report.refundFen))),
      values,
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
  if (outcome.kind !== 'APPLIED' && outcome.kind !== 'ALREADY_APPLIED') return outcome;
  // a refund that moved straight from REQUESTED holds a reservation; from ABNORMAL the order's item tells
  const requested = outcome.refund.previousState === 'REQUESTED';
  if (report.state === 'SUCCESS') return { ...outcome, exceedsPaid: await tallyRefund(table, report, requested) };
  if (report.state === 'CLOSED' && outcome.refund.previousState !== 'PROCESSING')
    await releaseReservation(table, report.merchantId, report.outTradeNo, report);
  return outcome;
}

/**
 * The key the refund names holds no order paid by another transaction: either nothing has been paid
 * there yet (no order, or an unpaid one) or it was paid by the very transaction the (encrypted) refund
 * result names. What an unsigned merchant id must agree with before a tally is counted on its key.
 */
function ownOrder(report: RefundReport) {
  const unpaid = { expression: 'attribute_not_exists(transactionId)', names: {}, values: {} };
  if (report.transactionId === undefined) return unpaid;
  return anyOf(unpaid, {
    expression: 'transactionId = :was_tx',
    names: {},
    values: { ':was_tx': S(report.transactionId) },
  });
}

/** The same test as {@link ownOrder}, on an item read back. */
function isOwnOrder(item: Item | undefined, report: RefundReport): boolean {
  const tx = item?.transactionId?.S;
  return report.transactionId === undefined || tx === undefined || tx === report.transactionId;
}

/**
 * Counts a successful refund into its order's refunded total, once per out_refund_no (the set of
 * counted refund numbers is the guard); a refund that held a reservation moves it into the total in
 * the same write. Run on every successful delivery, so a crash between the refund's write and this
 * one is repaired by WeChat's retry. Says whether refunds now exceed the paid amount.
 */
async function tallyRefund(table: Table, report: RefundReport, requested: boolean): Promise<boolean> {
  const exceeds = (item: Item | undefined) => {
    const order = item && toOrder(item);
    return order !== undefined && isPaid(order.state) && (order.refundedFen ?? 0) > (order.paidFen ?? order.amountFen);
  };
  const no = report.outRefundNo;
  const values = { ':rf': N(report.refundFen), ':no': { SS: [no] } };
  // a first guess; a refused write's item (ALL_OLD) says which write applies
  let reserved = requested;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const step: { done: boolean; exceeds: boolean; reserved: boolean } = await transition(
      table,
      reserved
        ? {
            pk: orderKey(report.merchantId, report.outTradeNo),
            update: 'ADD refundedFen :rf, refundNos :no, reservedFen :minus DELETE reservedNos :no',
            when: allOf(reservedFor(no), notCounted(no)),
            values: { ...values, ':minus': N(-report.refundFen) },
          }
        : {
            pk: orderKey(report.merchantId, report.outTradeNo),
            update: 'ADD refundedFen :rf, refundNos :no',
            when:
              report.merchantUnsigned === true
                ? allOf(notCounted(no), notReserved(no), ownOrder(report))
                : allOf(notCounted(no), notReserved(no)),
            values,
          },
      (item) => ({ done: true, exceeds: exceeds(item), reserved }),
      (item) => {
        const counted = item?.refundNos?.SS?.includes(no) === true;
        const holds = item?.reservedNos?.SS?.includes(no) === true;
        // an unsigned merchant id that names no order of its own: no tally on that key, and no retry
        const notOurs = report.merchantUnsigned === true && !holds && !isOwnOrder(item, report);
        return { done: counted || notOurs, exceeds: exceeds(item), reserved: holds };
      },
    );
    if (step.done) return step.exceeds;
    reserved = step.reserved;
  }
  throw unavailable('record changed concurrently, retry');
}

/** Gives a reservation back to its order (a CLOSED refund, or a request WeChat refused); once. */
export async function releaseReservation(
  table: Table,
  merchantId: string,
  outTradeNo: string,
  ref: { outRefundNo: string; refundFen: number },
): Promise<boolean> {
  return transition(
    table,
    {
      pk: orderKey(merchantId, outTradeNo),
      update: 'ADD reservedFen :minus DELETE reservedNos :no',
      when: reservedFor(ref.outRefundNo),
      values: { ':minus': N(-ref.refundFen), ':no': { SS: [ref.outRefundNo] } },
    },
    () => true,
    () => false,
  );
}

/** Records a refund as REQUESTED with one conditional put-like update; a repeat finds it. */
export async function requestRefund(table: Table, req: RefundRequest): Promise<RequestOutcome> {
  const now = table.iso();
  return transition<RequestOutcome>(
    table,
    {
      pk: refundKey(req.merchantId, req.outRefundNo),
      update:
        'SET #state = :requested, entity = :entity, outRefundNo = :orn, outTradeNo = :otn, merchantId = :mid, ' +
        'refundFen = :rf, requestedAt = :now, updatedAt = :now, createdAt = :now, pending = :pending',
      when: NO_STATE,
      values: {
        ':requested': S('REQUESTED'),
        ':entity': S('REFUND'),
        ':orn': S(req.outRefundNo),
        ':otn': S(req.outTradeNo),
        ':mid': S(req.merchantId),
        ':rf': N(req.refundFen),
        ':now': S(now),
        ':pending': S(REFUND_PENDING),
      },
    },
    (item) => ({ kind: 'RECORDED', refund: toRefund(item) }),
    (item) => {
      if (!item?.state) return 'RETRY';
      const refund = toRefund(item);
      const same = refund.outTradeNo === req.outTradeNo && refund.refundFen === req.refundFen;
      return { kind: same ? 'EXISTS' : 'CONFLICT', refund };
    },
  );
}

/**
 * Reserves a requested amount on its order: one conditional write admitted only while the order is
 * PAID and paid − refunded − reserved ≥ the amount, once per out_refund_no. The condition pins the
 * paid and refunded amounts the headroom was computed from; concurrent reservations only add to
 * `reservedFen`, so they never refuse each other wrongly, and a refused write re-reads from ALL_OLD.
 */
export async function reserveRefund(table: Table, req: RefundRequest): Promise<ReserveOutcome> {
  const pk = orderKey(req.merchantId, req.outTradeNo);
  let item = await read(table, pk);
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const order = item && toOrder(item);
    if (order === undefined) return { kind: 'UNKNOWN_ORDER' };
    if (item?.reservedNos?.SS?.includes(req.outRefundNo) === true) return { kind: 'ALREADY_RESERVED', order };
    if (order.state !== 'PAID') return { kind: 'ORDER_NOT_PAID', order };
    const paid = order.paidFen ?? order.amountFen;
    const refunded = order.refundedFen ?? 0;
    const limit = paid - refunded - req.refundFen;
    if (limit < (order.reservedFen ?? 0))
      return {
        kind: 'EXCEEDS_REFUNDABLE',
        order,
        refundableFen: Math.max(0, limit + req.refundFen - (order.reservedFen ?? 0)),
      };
    const step = await transition<ReserveOutcome | { kind: 'AGAIN'; item: Item | undefined }>(
      table,
      {
        pk,
        update: 'ADD reservedFen :rf, reservedNos :no',
        when: allOf(
          stateIn('PAID'),
          paidIs(paid),
          refundedIs(refunded),
          reservedAtMost(limit),
          notReserved(req.outRefundNo),
        ),
        values: { ':rf': N(req.refundFen), ':no': { SS: [req.outRefundNo] } },
      },
      (written) => ({ kind: 'RESERVED', order: toOrder(written) as Order }),
      (current) => ({ kind: 'AGAIN', item: current }),
    );
    if (step.kind !== 'AGAIN') return step;
    item = step.item;
  }
  throw unavailable('order changed concurrently, retry');
}

/** Notes WeChat's refund id on a refund still REQUESTED (a result that arrived first is left alone). */
export async function recordRefundId(table: Table, merchantId: string, outRefundNo: string, refundId: string) {
  await transition(
    table,
    {
      pk: refundKey(merchantId, outRefundNo),
      update: 'SET refundId = :rid, updatedAt = :now',
      when: stateIn('REQUESTED'),
      values: { ':rid': S(refundId), ':now': S(table.iso()) },
    },
    () => undefined,
    () => undefined,
  );
}

/**
 * Undoes a request WeChat provably refused: the reservation goes back to the order, then the
 * REQUESTED item (with no refund id from WeChat) loses its state, so the same out_refund_no may be
 * asked again (an UpdateItem, not a delete: the function's role allows no more).
 */
export async function abandonRefund(table: Table, req: RefundRequest): Promise<void> {
  await releaseReservation(table, req.merchantId, req.outTradeNo, req);
  await transition(
    table,
    {
      pk: refundKey(req.merchantId, req.outRefundNo),
      update: 'SET abandonedAt = :now, updatedAt = :now REMOVE #state, pending',
      // a result (or WeChat's id) that arrived meanwhile makes the item no longer ours to undo
      when: allOf(stateIn('REQUESTED'), noRefundId()),
      values: { ':now': S(table.iso()) },
    },
    () => undefined,
    () => undefined,
  );
}

/** Lists refunds still REQUESTED or ABNORMAL since before `createdBefore`, oldest first, a page at a time. */
export async function listPendingRefunds(
  table: Table,
  q: { createdBefore: string; limit: number; cursor?: string },
): Promise<{ refunds: PendingRefund[]; cursor?: string }> {
  const res = await send(() =>
    table.client.send(
      new QueryCommand({
        TableName: table.tableName,
        IndexName: PENDING_INDEX,
        KeyConditionExpression: 'pending = :p AND createdAt <= :b',
        ExpressionAttributeValues: { ':p': S(REFUND_PENDING), ':b': S(q.createdBefore) },
        Limit: q.limit,
        ...(q.cursor
          ? { ExclusiveStartKey: JSON.parse(Buffer.from(q.cursor, 'base64url').toString('utf8')) as Item }
          : {}),
      }),
    ),
  );
  // the index projects the table key: REFUND#<merchant>#<out_refund_no> names the refund
  const refunds = (res.Items ?? []).map((item) => ({
    merchantId: item.merchantId?.S ?? '',
    outRefundNo: (item.pk?.S ?? '').split('#')[2] ?? '',
    outTradeNo: item.outTradeNo?.S ?? '',
    createdAt: item.createdAt?.S ?? '',
  }));
  return res.LastEvaluatedKey
    ? { refunds, cursor: Buffer.from(JSON.stringify(res.LastEvaluatedKey)).toString('base64url') }
    : { refunds };
}

/** Reads a refund with a consistent read. */
export async function getRefund(table: Table, merchantId: string, outRefundNo: string): Promise<Refund | undefined> {
  const item = await read(table, refundKey(merchantId, outRefundNo));
  return item?.state ? toRefund(item) : undefined;
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
    {
      successAt: s('successAt'),
      previousState: s('previousState') as RefundState | undefined,
      requestedAt: s('requestedAt'),
    },
  );
}
