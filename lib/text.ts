/**
 * Text from untrusted senders, the primitives every codec shares: strict UTF-8 decoding, the names no
 * parser may turn into an object key, and the constant-time comparison of a received hex digest.
 */
import { isUtf8 } from 'node:buffer';
import { timingSafeEqual } from 'node:crypto';
import { malformed } from './errors';

// replacement-mode decoder: only ever handed bytes isUtf8 has already accepted, so it replaces nothing
const decoder = new TextDecoder('utf-8');

/**
 * Decodes UTF-8 strictly; MALFORMED naming `what` when the bytes are not valid UTF-8 (a leading
 * byte-order mark is dropped, as the WHATWG decoder does). Validating with isUtf8 and then decoding
 * in replacement mode is the same verdict as a fatal TextDecoder, which on Node 20 costs 2-3× more.
 */
export function decodeUtf8(bytes: Uint8Array, what = 'body'): string {
  if (!isUtf8(bytes)) throw malformed(`${what} is not valid UTF-8`);
  return decoder.decode(bytes);
}

/**
 * A request body as the HTTP layer hands it over: the bytes (API Gateway's base64 undone), or the text
 * API Gateway decoded from UTF-8 for a text body. Either is the exact message received: the text's
 * UTF-8 encoding is the bytes, so a digest over it is a digest over them, and it is read without a
 * copy into a Buffer and back.
 */
export type ReceivedBody = Buffer | string;

/**
 * The body as text, exactly as {@link decodeUtf8} reads its bytes: strictly decoded from bytes; from
 * text, a leading byte-order mark dropped and a lone surrogate (which has no UTF-8 form: encoding
 * writes U+FFFD for it) read as U+FFFD, which is what the bytes of that text decode to.
 */
export function bodyText(body: ReceivedBody, what = 'body'): string {
  if (typeof body !== 'string') return decodeUtf8(body, what);
  const text = body.isWellFormed() ? body : body.toWellFormed();
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The body's size in bytes (its UTF-8 length when it is text). */
export function bodyByteLength(body: ReceivedBody): number {
  return Buffer.byteLength(body);
}

/**
 * Whether a field name would reach an object's prototype if used as a key: every codec refuses these
 * three. Compared by identity with the literals (a parser's keys are interned), cheaper than a Set.
 */
export function isPrototypeKey(name: string): boolean {
  return name === '__proto__' || name === 'constructor' || name === 'prototype';
}

const HEX = /^[0-9A-Fa-f]+$/;

/**
 * Whether a received hex digest equals the expected upper-case one, compared in constant time. Lower
 * case is the same digest and is accepted. Hex only is checked first: latin1 keeps just the low byte
 * of each character, so 'Ł' (U+0141) would otherwise pass for 'A'.
 */
export function hexDigestEquals(given: string, expectedUpperHex: string): boolean {
  if (!HEX.test(given)) return false;
  const actual = Buffer.from(given.toUpperCase(), 'latin1');
  const expected = Buffer.from(expectedUpperHex, 'latin1');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
