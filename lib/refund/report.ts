/** WeChat's answer about a refund (apply or query, either generation) as the report a notification makes. */
import type { RefundReport } from '../orders/model';
import type { RefundAnswer } from '../wechatpay/v3/refunds';

/** The report a final or ABNORMAL answer stands for (PROCESSING is no result and has none). */
export function reportOf(answer: RefundAnswer, merchantId: string): RefundReport | undefined {
  if (answer.status === 'PROCESSING') return undefined;
  return {
    outRefundNo: answer.outRefundNo,
    outTradeNo: answer.outTradeNo,
    merchantId,
    refundId: answer.refundId,
    transactionId: answer.transactionId,
    state: answer.status,
    refundFen: answer.refundFen,
    totalFen: answer.totalFen,
    successAt: answer.successAt,
    channel: 'query',
  };
}
