/**
 * APIv3 calls (docs/protocol.md E, F): close order, order query, merchant-coupon callback settings. Every
 * request carries a fresh Authorization over the exact path+query and body sent; every answer, error
 * or 204 alike, is verified with the notification key ring before a byte of it is believed.
 */
import { decodeUtf8 } from '../../text';
import { configError, malformed } from '../../errors';
import { isMerchantId, isOutTradeNo } from '../../orders/model';
import { forgedResponse, httpError, readAnswer, wechatRefusal } from '../apiError';
import type { ClientDeps, HttpResponse } from '../http';
import { rfc3339ToIso } from '../time';
import { buildAuthorization } from './authorization';
import { isRecord, optStr, parseUntrustedJson, str } from './json';
import { PUBLIC_KEY_ID } from './keyring';
import { readTransaction, type Transaction } from './transaction';
import { headerGetter, verifyV3 } from './verify';

/** Which order a v3 call is about; `subMchid` selects the partner (service-provider) routes. */
export interface V3OrderRef {
  outTradeNo: string;
  subMchid?: string;
}

/** The merchant-coupon callback as WeChat stores it. */
export interface CouponCallback {
  notifyUrl: string;
  mchid: string;
}

/** The APIv3 calls. */
export interface V3Client {
  /** Closes an unpaid order; resolves on WeChat's 204, throws a WechatPayApiError otherwise. */
  closeOrderV3(ref: V3OrderRef): Promise<void>;
  /** Queries an order by out_trade_no. */
  queryOrderV3(ref: V3OrderRef): Promise<Transaction>;
  /** Sets the merchant-coupon (busifavor) callback URL; `updateTime` is an ISO instant. */
  setCouponCallback(input: { notifyUrl: string; mchid?: string }): Promise<CouponCallback & { updateTime: string }>;
  /** Reads the merchant-coupon callback URL (404 RESOURCE_NOT_EXISTS when none is set). */
  getCouponCallback(input?: { mchid?: string }): Promise<CouponCallback>;
}

/** One APIv3 request as {@link callV3} signs and sends it. */
export interface V3Request {
  method: 'GET' | 'POST';
  /** Path and query, already encoded: exactly what is signed and sent. */
  path: string;
  json?: Record<string, unknown>;
}

/** Builds the APIv3 client; missing merchant key/serial or an empty key ring are CONFIG errors at call time. */
export function createV3Client(deps: ClientDeps): V3Client {
  const ids = (ref: V3OrderRef) => {
    if (!isOutTradeNo(ref.outTradeNo)) throw malformed('outTradeNo is not a WeChat out_trade_no');
    if (ref.subMchid !== undefined && !isMerchantId(ref.subMchid)) throw malformed('subMchid must be digits');
    const prefix = ref.subMchid === undefined ? '/v3/pay/transactions' : '/v3/pay/partner/transactions';
    const owner: Record<string, string> =
      ref.subMchid === undefined
        ? { mchid: deps.config.mchid }
        : { sp_mchid: deps.config.mchid, sub_mchid: ref.subMchid };
    return { order: `${prefix}/out-trade-no/${encodeURIComponent(ref.outTradeNo)}`, owner };
  };
  const call = (req: V3Request) => callV3(deps, req);
  return {
    async closeOrderV3(ref) {
      const { order, owner } = ids(ref);
      await call({ method: 'POST', path: `${order}/close`, json: owner });
    },
    async queryOrderV3(ref) {
      const { order, owner } = ids(ref);
      const res = await call({ method: 'GET', path: `${order}?${new URLSearchParams(owner).toString()}` });
      return readAnswer(res.status, () => readTransaction(jsonObject(res, 'transaction')));
    },
    async setCouponCallback(input) {
      const mchid = input.mchid ?? deps.config.mchid;
      const res = await call({
        method: 'POST',
        path: '/v3/marketing/busifavor/callbacks',
        json: { mchid, notify_url: input.notifyUrl },
      });
      return readAnswer(res.status, () => {
        const body = jsonObject(res, 'callback');
        const updateTime = rfc3339ToIso(str(body, 'update_time', 'callback', 64), 'callback.update_time');
        return {
          updateTime,
          notifyUrl: str(body, 'notify_url', 'callback', 512),
          mchid: optStr(body, 'mchid', 'callback', 32) ?? mchid,
        };
      });
    },
    async getCouponCallback(input = {}) {
      const mchid = input.mchid ?? deps.config.mchid;
      const res = await call({
        method: 'GET',
        path: `/v3/marketing/busifavor/callbacks?${new URLSearchParams({ mchid }).toString()}`,
      });
      return readAnswer(res.status, () => {
        const body = jsonObject(res, 'callback');
        return {
          notifyUrl: str(body, 'notify_url', 'callback', 512),
          mchid: optStr(body, 'mchid', 'callback', 32) ?? mchid,
        };
      });
    },
  };
}

/** One signed call with retries; resolves to a verified 2xx answer (shared by the bill download and the refund calls). */
export async function callV3(deps: ClientDeps, req: V3Request): Promise<HttpResponse> {
  const { merchant, keyRing, mchid, apiBaseUrl } = deps.config;
  if (merchant === undefined)
    throw configError('WECHATPAY_MERCHANT_PRIVATE_KEY and WECHATPAY_MERCHANT_SERIAL_NO are required for APIv3 calls');
  if (keyRing.serials().length === 0)
    throw configError('WECHATPAY_PLATFORM_CERTS or WECHATPAY_PUBLIC_KEY is required for APIv3 calls');
  const url = `${apiBaseUrl}${req.path}`;
  // fetch re-parses the URL: had it re-encoded anything, the signature would cover other bytes than those sent
  const parsed = new URL(url);
  if (`${parsed.pathname}${parsed.search}` !== req.path)
    throw new TypeError(`request path is not in canonical form: ${req.path}`);
  const body = req.json === undefined ? '' : JSON.stringify(req.json);
  // naming the public key asks WeChat to sign its answer with it (docs/protocol.md D)
  const publicKeyId = keyRing.serials().find((s) => PUBLIC_KEY_ID.test(s));

  return deps.transport.run(async ({ timeoutMs }) => {
    const authorization = buildAuthorization({
      mchid,
      serialNo: merchant.serialNo,
      privateKey: merchant.privateKey,
      method: req.method,
      url: req.path,
      body,
      timestamp: Math.floor(deps.now() / 1000),
      nonce: deps.nonce(),
    });
    const headers: Record<string, string> = {
      Authorization: authorization,
      Accept: 'application/json',
      'User-Agent': deps.userAgent,
      ...(body === '' ? {} : { 'Content-Type': 'application/json' }),
      ...(publicKeyId === undefined ? {} : { 'Wechatpay-Serial': publicKeyId }),
    };
    const res = await deps.transport.send(
      { method: req.method, url, headers, ...(body === '' ? {} : { body }) },
      timeoutMs,
    );
    checkAnswer(deps, res);
    return res;
  });
}

/** Verifies an answer and throws the error a non-2xx one stands for. */
function checkAnswer(deps: ClientDeps, res: HttpResponse): void {
  const text = res.body.toString('utf8');
  const header = headerGetter(Object.fromEntries(res.headers.entries()));
  const ok = res.status >= 200 && res.status < 300;
  // an unsigned error page (a gateway's 502, say) is no WeChat answer: retried by status, never read
  if (!ok && header('wechatpay-signature') === undefined) throw httpError(res.status, text);
  try {
    verifyV3(header, res.body, deps.config.keyRing, Math.floor(deps.now() / 1000));
  } catch (err) {
    throw forgedResponse(res.status, err instanceof Error ? err.message : 'signature check failed', text, err);
  }
  if (ok) return;
  let code = 'HTTP_ERROR';
  let message = `HTTP ${res.status}`;
  let detail: Record<string, unknown> | undefined;
  try {
    const json = parseUntrustedJson(text, 'error body');
    if (isRecord(json)) {
      code = typeof json.code === 'string' && json.code !== '' ? json.code : code;
      message = typeof json.message === 'string' && json.message !== '' ? json.message : message;
      detail = isRecord(json.detail) ? json.detail : undefined;
    }
  } catch {
    // a signed error body that is not JSON still fails the call, by its status alone
  }
  throw wechatRefusal(res.status, code, message, text, detail);
}

function jsonObject(res: HttpResponse, what: string): Record<string, unknown> {
  const value = parseUntrustedJson(decodeUtf8(res.body, what), what);
  if (!isRecord(value)) throw malformed(`${what} is not a JSON object`);
  return value;
}
