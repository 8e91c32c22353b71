/**
 * The notification pipeline shared by every notify function: pick the protocol by content, verify,
 * read the notice, apply it with one conditional write, answer, and log one line per delivery.
 */
import type { Config } from '../config';
import { asPayError, inconsistent, malformed, type PayError } from '../errors';
import { VERIFIED_BY_METRIC } from '../keys/metrics';
import type { Logger } from '../log';
import type { OrderStore } from '../orders/store';
import { failureReply, successReply, type HttpReply, type ReplyFormat } from '../replies';
import { flagMismatch, type SettleTrace } from '../settle/settle';
import { bodyByteLength, type ReceivedBody } from '../text';
import type { KeyKind } from '../wechatpay/v3/keyring';
import { headerGetter } from '../wechatpay/v3/verify';
import type { CombinePart, Notice } from './notice';
import { countDelivery, deliveryOutcome } from './outcome';
import { detectProtocol, readNotice, type Protocol } from './read';
import { refuseForeignRefund, settlePayment, settleRefund } from '../settle/settle';

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
  /** The exact message received: its bytes (API Gateway's base64 undone) or API Gateway's text of them. */
  body: ReceivedBody;
}

/** What a delivery did, for the log line. */
export interface Delivery {
  outcome: string;
  outTradeNo?: string;
  outRefundNo?: string;
  couponCode?: string;
  outBillNo?: string;
  outOrderNo?: string;
  eventType?: string;
  transactionId?: string;
  eventId?: string;
  anomaly?: string;
  /** A combine payment: its order number, and what each sub-order's settlement did. */
  combineOutTradeNo?: string;
  parts?: Array<{ outTradeNo: string; outcome: string; anomaly?: string }>;
  /** APIv3: the kind of key that verified the delivery (platform-certificate or public-key). */
  verifiedBy?: KeyKind;
}

/** Handles one delivery; never throws: every failure becomes the protocol's failure reply. */
export async function handleNotification(req: NotifyRequest, deps: NotifyDeps): Promise<HttpReply> {
  const started = deps.now();
  const header = headerGetter(req.headers);
  const protocol = detectProtocol(header, req.body);
  const delivery: Delivery = { outcome: 'pending' };
  try {
    if (bodyByteLength(req.body) > deps.config.maxBodyBytes) throw malformed('body too large');
    const { notice, eventId, verifiedBy } = readNotice(protocol, header, req.body, deps.config, deps.now());
    if (eventId !== undefined) delivery.eventId = eventId;
    if (verifiedBy !== undefined) delivery.verifiedBy = verifiedBy;
    await applyNotice(notice, protocol, deps, delivery);
    log(deps, req, protocol, delivery, started);
    return successReply(protocol);
  } catch (err) {
    const e = asPayError(err);
    delivery.outcome = e.kind;
    if (e.kind === 'INCONSISTENT' && delivery.anomaly === undefined) {
      // authentic but addressed to another merchant or app (a refused settlement has flagged its own anomaly)
      delivery.anomaly = flagMismatch(e, { outTradeNo: delivery.outTradeNo }, protocol, deps.logger);
    }
    log(deps, req, protocol, delivery, started, e);
    return failureReply(protocol, e);
  }
}

async function applyNotice(notice: Notice, protocol: Protocol, deps: NotifyDeps, delivery: Delivery): Promise<void> {
  switch (notice.kind) {
    case 'IGNORED':
      delivery.outcome = 'IGNORED';
      if (notice.outTradeNo !== undefined) delivery.outTradeNo = notice.outTradeNo;
      return;
    case 'PAYMENT': {
      const { report } = notice;
      delivery.outTradeNo = report.outTradeNo;
      delivery.transactionId = report.transactionId;
      settled(await settlePayment(report, protocol, deps), delivery);
      return;
    }
    case 'COUPON': {
      const outcome = await deps.store.recordCoupon(notice.event, notice.eventId);
      delivery.outcome = `COUPON_${notice.event.kind}_${outcome.kind}`;
      delivery.couponCode = notice.event.couponCode;
      return;
    }
    case 'COMBINE':
      return applyCombine(notice.combineOutTradeNo, notice.parts, deps, delivery);
    case 'TRANSFER': {
      const { report } = notice;
      const outcome = await deps.store.applyTransfer(report);
      delivery.outBillNo = report.outBillNo;
      delivery.outcome = `TRANSFER_${outcome.kind}`;
      if (outcome.kind === 'CONFLICT') {
        // a final result contradicted by another: not acknowledged, so WeChat keeps it while an operator looks
        delivery.anomaly = 'TRANSFER_CONFLICT';
        deps.logger.anomaly('TRANSFER_CONFLICT', { source: protocol, outBillNo: report.outBillNo });
        throw inconsistent(`transfer already ${outcome.transfer.state}`);
      }
      return;
    }
    case 'PROFIT_SHARING': {
      const { report } = notice;
      const outcome = await deps.store.recordProfitSharing(report);
      delivery.outOrderNo = report.outOrderNo;
      delivery.outcome = `PROFIT_SHARING_${outcome.kind}`;
      if (outcome.kind === 'CONFLICT') {
        delivery.anomaly = 'PROFIT_SHARING_CONFLICT';
        deps.logger.anomaly('PROFIT_SHARING_CONFLICT', { source: protocol, outOrderNo: report.outOrderNo });
        throw inconsistent('profit-sharing movement recorded with another amount');
      }
      return;
    }
    case 'EVENT': {
      // the type and id only: the decrypted resource is the merchant's data, kept in the table, never logged
      const outcome = await deps.store.recordEvent(notice.event);
      delivery.eventType = notice.event.eventType.slice(0, 64);
      delivery.outcome = `EVENT_${outcome.kind}`;
      return;
    }
    case 'REFUND': {
      const { report } = notice;
      delivery.outTradeNo = report.outTradeNo;
      delivery.outRefundNo = report.outRefundNo;
      const refused = await refuseForeignRefund(report, protocol, deps);
      if (refused !== undefined) return settled(refused, delivery);
      settled(await settleRefund(report, protocol, deps), delivery);
      return;
    }
  }
}

/**
 * Settles every sub-order of a combine payment, each with its own conditional write. A sub-order that
 * cannot be applied (another merchant or app, another amount) is an anomaly and makes the reply a
 * failure, while the others stay applied: WeChat's retry re-applies them as ALREADY_APPLIED.
 */
async function applyCombine(
  combineOutTradeNo: string,
  parts: readonly CombinePart[],
  deps: NotifyDeps,
  delivery: Delivery,
): Promise<void> {
  delivery.combineOutTradeNo = combineOutTradeNo;
  const settled = await Promise.allSettled(parts.map((part) => settlePart(part, deps)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  const results = settled.map((s) => (s as PromiseFulfilledResult<PartResult>).value);
  delivery.parts = results.map(({ refusal: _r, ...line }) => line);
  const refused = results.find((r) => r.refusal !== undefined);
  delivery.outcome = refused === undefined ? 'COMBINE_SETTLED' : 'COMBINE_PARTLY_REFUSED';
  const anomaly = results.find((r) => r.anomaly !== undefined)?.anomaly;
  if (anomaly !== undefined) delivery.anomaly = anomaly;
  if (refused?.refusal !== undefined) throw refused.refusal;
}

interface PartResult {
  outTradeNo: string;
  outcome: string;
  anomaly?: string;
  refusal?: PayError;
}

async function settlePart(part: CombinePart, deps: NotifyDeps): Promise<PartResult> {
  const ref = { outTradeNo: part.outTradeNo, merchantId: part.merchantId };
  if ('mismatch' in part) {
    const anomaly = flagMismatch(part.mismatch, ref, 'combine', deps.logger);
    return { outTradeNo: part.outTradeNo, outcome: part.mismatch.kind, anomaly, refusal: part.mismatch };
  }
  if (part.notice.kind === 'IGNORED') return { outTradeNo: part.outTradeNo, outcome: 'IGNORED' };
  const s = await settlePayment(part.notice.report, 'combine', deps);
  return {
    outTradeNo: part.outTradeNo,
    outcome: s.outcome,
    ...(s.anomaly === undefined ? {} : { anomaly: s.anomaly }),
    ...(s.refusal === undefined ? {} : { refusal: s.refusal }),
  };
}

/** Copies a settlement into the delivery's log line, and refuses what must not be acknowledged (shared with the aggregator pipeline). */
export function settled(settlement: SettleTrace, delivery: Delivery): void {
  delivery.outcome = settlement.outcome;
  if (settlement.anomaly !== undefined) delivery.anomaly = settlement.anomaly;
  if (settlement.refusal !== undefined) throw settlement.refusal;
}

/** Counts the delivery (the `Delivery` metric) and writes its one log line (shared with the aggregator pipeline). */
export function log(
  deps: NotifyDeps,
  req: NotifyRequest,
  protocol: ReplyFormat,
  d: Delivery,
  started: number,
  err?: PayError,
): void {
  // Object.assign, not a spread between literal keys: the same key order, a fraction of the cost on Node 20
  const fields: Record<string, unknown> = Object.assign<Record<string, unknown>, Delivery>(
    { route: req.route, protocol },
    d,
  );
  fields.latencyMs = deps.now() - started;
  if (err) {
    fields.reason = err.reason;
    if (err.detail) fields.detail = err.detail;
    if (err.cause instanceof Error) fields.cause = err.cause.name;
  }
  const level = !err ? 'info' : err.kind === 'UNAVAILABLE' || err.kind === 'CONFIG' ? 'error' : 'warn';
  countDelivery(deps.logger, deliveryOutcome(d.outcome, err), req.route, protocol);
  // which kind of key verified it: the public-key switch shows as this share moving
  if (d.verifiedBy !== undefined) deps.logger.count({ [VERIFIED_BY_METRIC]: 1 }, { verifiedBy: d.verifiedBy });
  deps.logger.log(level, 'delivery', fields);
}
