/**
 * APIv2 refund-result notifications. They carry no signature: `req_info` is AES-256-ECB under the
 * lower-case hex MD5 of the APIv2 key, and decrypting it (padding and inner XML intact) is the only
 * proof of origin. Anything that does not decrypt to a well-formed `<root>` is treated as a forgery.
 */
import { createDecipheriv, createHash } from 'node:crypto';
import { configError, inconsistent, malformed, unauthentic } from '../../errors';
import { parseFen } from '../../money';
import { isOutTradeNo } from '../../orders/model';
import { beijingToIso } from '../time';
import { parseXml, type Fields } from './xml';
import type { V2Merchant } from './notification';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** `refund_status` as APIv2 spells it: CHANGE is the abnormal refund, REFUNDCLOSE the closed one. */
export const V2_REFUND_STATUSES = ['SUCCESS', 'CHANGE', 'REFUNDCLOSE'] as const;
export type V2RefundStatus = (typeof V2_REFUND_STATUSES)[number];

/** A decrypted, checked APIv2 refund result; amounts in fen, times as ISO instants. */
export interface V2RefundResult {
  outRefundNo: string;
  outTradeNo: string;
  /** Set in service-provider mode. */
  subMchId: string | undefined;
  refundId: string;
  transactionId: string | undefined;
  refundStatus: V2RefundStatus;
  refundFen: number;
  totalFen: number;
  successAt: string | undefined;
}

function isV2RefundStatus(s: unknown): s is V2RefundStatus {
  return (V2_REFUND_STATUSES as readonly unknown[]).includes(s);
}

/** The AES-256 key for `req_info`: the 32 ASCII bytes of md5(APIv2 key) in lower-case hex. */
export function reqInfoKey(apiV2Key: string): Buffer {
  return Buffer.from(createHash('md5').update(apiV2Key, 'utf8').digest('hex'), 'latin1');
}

/** Decrypts `req_info`; UNAUTHENTIC when it is not base64 of whole blocks or its padding is wrong. */
export function decryptReqInfo(reqInfo: string, key: Buffer): string {
  // only the XML white space a sender may wrap base64 with; anything else is not base64
  const compact = reqInfo.replace(/[ \t\r\n]+/g, '');
  if (!BASE64.test(compact)) throw unauthentic('req_info is not base64');
  const data = Buffer.from(compact, 'base64');
  if (data.length === 0 || data.length % 16 !== 0) throw unauthentic('req_info is not whole AES blocks');
  const decipher = createDecipheriv('aes-256-ecb', key, null);
  try {
    const plain = Buffer.concat([decipher.update(data), decipher.final()]);
    return new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch {
    throw unauthentic('req_info does not decrypt');
  }
}

/** Reads an APIv2 refund notification (outer fields already parsed): decrypt, check, read. */
export function readV2Refund(fields: Fields, merchant: V2Merchant, maxBytes: number): V2RefundResult {
  if (fields.return_code !== 'SUCCESS') throw malformed('return_code is not SUCCESS');
  if (merchant.apiV2Key === undefined) throw configError('WECHATPAY_APIV2_KEY is not set');
  const reqInfo = fields.req_info;
  if (!reqInfo) throw malformed('req_info missing');
  let inner: Fields;
  try {
    inner = parseXml(decryptReqInfo(reqInfo, reqInfoKey(merchant.apiV2Key)), 'root', maxBytes);
  } catch {
    // ECB has no integrity: garbage that happens to unpad is caught by the XML check, and either way
    // the sender gets the same answer as for a bad signature
    throw unauthentic('req_info does not decrypt to a refund result');
  }
  // the outer ids are outside the encryption: check them only after req_info proved the key
  if (fields.mch_id !== merchant.mchid) throw inconsistent('mch_id does not match', { field: 'mch_id' });
  if (!merchant.appids.includes(fields.appid ?? '')) throw inconsistent('appid does not match', { field: 'appid' });
  const subMchId = fields.sub_mch_id;
  if (subMchId !== undefined && subMchId !== '' && !/^\d{1,32}$/.test(subMchId))
    throw malformed('sub_mch_id malformed');

  const refundStatus = inner.refund_status;
  if (!isV2RefundStatus(refundStatus)) throw malformed('refund_status unknown');
  const outTradeNo = inner.out_trade_no;
  const outRefundNo = inner.out_refund_no;
  if (!isOutTradeNo(outTradeNo)) throw malformed('out_trade_no missing or malformed');
  if (!isOutTradeNo(outRefundNo)) throw malformed('out_refund_no missing or malformed');
  const refundId = inner.refund_id;
  if (!refundId || refundId.length > 64) throw malformed('refund_id missing or malformed');
  const refundFen = parseFen(inner.refund_fee ?? '', 'refund_fee');
  const totalFen = parseFen(inner.total_fee ?? '', 'total_fee');
  if (refundFen === 0 || refundFen > totalFen)
    throw inconsistent('refund_fee exceeds total_fee', { field: 'refund_fee' });
  const success = inner.success_time;
  if (refundStatus === 'SUCCESS' && !success) throw malformed('success_time missing');
  return {
    outRefundNo,
    outTradeNo,
    subMchId: subMchId ? subMchId : undefined,
    refundId,
    transactionId: inner.transaction_id || undefined,
    refundStatus,
    refundFen,
    totalFen,
    successAt: success ? beijingToIso(success, 'success_time') : undefined,
  };
}
