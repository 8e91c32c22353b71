/**
 * APIv3 refund apply and refund query (docs/protocol.md I), over the client's signed-request
 * primitive: the answer is verified before it is read, and read into the same shape for both calls.
 */
import { malformed } from '../../errors';
import { checkFen } from '../../money';
import { isMerchantId, isOutTradeNo } from '../../orders/model';
import { decodeUtf8 } from '../../text';
import { readAnswer } from '../apiError';
import type { ClientDeps, HttpResponse } from '../http';
import { rfc3339ToIso } from '../time';
import { callV3 } from './client';
import { isRecord, optStr, parseUntrustedJson, str } from './json';

/** A refund's status as WeChat answers it (PROCESSING: accepted, no result yet; ABNORMAL is not final). */
export type WechatRefundStatus = 'SUCCESS' | 'CLOSED' | 'PROCESSING' | 'ABNORMAL';

/** What WeChat says about a refund, in either generation: amounts in fen, times as ISO instants. */
export interface RefundAnswer {
  outRefundNo: string;
  outTradeNo: string;
  refundId: string;
  transactionId: string | undefined;
  status: WechatRefundStatus;
  refundFen: number;
  totalFen: number;
  successAt: string | undefined;
}

/** A refund to ask WeChat for. `subMchid` selects the partner (service-provider) request. */
export interface RefundApply {
  outTradeNo: string;
  outRefundNo: string;
  refundFen: number;
  /** The order's total, as WeChat requires it beside the refund. */
  totalFen: number;
  reason?: string;
  notifyUrl?: string;
  subMchid?: string;
}

const STATUSES: ReadonlySet<string> = new Set(['SUCCESS', 'CLOSED', 'PROCESSING', 'ABNORMAL']);

/** Asks WeChat for a refund; repeating the same out_refund_no never creates a second one (docs/protocol.md I). */
export async function applyRefundV3(deps: ClientDeps, input: RefundApply): Promise<RefundAnswer> {
  if (!isOutTradeNo(input.outTradeNo)) throw malformed('outTradeNo is not a WeChat out_trade_no');
  if (!isOutTradeNo(input.outRefundNo)) throw malformed('outRefundNo is not a WeChat out_refund_no');
  if (input.subMchid !== undefined && !isMerchantId(input.subMchid)) throw malformed('subMchid must be digits');
  const json: Record<string, unknown> = {
    ...(input.subMchid === undefined ? {} : { sub_mchid: input.subMchid }),
    out_trade_no: input.outTradeNo,
    out_refund_no: input.outRefundNo,
    ...(input.reason === undefined ? {} : { reason: input.reason }),
    ...(input.notifyUrl === undefined ? {} : { notify_url: input.notifyUrl }),
    amount: { refund: input.refundFen, total: input.totalFen, currency: 'CNY' },
  };
  const res = await callV3(deps, { method: 'POST', path: '/v3/refund/domestic/refunds', json });
  return readAnswer(res.status, () => readRefundV3(body(res)));
}

/** Queries a refund by out_refund_no (`subMchid` in partner mode). */
export async function queryRefundV3(
  deps: ClientDeps,
  ref: { outRefundNo: string; subMchid?: string },
): Promise<RefundAnswer> {
  if (!isOutTradeNo(ref.outRefundNo)) throw malformed('outRefundNo is not a WeChat out_refund_no');
  if (ref.subMchid !== undefined && !isMerchantId(ref.subMchid)) throw malformed('subMchid must be digits');
  const query = ref.subMchid === undefined ? '' : `?${new URLSearchParams({ sub_mchid: ref.subMchid }).toString()}`;
  const path = `/v3/refund/domestic/refunds/${encodeURIComponent(ref.outRefundNo)}${query}`;
  const res = await callV3(deps, { method: 'GET', path });
  return readAnswer(res.status, () => readRefundV3(body(res)));
}

/** Reads a verified refund answer (apply and query share it). */
export function readRefundV3(json: Record<string, unknown>): RefundAnswer {
  const what = 'refund';
  const outRefundNo = json.out_refund_no;
  const outTradeNo = json.out_trade_no;
  if (!isOutTradeNo(outRefundNo)) throw malformed('refund.out_refund_no missing or malformed');
  if (!isOutTradeNo(outTradeNo)) throw malformed('refund.out_trade_no missing or malformed');
  const status = str(json, 'status', what, 32);
  if (!STATUSES.has(status)) throw malformed('refund.status unknown');
  const amount = json.amount;
  if (!isRecord(amount)) throw malformed('refund.amount missing');
  const refundFen = checkFen(amount.refund, 'refund.amount.refund');
  const totalFen = checkFen(amount.total, 'refund.amount.total');
  const success = optStr(json, 'success_time', what, 64);
  if (status === 'SUCCESS' && !success) throw malformed('refund.success_time missing');
  return {
    outRefundNo,
    outTradeNo,
    refundId: str(json, 'refund_id', what, 64),
    transactionId: optStr(json, 'transaction_id', what, 64),
    status: status as WechatRefundStatus,
    refundFen,
    totalFen,
    successAt: success ? rfc3339ToIso(success, 'refund.success_time') : undefined,
  };
}

function body(res: HttpResponse): Record<string, unknown> {
  const value = parseUntrustedJson(decodeUtf8(res.body, 'refund'), 'refund');
  if (!isRecord(value)) throw malformed('refund is not a JSON object');
  return value;
}
