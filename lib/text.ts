/**
 * Text from untrusted senders, the primitives every codec shares: strict UTF-8 decoding, the names no
 * parser may turn into an object key, and the constant-time comparison of a received hex digest.
 */
import { timingSafeEqual } from 'node:crypto';
import { malformed } from './errors';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8 strictly; MALFORMED naming `what` when the bytes are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array, what = 'body'): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw malformed(`${what} is not valid UTF-8`);
  }
}

/** Field names that would reach an object's prototype if used as keys: every codec refuses them. */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

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
