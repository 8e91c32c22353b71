/**
 * APIv3 signature verification of a notification or an API response: headers → clock window →
 * message over the exact received bytes → RSA-SHA256 with the key the serial names.
 */
import { verify as rsaVerify } from 'node:crypto';
import { unauthentic } from '../../errors';
import { isWithinValidity, type KeyKind, type KeyRing } from './keyring';

export const SIGNATURE_TYPE = 'WECHATPAY2-SHA256-RSA2048';
export const MAX_CLOCK_SKEW_SECONDS = 300;
const PROBE_PREFIX = 'WECHATPAY/SIGNTEST/';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const TIMESTAMP = /^\d{1,12}$/;
const NONCE = /^[\x21-\x7e]{1,64}$/;

/** Looks up a header case-insensitively (API Gateway lower-cases them; other callers may not). */
export type HeaderGetter = (name: string) => string | undefined;

/** Wraps a header map in a case-insensitive getter. */
export function headerGetter(headers: Readonly<Record<string, string | undefined>>): HeaderGetter {
  const lower = new Map<string, string>();
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) lower.set(k.toLowerCase(), v);
  return (name) => lower.get(name.toLowerCase());
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
export function verifyV3(header: HeaderGetter, body: Buffer, keys: KeyRing, nowSeconds: number): Verification {
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
  if (signature.length > 1024 || !BASE64.test(signature)) throw unauthentic('Wechatpay-Signature is not base64');
  const message = Buffer.concat([Buffer.from(`${timestamp}\n${nonce}\n`), body, NEWLINE]);
  if (!rsaVerify('sha256', message, entry.key, Buffer.from(signature, 'base64')))
    throw unauthentic('signature mismatch');
  return { serial, verifiedBy: entry.kind };
}

const NEWLINE = Buffer.from('\n');
