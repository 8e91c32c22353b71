/**
 * Refunds in the DynamoDB store: a refund's own item moves by one conditional write from the states
 * its new state may follow; a success is then counted once into its order's refunded total.
 */
import {
  judgeRefund,
  REFUND_PREDECESSORS,
  type Refund,
  type RefundOutcome,
  type RefundReport,
  type RefundState,
  isPaid,
} from '../model';
import { orderKey, refundKey } from '../table';
import { toOrder } from './orders';
import {
  anyOf,
  N,
  NO_STATE,
  notCounted,
  read,
  reader,
  S,
  stateIn,
  transition,
  withOptional,
  type Item,
  type Table,
} from './transition';

/** Applies a refund report; a success is then added to its order's refunded total (see tallyRefund). */
export async function applyRefund(
  table: Table,
  report: RefundReport,
): Promise<RefundOutcome & { exceedsPaid?: boolean }> {
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
  const outcome = await transition<RefundOutcome>(
    table,
    {
      pk: refundKey(report.merchantId, report.outRefundNo),
      update: set,
      // a refund never seen counts as PROCESSING
      when: anyOf(NO_STATE, stateIn(...REFUND_PREDECESSORS[report.state])),
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
  const succeeded = report.state === 'SUCCESS' && (outcome.kind === 'APPLIED' || outcome.kind === 'ALREADY_APPLIED');
  return succeeded ? { ...outcome, exceedsPaid: await tallyRefund(table, report) } : outcome;
}

/**
 * Adds a successful refund to its order's refunded total, once per out_refund_no (the set of
 * counted refund numbers is the guard). Run on every successful delivery, so a crash between the
 * refund's write and this one is repaired by WeChat's retry. Says whether refunds now exceed the paid amount.
 */
async function tallyRefund(table: Table, report: RefundReport): Promise<boolean> {
  const exceeds = (item: Item | undefined) => {
    const order = item && toOrder(item);
    return order !== undefined && isPaid(order.state) && (order.refundedFen ?? 0) > (order.paidFen ?? order.amountFen);
  };
  return transition(
    table,
    {
      pk: orderKey(report.merchantId, report.outTradeNo),
      update: 'ADD refundedFen :rf, refundNos :no',
      when: notCounted(report.outRefundNo),
      values: { ':rf': N(report.refundFen), ':no': { SS: [report.outRefundNo] } },
    },
    (item) => exceeds(item),
    (item) => exceeds(item),
  );
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
    { successAt: s('successAt'), previousState: s('previousState') as RefundState | undefined },
  );
}
