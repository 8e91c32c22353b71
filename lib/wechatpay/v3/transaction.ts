/** The TRANSACTION.SUCCESS resource, direct and service-provider (partner) shapes. */
import { inconsistent, malformed } from '../../errors';
import { checkFen } from '../../money';
import { isOutTradeNo } from '../../orders/model';
import type { Notice } from '../../notify/notice';
import { rfc3339ToIso } from '../time';
import { isRecord, optStr, str } from './json';

export type TradeState = 'SUCCESS' | 'REFUND' | 'NOTPAY' | 'CLOSED' | 'REVOKED' | 'USERPAYING' | 'PAYERROR';

/** The fields of a decrypted transaction this service relies on. */
export interface Transaction {
  outTradeNo: string;
  transactionId: string | undefined;
  tradeState: TradeState;
  /** The merchant (direct) or service provider (partner) id and appid. */
  mchid: string;
  appid: string | undefined;
  subMchid: string | undefined;
  totalFen: number | undefined;
  successTime: string | undefined;
}

const TRADE_STATES = new Set<string>(['SUCCESS', 'REFUND', 'NOTPAY', 'CLOSED', 'REVOKED', 'USERPAYING', 'PAYERROR']);

/** Reads a decrypted transaction object (from a notification or an order query). */
export function readTransaction(resource: Record<string, unknown>): Transaction {
  const what = 'transaction';
  const partner = resource.sp_mchid !== undefined;
  const outTradeNo = resource.out_trade_no;
  if (!isOutTradeNo(outTradeNo)) throw malformed('transaction.out_trade_no missing or malformed');
  const tradeState = str(resource, 'trade_state', what, 32);
  if (!TRADE_STATES.has(tradeState)) throw malformed('transaction.trade_state unknown');
  const amount = resource.amount;
  if (amount !== undefined && !isRecord(amount)) throw malformed('transaction.amount malformed');
  const success = optStr(resource, 'success_time', what, 64);
  return {
    outTradeNo,
    transactionId: optStr(resource, 'transaction_id', what, 64),
    tradeState: tradeState as TradeState,
    mchid: str(resource, partner ? 'sp_mchid' : 'mchid', what, 32),
    appid: optStr(resource, partner ? 'sp_appid' : 'appid', what, 32),
    subMchid: partner ? str(resource, 'sub_mchid', what, 32) : undefined,
    totalFen: amount?.total === undefined ? undefined : checkFen(amount.total, 'transaction.amount.total'),
    successTime: success === undefined ? undefined : rfc3339ToIso(success, 'transaction.success_time'),
  };
}

/** Checks a transaction against our merchant ids and reads it as a notice. */
export function transactionNotice(
  tx: Transaction,
  merchant: { mchid: string; appid: string },
  channel: 'v3' | 'query',
): Notice {
  if (tx.mchid !== merchant.mchid) throw inconsistent('mchid does not match', { field: 'mchid' });
  if (tx.appid !== undefined && tx.appid !== merchant.appid)
    throw inconsistent('appid does not match', { field: 'appid' });
  if (tx.tradeState !== 'SUCCESS')
    return { kind: 'IGNORED', reason: `trade_state ${tx.tradeState}`, outTradeNo: tx.outTradeNo };
  if (!tx.transactionId) throw malformed('transaction.transaction_id missing');
  if (tx.totalFen === undefined) throw malformed('transaction.amount.total missing');
  if (!tx.successTime) throw malformed('transaction.success_time missing');
  return {
    kind: 'PAYMENT',
    report: {
      outTradeNo: tx.outTradeNo,
      merchantId: tx.subMchid ?? tx.mchid,
      transactionId: tx.transactionId,
      amountFen: tx.totalFen,
      paidAt: tx.successTime,
      channel,
    },
  };
}
