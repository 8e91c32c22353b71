/**
 * The combine-payment resource (合单支付, docs/protocol.md D): what a TRANSACTION.SUCCESS for a
 * combine order decrypts to, and what the combine-order query answers. One payer pays several
 * sub-orders at once; each sub-order names its own merchant (and, for a service provider, its
 * sub-merchant), its own out_trade_no, transaction and amount. Each sub-order is read here as the
 * same Transaction a single payment is, so the service checks and settles it the same way.
 */
import { malformed } from '../../errors';
import { checkFen } from '../../money';
import { isOutTradeNo } from '../../orders/model';
import { rfc3339ToIso } from '../time';
import { isTradeState } from '../tradeState';
import { isRecord, optStr, str } from './json';
import type { Transaction } from './transaction';

/** A combine order as WeChat reports it: the initiator's ids and the sub-orders, each as a transaction. */
export interface CombinePayment {
  combineOutTradeNo: string;
  combineMchid: string;
  combineAppid: string | undefined;
  subOrders: Transaction[];
}

/** WeChat takes at most 50 sub-orders in one combine order; more is not a message it sends. */
export const MAX_SUB_ORDERS = 50;

/** True when a decrypted TRANSACTION.* resource is a combine order (it names combine_out_trade_no). */
export function isCombineResource(resource: Record<string, unknown>): boolean {
  return resource.combine_out_trade_no !== undefined;
}

/** Reads a decrypted combine order; a malformed sub-order makes the whole message MALFORMED. */
export function readCombine(resource: Record<string, unknown>): CombinePayment {
  const what = 'combine';
  const combineOutTradeNo = resource.combine_out_trade_no;
  if (!isOutTradeNo(combineOutTradeNo)) throw malformed('combine.combine_out_trade_no missing or malformed');
  const subs = resource.sub_orders;
  if (!Array.isArray(subs) || subs.length === 0 || subs.length > MAX_SUB_ORDERS)
    throw malformed('combine.sub_orders missing or malformed');
  const combineAppid = optStr(resource, 'combine_appid', what, 32);
  const subOrders = subs.map((sub, i) => readSubOrder(sub, i, combineAppid));
  if (new Set(subOrders.map((s) => `${s.subMchid ?? s.mchid}/${s.outTradeNo}`)).size !== subOrders.length)
    throw malformed('combine.sub_orders repeats an out_trade_no');
  return { combineOutTradeNo, combineMchid: str(resource, 'combine_mchid', what, 32), combineAppid, subOrders };
}

/** One sub-order as a transaction: its amount is `total_amount` (what the order was for), not `payer_amount`. */
function readSubOrder(sub: unknown, index: number, combineAppid: string | undefined): Transaction {
  const what = `combine.sub_orders[${index}]`;
  if (!isRecord(sub)) throw malformed(`${what} malformed`);
  const outTradeNo = sub.out_trade_no;
  if (!isOutTradeNo(outTradeNo)) throw malformed(`${what}.out_trade_no missing or malformed`);
  const tradeState = str(sub, 'trade_state', what, 32);
  if (!isTradeState(tradeState)) throw malformed(`${what}.trade_state unknown`);
  const amount = sub.amount;
  if (amount !== undefined && !isRecord(amount)) throw malformed(`${what}.amount malformed`);
  if (amount?.payer_amount !== undefined) checkFen(amount.payer_amount, `${what}.amount.payer_amount`);
  const success = optStr(sub, 'success_time', what, 64);
  return {
    outTradeNo,
    transactionId: optStr(sub, 'transaction_id', what, 64),
    tradeState,
    mchid: str(sub, 'mchid', what, 32),
    // the payer paid through the initiator's app: that appid is the one every sub-order was made under
    appid: combineAppid,
    subMchid: optStr(sub, 'sub_mchid', what, 32),
    totalFen:
      amount?.total_amount === undefined ? undefined : checkFen(amount.total_amount, `${what}.amount.total_amount`),
    successTime: success === undefined ? undefined : rfc3339ToIso(success, `${what}.success_time`),
  };
}
