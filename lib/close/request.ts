/**
 * The closeOrder event: camelCase (`outTradeNo`, `subMchId`, `subAppId`) or the cloud-function
 * snake_case shape (`out_trade_no`, `sub_mch_id`, `sub_appid`, `nonce_str`, docs/protocol.md G), read
 * into one validated request. Pure; a bad event is a MALFORMED error whose reason names the field.
 */
import { malformed } from '../errors';
import { eventObject } from '../lambda/event';
import { isMerchantId, isOutTradeNo } from '../orders/model';

/** Which API generation a close uses. */
export type CloseProtocol = 'v2' | 'v3';

/** The event as callers send it (either key style; both may not disagree). */
export type CloseOrderEvent =
  | { outTradeNo: string; subMchId?: string; subAppId?: string; protocol?: CloseProtocol }
  | { out_trade_no: string; sub_mch_id?: string; sub_appid?: string; nonce_str?: string; protocol?: CloseProtocol };

/** A validated close request. `subMchId` selects the service-provider path. */
export interface CloseOrderRequest {
  outTradeNo: string;
  subMchId?: string;
  subAppId?: string;
  /** Forces an API generation; by default APIv3 when configured, else APIv2. */
  protocol?: CloseProtocol;
}

// every spelling a caller may reasonably use; the first is the name errors mention
const NAMES = {
  outTradeNo: ['out_trade_no', 'outTradeNo'],
  subMchId: ['sub_mch_id', 'subMchId', 'subMchid', 'sub_mchid'],
  subAppId: ['sub_appid', 'subAppId', 'subAppid', 'sub_app_id'],
  nonceStr: ['nonce_str', 'nonceStr'],
  protocol: ['protocol'],
} as const;

const APPID = /^[A-Za-z0-9_]{1,32}$/;
const NONCE = /^[A-Za-z0-9]{1,32}$/;

/** Reads and validates an event; throws MALFORMED naming the offending field. */
export function readCloseRequest(event: unknown): CloseOrderRequest {
  const body = eventObject(event);
  const outTradeNo = pick(body, NAMES.outTradeNo);
  if (outTradeNo === undefined) throw malformed('out_trade_no is required');
  if (!isOutTradeNo(outTradeNo)) throw malformed('out_trade_no must be 1-32 characters of 0-9 A-Z a-z _ - | * @');
  const subMchId = pick(body, NAMES.subMchId);
  if (subMchId !== undefined && !isMerchantId(subMchId)) throw malformed('sub_mch_id must be digits');
  const subAppId = pick(body, NAMES.subAppId);
  if (subAppId !== undefined && !APPID.test(subAppId)) throw malformed('sub_appid is malformed');
  if (subAppId !== undefined && subMchId === undefined) throw malformed('sub_appid needs sub_mch_id');
  // nonce_str belongs to the cloud-function shape; the client makes a fresh one per attempt
  const nonce = pick(body, NAMES.nonceStr);
  if (nonce !== undefined && !NONCE.test(nonce)) throw malformed('nonce_str must be 1-32 letters or digits');
  const protocol = pick(body, NAMES.protocol);
  if (protocol !== undefined && protocol !== 'v2' && protocol !== 'v3') throw malformed('protocol must be v2 or v3');
  return {
    outTradeNo,
    ...(subMchId === undefined ? {} : { subMchId }),
    ...(subAppId === undefined ? {} : { subAppId }),
    ...(protocol === undefined ? {} : { protocol }),
  };
}

/** The one value the given spellings carry (empty counts as absent); disagreeing spellings are refused. */
function pick(body: Record<string, unknown>, names: readonly string[]): string | undefined {
  let found: string | undefined;
  for (const name of names) {
    if (!Object.hasOwn(body, name)) continue;
    const value = body[name];
    if (value === undefined || value === null || value === '') continue;
    if (typeof value !== 'string') throw malformed(`${names[0]} must be a string`);
    if (found !== undefined && found !== value) throw malformed(`${names[0]} is given twice with different values`);
    found = value;
  }
  return found;
}
