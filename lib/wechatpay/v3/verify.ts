/**
 * APIv3 signature verification of a notification or an API response: headers → clock window →
 * message over the exact received bytes → RSA-SHA256 with the key the serial names.
 */
import { createVerify, type KeyObject } from 'node:crypto';
import { unauthentic } from '../../errors';
import type { ReceivedBody } from '../../text';
import { isWithinValidity, type KeyKind, type KeyRing } from './keyring';

export const SIGNATURE_TYPE = 'WECHATPAY2-SHA256-RSA2048';
export const MAX_CLOCK_SKEW_SECONDS = 300;
const PROBE_PREFIX = 'WECHATPAY/SIGNTEST/';
const TIMESTAMP = /^\d{1,12}$/;
const NONCE = /^[\x21-\x7e]{1,64}$/;

/** Looks up a header case-insensitively (API Gateway lower-cases them; other callers may not). */
export type HeaderGetter = (name: string) => string | undefined;

/**
 * Wraps a header map in a case-insensitive getter. The name as asked is tried first (API Gateway
 * lower-cases names, and so do the callers' names), so a delivery costs no copy of its headers; only
 * a miss scans the names case-insensitively. Only own string values count: `constructor` is no header.
 */
export function headerGetter(headers: Readonly<Record<string, string | undefined>>): HeaderGetter {
  return (name) => {
    const exact = Object.hasOwn(headers, name) ? headers[name] : undefined;
    if (typeof exact === 'string') return exact;
    const wanted = name.toLowerCase();
    for (const key of Object.keys(headers)) {
      const value = headers[key];
      if (typeof value === 'string' && key.toLowerCase() === wanted) return value;
    }
    return undefined;
  };
}

/** What a successful verification tells the caller: which key vouched for the bytes. */
export interface Verification {
  serial: string;
  verifiedBy: KeyKind;
}

/**
 * Verifies the `Wechatpay-*` headers over `body` (the exact bytes received). Throws UNAUTHENTIC for
 * probes, missing or unknown serials, certificates outside their validity, timestamps outside ±300 s
 * of `nowSeconds`, and bad signatures. Never makes an outbound call: an unknown serial is simply rejected.
 */
export function verifyV3(header: HeaderGetter, body: ReceivedBody, keys: KeyRing, nowSeconds: number): Verification {
  const signature = header('wechatpay-signature');
  const serial = header('wechatpay-serial');
  const timestamp = header('wechatpay-timestamp');
  const nonce = header('wechatpay-nonce');
  const type = header('wechatpay-signature-type');
  if (!signature) throw unauthentic('missing Wechatpay-Signature');
  if (signature.startsWith(PROBE_PREFIX)) throw unauthentic('signature probe rejected', { probe: true });
  if (!serial) throw unauthentic('missing Wechatpay-Serial');
  if (!timestamp || !TIMESTAMP.test(timestamp)) throw unauthentic('missing or invalid Wechatpay-Timestamp');
  if (!nonce || !NONCE.test(nonce)) throw unauthentic('missing or invalid Wechatpay-Nonce');
  if (type !== undefined && type !== SIGNATURE_TYPE) throw unauthentic('unsupported Wechatpay-Signature-Type');
  if (Math.abs(nowSeconds - Number(timestamp)) >= MAX_CLOCK_SKEW_SECONDS) {
    throw unauthentic('Wechatpay-Timestamp outside the accepted window', { skew: nowSeconds - Number(timestamp) });
  }
  const entry = keys.entry(serial);
  if (!entry) throw unauthentic('unknown Wechatpay-Serial', { serial: serial.slice(0, 64) });
  // an expired certificate proves nothing: its key may have leaked since (docs/protocol.md D)
  if (!isWithinValidity(entry, nowSeconds * 1000))
    throw unauthentic('platform certificate outside its validity', { serial: serial.slice(0, 64) });
  if (signature.length > 1024) throw unauthentic('Wechatpay-Signature is not base64');
  // Node's decoder skips what is not base64 and takes the URL-safe alphabet and missing padding too:
  // only the text its bytes encode back to is a signature, so one signature has exactly one spelling
  const signatureBytes = Buffer.from(signature, 'base64');
  if (signatureBytes.toString('base64') !== signature) throw unauthentic('Wechatpay-Signature is not base64');
  if (!signatureHolds(timestamp, nonce, body, entry.key, signatureBytes)) throw unauthentic('signature mismatch');
  return { serial, verifiedBy: entry.kind };
}

/**
 * RSA-SHA256 (PKCS#1 v1.5) over `timestamp\nnonce\nbody\n`, the message fed to the digest in three
 * pieces: the body is hashed where it lies (text as its UTF-8 bytes), never copied into a message buffer. A Verify object costs
 * less per call on Node 20 than the one-shot crypto.verify (which sets up a job for each call).
 */
function signatureHolds(
  timestamp: string,
  nonce: string,
  body: ReceivedBody,
  key: KeyObject,
  signature: Buffer,
): boolean {
  return createVerify('sha256').update(`${timestamp}\n${nonce}\n`).update(body).update('\n').verify(key, signature);
}
