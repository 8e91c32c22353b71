/**
 * The one settle path. Every door that learns of a payment, a refund or a close (the notifications,
 * the aggregator, closeOrder's order query, reconciliation) hands it here: one conditional write
 * through the store, then the one reading of the store's outcome. Each door gets back the same
 * settlement (a status, the label for its log line, the anomalies already logged and counted, and
 * the refusal to answer with when the report must not be acknowledged) and only chooses its reply.
 * No other module reads a PaymentOutcome, a RefundOutcome or a CloseOutcome.
 */
import type { Config } from '../config';
import { inconsistent, PayError } from '../errors';
import type { Logger } from '../log';
import {
  paymentAnomaly,
  type Anomaly,
  type Channel,
  type CloseReason,
  type ConflictReason,
  type Order,
  type PaymentReport,
  type Refund,
  type RefundReport,
} from '../orders/model';
import type { OrderStore } from '../orders/store';

/** The door a report came through; it names the anomaly lines and decides what the item records as `paidVia`/`lastVia`. */
export type SettleSource =
  | 'v2'
  | 'v3'
  | 'combine'
  | 'aggregator'
  | 'close-query'
  | 'reconcile'
  | 'refund-call'
  | 'bill';

/** What the table records as the channel of each door (both query doors record `query`, as before). */
const CHANNEL_OF: Readonly<Record<SettleSource, Channel>> = {
  v2: 'v2',
  v3: 'v3',
  // a combine payment's sub-orders arrive as APIv3 notifications
  combine: 'v3',
  aggregator: 'aggregator',
  'close-query': 'query',
  reconcile: 'query',
  // the refund function's own apply answer: WeChat's signed reply, like a query
  'refund-call': 'query',
  bill: 'bill',
};

/** What settling needs: the store, the logger anomalies go to, and the unknown-order policy. */
export interface SettleDeps {
  store: OrderStore;
  logger: Logger;
  config: Pick<Config, 'unknownOrderPolicy'>;
}

/** What every settlement carries besides its status: the fields of the door's one log line, and the refusal. */
export interface SettleTrace {
  /** The outcome as logged: APPLIED, APPLIED_FROM_CLOSED, ALREADY_APPLIED, CONFLICT, REFUND_SUCCESS, CLOSED … */
  outcome: string;
  /** The anomalies this settlement flagged, in order; each was logged and counted once, here. */
  anomalies: Anomaly[];
  /** The last anomaly, for the door's log line (undefined when none). */
  anomaly?: Anomaly;
  /** Why the report must not be acknowledged, as the error a protocol reply is made from; none: acknowledge. */
  refusal?: PayError;
}

/** A payment, settled. */
export type PaymentSettlement = SettleTrace &
  (
    | /** The order is PAID by this transaction; `recorded`: this call wrote it (else an earlier one did). */
    { status: 'PAID'; recorded: boolean; order: Order }
    /** Authentic, but contradicts the order (another amount, another transaction): not applied. */
    | { status: 'CONFLICT'; reason: ConflictReason; order: Order }
    /** Not registered, and the policy rejects such payments: nothing written. */
    | { status: 'UNKNOWN_ORDER' }
  );

/** A refund, settled: the refund's state after the write, and what the write found. */
export type RefundSettlement = SettleTrace & {
  status: 'APPLIED' | 'ALREADY_APPLIED' | 'STALE' | 'CONFLICT';
  refund: Refund;
};

/** A close, settled: CLOSED now or before, PAID (a payment won the race), or no such order. */
export type CloseSettlement = SettleTrace &
  ({ status: 'CLOSED' | 'ALREADY_CLOSED' | 'PAID'; order: Order } | { status: 'UNKNOWN_ORDER' });

/** Which order (and transaction or refund) an anomaly line is about. */
export interface SettleRef {
  outTradeNo?: string | undefined;
  merchantId?: string | undefined;
  transactionId?: string | undefined;
  outRefundNo?: string | undefined;
}

const CONFLICT_REASON_TEXT: Readonly<Record<ConflictReason, string>> = {
  AMOUNT_MISMATCH: 'amount does not match the order',
  OTHER_TRANSACTION: 'order already paid by another transaction',
  OTHER_CHANNEL: 'order is registered for another channel',
};

/** Applies a verified payment report with the store's one conditional write and reads what it did. */
export async function settlePayment(
  report: PaymentReport,
  source: SettleSource,
  deps: SettleDeps,
): Promise<PaymentSettlement> {
  const outcome = await deps.store.applyPayment(
    { ...report, channel: CHANNEL_OF[source] },
    deps.config.unknownOrderPolicy,
  );
  const flags = new Flags(source, deps.logger, {
    outTradeNo: report.outTradeNo,
    merchantId: report.merchantId,
    transactionId: report.transactionId,
  });
  const anomaly = paymentAnomaly(outcome);
  if (anomaly !== undefined) flags.raise(anomaly);
  if (outcome.kind === 'APPLIED' && report.creditedFen !== undefined && report.creditedFen < report.amountFen) {
    // the aggregator kept part of the payment (a fee, a discount it funded): paid, but worth a look
    flags.raise('CREDITED_BELOW_AMOUNT');
  }
  switch (outcome.kind) {
    case 'APPLIED':
      if ((outcome.order.refundedFen ?? 0) > outcome.order.amountFen) {
        // refunds for this order were recorded before its payment, and they add up to more than it
        flags.raise('REFUND_EXCEEDS_TOTAL');
      }
      return {
        status: 'PAID',
        recorded: true,
        order: outcome.order,
        ...flags.trace(outcome.previous === 'NOTPAY' ? 'APPLIED' : `APPLIED_FROM_${outcome.previous}`),
      };
    case 'ALREADY_APPLIED':
      return { status: 'PAID', recorded: false, order: outcome.order, ...flags.trace('ALREADY_APPLIED') };
    case 'CONFLICT':
      return {
        status: 'CONFLICT',
        reason: outcome.reason,
        order: outcome.order,
        ...flags.trace('CONFLICT', inconsistent(CONFLICT_REASON_TEXT[outcome.reason])),
      };
    case 'UNKNOWN_ORDER':
      return {
        status: 'UNKNOWN_ORDER',
        ...flags.trace('UNKNOWN_ORDER', new PayError('UNKNOWN_ORDER', 'order not registered')),
      };
  }
}

/**
 * Applies a verified refund report with one conditional write on the refund's item: a stale ABNORMAL
 * is acknowledged, a final state contradicted by another is refused, and refunds adding up to more
 * than the order's payment are flagged.
 */
export async function settleRefund(
  report: RefundReport,
  source: SettleSource,
  deps: SettleDeps,
): Promise<RefundSettlement> {
  const flags = new Flags(source, deps.logger, {
    outTradeNo: report.outTradeNo,
    merchantId: report.merchantId,
    transactionId: report.transactionId,
    outRefundNo: report.outRefundNo,
  });
  const outcome = await deps.store.applyRefund({ ...report, channel: CHANNEL_OF[source] });
  if (outcome.exceedsPaid === true) flags.raise('REFUND_EXCEEDS_TOTAL');
  const label = outcome.kind === 'APPLIED' ? `REFUND_${outcome.refund.state}` : `REFUND_${outcome.kind}`;
  if (outcome.kind !== 'CONFLICT') return { status: outcome.kind, refund: outcome.refund, ...flags.trace(label) };
  flags.raise('REFUND_CONFLICT');
  return {
    status: 'CONFLICT',
    refund: outcome.refund,
    ...flags.trace(label, inconsistent(`refund already ${outcome.refund.state}`)),
  };
}

/**
 * Refuses, before anything is written, a refund whose merchant id is unsigned (APIv2's outer
 * sub_mch_id) and names a sub-merchant whose order was paid by another transaction: that is not
 * this refund's merchant (docs/protocol.md B). Undefined when the refund may be settled.
 */
export async function refuseForeignRefund(
  report: RefundReport,
  source: SettleSource,
  deps: SettleDeps,
): Promise<SettleTrace | undefined> {
  if (report.merchantUnsigned !== true || report.transactionId === undefined) return undefined;
  const order = await deps.store.getOrder(report.merchantId, report.outTradeNo);
  if (order?.transactionId === undefined || order.transactionId === report.transactionId) return undefined;
  const flags = new Flags(source, deps.logger, {
    outTradeNo: report.outTradeNo,
    merchantId: report.merchantId,
    transactionId: report.transactionId,
    outRefundNo: report.outRefundNo,
  });
  flags.raise('MERCHANT_MISMATCH');
  return flags.trace('INCONSISTENT', inconsistent('sub_mch_id does not match the order', { field: 'sub_mch_id' }));
}

/**
 * Records that WeChat closed an order (NOTPAY → CLOSED with the write that never overwrites PAID);
 * `reason` is REVOKED or PAYERROR when an order query said so.
 */
export async function settleClose(
  ref: { merchantId: string; outTradeNo: string },
  reason: CloseReason | undefined,
  source: SettleSource,
  deps: SettleDeps,
): Promise<CloseSettlement> {
  const outcome =
    reason === undefined
      ? await deps.store.applyClose(ref.merchantId, ref.outTradeNo)
      : await deps.store.applyClose(ref.merchantId, ref.outTradeNo, reason);
  const trace = new Flags(source, deps.logger, ref).trace(outcome.kind);
  return outcome.kind === 'UNKNOWN_ORDER'
    ? { status: 'UNKNOWN_ORDER', ...trace }
    : { status: outcome.kind, order: outcome.order, ...trace };
}

/**
 * Flags an authentic answer or notification about another merchant, app or order (an INCONSISTENT
 * error met before any write): the one place MERCHANT_MISMATCH is logged and counted.
 */
export function flagMismatch(err: PayError, ref: SettleRef, source: SettleSource, logger: Logger): Anomaly {
  logger.anomaly('MERCHANT_MISMATCH', { source, ...ref, field: err.detail?.field });
  return 'MERCHANT_MISMATCH';
}

/** The anomalies of one settlement: each logged and counted as raised, every line the same shape. */
class Flags {
  private readonly raised: Anomaly[] = [];

  constructor(
    private readonly source: SettleSource,
    private readonly logger: Logger,
    private readonly ref: SettleRef,
  ) {}

  raise(anomaly: Anomaly): void {
    this.raised.push(anomaly);
    this.logger.anomaly(anomaly, { source: this.source, ...this.ref });
  }

  trace(outcome: string, refusal?: PayError): SettleTrace {
    const last = this.raised[this.raised.length - 1];
    const trace: SettleTrace = { outcome, anomalies: this.raised };
    if (last !== undefined) trace.anomaly = last;
    if (refusal !== undefined) trace.refusal = refusal;
    return trace;
  }
}
