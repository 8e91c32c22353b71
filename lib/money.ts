/**
 * Money is an integer number of fen inside the system. These are the only conversions, and they are
 * exact: decimal text is split into digits, never multiplied as a float (9.8 * 100 !== 980).
 */
import { malformed } from './errors';

const FEN_TEXT = /^\d{1,15}$/;
// 14 whole digits: every safe fen amount fenToYuan can print must read back (overflow is checked below)
const YUAN_TEXT = /^(\d{1,14})(?:\.(\d+))?$/;

/** Parses an integer fen amount sent as text (APIv2 `total_fee`). */
export function parseFen(text: string, field: string): number {
  if (!FEN_TEXT.test(text)) throw malformed(`${field} is not an integer amount in fen`);
  return Number(text);
}

/** Checks an integer fen amount sent as a JSON number (APIv3 `amount.total`). */
export function checkFen(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw malformed(`${field} is not an integer amount in fen`);
  }
  return value;
}

/**
 * Converts a decimal yuan amount ("12.30", "0.5", "7") to fen exactly. Digits past the second decimal
 * place must be zeros: a fraction of a fen is an error, never rounded away.
 */
export function yuanToFen(text: string, field: string): number {
  const m = YUAN_TEXT.exec(text);
  if (!m) throw malformed(`${field} is not a decimal amount`);
  const whole = m[1] as string;
  const frac = m[2] ?? '';
  if (/[1-9]/.test(frac.slice(2))) throw malformed(`${field} has a fraction of a fen`);
  const fen = Number(whole) * 100 + Number(frac.slice(0, 2).padEnd(2, '0'));
  if (!Number.isSafeInteger(fen)) throw malformed(`${field} is too large`);
  return fen;
}

/** Formats fen as a decimal yuan string with two places ("1230" → "12.30"). */
export function fenToYuan(fen: number): string {
  if (!Number.isSafeInteger(fen) || fen < 0) throw new RangeError('fen must be a non-negative safe integer');
  const s = String(fen).padStart(3, '0');
  return `${s.slice(0, -2)}.${s.slice(-2)}`;
}
