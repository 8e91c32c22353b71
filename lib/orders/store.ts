/** The order store: the interface the notification paths depend on, implemented over DynamoDB. */
import type {
  CloseOutcome,
  CloseReason,
  PendingOrder,
  CouponEvent,
  CouponOutcome,
  Order,
  OrderRegistration,
  PaymentOutcome,
  PaymentReport,
  PendingRefund,
  Refund,
  RefundOutcome,
  RefundReport,
  RefundRequest,
  RegisterOutcome,
  RequestOutcome,
  ReserveOutcome,
} from './model';
import type {
  EventOutcome,
  ProfitSharingOutcome,
  ProfitSharingReport,
  Transfer,
  TransferOutcome,
  TransferReport,
  WechatEvent,
} from './funds';

/** What to do with a payment for an order the merchant never registered. */
export type UnknownOrderPolicy = 'record' | 'reject';

export interface OrderStore {
  /** Registers an unpaid order (idempotent for the same amount). */
  registerOrder(input: OrderRegistration): Promise<RegisterOutcome>;
  /** Applies a verified payment report with one conditional write; duplicates are outcomes, not errors. */
  applyPayment(report: PaymentReport, policy: UnknownOrderPolicy): Promise<PaymentOutcome>;
  /**
   * Records that WeChat closed an order: NOTPAY → CLOSED with one conditional write that can never
   * overwrite PAID (a payment that raced the close wins).
   */
  applyClose(merchantId: string, outTradeNo: string, reason?: CloseReason): Promise<CloseOutcome>;
  /**
   * Lists unpaid orders created in [createdAfter, createdBefore] (inclusive) from the sparse pending index,
   * oldest first, one page at a time (never a table scan).
   */
  listPending(query: {
    createdAfter: string;
    createdBefore: string;
    limit: number;
    cursor?: string;
  }): Promise<{ orders: PendingOrder[]; cursor?: string }>;
  /** Counts unpaid orders created before `createdBefore` (stops counting at `max`). */
  countPendingBefore(createdBefore: string, max: number): Promise<number>;
  /** Reads an order with a consistent read. */
  getOrder(merchantId: string, outTradeNo: string): Promise<Order | undefined>;
  /**
   * Applies a verified refund report with one conditional write on the refund's own item. A refund
   * that succeeds is then added to its order's refunded total (idempotent per out_refund_no), so an
   * over-refund can be flagged; `exceedsPaid` says whether the total now passes the paid amount.
   */
  applyRefund(report: RefundReport): Promise<RefundOutcome & { exceedsPaid?: boolean }>;
  /** Records a coupon event once (one conditional put per coupon code and event). */
  recordCoupon(event: CouponEvent, eventId: string): Promise<CouponOutcome>;
  /** Reads a refund with a consistent read. */
  getRefund(merchantId: string, outRefundNo: string): Promise<Refund | undefined>;
  /** Records a refund request as REQUESTED (one conditional write); a repeat finds it. */
  requestRefund(request: RefundRequest): Promise<RequestOutcome>;
  /** Reserves a requested amount on its PAID order while paid − refunded − reserved ≥ it; once per out_refund_no. */
  reserveRefund(request: RefundRequest): Promise<ReserveOutcome>;
  /** Notes WeChat's refund id on a refund still REQUESTED. */
  recordRefundId(merchantId: string, outRefundNo: string, refundId: string): Promise<void>;
  /** Undoes a request WeChat provably refused: releases its reservation and forgets the REQUESTED item. */
  abandonRefund(request: RefundRequest): Promise<void>;
  /** Lists refunds REQUESTED or ABNORMAL since before `createdBefore` (the pending index, refund key). */
  listPendingRefunds(query: {
    createdBefore: string;
    limit: number;
    cursor?: string;
  }): Promise<{ refunds: PendingRefund[]; cursor?: string }>;
  /** Records a transfer's final result with one conditional write (its only predecessor: none). */
  applyTransfer(report: TransferReport): Promise<TransferOutcome>;
  /** Reads a transfer with a consistent read. */
  getTransfer(merchantId: string, outBillNo: string): Promise<Transfer | undefined>;
  /** Records a profit-sharing movement once (one conditional write per movement). */
  recordProfitSharing(report: ProfitSharingReport): Promise<ProfitSharingOutcome>;
  /** Records a verified event of a type the service does not interpret, once per notification id. */
  recordEvent(event: WechatEvent): Promise<EventOutcome>;
}
