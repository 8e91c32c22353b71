/** What a verified notification says, independent of the protocol that carried it. */
import type { CouponEvent, PaymentReport, RefundReport } from '../orders/model';

export type Notice =
  | { kind: 'PAYMENT'; report: PaymentReport }
  | { kind: 'REFUND'; report: RefundReport }
  | { kind: 'COUPON'; event: CouponEvent; eventId: string }
  /** Authentic, but there is nothing to record (a failed-payment result, an event type we do not act on). */
  | { kind: 'IGNORED'; reason: string; outTradeNo?: string };
