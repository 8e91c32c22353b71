/** JSON parsing for untrusted input: depth-limited, prototype keys rejected, errors are MALFORMED. */
import { malformed } from '../../errors';
import { isPrototypeKey } from '../../text';

const MAX_DEPTH = 32;

/**
 * Parses JSON text from a sender; rejects hostile keys, repeated keys and absurd nesting. The native
 * parser builds the value (fast, and it is the one that decides validity). What JSON.parse silently
 * accepts is then checked in two cheap passes that allocate nothing per key: the value's own keys
 * (decoded, so an escaped `__proto__` is seen for what it is) are walked for prototype names and
 * depth and counted, and the key tokens of the text are counted (bounded from the colons first, then,
 * only if that bound does not settle it, exactly); a repeated key is the one case in which the text
 * holds more keys than the value, because JSON.parse keeps only its last value.
 */
export function parseUntrustedJson(text: string, what: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw malformed(`${what} is not valid JSON`);
  }
  if (keyCheck(text, countKeys(value, 1, what)) === 'repeat') throw malformed(`${what} repeats a key`);
  return value;
}

/**
 * Whether the text holds exactly `keys` key tokens, and how that was settled: by the colon bound alone
 * ({@link keyTokenBound}; compact JSON, as WeChat Pay sends it), or by the exact quote-by-quote count;
 * 'repeat' when the text holds more key tokens than the value has keys.
 */
export function keyCheck(text: string, keys: number): 'bound' | 'exact' | 'repeat' {
  if (keyTokenBound(text) === keys) return 'bound';
  return countKeyTokens(text) === keys ? 'exact' : 'repeat';
}

/**
 * The own keys of `value` and everything in it; refuses prototype keys and nesting past MAX_DEPTH.
 * JSON.parse builds plain objects (their keys own, enumerable and interned), so `for…in` walks exactly
 * their keys without an array of them.
 */
function countKeys(value: unknown, depth: number, what: string): number {
  if (typeof value !== 'object' || value === null) return 0;
  if (depth > MAX_DEPTH) throw malformed(`${what} is nested too deeply`);
  let n = 0;
  if (Array.isArray(value)) {
    for (const item of value) n += countKeys(item, depth + 1, what);
    return n;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (isPrototypeKey(key)) throw malformed(`${what} holds a forbidden key`);
    n += 1 + countKeys(record[key], depth + 1, what);
  }
  return n;
}

/**
 * The key tokens of valid JSON text: the strings followed (past white space) by a colon. One pass from
 * quote to quote: a quote preceded by an odd run of backslashes is inside its string.
 */
function countKeyTokens(text: string): number {
  let n = 0;
  for (let open = text.indexOf('"'); open >= 0; ) {
    let close = text.indexOf('"', open + 1);
    while (escaped(text, close)) close = text.indexOf('"', close + 1);
    let next = close + 1;
    let c = text.charCodeAt(next);
    while (isJsonSpace(c)) c = text.charCodeAt(++next);
    if (c === 0x3a /* : */) n++;
    open = text.indexOf('"', next);
  }
  return n;
}

/**
 * A quick bound on the key tokens, walking the colons only (about half as many stops as the quotes): the
 * colons right after a quote. With no white space right before any colon, every key token is such a
 * colon, so this count is at least the key tokens; a quote-colon inside a string only adds to it. Equal
 * to the value's key count it therefore proves there is no repeated key (the text holds at least as
 * many key tokens as the value has keys). -1 when white space stands before a colon: no bound, and the
 * exact count decides. A text it cannot clear goes to {@link countKeyTokens}, so it only ever saves time.
 */
export function keyTokenBound(text: string): number {
  let n = 0;
  for (let at = -1; ; ) {
    at = text.indexOf(':', at + 1);
    if (at === -1) return n;
    const c = text.charCodeAt(at - 1);
    if (c === 0x22 /* " */) n++;
    else if (isJsonSpace(c)) return -1;
  }
}

/** JSON's white space: space, line feed, carriage return, tab (a code unit). */
function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Whether the quote at `at` is escaped: an odd number of backslashes right before it. */
function escaped(text: string, at: number): boolean {
  let slashes = 0;
  while (text.charCodeAt(at - 1 - slashes) === 0x5c) slashes++;
  return slashes % 2 === 1;
}

/** Narrowing helpers for decoded JSON. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A required string field, else MALFORMED naming it. */
export function str(obj: Record<string, unknown>, key: string, what: string, max = 256): string {
  const v = obj[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw malformed(`${what}.${key} missing or malformed`);
  return v;
}

/** An optional string field. */
export function optStr(obj: Record<string, unknown>, key: string, what: string, max = 256): string | undefined {
  return obj[key] === undefined || obj[key] === '' ? undefined : str(obj, key, what, max);
}
