/**
 * The notification pipeline shared by every notify function: pick the protocol by content, verify,
 * read the notice, apply it with one conditional write, answer, and log one line per delivery.
 */
import type { Config } from '../config';
import { asPayError, inconsistent, malformed, PayError } from '../errors';
import type { Logger } from '../log';
import { paymentAnomaly, type Anomaly, type PaymentOutcome, type RefundOutcome } from '../orders/model';
import type { OrderStore } from '../orders/store';
import { failureReply, successReply, type HttpReply, type ReplyFormat } from '../replies';
import { headerGetter } from '../wechatpay/v3/verify';
import type { Notice } from './notice';
import { detectProtocol, readNotice } from './read';

export interface NotifyDeps {
  config: Config;
  store: OrderStore;
  logger: Logger;
  /** Injected clock, epoch milliseconds. */
  now: () => number;
}

export interface NotifyRequest {
  /** The route the request came in on, for logs only: the content decides how it is read. */
  route: string;
  headers: Readonly<Record<string, string | undefined>>;
  /** The exact bytes received (API Gateway's base64 already decoded). */
  body: Buffer;
}

/** What a delivery did, for the log line. */
export interface Delivery {
  outcome: string;
  outTradeNo?: string;
  outRefundNo?: string;
  couponCode?: string;
  transactionId?: string;
  eventId?: string;
  anomaly?: string;
}

/** Handles one delivery; never throws: every failure becomes the protocol's failure reply. */
export async function handleNotification(req: NotifyRequest, deps: NotifyDeps): Promise<HttpReply> {
  const started = deps.now();
  const header = headerGetter(req.headers);
  const protocol = detectProtocol(header, req.body);
  const delivery: Delivery = { outcome: 'pending' };
  try {
    if (req.body.length > deps.config.maxBodyBytes) throw malformed('body too large');
    const { notice, eventId } = readNotice(protocol, header, req.body, deps.config, deps.now());
    if (eventId !== undefined) delivery.eventId = eventId;
    await applyNotice(notice, deps, delivery);
    log(deps, req, protocol, delivery, started);
    return successReply(protocol);
  } catch (err) {
    const e = asPayError(err);
    delivery.outcome = e.kind;
    if (e.kind === 'INCONSISTENT' && delivery.anomaly === undefined) {
      // authentic but addressed to another merchant or app: worth an operator's look
      delivery.anomaly = 'MERCHANT_MISMATCH';
      deps.logger.anomaly('MERCHANT_MISMATCH', { outTradeNo: delivery.outTradeNo, field: e.detail?.field });
    }
    log(deps, req, protocol, delivery, started, e);
    return failureReply(protocol, e);
  }
}

async function applyNotice(notice: Notice, deps: NotifyDeps, delivery: Delivery): Promise<void> {
  switch (notice.kind) {
    case 'IGNORED':
      delivery.outcome = 'IGNORED';
      if (notice.outTradeNo !== undefined) delivery.outTradeNo = notice.outTradeNo;
      return;
    case 'PAYMENT': {
      const { report } = notice;
      delivery.outTradeNo = report.outTradeNo;
      delivery.transactionId = report.transactionId;
      const outcome = await deps.store.applyPayment(report, deps.config.unknownOrderPolicy);
      recordOutcome(outcome, deps, delivery);
      return;
    }
    case 'COUPON': {
      const outcome = await deps.store.recordCoupon(notice.event, notice.eventId);
      delivery.outcome = `COUPON_${notice.event.kind}_${outcome.kind}`;
      delivery.couponCode = notice.event.couponCode;
      return;
    }
    case 'REFUND': {
      const { report } = notice;
      delivery.outTradeNo = report.outTradeNo;
      delivery.outRefundNo = report.outRefundNo;
      const outcome = await deps.store.applyRefund(report);
      recordRefundOutcome(outcome, deps, delivery);
      return;
    }
  }
}

function flag(anomaly: Anomaly, deps: NotifyDeps, delivery: Delivery): void {
  delivery.anomaly = anomaly;
  deps.logger.anomaly(anomaly, {
    outTradeNo: delivery.outTradeNo,
    outRefundNo: delivery.outRefundNo,
    transactionId: delivery.transactionId,
  });
}

/** Refund outcomes: a stale ABNORMAL is acknowledged; contradicting final states are refused. */
function recordRefundOutcome(
  outcome: RefundOutcome & { exceedsPaid?: boolean },
  deps: NotifyDeps,
  delivery: Delivery,
): void {
  delivery.outcome = outcome.kind === 'APPLIED' ? `REFUND_${outcome.refund.state}` : `REFUND_${outcome.kind}`;
  if (outcome.exceedsPaid) flag('REFUND_EXCEEDS_TOTAL', deps, delivery);
  if (outcome.kind === 'CONFLICT') {
    flag('REFUND_CONFLICT', deps, delivery);
    throw inconsistent(`refund already ${outcome.refund.state}`);
  }
}

/** Logs anomalies and turns outcomes that must not be acknowledged into errors (shared with the aggregator pipeline). */
export function recordOutcome(outcome: PaymentOutcome, deps: NotifyDeps, delivery: Delivery): void {
  delivery.outcome =
    outcome.kind === 'APPLIED' && outcome.previous !== 'NOTPAY' ? `APPLIED_FROM_${outcome.previous}` : outcome.kind;
  const anomaly = paymentAnomaly(outcome);
  if (anomaly !== undefined) flag(anomaly, deps, delivery);
  if (outcome.kind === 'APPLIED' && (outcome.order.refundedFen ?? 0) > outcome.order.amountFen) {
    // refunds for this order were recorded before its payment, and they add up to more than it
    flag('REFUND_EXCEEDS_TOTAL', deps, delivery);
  }
  if (outcome.kind === 'CONFLICT') {
    throw inconsistent(
      outcome.reason === 'AMOUNT_MISMATCH'
        ? 'amount does not match the order'
        : 'order already paid by another transaction',
    );
  }
  if (outcome.kind === 'UNKNOWN_ORDER') throw new PayError('UNKNOWN_ORDER', 'order not registered');
}

/** Writes the one log line of a delivery (shared with the aggregator pipeline). */
export function log(
  deps: NotifyDeps,
  req: NotifyRequest,
  protocol: ReplyFormat,
  d: Delivery,
  started: number,
  err?: PayError,
): void {
  const fields: Record<string, unknown> = { route: req.route, protocol, ...d, latencyMs: deps.now() - started };
  if (err) {
    fields.reason = err.reason;
    if (err.detail) fields.detail = err.detail;
    if (err.cause instanceof Error) fields.cause = err.cause.name;
  }
  const level = !err ? 'info' : err.kind === 'UNAVAILABLE' || err.kind === 'CONFIG' ? 'error' : 'warn';
  deps.logger.log(level, 'delivery', fields);
}
