/**
 * TEST-ONLY: APIv3 request authentication and response signing, as WeChat Pay's API does it
 * (docs/protocol.md D and E). Independent of lib/.
 */
import { randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import type { TestKeys } from './keys';
import { signV3Message } from './messages';
import { ALPHANUMERIC, UPPER_HEX, randomString } from './random';

/** The only Authorization scheme WeChat Pay accepts. */
export const AUTH_SCHEME = 'WECHATPAY2-SHA256-RSA2048';

/** Largest accepted |now − timestamp| of an Authorization header, in seconds. */
export const MAX_CLOCK_SKEW_SECONDS = 300;

/** The prefix of WeChat's signature probes, which must never verify. */
export const SIGNATURE_PROBE_PREFIX = 'WECHATPAY/SIGNTEST/';

const AUTH_FIELDS = ['mchid', 'nonce_str', 'signature', 'timestamp', 'serial_no'] as const;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The five fields of an Authorization header. */
export type AuthorizationFields = Record<(typeof AUTH_FIELDS)[number], string>;

/** Outcome of {@link verifyAuthorization}; `message` is safe to echo to the caller. */
export type AuthCheck = { ok: true; mchid: string } | { ok: false; message: string };

/** Which WeChat key signs a response or notification. */
export type V3Signer = 'platform' | 'publicKey';

/** How a signed response is deliberately spoiled (fault injection). */
export type SignatureSpoiler = 'none' | 'forged' | 'probe' | 'unsigned';

/** Parses `WECHATPAY2-SHA256-RSA2048 k="v",…`; undefined unless exactly the five fields are present. */
export function parseAuthorization(header: string): AuthorizationFields | undefined {
  if (!header.startsWith(`${AUTH_SCHEME} `)) return undefined;
  const pairs = header.slice(AUTH_SCHEME.length + 1).split(',');
  const found = new Map<string, string>();
  for (const pair of pairs) {
    const match = /^\s*([a-z_]+)="([^"]*)"\s*$/.exec(pair);
    if (match === null || found.has(match[1] ?? '')) return undefined;
    found.set(match[1] ?? '', match[2] ?? '');
  }
  if (found.size !== AUTH_FIELDS.length || !AUTH_FIELDS.every((name) => found.has(name))) return undefined;
  return Object.fromEntries(AUTH_FIELDS.map((name) => [name, found.get(name) ?? ''])) as AuthorizationFields;
}

/** The string a merchant signs: `METHOD\nURL\ntimestamp\nnonce\nbody\n` (URL = path + query as sent). */
export function requestSignString(method: string, url: string, timestamp: string, nonce: string, body: string): string {
  return `${method}\n${url}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** Verifies a request's Authorization against the merchant's public key, serial and the clock. */
export function verifyAuthorization(
  keys: Pick<TestKeys, 'mchid' | 'merchant'>,
  request: { header: string | undefined; method: string; url: string; body: string },
  nowSeconds: number,
): AuthCheck {
  const fields = request.header === undefined ? undefined : parseAuthorization(request.header);
  if (fields === undefined) return { ok: false, message: 'Authorization头格式错误' };
  if (fields.mchid !== keys.mchid) return { ok: false, message: '商户号不存在或证书与商户号不匹配' };
  if (fields.serial_no !== keys.merchant.serial) return { ok: false, message: '商户证书序列号有误' };
  if (!/^\d{1,12}$/.test(fields.timestamp)) return { ok: false, message: 'timestamp格式错误' };
  if (Math.abs(nowSeconds - Number(fields.timestamp)) > MAX_CLOCK_SKEW_SECONDS) {
    return { ok: false, message: '签名错误，请检查后再试。timestamp与发起请求的时间不得超过5分钟' };
  }
  const message = requestSignString(request.method, request.url, fields.timestamp, fields.nonce_str, request.body);
  if (!rsaVerifies(keys.merchant.publicKey, message, fields.signature)) {
    return { ok: false, message: '签名错误，请检查后再试' };
  }
  return { ok: true, mchid: fields.mchid };
}

/** Builds a merchant Authorization header (a client-side helper for tests and tools). */
export function merchantAuthorization(
  keys: Pick<TestKeys, 'mchid' | 'merchant'>,
  request: { method: string; url: string; body: string },
  opts: { timestamp?: number; nonce?: string } = {},
): string {
  const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = opts.nonce ?? randomString(ALPHANUMERIC, 32);
  const message = requestSignString(request.method, request.url, timestamp, nonce, request.body);
  const signature = sign('sha256', Buffer.from(message, 'utf8'), keys.merchant.privateKey).toString('base64');
  return (
    `${AUTH_SCHEME} mchid="${keys.mchid}",nonce_str="${nonce}",signature="${signature}",` +
    `timestamp="${timestamp}",serial_no="${keys.merchant.serial}"`
  );
}

/** The signer WeChat picks for a response: the public key when the request names its id. */
export function responseSigner(keys: Pick<TestKeys, 'publicKey'>, requestSerial: string | undefined): V3Signer {
  return requestSerial === keys.publicKey.id ? 'publicKey' : 'platform';
}

/** Wechatpay-* response headers over `ts\nnonce\nbody\n` (plus Request-ID), optionally spoiled. */
export function signedResponseHeaders(
  keys: Pick<TestKeys, 'platform' | 'publicKey'>,
  signer: V3Signer,
  body: string,
  nowSeconds: number,
  spoiler: SignatureSpoiler = 'none',
): Record<string, string> {
  const requestId = { 'Request-ID': randomUUID() };
  if (spoiler === 'unsigned') return requestId;
  const timestamp = String(nowSeconds);
  const nonce = randomString(UPPER_HEX, 32);
  const key = signer === 'publicKey' ? keys.publicKey.privateKey : keys.platform.privateKey;
  return {
    ...requestId,
    'Wechatpay-Serial': signer === 'publicKey' ? keys.publicKey.id : keys.platform.serial,
    'Wechatpay-Signature': spoiledSignature(key, timestamp, nonce, body, spoiler),
    'Wechatpay-Timestamp': timestamp,
    'Wechatpay-Nonce': nonce,
  };
}

function spoiledSignature(
  key: KeyObject,
  timestamp: string,
  nonce: string,
  body: string,
  spoiler: SignatureSpoiler,
): string {
  if (spoiler === 'probe') return `${SIGNATURE_PROBE_PREFIX}${randomString(ALPHANUMERIC, 64)}`;
  // A forged signature is a real RSA signature over other bytes: well-formed, yet it never verifies.
  const signedBody = spoiler === 'forged' ? `${body}\u0000forged` : body;
  return signV3Message(key, timestamp, nonce, signedBody);
}

function rsaVerifies(publicKey: KeyObject, message: string, signature: string): boolean {
  if (!BASE64.test(signature)) return false;
  try {
    return verify('sha256', Buffer.from(message, 'utf8'), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    // A malformed signature (wrong length and the like) is simply not a valid one.
    return false;
  }
}
