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
  Refund,
  RefundOutcome,
  RefundReport,
  RegisterOutcome,
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
  /** Records a transfer's final result with one conditional write (its only predecessor: none). */
  applyTransfer(report: TransferReport): Promise<TransferOutcome>;
  /** Reads a transfer with a consistent read. */
  getTransfer(merchantId: string, outBillNo: string): Promise<Transfer | undefined>;
  /** Records a profit-sharing movement once (one conditional write per movement). */
  recordProfitSharing(report: ProfitSharingReport): Promise<ProfitSharingOutcome>;
  /** Records a verified event of a type the service does not interpret, once per notification id. */
  recordEvent(event: WechatEvent): Promise<EventOutcome>;
}
