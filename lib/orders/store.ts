/** The order store: the interface the notification paths depend on, implemented over DynamoDB. */
import type { Order, OrderRegistration, PaymentOutcome, PaymentReport, RegisterOutcome } from './model';

/** What to do with a payment for an order the merchant never registered. */
export type UnknownOrderPolicy = 'record' | 'reject';

export interface OrderStore {
  /** Registers an unpaid order (idempotent for the same amount). */
  registerOrder(input: OrderRegistration): Promise<RegisterOutcome>;
  /** Applies a verified payment report with one conditional write; duplicates are outcomes, not errors. */
  applyPayment(report: PaymentReport, policy: UnknownOrderPolicy): Promise<PaymentOutcome>;
  /** Reads an order with a consistent read. */
  getOrder(merchantId: string, outTradeNo: string): Promise<Order | undefined>;
}
