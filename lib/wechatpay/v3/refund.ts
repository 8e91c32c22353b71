/** The REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED resource, direct and partner shapes. */
import { inconsistent, malformed } from '../../errors';
import { checkFen } from '../../money';
import { isOutTradeNo, type RefundReport } from '../../orders/model';
import { rfc3339ToIso } from '../time';
import { isRecord, optStr, str } from './json';

const STATUS: Record<string, RefundReport['state']> = { SUCCESS: 'SUCCESS', CLOSED: 'CLOSED', ABNORMAL: 'ABNORMAL' };
/** The event types that carry a refund resource, and the status each must report. */
export const REFUND_EVENTS: Readonly<Record<string, RefundReport['state']>> = {
  'REFUND.SUCCESS': 'SUCCESS',
  'REFUND.ABNORMAL': 'ABNORMAL',
  'REFUND.CLOSED': 'CLOSED',
};

/** Reads a decrypted refund resource, checking the merchant ids, as a refund report. */
export function readV3Refund(
  resource: Record<string, unknown>,
  merchant: { mchid: string },
  eventType: string,
): RefundReport {
  const what = 'refund';
  const partner = resource.sp_mchid !== undefined;
  const mchid = str(resource, partner ? 'sp_mchid' : 'mchid', what, 32);
  if (mchid !== merchant.mchid) throw inconsistent('mchid does not match', { field: 'mchid' });
  const subMchid = partner ? str(resource, 'sub_mchid', what, 32) : undefined;
  const outTradeNo = resource.out_trade_no;
  const outRefundNo = resource.out_refund_no;
  if (!isOutTradeNo(outTradeNo)) throw malformed('refund.out_trade_no missing or malformed');
  if (!isOutTradeNo(outRefundNo)) throw malformed('refund.out_refund_no missing or malformed');
  const state = STATUS[str(resource, 'refund_status', what, 32)];
  if (!state) throw malformed('refund.refund_status unknown');
  if (REFUND_EVENTS[eventType] !== state) throw malformed('refund_status does not match the event type');
  const amount = resource.amount;
  if (!isRecord(amount)) throw malformed('refund.amount missing');
  const refundFen = checkFen(amount.refund, 'refund.amount.refund');
  const totalFen = checkFen(amount.total, 'refund.amount.total');
  if (refundFen === 0 || refundFen > totalFen)
    throw inconsistent('refund amount exceeds the order total', { field: 'amount.refund' });
  const success = optStr(resource, 'success_time', what, 64);
  if (state === 'SUCCESS' && !success) throw malformed('refund.success_time missing');
  return {
    outRefundNo,
    outTradeNo,
    merchantId: subMchid ?? mchid,
    refundId: str(resource, 'refund_id', what, 64),
    transactionId: optStr(resource, 'transaction_id', what, 64),
    state,
    refundFen,
    totalFen,
    successAt: success ? rfc3339ToIso(success, 'refund.success_time') : undefined,
    channel: 'v3',
  };
}
