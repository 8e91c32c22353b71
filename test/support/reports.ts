/** Verified reports as the notification path hands them to the store, for tests on the real table. */
import type { PaymentReport } from '../../lib/orders/model';
import type { Harness } from './harness';

/** A payment of order `outTradeNo` to the harness merchant: 500 fen over APIv3 unless `o` says otherwise. */
export function paymentReport(
  h: Pick<Harness, 'keys'>,
  outTradeNo: string,
  o: Partial<PaymentReport> = {},
): PaymentReport {
  return {
    outTradeNo,
    merchantId: h.keys.mchid,
    transactionId: `42${outTradeNo}`,
    amountFen: 500,
    paidAt: '2026-11-23T02:00:00.000Z',
    channel: 'v3',
    ...o,
  };
}
