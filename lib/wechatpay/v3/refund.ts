/** The REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED resource, direct and partner shapes (docs/protocol.md D). */
import { inconsistent, malformed } from '../../errors';
import { checkFen } from '../../money';
import { isOutTradeNo } from '../../orders/model';
import { rfc3339ToIso } from '../time';
import { isRecord, optStr, str } from './json';

/** `refund_status` as APIv3 spells it; ABNORMAL is not final. */
export type V3RefundStatus = 'SUCCESS' | 'CLOSED' | 'ABNORMAL';

/** The event types that carry a refund resource, and the status each must report. */
export const REFUND_EVENTS: Readonly<Record<string, V3RefundStatus>> = {
  'REFUND.SUCCESS': 'SUCCESS',
  'REFUND.ABNORMAL': 'ABNORMAL',
  'REFUND.CLOSED': 'CLOSED',
};

const STATUSES: ReadonlySet<string> = new Set<V3RefundStatus>(['SUCCESS', 'CLOSED', 'ABNORMAL']);

/** A decrypted, checked APIv3 refund; amounts in fen, times as ISO instants. */
export interface V3Refund {
  outRefundNo: string;
  outTradeNo: string;
  /** The merchant (direct) or service provider (partner) id. */
  mchid: string;
  /** Set in partner mode. */
  subMchid: string | undefined;
  refundId: string;
  transactionId: string | undefined;
  refundStatus: V3RefundStatus;
  refundFen: number;
  totalFen: number;
  successAt: string | undefined;
}

/** Reads a decrypted refund resource, checking the merchant ids and that the status fits the event. */
export function readV3Refund(
  resource: Record<string, unknown>,
  merchant: { mchid: string },
  eventType: string,
): V3Refund {
  const what = 'refund';
  const partner = resource.sp_mchid !== undefined;
  const mchid = str(resource, partner ? 'sp_mchid' : 'mchid', what, 32);
  if (mchid !== merchant.mchid) throw inconsistent('mchid does not match', { field: 'mchid' });
  const subMchid = partner ? str(resource, 'sub_mchid', what, 32) : undefined;
  const outTradeNo = resource.out_trade_no;
  const outRefundNo = resource.out_refund_no;
  if (!isOutTradeNo(outTradeNo)) throw malformed('refund.out_trade_no missing or malformed');
  if (!isOutTradeNo(outRefundNo)) throw malformed('refund.out_refund_no missing or malformed');
  const status = str(resource, 'refund_status', what, 32);
  if (!STATUSES.has(status)) throw malformed('refund.refund_status unknown');
  const refundStatus = status as V3RefundStatus;
  if (REFUND_EVENTS[eventType] !== refundStatus) throw malformed('refund_status does not match the event type');
  const amount = resource.amount;
  if (!isRecord(amount)) throw malformed('refund.amount missing');
  const refundFen = checkFen(amount.refund, 'refund.amount.refund');
  const totalFen = checkFen(amount.total, 'refund.amount.total');
  if (refundFen === 0 || refundFen > totalFen)
    throw inconsistent('refund amount exceeds the order total', { field: 'amount.refund' });
  const success = optStr(resource, 'success_time', what, 64);
  if (refundStatus === 'SUCCESS' && !success) throw malformed('refund.success_time missing');
  return {
    outRefundNo,
    outTradeNo,
    mchid,
    subMchid,
    refundId: str(resource, 'refund_id', what, 64),
    transactionId: optStr(resource, 'transaction_id', what, 64),
    refundStatus,
    refundFen,
    totalFen,
    successAt: success ? rfc3339ToIso(success, 'refund.success_time') : undefined,
  };
}
