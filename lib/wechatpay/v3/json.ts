/** JSON parsing for untrusted input: depth-limited, prototype keys rejected, errors are MALFORMED. */
import { malformed } from '../../errors';

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DEPTH = 32;

/** Parses JSON text from a sender; rejects hostile keys and absurd nesting. */
export function parseUntrustedJson(text: string, what: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text, (key, v: unknown) => {
      if (FORBIDDEN.has(key)) throw new SyntaxError('forbidden key');
      return v;
    });
  } catch {
    throw malformed(`${what} is not valid JSON`);
  }
  if (depth(value, 0) > MAX_DEPTH) throw malformed(`${what} is nested too deeply`);
  return value;
}

function depth(v: unknown, d: number): number {
  if (d > MAX_DEPTH || typeof v !== 'object' || v === null) return d;
  let max = d;
  for (const child of Object.values(v)) max = Math.max(max, depth(child, d + 1));
  return max;
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
