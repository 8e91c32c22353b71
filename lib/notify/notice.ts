/** What a verified notification says, independent of the protocol that carried it. */
import type { AggregatorFailureStatus, AggregatorResult } from '../aggregator/notification';
import type { PayError } from '../errors';
import type { ProfitSharingReport, TransferReport, WechatEvent } from '../orders/funds';
import type { CouponEvent, PaymentReport, RefundReport } from '../orders/model';

export type Notice =
  | { kind: 'PAYMENT'; report: PaymentReport }
  | { kind: 'REFUND'; report: RefundReport }
  | { kind: 'COUPON'; event: CouponEvent; eventId: string }
  /** A combine payment (合单支付): each sub-order is its own payment, settled on its own. */
  | { kind: 'COMBINE'; combineOutTradeNo: string; parts: CombinePart[] }
  | { kind: 'TRANSFER'; report: TransferReport }
  | { kind: 'PROFIT_SHARING'; report: ProfitSharingReport }
  /** Authentic, of a type the service does not interpret: kept whole, once per notification id. */
  | { kind: 'EVENT'; event: WechatEvent }
  /** Authentic, but there is nothing to record (a failed-payment result, an event type we do not act on). */
  | { kind: 'IGNORED'; reason: string; outTradeNo?: string };

/** A verified aggregator notification, in the service's terms. */
export type AggregatorNotice =
  /** status 10000: the payment to apply. */
  | { kind: 'PAYMENT'; report: PaymentReport; result: AggregatorResult }
  /** a documented failure status: nothing to record beyond a log line. */
  | { kind: 'FAILED'; status: AggregatorFailureStatus; meaning: string; orderId: string | undefined }
  /** a status the aggregator does not document: acknowledged, logged as unknown. */
  | { kind: 'UNKNOWN_STATUS'; status: string; orderId: string | undefined };

/** What one transaction says: a payment, or nothing to record (not paid). */
export type PaymentNotice = Extract<Notice, { kind: 'PAYMENT' | 'IGNORED' }>;

/** One sub-order of a combine payment: its own notice, or why it cannot be ours (another merchant, app). */
export type CombinePart =
  | { outTradeNo: string; merchantId: string; notice: PaymentNotice }
  | { outTradeNo: string; merchantId: string; mismatch: PayError };
