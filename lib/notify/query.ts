/**
 * One order query, read the way a notification is read (the query answer is the client's own type;
 * this is where it becomes the service's report): the answer is verified by the client, then
 * checked against our merchant ids and the order asked about, and a paid order becomes the same
 * PaymentReport a notification produces (amount in fen, time as an instant), with channel `query`.
 */
import { isOurAppid, type Config } from '../config';
import { inconsistent, malformed } from '../errors';
import type { PaymentReport, PendingOrder } from '../orders/model';
import type { WechatPayClient } from '../wechatpay/client';
import { PAID_TRADE_STATES as PAID, type TradeState } from '../wechatpay/tradeState';
import type { V2Transaction } from '../wechatpay/v2/client';
import type { Transaction } from '../wechatpay/v3/transaction';
import { transactionNotice } from './read';

export type QueryProtocol = 'v2' | 'v3';

/** What WeChat says about an order; `report` is set exactly when it was paid (SUCCESS, or REFUND: paid first). */
export interface QueriedOrder {
  tradeState: TradeState;
  report: PaymentReport | undefined;
}

/** Queries one order; an order whose merchant is not ours is a sub-merchant's (partner query). */
export async function queryOrder(
  order: Pick<PendingOrder, 'merchantId' | 'outTradeNo' | 'appid' | 'combineOutTradeNo'>,
  protocol: QueryProtocol,
  deps: { config: Config; client: WechatPayClient },
): Promise<QueriedOrder> {
  const sub = order.merchantId === deps.config.mchid ? undefined : order.merchantId;
  if (protocol === 'v3' && order.combineOutTradeNo !== undefined) {
    // a sub-order of a combine order is answered by the combine-order query only
    const combine = await deps.client.v3.queryCombineOrderV3(order.combineOutTradeNo);
    if (combine.combineMchid !== deps.config.mchid)
      throw inconsistent('combine_mchid does not match', { field: 'combine_mchid' });
    const tx = combine.subOrders.find(
      (s) => s.outTradeNo === order.outTradeNo && (s.subMchid ?? s.mchid) === order.merchantId,
    );
    if (tx === undefined) throw inconsistent('combine order does not hold the order queried', { field: 'sub_orders' });
    return readV3(tx, order, deps.config);
  }
  if (protocol === 'v3') {
    const tx = await deps.client.v3.queryOrderV3({
      outTradeNo: order.outTradeNo,
      ...(sub === undefined ? {} : { subMchid: sub }),
    });
    return readV3(tx, order, deps.config);
  }
  const tx = await deps.client.v2.queryOrderV2({
    outTradeNo: order.outTradeNo,
    // an order created under one of several appids is asked about under that appid
    ...(order.appid === undefined ? {} : { appId: order.appid }),
    ...(sub === undefined ? {} : { subMchId: sub }),
  });
  return readV2(tx, order, deps.config);
}

/** The v3 answer through the notification's own checks (mchid, appid, amount, time). */
export function readV3(
  tx: Transaction,
  order: Pick<PendingOrder, 'merchantId' | 'outTradeNo'>,
  config: Config,
): QueriedOrder {
  // a refunded order was paid first: read it as the payment it was
  const notice = transactionNotice(PAID.has(tx.tradeState) ? { ...tx, tradeState: 'SUCCESS' } : tx, config, 'query');
  sameOrder(tx.outTradeNo, tx.subMchid ?? tx.mchid, order);
  if (!PAID.has(tx.tradeState)) return { tradeState: tx.tradeState, report: undefined };
  if (notice.kind !== 'PAYMENT') throw malformed('order query is not a payment');
  return { tradeState: tx.tradeState, report: notice.report };
}

/** The v2 answer through the v2 notification's checks (mch_id, appid, total_fee, time_end). */
export function readV2(
  tx: V2Transaction,
  order: Pick<PendingOrder, 'merchantId' | 'outTradeNo'>,
  config: Config,
): QueriedOrder {
  if (tx.fields.mch_id !== config.mchid) throw inconsistent('mch_id does not match', { field: 'mch_id' });
  if (!isOurAppid(config, tx.fields.appid)) throw inconsistent('appid does not match', { field: 'appid' });
  const merchantId = tx.subMchId ?? config.mchid;
  sameOrder(tx.outTradeNo, merchantId, order);
  if (!PAID.has(tx.tradeState)) return { tradeState: tx.tradeState, report: undefined };
  if (!tx.transactionId || tx.transactionId.length > 64)
    throw malformed('orderquery transaction_id missing or malformed');
  if (tx.totalFen === undefined) throw malformed('orderquery total_fee missing');
  if (tx.paidAt === undefined) throw malformed('orderquery time_end missing');
  return {
    tradeState: tx.tradeState,
    report: {
      outTradeNo: tx.outTradeNo,
      merchantId,
      transactionId: tx.transactionId,
      amountFen: tx.totalFen,
      paidAt: tx.paidAt,
      channel: 'query',
    },
  };
}

function sameOrder(
  outTradeNo: string,
  merchantId: string,
  order: Pick<PendingOrder, 'merchantId' | 'outTradeNo'>,
): void {
  if (outTradeNo !== order.outTradeNo)
    throw inconsistent('out_trade_no does not match the order queried', { field: 'out_trade_no' });
  if (merchantId !== order.merchantId)
    throw inconsistent('sub-merchant does not match the order queried', { field: 'sub_mchid' });
}
