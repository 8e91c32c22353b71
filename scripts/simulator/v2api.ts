/**
 * TEST-ONLY: WeChat Pay's APIv2 close order and order query (docs/protocol.md C), XML in, signed XML out.
 *
 * Code choices (see README): every refusal is a signed reply with return_code SUCCESS, result_code FAIL
 * and an err_code from the official table (the `return-fail` fault produces the transport-level
 * return_code FAIL shape instead); the five-minute rule answers err_code ORDER_NOT_READY, a code the
 * official docs do not name, chosen so that no client mistakes it for a retryable SYSTEMERROR.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Fault } from './faults';
import type { HttpReply, SimRequest } from './http';
import type { TestKeys } from './keys';
import { beijingCompact, v2Sign, v2Xml, type V2SignType } from './messages';
import { LOWER_HEX, randomString } from './random';
import { type RefundDesk, v2RefundApply, v2RefundQuery } from './refunds';
import { MERCHANT_NO_PATTERN, type CloseOutcome, type SimOrder, type SimState } from './state';
import { SIGNATURE_PROBE_PREFIX } from './v3auth';
import { parseFlatXml } from './xml';

/** The err_code the simulator answers when an order is closed before it is `closeMinAgeSeconds` old. */
export const V2_TOO_EARLY_CODE = 'ORDER_NOT_READY';

/** Descriptions WeChat gives for the APIv2 error codes the simulator uses. */
export const V2_ERROR_DESCRIPTIONS: Readonly<Record<string, string>> = {
  ORDERPAID: '订单已支付，不能发起关单',
  ORDERCLOSED: '订单已关闭，无法重复关闭',
  ORDERNOTEXIST: '此交易订单号不存在',
  SYSTEMERROR: '系统错误',
  SIGNERROR: '签名错误',
  REQUIRE_POST_METHOD: '请使用post方法',
  XML_FORMAT_ERROR: 'XML格式错误',
  APPID_MCHID_NOT_MATCH: 'appid和mch_id不匹配',
  PARAM_ERROR: '参数错误',
  FREQUENCY_LIMITED: '频率限制',
  [V2_TOO_EARLY_CODE]: '订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟',
};

const TRADE_STATE_DESC: Readonly<Record<string, string>> = {
  SUCCESS: '支付成功',
  REFUND: '转入退款',
  NOTPAY: '订单未支付',
  CLOSED: '已关闭',
  REVOKED: '已撤销（刷卡支付）',
  USERPAYING: '用户支付中',
  PAYERROR: '支付失败',
};

/** The APIv2 endpoint names (also fault targets). */
export type V2Endpoint = 'v2.closeorder' | 'v2.orderquery' | 'v2.refund' | 'v2.refundquery';

/** What a v2 handler needs from the simulator. */
export interface V2Context {
  keys: TestKeys;
  state: SimState;
  closeMinAgeSeconds: number;
  /** Refund apply and query (absent: those calls answer PARAM_ERROR). */
  refunds?: RefundDesk;
  /** Further appids bound to the merchant id (scripts/simulator/shapes.ts). */
  appids?: readonly string[];
}

/** A verified request: its fields, the owning merchant and the signature algorithm to answer with. */
interface V2Call {
  fields: Record<string, string>;
  merchantId: string;
  signType: V2SignType;
}

type Business = Record<string, string>;

/** Maps a v2 path to its endpoint name. */
export function v2Endpoint(path: string): V2Endpoint | undefined {
  if (path === '/pay/closeorder') return 'v2.closeorder';
  if (path === '/pay/orderquery') return 'v2.orderquery';
  if (path === '/secapi/pay/refund') return 'v2.refund';
  if (path === '/pay/refundquery') return 'v2.refundquery';
  return undefined;
}

/** Answers a canned fault (undefined when the fault only decorates a normal answer). */
export function v2FaultReply(ctx: V2Context, req: SimRequest, fault: Fault): HttpReply | undefined {
  const echo = echoFields(ctx, parseFlatXml(req.body));
  switch (fault.kind) {
    case 'system-error':
      return signedReply(ctx, echo, 'MD5', failure('SYSTEMERROR'));
    case 'rate-limit':
      return signedReply(ctx, echo, 'MD5', failure('FREQUENCY_LIMITED'));
    case 'return-fail':
      return xmlReply(v2Xml({ return_code: 'FAIL', return_msg: '系统繁忙,请稍后再试' }));
    case 'unsigned-500':
      return {
        status: 500,
        headers: { 'Content-Type': 'text/html' },
        body: '<html><body>500 Internal Server Error</body></html>',
      };
    default:
      return undefined;
  }
}

/** Handles one APIv2 call; `fault` may spoil the signature of the normal answer. */
export function handleV2(ctx: V2Context, endpoint: V2Endpoint, req: SimRequest, fault?: Fault): HttpReply {
  const parsed = parseFlatXml(req.body);
  const echo = echoFields(ctx, parsed);
  if (req.method !== 'POST') return signedReply(ctx, echo, 'MD5', failure('REQUIRE_POST_METHOD'));
  if (parsed === undefined || req.tooLarge) return signedReply(ctx, echo, 'MD5', failure('XML_FORMAT_ERROR'));
  const call = authenticate(ctx, parsed);
  if ('refusal' in call) return signedReply(ctx, echo, call.signType, failure(call.refusal));
  const business = businessOf(ctx, endpoint, call);
  return signedReply(ctx, echo, call.signType, business, fault);
}

function businessOf(ctx: V2Context, endpoint: V2Endpoint, call: V2Call): Business {
  switch (endpoint) {
    case 'v2.closeorder':
      return closeOrder(ctx, call);
    case 'v2.orderquery':
      return orderQuery(ctx, call);
    case 'v2.refund':
      return ctx.refunds === undefined
        ? failure('PARAM_ERROR')
        : v2RefundApply(ctx.refunds, call.merchantId, call.fields);
    case 'v2.refundquery':
      return ctx.refunds === undefined
        ? failure('PARAM_ERROR')
        : v2RefundQuery(ctx.refunds, call.merchantId, call.fields);
  }
}

function authenticate(
  ctx: V2Context,
  fields: Record<string, string>,
): V2Call | { refusal: string; signType: V2SignType } {
  const declared = fields.sign_type;
  const signType: V2SignType = declared === 'HMAC-SHA256' ? 'HMAC-SHA256' : 'MD5';
  if (declared !== undefined && declared !== 'MD5' && declared !== 'HMAC-SHA256')
    return { refusal: 'SIGNERROR', signType };
  // Only this merchant's key is known, so another merchant (or app) cannot be verified at all.
  if (fields.mch_id !== ctx.keys.mchid || !boundAppid(ctx, fields.appid))
    return { refusal: 'APPID_MCHID_NOT_MATCH', signType };
  if (!signatureMatches(fields, ctx.keys.apiV2Key, signType)) return { refusal: 'SIGNERROR', signType };
  if (fields.nonce_str === undefined || fields.nonce_str === '') return { refusal: 'PARAM_ERROR', signType };
  return { fields, merchantId: fields.sub_mch_id || ctx.keys.mchid, signType };
}

/** The keys' appid, or another app bound to the same merchant id (scripts/simulator/shapes.ts). */
function boundAppid(ctx: V2Context, appid: string | undefined): boolean {
  return appid !== undefined && (appid === ctx.keys.appid || (ctx.appids ?? []).includes(appid));
}

function signatureMatches(fields: Record<string, string>, key: string, signType: V2SignType): boolean {
  const received = Buffer.from(fields.sign ?? '', 'utf8');
  const expected = Buffer.from(v2Sign(fields, key, signType), 'utf8');
  return received.length === expected.length && timingSafeEqual(received, expected);
}

function closeOrder(ctx: V2Context, call: V2Call): Business {
  const outTradeNo = call.fields.out_trade_no ?? '';
  if (!MERCHANT_NO_PATTERN.test(outTradeNo)) return failure('PARAM_ERROR');
  return closeResult(ctx.state.close(call.merchantId, outTradeNo, ctx.closeMinAgeSeconds));
}

function closeResult(outcome: CloseOutcome): Business {
  switch (outcome.kind) {
    case 'closed':
      return { result_code: 'SUCCESS', result_msg: 'OK' };
    case 'already-closed':
      return failure('ORDERCLOSED');
    case 'paid':
      return failure('ORDERPAID');
    case 'not-found':
      return failure('ORDERNOTEXIST');
    case 'too-early':
      return failure(V2_TOO_EARLY_CODE);
  }
}

function orderQuery(ctx: V2Context, call: V2Call): Business {
  const { out_trade_no: outTradeNo, transaction_id: transactionId } = call.fields;
  const order =
    transactionId !== undefined && transactionId !== ''
      ? ctx.state.findByTransactionId(call.merchantId, transactionId)
      : outTradeNo !== undefined && MERCHANT_NO_PATTERN.test(outTradeNo)
        ? ctx.state.findOrder(call.merchantId, outTradeNo)
        : undefined;
  if (order === undefined) return failure(outTradeNo || transactionId ? 'ORDERNOTEXIST' : 'PARAM_ERROR');
  return { result_code: 'SUCCESS', ...orderFields(order) };
}

function orderFields(order: SimOrder): Business {
  const base: Business = {
    out_trade_no: order.outTradeNo,
    trade_state: order.state,
    trade_state_desc: TRADE_STATE_DESC[order.state] ?? order.state,
    total_fee: String(order.amount),
    fee_type: 'CNY',
    attach: order.attach ?? '',
  };
  if (order.transactionId === undefined) return base;
  return {
    ...base,
    openid: order.openid ?? '',
    is_subscribe: 'N',
    trade_type: 'JSAPI',
    bank_type: 'OTHERS',
    cash_fee: String(order.amount),
    cash_fee_type: 'CNY',
    transaction_id: order.transactionId,
    time_end: beijingCompact(new Date(order.successTime ?? 0)),
  };
}

function failure(code: string): Business {
  return { result_code: 'FAIL', err_code: code, err_code_des: V2_ERROR_DESCRIPTIONS[code] ?? code };
}

function echoFields(ctx: V2Context, fields: Record<string, string> | undefined): Business {
  // The reply names the caller's app and (sub-)merchant; unreadable requests get this merchant's.
  return {
    appid: fields?.appid || ctx.keys.appid,
    mch_id: fields?.mch_id || ctx.keys.mchid,
    ...(fields?.sub_appid ? { sub_appid: fields.sub_appid } : {}),
    ...(fields?.sub_mch_id ? { sub_mch_id: fields.sub_mch_id } : {}),
  };
}

function signedReply(
  ctx: V2Context,
  echo: Business,
  signType: V2SignType,
  business: Business,
  fault?: Fault,
): HttpReply {
  const fields: Business = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    ...echo,
    nonce_str: randomString(LOWER_HEX, 32),
    ...business,
  };
  const sign = spoiledSign(v2Sign(fields, ctx.keys.apiV2Key, signType), fault);
  return xmlReply(v2Xml(sign === undefined ? fields : { ...fields, sign }));
}

function spoiledSign(sign: string, fault: Fault | undefined): string | undefined {
  switch (fault?.kind) {
    case 'forged-signature':
      // Same shape (upper-case hex, same length), wrong value.
      return sign.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    case 'signature-probe':
      return `${SIGNATURE_PROBE_PREFIX}${sign}`;
    case 'unsigned-success':
      return undefined;
    default:
      return sign;
  }
}

function xmlReply(body: string): HttpReply {
  return { status: 200, headers: { 'Content-Type': 'text/xml; charset=utf-8' }, body };
}
