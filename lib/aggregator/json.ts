/**
 * The aggregator's JSON codec: a strict scanner that keeps every number as its source text, because
 * the aggregator signs text and sends amounts in decimal yuan and ids beyond 2^53.
 */
import { malformed } from '../errors';
import { isPrototypeKey } from '../text';

/**
 * JSON as scanned: numbers keep their exact source text (JSON.parse would round 19.90 to 19.9 and a
 * long id to the nearest double), objects are Maps (no prototype), repeated and prototype keys are
 * refused, and lone surrogates are refused (they would sign as U+FFFD, two texts with one signature).
 */
export type JsonValue =
  | { type: 'string'; value: string }
  | { type: 'number'; text: string }
  | { type: 'literal'; value: boolean | null }
  | { type: 'array'; items: JsonValue[] }
  | { type: 'object'; fields: Map<string, JsonValue> };

const MAX_DEPTH = 32;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** Scans one JSON text (RFC 8259, nothing before or after but whitespace); errors are MALFORMED naming `what`. */
export function scanJson(text: string, what: string): JsonValue {
  let pos = 0;
  const fail = (): never => {
    throw malformed(`${what} is not valid JSON`);
  };
  const ws = () => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      pos++;
    }
  };
  const str = (): string => {
    pos++; // opening quote
    let out = '';
    let start = pos;
    for (;;) {
      if (pos >= text.length) fail();
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(start, pos++);
        break;
      }
      if (c < 0x20) fail();
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(start, pos);
      const e = text[pos + 1];
      if (e === 'u') {
        const hex = text.slice(pos + 2, pos + 6);
        if (!/^[0-9A-Fa-f]{4}$/.test(hex)) fail();
        out += String.fromCharCode(parseInt(hex, 16));
        pos += 6;
      } else {
        const r = e === undefined ? undefined : ESCAPES[e];
        if (r === undefined) fail();
        out += r;
        pos += 2;
      }
      start = pos;
    }
    if (hasLoneSurrogate(out)) throw malformed(`${what} holds an unpaired surrogate`);
    return out;
  };
  const value = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) throw malformed(`${what} is nested too deeply`);
    ws();
    const c = text[pos];
    if (c === '"') return { type: 'string', value: str() };
    if (c === '{') {
      pos++;
      const fields = new Map<string, JsonValue>();
      ws();
      if (text[pos] === '}') {
        pos++;
        return { type: 'object', fields };
      }
      for (;;) {
        ws();
        if (text[pos] !== '"') fail();
        const key = str();
        if (isPrototypeKey(key)) throw malformed(`${what} holds a forbidden key`);
        if (fields.has(key)) throw malformed(`${what} repeats a key`);
        ws();
        if (text[pos++] !== ':') fail();
        fields.set(key, value(depth + 1));
        ws();
        const sep = text[pos++];
        if (sep === '}') return { type: 'object', fields };
        if (sep !== ',') fail();
      }
    }
    if (c === '[') {
      pos++;
      const items: JsonValue[] = [];
      ws();
      if (text[pos] === ']') {
        pos++;
        return { type: 'array', items };
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        const sep = text[pos++];
        if (sep === ']') return { type: 'array', items };
        if (sep !== ',') fail();
      }
    }
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return { type: 'literal', value: v };
      }
    }
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (!m) return fail();
    pos += m[0].length;
    return { type: 'number', text: m[0] };
  };
  const v = value(0);
  ws();
  if (pos !== text.length) fail();
  return v;
}

function hasLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
      return true;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}
