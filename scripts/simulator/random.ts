/**
 * TEST-ONLY: unbiased random identifiers for the WeChat Pay simulator.
 */
import { randomInt } from 'node:crypto';

export const DIGITS = '0123456789';
export const UPPER_HEX = '0123456789ABCDEF';
export const LOWER_HEX = '0123456789abcdef';
export const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random string of `length` characters drawn uniformly from `alphabet`. */
export function randomString(alphabet: string, length: number): string {
  let out = '';
  // randomInt rejects biased draws internally, so every character is uniform.
  for (let i = 0; i < length; i += 1) out += alphabet.charAt(randomInt(alphabet.length));
  return out;
}

/** 40 upper-case hex characters whose first byte is non-zero, as WeChat certificate serials are. */
export function randomSerial(): string {
  // A leading 00 byte would vanish from the DER INTEGER and the parsed serial would differ.
  return randomString(UPPER_HEX.slice(1), 1) + randomString(UPPER_HEX, 39);
}

/** An openid-shaped identifier (28 characters, starts with 'o'). */
export function randomOpenid(): string {
  return `o${randomString(`${ALPHANUMERIC}_-`, 27)}`;
}
