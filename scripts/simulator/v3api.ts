/**
 * TEST-ONLY: WeChat Pay's APIv3 close order, order query and merchant-coupon callback settings
 * (docs/protocol.md E, F), with request authentication and signed responses.
 *
 * Code choices (see README): a paid order answers 400 ORDERPAID (the code of the global/HK close API;
 * domestic pages name none); the five-minute rule answers 400 RULE_LIMIT; unknown orders answer
 * 404 ORDER_NOT_EXIST.
 */
import type { Fault } from './faults';
import { decodeSegment, header, jsonReply, type HttpReply, type SimRequest } from './http';
import type { TestKeys } from './keys';
import { rfc3339Beijing, v3Encrypt } from './messages';
import { transactionResource } from './outgoing';
import { type RefundDesk, v3RefundApply, v3RefundQuery, v3RefundRoute } from './refunds';
import type { ListedCertificate } from './rotation';
import { MERCHANT_NO_PATTERN, type CloseOutcome, type SimState } from './state';
import { responseSigner, signedResponseHeaders, verifyAuthorization, type SignatureSpoiler } from './v3auth';

/** The code the simulator answers when an order is closed before it is `closeMinAgeSeconds` old. */
export const V3_TOO_EARLY_CODE = 'RULE_LIMIT';

/** The APIv3 endpoint names (also fault targets). */
export type V3Endpoint = 'v3.close' | 'v3.query' | 'v3.busifavor' | 'v3.certificates' | 'v3.refund' | 'v3.refundquery';

/** What a v3 handler needs from the simulator. */
export interface V3Context {
  keys: TestKeys;
  state: SimState;
  closeMinAgeSeconds: number;
  /** Coupon callback URL per merchant id, as set through the busifavor API. */
  couponCallbacks: Map<string, { notifyUrl: string; updateTime: string }>;
  /** Wall clock in seconds for Authorization skew and response timestamps. */
  wallSeconds: () => number;
  /** Refund apply and query (absent: those routes answer 404). */
  refunds?: RefundDesk;
  /** The platform certificates `GET /v3/certificates` lists (default: the one in `keys`). */
  certificates?: () => ListedCertificate[];
  /** Called once per `GET /v3/certificates` answered, so tests can count downloads. */
  onCertificatesServed?: () => void;
}

/** A matched APIv3 route. */
export interface V3Route {
  endpoint: V3Endpoint;
  partner: boolean;
  /** The decoded `{out_trade_no}` path parameter, when the route has one. */
  outTradeNo?: string;
}

interface V3Answer {
  status: number;
  json?: unknown;
}

type Json = Record<string, unknown>;

const CLOSE = /^\/v3\/pay\/(partner\/)?transactions\/out-trade-no\/([^/]+)\/close$/;
const QUERY = /^\/v3\/pay\/(partner\/)?transactions\/out-trade-no\/([^/]+)$/;
const BUSIFAVOR = '/v3/marketing/busifavor/callbacks';
const CERTIFICATES = '/v3/certificates';

/** Matches method + path to an APIv3 route. */
export function v3Route(method: string, path: string): V3Route | undefined {
  const close = method === 'POST' ? CLOSE.exec(path) : null;
  if (close !== null) return withOrderNo('v3.close', close);
  const query = method === 'GET' ? QUERY.exec(path) : null;
  if (query !== null) return withOrderNo('v3.query', query);
  if (path === CERTIFICATES && method === 'GET') return { endpoint: 'v3.certificates', partner: false };
  if (path === BUSIFAVOR && (method === 'GET' || method === 'POST'))
    return { endpoint: 'v3.busifavor', partner: false };
  const refund = v3RefundRoute(method, path);
  return refund === undefined ? undefined : { endpoint: refund.endpoint, partner: false };
}

/** Handles an APIv3 request end to end: fault, headers, Authorization, business, signature. */
export async function handleV3(ctx: V3Context, req: SimRequest, fault?: Fault): Promise<HttpReply> {
  const signer = responseSigner(ctx.keys, header(req, 'wechatpay-serial'));
  const sign = (answer: V3Answer, spoiler: SignatureSpoiler = 'none'): HttpReply =>
    signed(ctx, signer, answer, spoiler);
  const route = v3Route(req.method, req.path);
  if (route === undefined) return sign(error(404, 'RESOURCE_NOT_EXISTS', '请求的资源不存在'));
  const canned = fault === undefined ? undefined : v3FaultAnswer(fault);
  if (canned !== undefined) return canned === 'unsigned-500' ? unsigned500() : sign(canned);
  // An empty header counts as missing: WeChat needs a value, not just the name.
  if (!header(req, 'accept') || !header(req, 'user-agent')) {
    return sign(error(400, 'INVALID_REQUEST', 'Http头缺少Accept或User-Agent'));
  }
  const auth = verifyAuthorization(
    ctx.keys,
    { header: header(req, 'authorization'), method: req.method, url: req.url, body: req.body },
    ctx.wallSeconds(),
  );
  if (!auth.ok) return sign(error(401, 'SIGN_ERROR', auth.message));
  return sign(business(ctx, route, req), spoilerOf(fault));
}

function withOrderNo(endpoint: V3Endpoint, match: RegExpExecArray): V3Route {
  const outTradeNo = decodeSegment(match[2] ?? '');
  return { endpoint, partner: match[1] !== undefined, ...(outTradeNo === undefined ? {} : { outTradeNo }) };
}

function v3FaultAnswer(fault: Fault): V3Answer | 'unsigned-500' | undefined {
  switch (fault.kind) {
    case 'system-error':
    case 'return-fail':
      return error(500, 'SYSTEM_ERROR', '系统错误');
    case 'rate-limit':
      return error(429, 'RATELIMIT_EXCEEDED', '达到调用速率限制');
    case 'unsigned-500':
      return 'unsigned-500';
    default:
      return undefined;
  }
}

function spoilerOf(fault: Fault | undefined): SignatureSpoiler {
  if (fault?.kind === 'forged-signature') return 'forged';
  if (fault?.kind === 'signature-probe') return 'probe';
  if (fault?.kind === 'unsigned-success') return 'unsigned';
  return 'none';
}

function business(ctx: V3Context, route: V3Route, req: SimRequest): V3Answer {
  if (req.tooLarge) return error(400, 'PARAM_ERROR', '请求体过大');
  if (route.endpoint === 'v3.busifavor') return req.method === 'POST' ? setCallback(ctx, req) : getCallback(ctx, req);
  if (route.endpoint === 'v3.refund' || route.endpoint === 'v3.refundquery') return refundBusiness(ctx, req);
  if (route.endpoint === 'v3.certificates') return certificates(ctx);
  if (route.outTradeNo === undefined || !MERCHANT_NO_PATTERN.test(route.outTradeNo)) {
    return paramError('out_trade_no', 'path', '商户订单号格式错误');
  }
  const ids =
    route.endpoint === 'v3.close' ? idsFromBody(ctx, req, route.partner) : idsFromQuery(ctx, req, route.partner);
  if ('status' in ids) return ids;
  if (route.endpoint === 'v3.query') return query(ctx, ids.merchantId, route.outTradeNo);
  return closeAnswer(ctx.state.close(ids.merchantId, route.outTradeNo, ctx.closeMinAgeSeconds));
}

function refundBusiness(ctx: V3Context, req: SimRequest): V3Answer {
  if (ctx.refunds === undefined) return error(404, 'RESOURCE_NOT_EXISTS', '请求的资源不存在');
  const refund = v3RefundRoute(req.method, req.path);
  if (refund?.endpoint === 'v3.refundquery') {
    const sub = req.query.get('sub_mchid');
    return v3RefundQuery(ctx.refunds, ctx.keys.mchid, refund.outRefundNo, sub ? sub : undefined);
  }
  const body = parseJsonObject(req.body);
  if (body === undefined) return error(400, 'PARAM_ERROR', '请求体不是合法的JSON对象');
  return v3RefundApply(ctx.refunds, ctx.keys.mchid, body);
}

function idsFromBody(ctx: V3Context, req: SimRequest, partner: boolean): { merchantId: string } | V3Answer {
  const body = parseJsonObject(req.body);
  if (body === undefined) return error(400, 'PARAM_ERROR', '请求体不是合法的JSON对象');
  return merchantIds(ctx, (name) => body[name], 'body', partner);
}

function idsFromQuery(ctx: V3Context, req: SimRequest, partner: boolean): { merchantId: string } | V3Answer {
  return merchantIds(ctx, (name) => req.query.get(name) ?? undefined, 'query', partner);
}

function merchantIds(
  ctx: V3Context,
  read: (name: string) => unknown,
  location: string,
  partner: boolean,
): { merchantId: string } | V3Answer {
  const own = partner ? 'sp_mchid' : 'mchid';
  const mchid = read(own);
  if (typeof mchid !== 'string' || mchid === '') return paramError(own, location, `${own}为必填项`);
  // The caller authenticated as keys.mchid; naming another merchant is an authorization error.
  if (mchid !== ctx.keys.mchid) return error(400, 'PARAM_ERROR', `${own}与请求方商户号不一致`);
  if (!partner) return { merchantId: mchid };
  const subMchid = read('sub_mchid');
  if (typeof subMchid !== 'string' || subMchid === '') return paramError('sub_mchid', location, 'sub_mchid为必填项');
  return { merchantId: subMchid };
}

function query(ctx: V3Context, merchantId: string, outTradeNo: string): V3Answer {
  const order = ctx.state.findOrder(merchantId, outTradeNo);
  if (order === undefined) return error(404, 'ORDER_NOT_EXIST', '订单不存在');
  return { status: 200, json: transactionResource(ctx.keys, order) };
}

function closeAnswer(outcome: CloseOutcome): V3Answer {
  switch (outcome.kind) {
    case 'closed':
      return { status: 204 };
    case 'already-closed':
      return error(400, 'ORDER_CLOSED', '订单已关闭');
    case 'paid':
      return error(400, 'ORDERPAID', '订单已支付');
    case 'not-found':
      return error(404, 'ORDER_NOT_EXIST', '订单不存在');
    case 'too-early':
      return error(
        400,
        V3_TOO_EARLY_CODE,
        `订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟，请${outcome.waitSeconds}秒后重试`,
      );
  }
}

/** `GET /v3/certificates`: each certificate encrypted under the APIv3 key, associated data `certificate`. */
function certificates(ctx: V3Context): V3Answer {
  ctx.onCertificatesServed?.();
  const listed = ctx.certificates?.() ?? [];
  return {
    status: 200,
    json: {
      data: listed.map((c) => {
        const { associated_data, ciphertext, nonce, algorithm } = v3Encrypt(
          ctx.keys.apiV3Key,
          c.certPem,
          'certificate',
        );
        return {
          serial_no: c.serial,
          effective_time: rfc3339Beijing(c.effective),
          expire_time: rfc3339Beijing(c.expire),
          encrypt_certificate: { algorithm, nonce, associated_data, ciphertext },
        };
      }),
    },
  };
}

function setCallback(ctx: V3Context, req: SimRequest): V3Answer {
  const body = parseJsonObject(req.body);
  if (body === undefined) return error(400, 'PARAM_ERROR', '请求体不是合法的JSON对象');
  const mchid = body.mchid ?? ctx.keys.mchid;
  if (typeof mchid !== 'string' || mchid !== ctx.keys.mchid) return error(403, 'NO_AUTH', '无权限设置该商户的回调地址');
  const notifyUrl = body.notify_url;
  if (typeof notifyUrl !== 'string' || !acceptableNotifyUrl(notifyUrl)) {
    return paramError('notify_url', 'body', 'notify_url须为不带参数的HTTPS地址');
  }
  const updateTime = rfc3339Beijing(new Date(ctx.state.now()));
  ctx.couponCallbacks.set(mchid, { notifyUrl, updateTime });
  return { status: 200, json: { update_time: updateTime, notify_url: notifyUrl, mchid } };
}

function getCallback(ctx: V3Context, req: SimRequest): V3Answer {
  const mchid = req.query.get('mchid') ?? ctx.keys.mchid;
  if (mchid !== ctx.keys.mchid) return error(403, 'NO_AUTH', '无权限查询该商户的回调地址');
  const callback = ctx.couponCallbacks.get(mchid);
  if (callback === undefined) return error(404, 'RESOURCE_NOT_EXISTS', '未设置回调地址');
  return { status: 200, json: { notify_url: callback.notifyUrl, mchid } };
}

/** HTTPS without a query; plain HTTP only for loopback hosts, so the local stack can be the target. */
export function acceptableNotifyUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.search !== '' || url.hash !== '') return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

function parseJsonObject(text: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
}

function error(status: number, code: string, message: string): V3Answer {
  return { status, json: { code, message } };
}

function paramError(field: string, location: string, message: string): V3Answer {
  return { status: 400, json: { code: 'PARAM_ERROR', message, detail: { field, location, issue: message } } };
}

function signed(
  ctx: V3Context,
  signer: ReturnType<typeof responseSigner>,
  answer: V3Answer,
  spoiler: SignatureSpoiler,
): HttpReply {
  const body = answer.json === undefined ? '' : JSON.stringify(answer.json);
  const headers = signedResponseHeaders(ctx.keys, signer, body, ctx.wallSeconds(), spoiler);
  if (answer.json === undefined) return { status: answer.status, headers, body };
  return jsonReply(answer.status, answer.json, headers);
}

function unsigned500(): HttpReply {
  return {
    status: 500,
    headers: { 'Content-Type': 'text/html' },
    body: '<html><body>500 Internal Server Error</body></html>',
  };
}
