/**
 * The transaction resource (docs/protocol.md D), direct and service-provider (partner) shapes: what a
 * TRANSACTION.SUCCESS notification decrypts to and what the order query answers.
 */
import { malformed } from '../../errors';
import { checkFen } from '../../money';
import { isOutTradeNo } from '../../orders/model';
import { rfc3339ToIso } from '../time';
import { isTradeState, type TradeState } from '../tradeState';
import { isRecord, optStr, str } from './json';

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

/** Reads a decrypted transaction object (from a notification or an order query). */
export function readTransaction(resource: Record<string, unknown>): Transaction {
  const what = 'transaction';
  const partner = resource.sp_mchid !== undefined;
  const outTradeNo = resource.out_trade_no;
  if (!isOutTradeNo(outTradeNo)) throw malformed('transaction.out_trade_no missing or malformed');
  const tradeState = str(resource, 'trade_state', what, 32);
  if (!isTradeState(tradeState)) throw malformed('transaction.trade_state unknown');
  const amount = resource.amount;
  if (amount !== undefined && !isRecord(amount)) throw malformed('transaction.amount malformed');
  const success = optStr(resource, 'success_time', what, 64);
  return {
    outTradeNo,
    transactionId: optStr(resource, 'transaction_id', what, 64),
    tradeState,
    mchid: str(resource, partner ? 'sp_mchid' : 'mchid', what, 32),
    appid: optStr(resource, partner ? 'sp_appid' : 'appid', what, 32),
    subMchid: partner ? str(resource, 'sub_mchid', what, 32) : undefined,
    totalFen: amount?.total === undefined ? undefined : checkFen(amount.total, 'transaction.amount.total'),
    successTime: success === undefined ? undefined : rfc3339ToIso(success, 'transaction.success_time'),
  };
}
