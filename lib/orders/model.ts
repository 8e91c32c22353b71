/**
 * Orders and payments as the domain sees them: states, the reports that move them, and the typed
 * outcomes of a transition. Pure types and functions; the store decides nothing about protocols.
 */

/** Where a report of payment came from. */
export type Channel = 'v2' | 'v3' | 'aggregator' | 'query' | 'bill';

/**
 * PAID_UNVERIFIED: a payment recorded (policy `record`) for an order never registered, so neither its
 * amount nor its channel was checked; it is kept apart from PAID so a consumer acts on it only by choice.
 */
export type OrderState = 'NOTPAY' | 'PAID' | 'PAID_UNVERIFIED' | 'CLOSED';

/** Whether an order holds a recorded payment, verified against a registration or not. */
export function isPaid(state: OrderState): boolean {
  return state === 'PAID' || state === 'PAID_UNVERIFIED';
}

/** The channel an order was registered for: only that channel's notifications may settle it. */
export type OrderChannel = 'wechatpay' | 'aggregator';

/** The order channel a payment report belongs to: the aggregator's own, every other door is WeChat Pay's. */
export function orderChannelOf(channel: Channel): OrderChannel {
  return channel === 'aggregator' ? 'aggregator' : 'wechatpay';
}

/** An order as registered by the merchant and as moved by WeChat Pay. */
export interface Order {
  outTradeNo: string;
  /** The merchant that owns the order: the sub-merchant in service-provider mode, else the merchant. */
  merchantId: string;
  state: OrderState;
  /** The registered amount, in fen (for an unregistered order: the amount WeChat reported). */
  amountFen: number;
  /** True when the order was not registered before its payment arrived. */
  amountUnverified: boolean;
  /** The channel the order was registered for; absent (orders stored before channels existed) means wechatpay. */
  channel?: OrderChannel;
  createdAt?: string;
  transactionId?: string;
  paidFen?: number;
  paidAt?: string;
  paidVia?: Channel;
  /** What the aggregator says it credited (its `real_amount`), in fen, when below or equal to the amount. */
  creditedFen?: number;
  /** The state the payment found the order in (CLOSED here means a payment after a local close). */
  previousState?: OrderState | 'UNREGISTERED';
  closedAt?: string;
  /** Why the order closed: closed (closeOrder or WeChat), REVOKED or PAYERROR as an order query reported. */
  closedReason?: CloseReason;
  /** Sum of the successful refunds recorded against this order, in fen. */
  refundedFen?: number;
  /** The appid the order was created with, when the merchant serves several (see OrderRegistration). */
  appid?: string;
  /** The combine order (合单) this order is a sub-order of. */
  combineOutTradeNo?: string;
  /** Fen held by refunds requested here and not yet settled (paid ≥ refunded + reserved, always). */
  reservedFen?: number;
}

/** A verified report that an order was paid, whatever protocol carried it. */
export interface PaymentReport {
  outTradeNo: string;
  merchantId: string;
  transactionId: string;
  amountFen: number;
  /** ISO-8601 instant of the payment (WeChat's time, converted from Beijing time where needed). */
  paidAt: string;
  channel: Channel;
  /** The amount actually credited, when the channel states it apart from the amount paid (the aggregator's `real_amount`). */
  creditedFen?: number;
}

/** Why an authentic report could not be applied. */
export type ConflictReason = 'AMOUNT_MISMATCH' | 'OTHER_TRANSACTION' | 'OTHER_CHANNEL';

export type PaymentOutcome =
  /** The order moved to PAID now (from NOTPAY, from a local CLOSED, or created unregistered). */
  | { kind: 'APPLIED'; previous: OrderState | 'UNREGISTERED'; order: Order }
  /** The same transaction was applied by an earlier delivery. */
  | { kind: 'ALREADY_APPLIED'; order: Order }
  | { kind: 'CONFLICT'; reason: ConflictReason; order: Order }
  /** The order is not registered and the policy is to reject. */
  | { kind: 'UNKNOWN_ORDER' };

/** What a payment would do to an order in a given current state: the pure decision behind the write. */
export function judgePayment(current: Order | undefined, report: PaymentReport): PaymentOutcome | 'APPLY' {
  if (current === undefined) return 'APPLY';
  if ((current.channel ?? 'wechatpay') !== orderChannelOf(report.channel))
    return { kind: 'CONFLICT', reason: 'OTHER_CHANNEL', order: current };
  if (isPaid(current.state)) {
    return current.transactionId === report.transactionId
      ? { kind: 'ALREADY_APPLIED', order: current }
      : { kind: 'CONFLICT', reason: 'OTHER_TRANSACTION', order: current };
  }
  if (current.amountFen !== report.amountFen) return { kind: 'CONFLICT', reason: 'AMOUNT_MISMATCH', order: current };
  return 'APPLY';
}

/** Anomalies worth an operator's attention, named once for logs and metrics. */
export type Anomaly =
  | ConflictReason
  | 'UNREGISTERED_ORDER'
  | 'PAID_AFTER_CLOSE'
  | 'MERCHANT_MISMATCH'
  | 'REFUND_CONFLICT'
  | 'REFUND_EXCEEDS_TOTAL'
  /** The aggregator credited less (`real_amount`) than the amount paid (`amount`). */
  | 'CREDITED_BELOW_AMOUNT'
  /** A transfer's final result contradicted by another for the same out_bill_no. */
  | 'TRANSFER_CONFLICT'
  /** A profit-sharing movement reported again with another amount. */
  | 'PROFIT_SHARING_CONFLICT';

/** The anomaly a payment outcome represents, if any. */
export function paymentAnomaly(outcome: PaymentOutcome): Anomaly | undefined {
  switch (outcome.kind) {
    case 'CONFLICT':
      return outcome.reason;
    case 'APPLIED':
      return outcome.previous === 'UNREGISTERED'
        ? 'UNREGISTERED_ORDER'
        : outcome.previous === 'CLOSED'
          ? 'PAID_AFTER_CLOSE'
          : undefined;
    case 'UNKNOWN_ORDER':
      return 'UNREGISTERED_ORDER';
    default:
      return undefined;
  }
}

/** The terminal unpaid states WeChat can report for an order; all close it locally. */
export type CloseReason = 'CLOSED' | 'REVOKED' | 'PAYERROR';

/** An unpaid order as the pending index lists it. */
export interface PendingOrder {
  merchantId: string;
  outTradeNo: string;
  createdAt: string;
  /** The appid the order was created with, when registered with one. */
  appid?: string;
  /** The combine order it belongs to, when registered as a sub-order. */
  combineOutTradeNo?: string;
}

/** What a local close found: the order closed now, or why not. */
export type CloseOutcome =
  | { kind: 'CLOSED'; order: Order }
  | { kind: 'ALREADY_CLOSED'; order: Order }
  /** Paid wins: a payment was recorded first, and the close leaves it alone. */
  | { kind: 'PAID'; order: Order }
  | { kind: 'UNKNOWN_ORDER' };

/** What the merchant passes when it creates an order, before the customer pays. */
export interface OrderRegistration {
  outTradeNo: string;
  amountFen: number;
  /** The merchant id that owns the order: the sub-merchant in service-provider mode. */
  merchantId: string;
  /** Order creation time (ISO-8601); defaults to now. */
  createdAt?: string;
  /** Optional expiry of an unpaid order record, as epoch seconds (DynamoDB TTL). */
  expiresAt?: number;
  /** The appid the order was created with (one of WECHATPAY_APPID/WECHATPAY_APPIDS); APIv2 calls for it send it. */
  appid?: string;
  /** The combine order (合单) this order is a sub-order of: reconciliation queries that combine order. */
  combineOutTradeNo?: string;
  /** The channel the customer pays through: WeChat Pay (the default) or the aggregator. */
  channel?: OrderChannel;
}

export type RegisterOutcome =
  | { kind: 'REGISTERED'; order: Order }
  /** Registered earlier with the same amount: registering is idempotent. */
  | { kind: 'ALREADY_REGISTERED'; order: Order }
  /** The key exists with another amount, or the order has already moved (paid, closed). */
  | { kind: 'CONFLICT'; order: Order };

const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*@]{1,32}$/;
const MERCHANT_ID = /^[0-9]{1,32}$/;

/** Checks an out_trade_no the way WeChat defines it (≤32 of digits, letters, _-|*@). */
export function isOutTradeNo(s: unknown): s is string {
  return typeof s === 'string' && OUT_TRADE_NO.test(s);
}

/** Checks a merchant id (digits). */
export function isMerchantId(s: unknown): s is string {
  return typeof s === 'string' && MERCHANT_ID.test(s);
}

/**
 * A refund's state. REQUESTED: asked of WeChat by the refund function, its amount reserved on the
 * order, no result yet. A refund with no record yet is PROCESSING; SUCCESS and CLOSED are final.
 */
export type RefundState = 'REQUESTED' | 'PROCESSING' | 'SUCCESS' | 'CLOSED' | 'ABNORMAL';

/** A verified report of a refund's result, whatever protocol carried it. */
export interface RefundReport {
  outRefundNo: string;
  outTradeNo: string;
  merchantId: string;
  refundId: string;
  transactionId: string | undefined;
  state: Exclude<RefundState, 'PROCESSING' | 'REQUESTED'>;
  refundFen: number;
  /** The order total WeChat states in the refund. */
  totalFen: number;
  /** ISO-8601 instant of success, when the refund succeeded. */
  successAt: string | undefined;
  channel: Channel;
  /**
   * The merchant id came from outside the signature or encryption (APIv2's outer sub_mch_id): the
   * refund then counts only into an order registered under that merchant whose transaction (if
   * paid) is the refund's own, never onto a bare key.
   */
  merchantUnsigned?: boolean;
}

/** A refund as recorded. */
export interface Refund {
  outRefundNo: string;
  outTradeNo: string;
  merchantId: string;
  refundId: string;
  state: RefundState;
  refundFen: number;
  totalFen: number;
  successAt?: string;
  previousState?: RefundState;
  /** When the refund function recorded the request (ISO-8601). */
  requestedAt?: string;
}

/** The states a refund may move to `to` from (a refund never seen before counts as PROCESSING). */
export const REFUND_PREDECESSORS: Readonly<Record<RefundReport['state'], readonly RefundState[]>> = {
  SUCCESS: ['REQUESTED', 'PROCESSING', 'ABNORMAL'],
  CLOSED: ['REQUESTED', 'PROCESSING', 'ABNORMAL'],
  ABNORMAL: ['REQUESTED', 'PROCESSING'],
};

export type RefundOutcome =
  | { kind: 'APPLIED'; refund: Refund; previous: RefundState }
  | { kind: 'ALREADY_APPLIED'; refund: Refund }
  /** An ABNORMAL report that arrived after the refund reached a final state: out of order, harmless. */
  | { kind: 'STALE'; refund: Refund }
  /** A final state contradicted by another final state (CLOSED after SUCCESS, or a different refund id). */
  | { kind: 'CONFLICT'; refund: Refund };

/** What a refund report means for a refund whose transition was refused (the pure decision). */
export function judgeRefund(current: Refund, report: RefundReport): RefundOutcome | 'APPLY' {
  if (current.state === 'REQUESTED') {
    // our own request: WeChat's refund id may not be known yet, but the amount and the order are
    const same = current.refundFen === report.refundFen && current.outTradeNo === report.outTradeNo;
    return same && (current.refundId === '' || current.refundId === report.refundId)
      ? 'APPLY'
      : { kind: 'CONFLICT', refund: current };
  }
  if (current.refundId !== report.refundId) return { kind: 'CONFLICT', refund: current };
  if (current.state === report.state) return { kind: 'ALREADY_APPLIED', refund: current };
  if (report.state === 'ABNORMAL') return { kind: 'STALE', refund: current };
  if (REFUND_PREDECESSORS[report.state].includes(current.state)) return 'APPLY';
  return { kind: 'CONFLICT', refund: current };
}

/** A coupon event: a merchant coupon received (SENT) or a cash coupon used (USED). */
export interface CouponEvent {
  kind: 'SENT' | 'USED';
  couponCode: string;
  stockId: string;
  /** The merchant that sent (or where the customer used) the coupon. */
  merchantId: string;
  /** ISO-8601 instant of the event. */
  at: string;
  openid: string | undefined;
  channel: string | undefined;
  transactionId: string | undefined;
  amountFen: number | undefined;
}

/** Recording a coupon event: the first delivery records it, every other one finds it. */
export type CouponOutcome = { kind: 'RECORDED' } | { kind: 'ALREADY_RECORDED' };

/** A refund the merchant asks for through the refund function. */
export interface RefundRequest {
  outRefundNo: string;
  outTradeNo: string;
  /** The merchant that owns the order: the sub-merchant in service-provider mode. */
  merchantId: string;
  refundFen: number;
}

/** Recording a request: the first call records it, a repeat finds it (same or other values). */
export type RequestOutcome =
  | { kind: 'RECORDED'; refund: Refund }
  /** The out_refund_no is known with the same order and amount (in whatever state it has reached). */
  | { kind: 'EXISTS'; refund: Refund }
  /** The out_refund_no is known for another order or amount. */
  | { kind: 'CONFLICT'; refund: Refund };

/** Reserving a requested amount on its order: admitted only while paid − refunded − reserved ≥ the amount. */
export type ReserveOutcome =
  | { kind: 'RESERVED'; order: Order }
  /** This out_refund_no holds its reservation already (a repeat, or a concurrent call, wrote it). */
  | { kind: 'ALREADY_RESERVED'; order: Order }
  | { kind: 'EXCEEDS_REFUNDABLE'; order: Order; refundableFen: number }
  | { kind: 'ORDER_NOT_PAID'; order: Order }
  | { kind: 'UNKNOWN_ORDER' };

/** A requested or ABNORMAL refund as the pending index lists it (reconciliation asks WeChat about it). */
export interface PendingRefund {
  merchantId: string;
  outRefundNo: string;
  outTradeNo: string;
  /** When it was requested (or first reported ABNORMAL). */
  createdAt: string;
}

/** Fen still refundable on an order: paid − refunded − reserved (0 unless PAID). */
export function refundableFen(order: Order): number {
  if (order.state !== 'PAID') return 0;
  return (order.paidFen ?? order.amountFen) - (order.refundedFen ?? 0) - (order.reservedFen ?? 0);
}
