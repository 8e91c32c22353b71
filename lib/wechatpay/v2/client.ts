/**
 * APIv2 close order and order query (docs/protocol.md C): signed XML out, the reply's `sign` verified
 * before any field of it is believed, `return_code` / `result_code` mapped to one typed error.
 */
import { configError, malformed } from '../../errors';
import { parseFen } from '../../money';
import { isMerchantId, isOutTradeNo } from '../../orders/model';
import { forgedResponse, httpError, readAnswer, wechatRefusal, WechatPayApiError } from '../apiError';
import type { ClientDeps } from '../http';
import { beijingToIso } from '../time';
import { isTradeState, type TradeState } from '../tradeState';
import { signV2, verifyV2, type V2SignType } from './sign';
import { buildXml, parseXml, type Fields } from './xml';

/** Which order a v2 call is about; `subMchId` (and optionally `subAppId`) select provider mode. */
export interface V2OrderRef {
  outTradeNo: string;
  subMchId?: string;
  subAppId?: string;
  /** Request signature (default HMAC-SHA256); a reply is verified by its own sign_type or sign length. */
  signType?: V2SignType;
}

/** An order as the APIv2 query reports it; amounts in fen, times as ISO instants. */
export interface V2Transaction {
  outTradeNo: string;
  tradeState: TradeState;
  tradeStateDesc: string | undefined;
  transactionId: string | undefined;
  totalFen: number | undefined;
  /** `time_end` (Beijing wall-clock) as an ISO instant; present once paid. */
  paidAt: string | undefined;
  subMchId: string | undefined;
  /** Every verified field, for callers that need more (coupons, bank_type …). */
  fields: Fields;
}

/** The APIv2 calls. */
export interface V2Client {
  /** Closes an unpaid order; resolves when WeChat confirms, throws {@link WechatPayApiError} otherwise. */
  closeOrderV2(ref: V2OrderRef): Promise<void>;
  /** Queries an order by out_trade_no. */
  queryOrderV2(ref: V2OrderRef): Promise<V2Transaction>;
}

/** Builds the APIv2 client; a missing APIv2 key is a CONFIG error when a call is made. */
export function createV2Client(deps: ClientDeps): V2Client {
  const call = (path: string, ref: V2OrderRef) => callV2(deps, path, ref);
  return {
    async closeOrderV2(ref) {
      await call('/pay/closeorder', ref);
    },
    async queryOrderV2(ref) {
      const fields = await call('/pay/orderquery', ref);
      return readAnswer(200, () => readV2Transaction(fields));
    },
  };
}

/** One signed call with retries; resolves to the verified fields of a `result_code` SUCCESS reply. */
async function callV2(deps: ClientDeps, path: string, ref: V2OrderRef): Promise<Fields> {
  if (!isOutTradeNo(ref.outTradeNo)) throw malformed('outTradeNo is not a WeChat out_trade_no');
  if (ref.subMchId !== undefined && !isMerchantId(ref.subMchId)) throw malformed('subMchId must be digits');
  return callV2Fields(
    deps,
    path,
    {
      ...(ref.subAppId ? { sub_appid: ref.subAppId } : {}),
      ...(ref.subMchId ? { sub_mch_id: ref.subMchId } : {}),
      out_trade_no: ref.outTradeNo,
    },
    ref.signType ?? 'HMAC-SHA256',
  );
}

/**
 * The signed-request primitive of APIv2: appid, mch_id, a fresh nonce per attempt and the sign are
 * added to `business`; resolves to the verified fields of a `result_code` SUCCESS reply.
 */
export async function callV2Fields(
  deps: ClientDeps,
  path: string,
  business: Fields,
  signType: V2SignType = 'HMAC-SHA256',
): Promise<Fields> {
  const key = deps.config.apiV2Key;
  if (key === undefined) throw configError('WECHATPAY_APIV2_KEY is required for APIv2 calls');
  return deps.transport.run(async ({ timeoutMs }) => {
    // a fresh nonce per attempt: a retry is a new request, not a replay
    const fields: Fields = {
      appid: deps.config.appid,
      mch_id: deps.config.mchid,
      ...business,
      nonce_str: deps.nonce(),
      sign_type: signType,
    };
    const body = buildXml({ ...fields, sign: signV2(fields, key, signType) });
    const res = await deps.transport.send(
      {
        method: 'POST',
        url: `${deps.config.apiBaseUrl}${path}`,
        headers: { 'Content-Type': 'text/xml; charset=utf-8', Accept: 'text/xml', 'User-Agent': deps.userAgent },
        body,
      },
      timeoutMs,
    );
    return readReply(res.status, res.body.toString('utf8'), key);
  });
}

/** Turns an APIv2 answer into verified fields, or the typed error it stands for. */
export function readReply(status: number, text: string, key: string): Fields {
  if (status !== 200) throw httpError(status, text);
  let fields: Fields;
  try {
    fields = parseXml(text);
  } catch (err) {
    throw new WechatPayApiError({
      status,
      code: 'MALFORMED_RESPONSE',
      message: 'answer is not WeChat XML',
      retryable: false,
      raw: text,
      cause: err,
    });
  }
  if (fields.return_code !== 'SUCCESS') {
    // transport-level refusal, unsigned by protocol: its text is shown, never acted upon
    throw new WechatPayApiError({
      status,
      code: 'RETURN_FAIL',
      message: fields.return_msg || 'return_code FAIL',
      retryable: false,
      raw: text,
    });
  }
  if (!verifyV2(fields, key)) throw forgedResponse(status, fields.sign ? 'bad sign' : 'missing sign', text);
  if (fields.result_code !== 'SUCCESS') {
    const code = fields.err_code || 'FAIL';
    throw wechatRefusal(status, code, fields.err_code_des || fields.result_msg || code, text);
  }
  return fields;
}

/** Reads a verified order-query reply. */
export function readV2Transaction(fields: Fields): V2Transaction {
  const outTradeNo = fields.out_trade_no;
  if (!isOutTradeNo(outTradeNo)) throw malformed('orderquery out_trade_no missing or malformed');
  const state = fields.trade_state;
  if (!isTradeState(state)) throw malformed('orderquery trade_state unknown');
  const opt = (name: string) => (fields[name] ? fields[name] : undefined);
  const totalFee = opt('total_fee');
  const timeEnd = opt('time_end');
  return {
    outTradeNo,
    tradeState: state,
    tradeStateDesc: opt('trade_state_desc'),
    transactionId: opt('transaction_id'),
    totalFen: totalFee === undefined ? undefined : parseFen(totalFee, 'total_fee'),
    paidAt: timeEnd === undefined ? undefined : beijingToIso(timeEnd, 'time_end'),
    subMchId: opt('sub_mch_id'),
    fields,
  };
}
