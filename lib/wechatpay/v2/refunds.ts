/**
 * APIv2 refund apply (`/secapi/pay/refund`) and refund query (`/pay/refundquery`), docs/protocol.md I,
 * over the client's signed-request primitive; the reply's sign is verified before a field is read.
 * The apply call needs the merchant's API client certificate on the TLS connection: the transport's
 * fetch must be given one (a dispatcher holding the certificate) where WeChat is really called.
 */
import { malformed } from '../../errors';
import { parseFen } from '../../money';
import { isMerchantId, isOutTradeNo } from '../../orders/model';
import { readAnswer } from '../apiError';
import type { ClientDeps } from '../http';
import { beijingToIso } from '../time';
import type { RefundAnswer, RefundApply, WechatRefundStatus } from '../v3/refunds';
import { callV2Fields } from './client';
import type { Fields } from './xml';

// refundquery's words for a refund's state (CHANGE is WeChat's 退款异常, REFUNDCLOSE its closed)
const STATUS: Readonly<Record<string, WechatRefundStatus>> = {
  SUCCESS: 'SUCCESS',
  PROCESSING: 'PROCESSING',
  REFUNDCLOSE: 'CLOSED',
  CHANGE: 'ABNORMAL',
};

/** Asks WeChat for a refund over APIv2; a SUCCESS reply means accepted (PROCESSING), the result comes later. */
export async function applyRefundV2(deps: ClientDeps, input: RefundApply): Promise<RefundAnswer> {
  check(input.outRefundNo, input.subMchid);
  if (!isOutTradeNo(input.outTradeNo)) throw malformed('outTradeNo is not a WeChat out_trade_no');
  const fields = await callV2Fields(deps, '/secapi/pay/refund', {
    ...(input.subMchid === undefined ? {} : { sub_mch_id: input.subMchid }),
    out_trade_no: input.outTradeNo,
    out_refund_no: input.outRefundNo,
    total_fee: String(input.totalFen),
    refund_fee: String(input.refundFen),
    ...(input.reason === undefined ? {} : { refund_desc: input.reason }),
    ...(input.notifyUrl === undefined ? {} : { notify_url: input.notifyUrl }),
  });
  return readAnswer(200, () => {
    const refundNo = fields.out_refund_no;
    const tradeNo = fields.out_trade_no;
    if (!isOutTradeNo(refundNo)) throw malformed('refund out_refund_no missing or malformed');
    if (!isOutTradeNo(tradeNo)) throw malformed('refund out_trade_no missing or malformed');
    const refundId = fields.refund_id;
    if (!refundId || refundId.length > 64) throw malformed('refund refund_id missing or malformed');
    return {
      outRefundNo: refundNo,
      outTradeNo: tradeNo,
      refundId,
      transactionId: fields.transaction_id || undefined,
      status: 'PROCESSING',
      refundFen: parseFen(fields.refund_fee ?? '', 'refund_fee'),
      totalFen: parseFen(fields.total_fee ?? '', 'total_fee'),
      successAt: undefined,
    };
  });
}

/** Queries one refund by out_refund_no over APIv2. */
export async function queryRefundV2(
  deps: ClientDeps,
  ref: { outRefundNo: string; subMchid?: string },
): Promise<RefundAnswer> {
  check(ref.outRefundNo, ref.subMchid);
  const fields = await callV2Fields(deps, '/pay/refundquery', {
    ...(ref.subMchid === undefined ? {} : { sub_mch_id: ref.subMchid }),
    out_refund_no: ref.outRefundNo,
  });
  return readAnswer(200, () => readRefundQueryV2(fields, ref.outRefundNo));
}

/** Reads a verified refundquery reply: the `_n` entry naming `outRefundNo`. */
export function readRefundQueryV2(fields: Fields, outRefundNo: string): RefundAnswer {
  const count = Number(fields.refund_count ?? '');
  if (!Number.isSafeInteger(count) || count < 1 || count > 50) throw malformed('refundquery refund_count malformed');
  let n = -1;
  for (let i = 0; i < count; i++) if (fields[`out_refund_no_${i}`] === outRefundNo) n = i;
  if (n < 0) throw malformed('refundquery does not name the refund asked about');
  const tradeNo = fields.out_trade_no;
  if (!isOutTradeNo(tradeNo)) throw malformed('refundquery out_trade_no missing or malformed');
  const status = STATUS[fields[`refund_status_${n}`] ?? ''];
  if (status === undefined) throw malformed('refundquery refund_status unknown');
  const refundId = fields[`refund_id_${n}`];
  if (!refundId || refundId.length > 64) throw malformed('refundquery refund_id missing or malformed');
  const success = fields[`refund_success_time_${n}`];
  if (status === 'SUCCESS' && !success) throw malformed('refundquery refund_success_time missing');
  return {
    outRefundNo,
    outTradeNo: tradeNo,
    refundId,
    transactionId: fields.transaction_id || undefined,
    status,
    refundFen: parseFen(fields[`refund_fee_${n}`] ?? '', 'refund_fee'),
    totalFen: parseFen(fields.total_fee ?? '', 'total_fee'),
    successAt: success ? beijingToIso(success, 'refund_success_time') : undefined,
  };
}

function check(outRefundNo: string, subMchid: string | undefined): void {
  if (!isOutTradeNo(outRefundNo)) throw malformed('outRefundNo is not a WeChat out_refund_no');
  if (subMchid !== undefined && !isMerchantId(subMchid)) throw malformed('subMchid must be digits');
}
