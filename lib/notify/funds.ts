/**
 * Reading the decrypted resources of the APIv3 events that are not payments or refunds: a transfer's
 * result and a profit-sharing movement (docs/protocol.md I), each checked against our merchant id,
 * and any other event kept whole. Pure: a resource in, a report or a PayError out.
 */
import { inconsistent, malformed } from '../errors';
import { checkFen } from '../money';
import { TRANSFER_STATES, type ProfitSharingReport, type TransferReport, type TransferState } from '../orders/funds';
import { isRecord, optStr, str } from '../wechatpay/v3/json';
import { rfc3339ToIso } from '../wechatpay/time';

/** The event type of a transfer's final result. */
export const TRANSFER_EVENT = 'MCHTRANSFER.BILL.FINISHED';

/** Whether an event type is a profit-sharing movement (PROFITSHARING.*). */
export const isProfitSharingEvent = (type: string): boolean => type.startsWith('PROFITSHARING.');

/**
 * Whether a TRANSACTION.SUCCESS resource is a profit-sharing movement after all: WeChat labels both a
 * split and its return that way for some merchants (docs/protocol.md I). Only the content tells: a
 * sharing order and a receiver, and no order number of a payment or a combine payment.
 */
export function isProfitSharingResource(r: Record<string, unknown>): boolean {
  return (
    r.out_trade_no === undefined &&
    r.combine_out_trade_no === undefined &&
    r.order_id !== undefined &&
    isRecord(r.receiver)
  );
}

const BILL_NO = /^[0-9A-Za-z_-]{1,64}$/;

/** A transfer result resource as a transfer report; a result for another merchant is INCONSISTENT. */
export function readTransferResource(r: Record<string, unknown>, mchid: string): TransferReport {
  const what = 'transfer';
  const merchant = str(r, 'mch_id', what, 32);
  if (merchant !== mchid) throw inconsistent('mch_id does not match', { field: 'mch_id' });
  const outBillNo = str(r, 'out_bill_no', what, 64);
  if (!BILL_NO.test(outBillNo)) throw malformed('transfer.out_bill_no malformed');
  const state = str(r, 'state', what, 32);
  // only the final states arrive by this event; anything else is not a result we can record
  if (!TRANSFER_STATES.includes(state as TransferState)) throw malformed('transfer.state is not a final state');
  return {
    merchantId: merchant,
    outBillNo,
    transferBillNo: str(r, 'transfer_bill_no', what, 64),
    state: state as TransferState,
    amountFen: checkFen(r.transfer_amount, 'transfer.transfer_amount'),
    updatedAt: rfc3339ToIso(str(r, 'update_time', what, 64), 'transfer.update_time'),
    failReason: optStr(r, 'fail_reason', what, 64),
  };
}

/**
 * A profit-sharing resource as a report: addressed to our merchant (directly, or as the service
 * provider of the sub-merchant it names), one receiver per notification.
 */
export function readProfitSharingResource(
  r: Record<string, unknown>,
  eventType: string,
  mchid: string,
): ProfitSharingReport {
  const what = 'profitsharing';
  const merchant = str(r, 'mchid', what, 32);
  const sp = optStr(r, 'sp_mchid', what, 32);
  if (merchant !== mchid && sp !== mchid) throw inconsistent('mchid does not match', { field: 'mchid' });
  const receiver = r.receiver;
  if (!isRecord(receiver)) throw malformed('profitsharing.receiver missing');
  return {
    eventType,
    merchantId: optStr(r, 'sub_mchid', what, 32) ?? merchant,
    orderId: str(r, 'order_id', what, 64),
    outOrderNo: str(r, 'out_order_no', what, 64),
    transactionId: str(r, 'transaction_id', what, 32),
    receiverType: str(receiver, 'type', 'profitsharing.receiver', 32),
    receiverAccount: str(receiver, 'account', 'profitsharing.receiver', 64),
    amountFen: checkFen(receiver.amount, 'profitsharing.receiver.amount'),
    successAt: rfc3339ToIso(str(r, 'success_time', what, 64), 'profitsharing.success_time'),
    description: optStr(receiver, 'description', 'profitsharing.receiver', 256),
  };
}
