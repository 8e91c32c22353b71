/**
 * The bill against the table, row by row (the README's "Next-day bill reconciliation"): each row gets a typed finding; what the bill
 * proves and the table lacks (a payment, a refund's success) is applied through the one settle path
 * (lib/settle/settle.ts, source `bill`), so its anomalies and log lines are those of every door, and flagged; a difference the service cannot settle by itself (another amount,
 * another transaction) is reported and never overwritten. Rows are compared a page at a time: the
 * page's orders and refunds are read in one consistent BatchGetItem. Then the day's paid orders the
 * bill did not list are looked up in the paid-day index (PAID_HERE_NOT_IN_BILL).
 */
import type { Logger } from '../log';
import {
  isPaid,
  type Order,
  type PaymentReport,
  type Refund,
  type RefundReport,
  type RefundState,
} from '../orders/model';
import { toOrder, toRefund } from '../orders/dynamodb';
import type { OrderStore } from '../orders/store';
import { orderKey, refundKey } from '../orders/table';
import { type SettleDeps, settlePayment, settleRefund } from '../settle/settle';
import type { BillRow, PaymentRow, RefundRow } from './reader';
import { type BillTable, forEachPaidOnDay, readItems, type SeenOrders } from './table';

/** The kinds of finding, MATCH included. */
export const FINDING_KINDS = [
  'MATCH',
  'PAID_UNKNOWN_HERE',
  'PAID_HERE_NOT_IN_BILL',
  'AMOUNT_DIFFERS',
  'TRANSACTION_DIFFERS',
  'STATE_DIFFERS',
  'REFUND_UNKNOWN_HERE',
  'REFUND_DIFFERS',
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

/** What happened about a finding: nothing to do, applied now, found applied already, refused, or left for a dry run. */
export type Repair = 'NONE' | 'APPLIED' | 'ALREADY_APPLIED' | 'REFUSED' | 'DRY_RUN' | 'NOT_REPAIRABLE';

/** One row's verdict. */
export interface Finding {
  kind: FindingKind;
  repair: Repair;
  /** The bill's line; 0 for PAID_HERE_NOT_IN_BILL, which no line carries. */
  line: number;
  merchantId: string;
  outTradeNo: string;
  outRefundNo?: string;
  /** What the bill says (amounts in fen); absent for PAID_HERE_NOT_IN_BILL. */
  bill?: { transactionId: string; totalFen?: number; refundId?: string; refundFen?: number; refundState?: string };
  /** What the table says; undefined when it has no item. */
  here?: { state: string; transactionId?: string; amountFen?: number; refundId?: string; refundFen?: number };
}

/** How the comparison runs. */
export interface CompareOptions {
  /** Report only: no repair is written. */
  dryRun: boolean;
  /** Rows per page (default 400): the reads of one page run together (BatchGetItem, 100 keys each), then the next page is read. */
  pageSize?: number;
  /** Concurrent repairs within a page (default 16). */
  concurrency?: number;
  /** Notes every payment row's order, for the PAID_HERE_NOT_IN_BILL pass that follows. */
  seen?: SeenOrders;
}

/** The counts of a comparison. */
export interface CompareTotals {
  rows: number;
  /** Rows of other trade states (REVOKED …), read and summed but not compared. */
  notCompared: number;
  counts: Record<FindingKind, number>;
  repaired: number;
}

/** What comparing needs: the store (repairs), the table (bulk reads) and the logger the settle path's anomalies go to. */
export interface CompareDeps {
  store: OrderStore;
  table: BillTable;
  logger: Logger;
}

// the settle path stamps the channel from the source ('bill'); the report carries it only because the type asks
const BILL_CHANNEL = 'bill';

/** Compares rows with the store; `onFinding` gets every finding (MATCH included) in bill order. */
export async function compareRows(
  deps: CompareDeps,
  rows: AsyncIterable<BillRow>,
  opts: CompareOptions,
  onFinding: (finding: Finding) => void | Promise<void>,
): Promise<CompareTotals> {
  const totals: CompareTotals = {
    rows: 0,
    notCompared: 0,
    counts: Object.fromEntries(FINDING_KINDS.map((k) => [k, 0])) as Record<FindingKind, number>,
    repaired: 0,
  };
  const pageSize = opts.pageSize ?? 400;
  let page: (PaymentRow | RefundRow)[] = [];
  const flush = async () => {
    const items = await readItems(
      deps.table,
      page.map((row) =>
        row.kind === 'PAYMENT'
          ? orderKey(merchantOf(row), row.outTradeNo)
          : refundKey(merchantOf(row), row.outRefundNo),
      ),
    );
    const findings = await mapLimit(page, opts.concurrency ?? 16, (row) => judgeRow(deps, items, row, opts.dryRun));
    for (const f of findings) {
      totals.counts[f.kind] += 1;
      if (f.repair === 'APPLIED') totals.repaired += 1;
      await onFinding(f);
    }
    page = [];
  };
  for await (const row of rows) {
    totals.rows += 1;
    if (row.kind === 'OTHER') {
      totals.notCompared += 1;
      continue;
    }
    if (row.kind === 'PAYMENT') opts.seen?.add(merchantOf(row), row.outTradeNo);
    page.push(row);
    if (page.length >= pageSize) await flush();
  }
  await flush();
  return totals;
}

/**
 * The day's orders paid here (the paid-day index) that the bill did not list: each is a
 * PAID_HERE_NOT_IN_BILL finding, reported and never changed (a payment cannot be taken back by the
 * service). Runs after the whole bill was compared, so `seen` holds every payment row.
 */
export async function compareUnbilled(
  deps: Pick<CompareDeps, 'table'>,
  day: { billDate: string; merchantId: string },
  seen: SeenOrders,
  totals: CompareTotals,
  onFinding: (finding: Finding) => void | Promise<void>,
): Promise<void> {
  seen.seal();
  await forEachPaidOnDay(deps.table, day.billDate, day.merchantId, async (entry) => {
    if (seen.has(entry.merchantId, entry.outTradeNo)) return;
    totals.counts.PAID_HERE_NOT_IN_BILL += 1;
    const here: NonNullable<Finding['here']> = { state: entry.state };
    if (entry.transactionId !== undefined) here.transactionId = entry.transactionId;
    if (entry.paidFen !== undefined) here.amountFen = entry.paidFen;
    await onFinding({
      kind: 'PAID_HERE_NOT_IN_BILL',
      repair: 'NOT_REPAIRABLE',
      line: 0,
      merchantId: entry.merchantId,
      outTradeNo: entry.outTradeNo,
      here,
    });
  });
}

type Items = Map<string, Parameters<typeof toOrder>[0]>;

function judgeRow(deps: CompareDeps, items: Items, row: PaymentRow | RefundRow, dryRun: boolean): Promise<Finding> {
  return row.kind === 'PAYMENT' ? judgePaymentRow(deps, items, row, dryRun) : judgeRefundRow(deps, items, row, dryRun);
}

const merchantOf = (row: PaymentRow | RefundRow) => row.subMchid ?? row.mchid;

async function judgePaymentRow(deps: CompareDeps, items: Items, row: PaymentRow, dryRun: boolean): Promise<Finding> {
  const merchantId = merchantOf(row);
  const item = items.get(orderKey(merchantId, row.outTradeNo));
  // a key holding only an early refund's tally has no order yet
  const order = item === undefined ? undefined : toOrder(item);
  const base = {
    line: row.line,
    merchantId,
    outTradeNo: row.outTradeNo,
    bill: { transactionId: row.transactionId, totalFen: row.totalFen },
    ...(order === undefined ? {} : { here: orderView(order) }),
  };
  const proof: PaymentReport = {
    outTradeNo: row.outTradeNo,
    merchantId,
    transactionId: row.transactionId,
    amountFen: row.totalFen,
    paidAt: row.at,
    channel: BILL_CHANNEL,
  };
  if (order === undefined) {
    return { kind: 'PAID_UNKNOWN_HERE', ...base, repair: await repair(deps, { payment: proof }, dryRun) };
  }
  if (isPaid(order.state)) {
    if (order.transactionId !== row.transactionId)
      return { kind: 'TRANSACTION_DIFFERS', ...base, repair: 'NOT_REPAIRABLE' };
    if ((order.paidFen ?? order.amountFen) !== row.totalFen)
      return { kind: 'AMOUNT_DIFFERS', ...base, repair: 'NOT_REPAIRABLE' };
    return { kind: 'MATCH', ...base, repair: 'NONE' };
  }
  // unpaid or closed here, paid at WeChat: the same payment a lost notification would have applied
  if (order.amountFen !== row.totalFen) return { kind: 'AMOUNT_DIFFERS', ...base, repair: 'NOT_REPAIRABLE' };
  return { kind: 'STATE_DIFFERS', ...base, repair: await repair(deps, { payment: proof }, dryRun) };
}

/** Bill refund states in the store's words (APIv2 names included: REFUNDCLOSE, CHANGE). */
const REFUND_STATES: Readonly<Record<string, RefundState>> = {
  SUCCESS: 'SUCCESS',
  PROCESSING: 'PROCESSING',
  CLOSED: 'CLOSED',
  REFUNDCLOSE: 'CLOSED',
  ABNORMAL: 'ABNORMAL',
  CHANGE: 'ABNORMAL',
};

async function judgeRefundRow(deps: CompareDeps, items: Items, row: RefundRow, dryRun: boolean): Promise<Finding> {
  const merchantId = merchantOf(row);
  const item = items.get(refundKey(merchantId, row.outRefundNo));
  // as the store reads it: an item without a state is no refund yet
  const refund = item?.state === undefined ? undefined : toRefund(item);
  const base = {
    line: row.line,
    merchantId,
    outTradeNo: row.outTradeNo,
    outRefundNo: row.outRefundNo,
    bill: {
      transactionId: row.transactionId,
      refundId: row.refundId,
      refundFen: row.refundFen,
      refundState: row.refundState,
    },
    ...(refund === undefined ? {} : { here: refundView(refund) }),
  };
  const state = REFUND_STATES[row.refundState];
  const settled = state === 'SUCCESS';
  if (refund === undefined) {
    if (!settled) return { kind: 'REFUND_UNKNOWN_HERE', ...base, repair: 'NOT_REPAIRABLE' };
    const proof = await refundProof(deps.store, row, merchantId);
    return { kind: 'REFUND_UNKNOWN_HERE', ...base, repair: await repair(deps, { refund: proof }, dryRun) };
  }
  const same = refund.refundId === row.refundId && refund.refundFen === row.refundFen;
  if (same && refund.state === state) return { kind: 'MATCH', ...base, repair: 'NONE' };
  // the bill proves success of the same refund that is still open here: apply it as a notification would
  if (same && settled && (refund.state === 'PROCESSING' || refund.state === 'ABNORMAL')) {
    const proof = await refundProof(deps.store, row, merchantId);
    return { kind: 'REFUND_DIFFERS', ...base, repair: await repair(deps, { refund: proof }, dryRun) };
  }
  return { kind: 'REFUND_DIFFERS', ...base, repair: 'NOT_REPAIRABLE' };
}

async function refundProof(store: OrderStore, row: RefundRow, merchantId: string): Promise<RefundReport> {
  // the refund row's own 订单金额 may be zero; the order's total is what a refund notification carries
  const order = await store.getOrder(merchantId, row.outTradeNo);
  return {
    outRefundNo: row.outRefundNo,
    outTradeNo: row.outTradeNo,
    merchantId,
    refundId: row.refundId,
    transactionId: row.transactionId,
    state: 'SUCCESS',
    refundFen: row.refundFen,
    totalFen: order?.paidFen ?? order?.amountFen ?? row.totalFen,
    successAt: row.at,
    channel: BILL_CHANNEL,
  };
}

/**
 * The one place a bill changes the table: the one settle path with source `bill`, the same conditional
 * writes and anomaly lines a notification goes through. A payment for an order not registered here is
 * recorded whatever the service's unknown-order policy: the bill is WeChat's own proof that it was paid.
 */
export async function repair(
  deps: CompareDeps,
  proof: { payment: PaymentReport } | { refund: RefundReport },
  dryRun: boolean,
): Promise<Repair> {
  if (dryRun) return 'DRY_RUN';
  const settle: SettleDeps = { store: deps.store, logger: deps.logger, config: { unknownOrderPolicy: 'record' } };
  if ('payment' in proof) {
    const paid = await settlePayment(proof.payment, 'bill', settle);
    if (paid.status !== 'PAID') return 'REFUSED';
    return paid.recorded ? 'APPLIED' : 'ALREADY_APPLIED';
  }
  const refunded = await settleRefund(proof.refund, 'bill', settle);
  if (refunded.status === 'APPLIED') return 'APPLIED';
  if (refunded.status === 'ALREADY_APPLIED') return 'ALREADY_APPLIED';
  return 'REFUSED';
}

function orderView(order: Order): NonNullable<Finding['here']> {
  return {
    state: order.state,
    ...(order.transactionId === undefined ? {} : { transactionId: order.transactionId }),
    amountFen: order.paidFen ?? order.amountFen,
  };
}

function refundView(refund: Refund): NonNullable<Finding['here']> {
  return { state: refund.state, refundId: refund.refundId, refundFen: refund.refundFen };
}

/** Maps with at most `limit` calls in flight, results in input order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next;
      next += 1;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
