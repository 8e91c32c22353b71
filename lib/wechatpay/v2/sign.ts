/**
 * APIv2 signatures ("安全规范"): MD5 or HMAC-SHA256 over every non-empty field except `sign`, sorted
 * by byte order, joined as k=v&…, with `&key=<APIv2 key>` appended.
 */
import { createHmac, hash } from 'node:crypto';
import { hexDigestEquals } from '../../text';
import type { Fields } from './xml';

export type V2SignType = 'MD5' | 'HMAC-SHA256';

/** The string both algorithms sign: sorted non-empty fields, then `&key=`. */
export function signingString(fields: Readonly<Fields>, key: string): string {
  const names = Object.keys(fields).filter((k) => k !== 'sign' && fields[k] !== '' && fields[k] !== undefined);
  // WeChat sorts by UTF-8 bytes. The default sort compares UTF-16 units: the same order unless a name
  // holds a character above U+FFFF (a surrogate pair), so only then are the names' bytes compared.
  names.sort(names.some((k) => SURROGATE.test(k)) ? byUtf8Bytes : undefined);
  let s = '';
  for (const k of names) s += `${k}=${fields[k]}&`;
  return `${s}key=${key}`;
}

const SURROGATE = /[\uD800-\uDFFF]/;
const byUtf8Bytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** Signs a field map; the result is upper-case hex. */
export function signV2(fields: Readonly<Fields>, key: string, type: V2SignType): string {
  const data = signingString(fields, key);
  // MD5 through the one-shot crypto.hash (Node 20.12+): no Hash object per message
  const hex = type === 'MD5' ? hash('md5', data, 'hex') : createHmac('sha256', key).update(data, 'utf8').digest('hex');
  return hex.toUpperCase();
}

/**
 * Which algorithm signed a message: `sign_type` when present, otherwise the signature's length
 * (WeChat has been seen omitting `sign_type` on HMAC-signed notifications). Undefined if neither fits.
 */
export function resolveSignType(fields: Readonly<Fields>): V2SignType | undefined {
  const declared = fields.sign_type;
  if (declared === 'MD5' || declared === 'HMAC-SHA256') return declared;
  if (declared !== undefined && declared !== '') return undefined;
  const len = fields.sign?.length;
  return len === 32 ? 'MD5' : len === 64 ? 'HMAC-SHA256' : undefined;
}

/** Verifies `sign` in constant time; false for any missing, malformed or wrong signature. */
export function verifyV2(fields: Readonly<Fields>, key: string): boolean {
  const given = fields.sign;
  const type = resolveSignType(fields);
  if (given === undefined || type === undefined) return false;
  // WeChat sends upper-case hex; lower case is the same digest
  return hexDigestEquals(given, signV2(fields, key, type));
}
