/**
 * The APIv3 request signature (docs/protocol.md E): SHA256withRSA with the merchant private key over
 * `METHOD\nURL\ntimestamp\nnonce\nbody\n`, sent as a `WECHATPAY2-SHA256-RSA2048` Authorization header.
 */
import { sign, type KeyObject } from 'node:crypto';
import { SIGNATURE_TYPE } from './verify';

/** What one request's Authorization is computed from. */
export interface AuthorizationInput {
  mchid: string;
  /** The merchant API certificate serial (not the platform one). */
  serialNo: string;
  privateKey: KeyObject;
  method: string;
  /** Path plus `?query` exactly as sent: no host, no re-encoding. */
  url: string;
  /** The exact body sent; '' for a GET. */
  body: string;
  /** Unix seconds (milliseconds are a classic mistake, docs/protocol.md H7). */
  timestamp: number;
  nonce: string;
}

/** The string the merchant signs; the trailing newline stays even for an empty body. */
export function requestSigningString(
  method: string,
  url: string,
  timestamp: number,
  nonce: string,
  body: string,
): string {
  return `${method}\n${url}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** Builds `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"`. */
export function buildAuthorization(input: AuthorizationInput): string {
  if (!Number.isSafeInteger(input.timestamp) || input.timestamp < 0)
    throw new TypeError('timestamp must be whole seconds');
  for (const [name, value] of [
    ['mchid', input.mchid],
    ['serialNo', input.serialNo],
    ['nonce', input.nonce],
  ] as const) {
    // a quote or comma would break the header's quoted pairs
    if (!/^[\x21-\x7e]+$/.test(value) || /[",]/.test(value)) throw new TypeError(`${name} is not a header-safe token`);
  }
  const message = requestSigningString(input.method, input.url, input.timestamp, input.nonce, input.body);
  const signature = sign('sha256', Buffer.from(message, 'utf8'), input.privateKey).toString('base64');
  return (
    `${SIGNATURE_TYPE} mchid="${input.mchid}",nonce_str="${input.nonce}",signature="${signature}",` +
    `timestamp="${input.timestamp}",serial_no="${input.serialNo}"`
  );
}
