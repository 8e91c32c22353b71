/**
 * TEST-ONLY: WeChat Pay's sending side, built independently of lib/ (docs/protocol.md sections A, B, D, F).
 *
 * Pure builders of the exact wire requests WeChat Pay posts to a merchant, used as the test oracle for
 * lib/ and by the local simulator. Deliberately imports nothing from lib/.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomUUID,
  sign,
  type KeyObject,
} from 'node:crypto';
import type { TestKeys } from './keys';
import { DIGITS, ALPHANUMERIC, UPPER_HEX, LOWER_HEX, randomOpenid, randomString } from './random';

/** An HTTP request as WeChat Pay would send it: header map plus the exact body text. */
export interface WireRequest {
  headers: Record<string, string>;
  body: string;
}

/** APIv2 signature algorithms. */
export type V2SignType = 'MD5' | 'HMAC-SHA256';

/** An APIv3 encrypted resource as it appears in the notification envelope (before `original_type`). */
export interface V3EncryptedResource {
  algorithm: 'AEAD_AES_256_GCM';
  ciphertext: string;
  associated_data: string;
  nonce: string;
}

/** Service-provider (partner) identities for partner-mode APIv3 resources. */
export interface PartnerIds {
  spMchid: string;
  subMchid: string;
  spAppid: string;
  subAppid?: string;
}

const BEIJING_OFFSET_MS = 8 * 60 * 60 * 1000;
const GCM_TAG_BYTES = 16;

// ---------------------------------------------------------------------------------------------
// Time formats (all Beijing time; v2 carries no offset, v3 carries +08:00)
// ---------------------------------------------------------------------------------------------

/** 'yyyyMMddHHmmss' in Beijing time (APIv2 `time_end`). */
export function beijingCompact(date: Date = new Date()): string {
  return beijingIso(date).replace(/[-T:]/g, '');
}

/** 'yyyy-MM-dd HH:mm:ss' in Beijing time (APIv2 refund `success_time`). */
export function beijingDateTime(date: Date = new Date()): string {
  return beijingIso(date).replace('T', ' ');
}

/** RFC 3339 with a +08:00 offset, seconds precision (APIv3 `create_time`, `success_time`). */
export function rfc3339Beijing(date: Date = new Date()): string {
  return `${beijingIso(date)}+08:00`;
}

function beijingIso(date: Date): string {
  // Shift the instant so that its UTC fields read as Beijing wall-clock time.
  return new Date(date.getTime() + BEIJING_OFFSET_MS).toISOString().slice(0, 19);
}

// ---------------------------------------------------------------------------------------------
// APIv2: signature, XML, payment and refund notifications
// ---------------------------------------------------------------------------------------------

/** The APIv2 string that gets hashed: sorted non-empty fields except `sign`, then `&key=KEY`. */
export function v2SignString(fields: Record<string, string>, key: string): string {
  const pairs = Object.entries(fields)
    .filter(([name, value]) => name !== 'sign' && value !== '')
    .sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')))
    .map(([name, value]) => `${name}=${value}`);
  return `${pairs.join('&')}&key=${key}`;
}

/** APIv2 signature (upper-case hex) of `fields` with the APIv2 key. */
export function v2Sign(fields: Record<string, string>, key: string, signType: V2SignType): string {
  const signString = v2SignString(fields, key);
  const digest =
    signType === 'MD5'
      ? createHash('md5').update(signString, 'utf8').digest('hex')
      : createHmac('sha256', Buffer.from(key, 'utf8')).update(signString, 'utf8').digest('hex');
  return digest.toUpperCase();
}

/** `<xml>` document with every value in CDATA, in the given field order. */
export function v2Xml(fields: Record<string, string>): string {
  return xmlDocument('xml', fields);
}

/** Parameters of {@link v2PaymentNotification}. */
export interface V2PaymentParams {
  outTradeNo: string;
  totalFee: number;
  transactionId?: string;
  /** 'yyyyMMddHHmmss', Beijing time; defaults to now. */
  timeEnd?: string;
  signType?: V2SignType;
  /** Whether the `sign_type` field is sent at all (default true). */
  includeSignType?: boolean;
  /** Added or overriding fields (coupon_type_0, attach, even sign/sign_type for tamper tests). */
  extra?: Record<string, string>;
  resultCode?: 'SUCCESS' | 'FAIL';
}

/** APIv2 payment result notification (支付结果通知) as posted by WeChat Pay. */
export function v2PaymentNotification(keys: TestKeys, p: V2PaymentParams): WireRequest {
  const signType = p.signType ?? 'MD5';
  const resultCode = p.resultCode ?? 'SUCCESS';
  const fields: Record<string, string> = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    appid: keys.appid,
    mch_id: keys.mchid,
    device_info: 'WEB',
    nonce_str: randomString(LOWER_HEX, 32),
    ...(p.includeSignType === false ? {} : { sign_type: signType }),
    result_code: resultCode,
    ...(resultCode === 'FAIL' ? { err_code: 'SYSTEMERROR', err_code_des: '系统错误' } : {}),
    openid: randomOpenid(),
    is_subscribe: 'N',
    trade_type: 'JSAPI',
    bank_type: 'OTHERS',
    total_fee: String(p.totalFee),
    fee_type: 'CNY',
    cash_fee: String(p.totalFee),
    transaction_id: p.transactionId ?? randomTransactionId(),
    out_trade_no: p.outTradeNo,
    time_end: p.timeEnd ?? beijingCompact(),
    ...p.extra,
  };
  // The signature covers the final field set; an explicit extra.sign wins so tests can forge one.
  const signed = { ...fields, sign: p.extra?.sign ?? v2Sign(fields, keys.apiV2Key, signType) };
  return { headers: { 'Content-Type': 'text/xml' }, body: v2Xml(sortedByName(signed)) };
}

/** Parameters of {@link v2RefundNotification}. */
export interface V2RefundParams {
  outTradeNo: string;
  outRefundNo: string;
  totalFee: number;
  refundFee: number;
  refundStatus: 'SUCCESS' | 'CHANGE' | 'REFUNDCLOSE';
  /** 'yyyy-MM-dd HH:mm:ss', Beijing time; defaults to now when the refund succeeded. */
  successTime?: string;
  refundId?: string;
  transactionId?: string;
  subMchId?: string;
  /** Added or overriding fields of the encrypted `<root>`. */
  extra?: Record<string, string>;
}

/** APIv2 refund result notification (退款结果通知): unsigned outer XML with encrypted `req_info`. */
export function v2RefundNotification(keys: TestKeys, p: V2RefundParams): WireRequest {
  const outer: Record<string, string> = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    appid: keys.appid,
    mch_id: keys.mchid,
    ...(p.subMchId === undefined ? {} : { sub_mch_id: p.subMchId }),
    nonce_str: randomString(LOWER_HEX, 32),
    req_info: encryptReqInfo(refundInfoXml(p), keys.apiV2Key),
  };
  return { headers: { 'Content-Type': 'text/xml' }, body: v2Xml(outer) };
}

/** The decrypted `<root>` document of a refund notification. */
export function refundInfoXml(p: V2RefundParams): string {
  const succeeded = p.refundStatus === 'SUCCESS';
  const successTime = p.successTime ?? (succeeded ? beijingDateTime() : undefined);
  const fields: Record<string, string> = {
    out_refund_no: p.outRefundNo,
    out_trade_no: p.outTradeNo,
    refund_account: 'REFUND_SOURCE_RECHARGE_FUNDS',
    refund_fee: String(p.refundFee),
    refund_id: p.refundId ?? randomRefundId(),
    refund_recv_accout: '支付用户零钱', // sic: WeChat's spelling
    refund_request_source: 'API',
    refund_status: p.refundStatus,
    settlement_refund_fee: String(p.refundFee),
    settlement_total_fee: String(p.totalFee),
    ...(successTime === undefined ? {} : { success_time: successTime }),
    total_fee: String(p.totalFee),
    transaction_id: p.transactionId ?? randomTransactionId(),
    ...p.extra,
  };
  return xmlDocument('root', fields);
}

/** The 32-byte AES key of `req_info`: the ASCII of the lower-case hex MD5 of the APIv2 key. */
export function reqInfoKey(apiV2Key: string): Buffer {
  return Buffer.from(createHash('md5').update(apiV2Key, 'utf8').digest('hex'), 'ascii');
}

/** Encrypts a refund `<root>` document into `req_info` (AES-256-ECB, PKCS#7, base64). */
export function encryptReqInfo(plainXml: string, apiV2Key: string): string {
  const cipher = createCipheriv('aes-256-ecb', reqInfoKey(apiV2Key), null); // PKCS#7 is the default
  return Buffer.concat([cipher.update(plainXml, 'utf8'), cipher.final()]).toString('base64');
}

/** Decrypts `req_info` back to its `<root>` document; throws on a wrong key (bad padding). */
export function decryptReqInfo(reqInfo: string, apiV2Key: string): string {
  const decipher = createDecipheriv('aes-256-ecb', reqInfoKey(apiV2Key), null);
  const ciphertext = Buffer.from(reqInfo, 'base64');
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
}

function xmlDocument(root: string, fields: Record<string, string>): string {
  const elements = Object.entries(fields).map(([name, value]) => xmlElement(name, value));
  return `<${root}>${elements.join('')}</${root}>`;
}

function xmlElement(name: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`invalid XML element name: ${name}`);
  // ']]>' would end the section early, so close it after ']]' and reopen for the '>'.
  return `<${name}><![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]></${name}>`;
}

function sortedByName(fields: Record<string, string>): Record<string, string> {
  // WeChat emits notification fields in name order; mimic it so field order is realistic.
  const names = Object.keys(fields).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return Object.fromEntries(names.map((name) => [name, fields[name] ?? '']));
}

// ---------------------------------------------------------------------------------------------
// APIv3: AEAD_AES_256_GCM resources, signed notification envelopes
// ---------------------------------------------------------------------------------------------

/** Encrypts an APIv3 resource: key = the APIv3 key's 32 ASCII bytes, ciphertext = base64(ct || tag). */
export function v3Encrypt(
  apiV3Key: string,
  plaintext: string,
  associatedData: string,
  nonce: string = randomString(ALPHANUMERIC, 12),
): V3EncryptedResource {
  const cipher = createCipheriv('aes-256-gcm', v3Key(apiV3Key), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return {
    algorithm: 'AEAD_AES_256_GCM',
    ciphertext: ciphertext.toString('base64'),
    associated_data: associatedData,
    nonce,
  };
}

/** Decrypts an APIv3 resource; throws when the tag, key, nonce or associated data do not match. */
export function v3Decrypt(apiV3Key: string, resource: Omit<V3EncryptedResource, 'algorithm'>): string {
  const data = Buffer.from(resource.ciphertext, 'base64');
  if (data.length < GCM_TAG_BYTES) throw new Error('ciphertext shorter than the GCM tag');
  const decipher = createDecipheriv('aes-256-gcm', v3Key(apiV3Key), Buffer.from(resource.nonce, 'utf8'));
  decipher.setAAD(Buffer.from(resource.associated_data, 'utf8'));
  decipher.setAuthTag(data.subarray(data.length - GCM_TAG_BYTES));
  const plain = Buffer.concat([decipher.update(data.subarray(0, data.length - GCM_TAG_BYTES)), decipher.final()]);
  return plain.toString('utf8');
}

function v3Key(apiV3Key: string): Buffer {
  const key = Buffer.from(apiV3Key, 'utf8');
  if (key.length !== 32) throw new Error(`APIv3 key must be 32 bytes, got ${key.length}`);
  return key;
}

/** Base64 SHA256withRSA (PKCS#1 v1.5) over `timestamp\nnonce\nbody\n`. */
export function signV3Message(privateKey: KeyObject, timestamp: string, nonce: string, body: string): string {
  return sign('sha256', Buffer.from(`${timestamp}\n${nonce}\n${body}\n`, 'utf8'), privateKey).toString('base64');
}

/** Parameters of {@link v3Notification}. */
export interface V3NotificationParams {
  eventType: string;
  /** Defaults to WeChat's summary for known event types. */
  summary?: string;
  /** Envelope `resource_type` (default 'encrypt-resource'). */
  resourceType?: string;
  /** 'transaction' | 'refund' | 'coupon'; also the default associated data. */
  originalType: string;
  /** The plaintext resource; a string is encrypted verbatim. */
  resource: object | string;
  /** Defaults to `originalType`. */
  associatedData?: string;
  /** Which WeChat key signs: the platform certificate (default) or the WeChat Pay public key. */
  signer?: 'platform' | 'publicKey';
  /** Unix seconds; defaults to now. */
  timestamp?: number;
  nonce?: string;
  id?: string;
  createTime?: string;
}

const EVENT_SUMMARIES: Readonly<Record<string, string>> = {
  'TRANSACTION.SUCCESS': '支付成功',
  'REFUND.SUCCESS': '退款成功',
  'REFUND.ABNORMAL': '退款异常',
  'REFUND.CLOSED': '退款关闭',
  'COUPON.SEND': '商家券领券通知',
  'COUPON.USE': '代金券核销通知',
  'MCHTRANSFER.BILL.FINISHED': '商家转账单据终态通知',
  'PROFITSHARING.SUCCESS': '分账动账通知',
};

/** Parameters of {@link v3TransferResource}: a transfer bill's final result. */
export interface V3TransferParams {
  mchid: string;
  outBillNo: string;
  state: 'SUCCESS' | 'FAIL' | 'CANCELLED';
  amount: number;
  transferBillNo?: string;
  failReason?: string;
}

/** The decrypted resource of MCHTRANSFER.BILL.FINISHED (商家转账单据终态通知). */
export function v3TransferResource(p: V3TransferParams): Record<string, unknown> {
  const now = rfc3339Beijing();
  return {
    mch_id: p.mchid,
    out_bill_no: p.outBillNo,
    transfer_bill_no: p.transferBillNo ?? `1330000${randomString(DIGITS, 24)}`,
    state: p.state,
    transfer_amount: p.amount,
    openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    create_time: now,
    update_time: now,
    ...(p.failReason === undefined ? {} : { fail_reason: p.failReason }),
  };
}

/** Parameters of {@link v3ProfitSharingResource}: one movement to one receiver. */
export interface V3ProfitSharingParams {
  mchid: string;
  outOrderNo: string;
  amount: number;
  orderId?: string;
  transactionId?: string;
  receiverAccount?: string;
}

/** The decrypted resource of a profit-sharing movement notification (分账动账通知). */
export function v3ProfitSharingResource(p: V3ProfitSharingParams): Record<string, unknown> {
  return {
    mchid: p.mchid,
    transaction_id: p.transactionId ?? `4200000${randomString(DIGITS, 21)}`,
    order_id: p.orderId ?? `3008450${randomString(DIGITS, 21)}`,
    out_order_no: p.outOrderNo,
    receiver: { type: 'MERCHANT_ID', account: p.receiverAccount ?? p.mchid, amount: p.amount, description: '分账' },
    success_time: rfc3339Beijing(),
  };
}

/** A signed APIv3 notification (JSON envelope + Wechatpay-* headers) as posted by WeChat Pay. */
export function v3Notification(keys: TestKeys, p: V3NotificationParams): WireRequest {
  const plaintext = typeof p.resource === 'string' ? p.resource : JSON.stringify(p.resource);
  const encrypted = v3Encrypt(keys.apiV3Key, plaintext, p.associatedData ?? p.originalType);
  const body = JSON.stringify({
    id: p.id ?? randomUUID(),
    create_time: p.createTime ?? rfc3339Beijing(),
    resource_type: p.resourceType ?? 'encrypt-resource',
    event_type: p.eventType,
    summary: p.summary ?? EVENT_SUMMARIES[p.eventType] ?? p.eventType,
    resource: { original_type: p.originalType, ...encrypted },
  });
  const usePublicKey = p.signer === 'publicKey';
  const timestamp = String(p.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = p.nonce ?? randomString(UPPER_HEX, 32);
  const signerKey = usePublicKey ? keys.publicKey.privateKey : keys.platform.privateKey;
  return {
    headers: {
      'Content-Type': 'application/json',
      'Wechatpay-Serial': usePublicKey ? keys.publicKey.id : keys.platform.serial,
      'Wechatpay-Signature': signV3Message(signerKey, timestamp, nonce, body),
      'Wechatpay-Timestamp': timestamp,
      'Wechatpay-Nonce': nonce,
      'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048',
    },
    body,
  };
}

/** Parameters of {@link v3TransactionResource}. */
export interface V3TransactionParams {
  outTradeNo: string;
  total: number;
  transactionId?: string;
  /** RFC 3339 +08:00; defaults to now when the trade state is SUCCESS. */
  successTime?: string;
  tradeState?: string;
  partner?: PartnerIds;
  attach?: string;
  /** Added or overriding top-level fields (e.g. promotion_detail). */
  extra?: Record<string, unknown>;
}

const TRADE_STATE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  SUCCESS: '支付成功',
  REFUND: '转入退款',
  NOTPAY: '未支付',
  CLOSED: '已关闭',
  REVOKED: '已撤销（付款码支付）',
  USERPAYING: '用户支付中（付款码支付）',
  PAYERROR: '支付失败(其他原因，如银行返回失败)',
};

/** Plaintext TRANSACTION.* resource (direct merchant or partner shape). */
export function v3TransactionResource(keys: TestKeys, p: V3TransactionParams): Record<string, unknown> {
  const tradeState = p.tradeState ?? 'SUCCESS';
  const successTime = p.successTime ?? (tradeState === 'SUCCESS' ? rfc3339Beijing() : undefined);
  return {
    ...transactionParties(keys, p.partner),
    out_trade_no: p.outTradeNo,
    transaction_id: p.transactionId ?? randomTransactionId(),
    trade_type: 'JSAPI',
    trade_state: tradeState,
    trade_state_desc: TRADE_STATE_DESCRIPTIONS[tradeState] ?? tradeState,
    bank_type: 'OTHERS',
    attach: p.attach ?? '',
    ...(successTime === undefined ? {} : { success_time: successTime }),
    payer: payerOf(p.partner),
    amount: { total: p.total, payer_total: p.total, currency: 'CNY', payer_currency: 'CNY' },
    ...p.extra,
  };
}

function transactionParties(keys: TestKeys, partner: PartnerIds | undefined): Record<string, string> {
  if (partner === undefined) return { appid: keys.appid, mchid: keys.mchid };
  return {
    sp_appid: partner.spAppid,
    sp_mchid: partner.spMchid,
    ...(partner.subAppid === undefined ? {} : { sub_appid: partner.subAppid }),
    sub_mchid: partner.subMchid,
  };
}

function payerOf(partner: PartnerIds | undefined): Record<string, string> {
  if (partner === undefined) return { openid: randomOpenid() };
  // sub_openid only exists when the order names the sub-merchant's own appid.
  return { sp_openid: randomOpenid(), ...(partner.subAppid === undefined ? {} : { sub_openid: randomOpenid() }) };
}

/** One sub-order of {@link v3CombineResource}. */
export interface V3CombineSubOrder {
  outTradeNo: string;
  total: number;
  /** What the payer paid (less any coupon); defaults to `total`. */
  payerTotal?: number;
  transactionId?: string;
  tradeState?: string;
  /** The sub-order's merchant (direct combine: each participant's own mchid); defaults to ours. */
  mchid?: string;
  /** Service-provider combine: the sub-merchant the sub-order belongs to. */
  subMchid?: string;
}

/** Parameters of {@link v3CombineResource}. */
export interface V3CombineParams {
  combineOutTradeNo: string;
  subOrders: V3CombineSubOrder[];
  /** The initiator; default our merchant id and appid. */
  combineMchid?: string;
  combineAppid?: string;
  successTime?: string;
}

/** Plaintext TRANSACTION.SUCCESS resource of a combine payment (合单支付), direct or service-provider. */
export function v3CombineResource(keys: TestKeys, p: V3CombineParams): Record<string, unknown> {
  const successTime = p.successTime ?? rfc3339Beijing();
  return {
    combine_appid: p.combineAppid ?? keys.appid,
    combine_mchid: p.combineMchid ?? keys.mchid,
    combine_out_trade_no: p.combineOutTradeNo,
    scene_info: { device_id: 'POS1:1' },
    sub_orders: p.subOrders.map((o) => {
      const tradeState = o.tradeState ?? 'SUCCESS';
      return {
        mchid: o.mchid ?? keys.mchid,
        ...(o.subMchid === undefined ? {} : { sub_mchid: o.subMchid }),
        trade_type: 'JSAPI',
        trade_state: tradeState,
        bank_type: 'OTHERS',
        attach: '',
        ...(tradeState === 'SUCCESS' ? { success_time: successTime } : {}),
        transaction_id: o.transactionId ?? randomTransactionId(),
        out_trade_no: o.outTradeNo,
        amount: {
          total_amount: o.total,
          currency: 'CNY',
          payer_amount: o.payerTotal ?? o.total,
          payer_currency: 'CNY',
        },
      };
    }),
    combine_payer_info: { openid: randomOpenid() },
  };
}

/** Parameters of {@link v3RefundResource}. */
export interface V3RefundParams {
  outTradeNo: string;
  outRefundNo: string;
  refundStatus: 'SUCCESS' | 'CLOSED' | 'ABNORMAL';
  total: number;
  refund: number;
  refundId?: string;
  transactionId?: string;
  /** RFC 3339 +08:00; defaults to now when the refund succeeded. */
  successTime?: string;
  partner?: Pick<PartnerIds, 'spMchid' | 'subMchid'>;
  /** Added or overriding top-level fields. */
  extra?: Record<string, unknown>;
}

/** Plaintext REFUND.* resource (direct merchant or partner shape). */
export function v3RefundResource(keys: TestKeys, p: V3RefundParams): Record<string, unknown> {
  const successTime = p.successTime ?? (p.refundStatus === 'SUCCESS' ? rfc3339Beijing() : undefined);
  const merchant = p.partner ? { sp_mchid: p.partner.spMchid, sub_mchid: p.partner.subMchid } : { mchid: keys.mchid };
  return {
    ...merchant,
    out_trade_no: p.outTradeNo,
    transaction_id: p.transactionId ?? randomTransactionId(),
    out_refund_no: p.outRefundNo,
    refund_id: p.refundId ?? randomRefundId(),
    refund_status: p.refundStatus,
    ...(successTime === undefined ? {} : { success_time: successTime }),
    user_received_account: '支付用户零钱',
    amount: { total: p.total, refund: p.refund, payer_total: p.total, payer_refund: p.refund },
    ...p.extra,
  };
}

// ---------------------------------------------------------------------------------------------
// Identifiers
// ---------------------------------------------------------------------------------------------

/** A 28-digit WeChat transaction id. */
export function randomTransactionId(): string {
  return `4200${randomString(DIGITS, 24)}`;
}

/** A 29-digit WeChat refund id. */
export function randomRefundId(): string {
  return `50${randomString(DIGITS, 27)}`;
}
