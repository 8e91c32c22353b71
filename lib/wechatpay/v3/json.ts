/** JSON parsing for untrusted input: depth-limited, prototype keys rejected, errors are MALFORMED. */
import { malformed } from '../../errors';
import { PROTOTYPE_KEYS } from '../../text';

const MAX_DEPTH = 32;

/**
 * Parses JSON text from a sender; rejects hostile keys, repeated keys and absurd nesting. The native
 * parser builds the value (fast, and it is the one that decides validity); a structural pass over
 * the same text then checks what JSON.parse silently accepts: a repeated key keeps only its last value.
 */
export function parseUntrustedJson(text: string, what: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw malformed(`${what} is not valid JSON`);
  }
  checkKeys(text, what);
  return value;
}

/** Walks valid JSON text object by object: depth, prototype keys, repeated keys. */
function checkKeys(text: string, what: string): void {
  const stack: Array<Set<string> | undefined> = []; // a key set per open object, undefined per array
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = stringEnd(text, i);
      const keys = stack[stack.length - 1];
      if (expectKey && keys) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (PROTOTYPE_KEYS.has(key)) throw malformed(`${what} holds a forbidden key`);
        if (keys.has(key)) throw malformed(`${what} repeats a key`);
        keys.add(key);
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push(c === 0x7b ? new Set() : undefined);
      if (stack.length > MAX_DEPTH) throw malformed(`${what} is nested too deeply`);
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] !== undefined;
    } else if (c === 0x3a /* : */) {
      expectKey = false;
    }
  }
}

/** Index of the quote closing the string that opens at `start` (the text is known to be valid JSON). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const q = text.indexOf('"', i);
    let slashes = 0;
    while (text.charCodeAt(q - 1 - slashes) === 0x5c) slashes++;
    if (slashes % 2 === 0) return q;
    i = q + 1;
  }
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
