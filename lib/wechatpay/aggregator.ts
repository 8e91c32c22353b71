/**
 * The third-party aggregator's notification (docs/protocol.md G): a form or JSON body with `status`,
 * `result` (a JSON string) and `sign`. The signature covers the exact `status` and `result` strings
 * received, so both are kept as received text: `result` is parsed only after the signature verifies,
 * and its numbers are read as their source text (a long id beyond 2^53, amounts in decimal yuan).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { configError, malformed, unauthentic } from '../errors';
import { decodeUtf8 } from '../text';
import { yuanToFen } from '../money';
import { isOutTradeNo, type PaymentReport } from '../orders/model';

/**
 * How `sign` is built from the exact `status` and `result` strings (the aggregator's documentation
 * does not spell it out, so it is a setting, AGGREGATOR_SIGN_MODE):
 * - `sorted-md5` (default): the APIv2 rule, `result=<result>&status=<status>&key=<secret>`
 * - `sorted-md5-append`: `result=<result>&status=<status><secret>` (the secret appended bare)
 * - `concat-md5`: `<status><result><secret>`
 * Every mode is MD5 over the UTF-8 bytes, as 32 upper-case hex digits.
 */
export const AGGREGATOR_SIGN_MODES = ['sorted-md5', 'sorted-md5-append', 'concat-md5'] as const;
export type AggregatorSignMode = (typeof AGGREGATOR_SIGN_MODES)[number];

/** What reading a notification needs from the configuration. */
export interface AggregatorSettings {
  aggregatorSecret: string | undefined;
  aggregatorSignMode: AggregatorSignMode;
  /** The merchant the aggregator's payments are recorded under. */
  mchid: string;
  maxBodyBytes: number;
}

/** The envelope as received: the exact strings the signature covers, and the signature. */
export interface AggregatorEnvelope {
  status: string;
  result: string;
  sign: string | undefined;
}

/** What `result` says, every value as its exact text. */
export interface AggregatorResult {
  /** The aggregator's trade id: digits, kept as text (a long, may exceed 2^53). */
  transactionId: string;
  orderId: string;
  /** What the merchant submitted, decimal yuan with up to 4 places, as received. */
  amountText: string;
  /** What was credited, decimal yuan with 2 places, as received. */
  realAmountText: string;
  custom: string;
}

/** The failure statuses the aggregator documents, with their meaning. */
export const AGGREGATOR_FAILURES = {
  '30901': 'order expired',
  '30906': 'login failed',
  '30907': 'insufficient balance',
  '30911': 'verification failed',
  '30912': 'real-name check failed',
  '30916': 'trade failed',
  '30921': 'trade timed out',
} as const;
export type AggregatorFailureStatus = keyof typeof AGGREGATOR_FAILURES;

/** The one status that means the trade succeeded. */
export const AGGREGATOR_SUCCESS_STATUS = '10000';
/** Namespace of aggregator trade ids in `transactionId`: WeChat's ids are digits only, so they never collide. */
export const AGGREGATOR_TRANSACTION_PREFIX = 'AGG-';

/** A verified aggregator notification. */
export type AggregatorNotice =
  /** status 10000: the payment to apply. */
  | { kind: 'PAYMENT'; report: PaymentReport; result: AggregatorResult }
  /** a documented failure status: nothing to record beyond a log line. */
  | { kind: 'FAILED'; status: AggregatorFailureStatus; meaning: string; orderId: string | undefined }
  /** a status the aggregator does not document: acknowledged, logged as unknown. */
  | { kind: 'UNKNOWN_STATUS'; status: string; orderId: string | undefined };

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const HEX32 = /^[0-9A-Fa-f]{32}$/;
// `int` on the wire: canonical decimal text only, so one status has one spelling under the signature
const STATUS_TEXT = /^(?:0|-?[1-9]\d{0,9})$/;
const TRANSACTION_ID = /^\d{1,20}$/;
const YUAN_2 = /^\d{1,14}(?:\.\d{1,2})?$/;
const YUAN_4 = /^\d{1,14}(?:\.\d{1,4})?$/;
const MAX_CUSTOM = 100;

/**
 * Verifies and reads one notification from its exact body bytes; `nowMs` is the injected clock
 * (the aggregator sends no payment time, so the payment is stamped with the time it was received).
 */
export function readAggregatorNotification(
  body: Buffer,
  settings: AggregatorSettings,
  nowMs: number,
): AggregatorNotice {
  if (body.length > settings.maxBodyBytes) throw malformed('body too large');
  const secret = settings.aggregatorSecret;
  if (secret === undefined) throw configError('AGGREGATOR_SECRET is not set');
  const envelope = parseAggregatorBody(body);
  if (!verifyAggregatorSign(envelope, secret, settings.aggregatorSignMode)) throw unauthentic('sign mismatch');
  return readVerified(envelope, settings, nowMs);
}

/** Reads the envelope of a form (`a=b&…`) or JSON (`{…}`) body; the content decides, not a header. */
export function parseAggregatorBody(body: Buffer): AggregatorEnvelope {
  const text = decodeUtf8(body);
  return isJsonText(text) ? jsonEnvelope(text) : formEnvelope(text);
}

/** The string the mode signs (before MD5). */
export function aggregatorSigningString(
  status: string,
  result: string,
  secret: string,
  mode: AggregatorSignMode,
): string {
  switch (mode) {
    case 'sorted-md5':
      return `result=${result}&status=${status}&key=${secret}`;
    case 'sorted-md5-append':
      return `result=${result}&status=${status}${secret}`;
    case 'concat-md5':
      return `${status}${result}${secret}`;
  }
}

/** Signs `status` and `result` as given: 32 upper-case hex digits. */
export function signAggregator(status: string, result: string, secret: string, mode: AggregatorSignMode): string {
  return createHash('md5')
    .update(aggregatorSigningString(status, result, secret, mode), 'utf8')
    .digest('hex')
    .toUpperCase();
}

/** Verifies `sign` in constant time; false for a missing, malformed or wrong signature. */
export function verifyAggregatorSign(envelope: AggregatorEnvelope, secret: string, mode: AggregatorSignMode): boolean {
  const given = envelope.sign;
  if (given === undefined || !HEX32.test(given)) return false;
  const expected = Buffer.from(signAggregator(envelope.status, envelope.result, secret, mode), 'latin1');
  // the aggregator sends upper case; lower-case hex is the same digest (as for APIv2). Hex only was
  // checked above, so latin1 maps every character to exactly one byte.
  const actual = Buffer.from(given.toUpperCase(), 'latin1');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

function readVerified(envelope: AggregatorEnvelope, settings: AggregatorSettings, nowMs: number): AggregatorNotice {
  const { status } = envelope;
  if (!STATUS_TEXT.test(status)) throw malformed('status is not an integer');
  const fields = resultFields(envelope.result);
  if (status !== AGGREGATOR_SUCCESS_STATUS) {
    // nothing is recorded for a failure: the order id is read for the log line only, if it is usable
    const id = fields.get('orderid');
    const orderId = id?.type === 'string' && isOutTradeNo(id.value) ? id.value : undefined;
    if (Object.hasOwn(AGGREGATOR_FAILURES, status)) {
      const failure = status as AggregatorFailureStatus;
      return { kind: 'FAILED', status: failure, meaning: AGGREGATOR_FAILURES[failure], orderId };
    }
    return { kind: 'UNKNOWN_STATUS', status, orderId };
  }
  const result = readResult(fields);
  return {
    kind: 'PAYMENT',
    result,
    report: {
      outTradeNo: result.orderId,
      merchantId: settings.mchid,
      transactionId: AGGREGATOR_TRANSACTION_PREFIX + result.transactionId,
      amountFen: yuanToFen(result.realAmountText, 'result.real_amount'),
      paidAt: new Date(nowMs).toISOString(),
      channel: 'aggregator',
    },
  };
}

function resultFields(result: string): Map<string, JsonValue> {
  const value = scanJson(result, 'result');
  if (value.type !== 'object') throw malformed('result is not a JSON object');
  return value.fields;
}

/** The payment fields of a verified `result`, every value as its exact text. */
function readResult(fields: Map<string, JsonValue>): AggregatorResult {
  const transactionId = digitsText(fields.get('transactionid'));
  if (transactionId === undefined || !TRANSACTION_ID.test(transactionId))
    throw malformed('result.transactionid missing or malformed');
  const orderId = digitsOrString(fields.get('orderid'));
  if (!isOutTradeNo(orderId)) throw malformed('result.orderid missing or malformed');
  const amountText = decimalText(fields.get('amount'));
  if (amountText === undefined || !YUAN_4.test(amountText)) throw malformed('result.amount missing or malformed');
  const realAmountText = decimalText(fields.get('real_amount'));
  if (realAmountText === undefined || !YUAN_2.test(realAmountText))
    throw malformed('result.real_amount missing or malformed');
  const c = fields.get('custom');
  let custom = '';
  if (c !== undefined && !(c.type === 'literal' && c.value === null)) {
    if (c.type !== 'string' || [...c.value].length > MAX_CUSTOM) throw malformed('result.custom malformed');
    custom = c.value;
  }
  return { transactionId, orderId, amountText, realAmountText, custom };
}

/** An integer as its digits: a JSON number without fraction or exponent, or a string of digits. */
function digitsText(v: JsonValue | undefined): string | undefined {
  if (v?.type === 'number') return /^\d+$/.test(v.text) ? v.text : undefined;
  if (v?.type === 'string') return /^\d+$/.test(v.value) ? v.value : undefined;
  return undefined;
}

/** The order id: documented as a string, accepted as a bare integer too (merchants with numeric order numbers). */
function digitsOrString(v: JsonValue | undefined): string | undefined {
  if (v?.type === 'string') return v.value;
  return digitsText(v);
}

/** A decimal amount as its source text: a JSON number (the documented form) or a string of the same. */
function decimalText(v: JsonValue | undefined): string | undefined {
  if (v?.type === 'number') return v.text;
  if (v?.type === 'string') return v.value;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The envelope: form or JSON
// ---------------------------------------------------------------------------------------------

function isJsonText(text: string): boolean {
  for (const ch of text) {
    if (ch === ' ' || ch === '\n' || ch === '\r' || ch === '\t') continue;
    return ch === '{';
  }
  return false;
}

function jsonEnvelope(text: string): AggregatorEnvelope {
  const value = scanJson(text, 'body');
  if (value.type !== 'object') throw malformed('body is not a JSON object');
  const status = value.fields.get('status');
  let statusText: string;
  // `int` on the wire, but seen as a string too: either way the signed text is the one received
  if (status?.type === 'number') statusText = status.text;
  else if (status?.type === 'string') statusText = status.value;
  else throw malformed('status missing or malformed');
  const result = value.fields.get('result');
  if (result?.type !== 'string') throw malformed('result missing or not a JSON string');
  const sign = value.fields.get('sign');
  if (sign !== undefined && sign.type !== 'string') throw unauthentic('sign malformed');
  return { status: statusText, result: result.value, sign: sign?.value };
}

function formEnvelope(text: string): AggregatorEnvelope {
  const fields = new Map<string, string>();
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = formDecode(eq < 0 ? part : part.slice(0, eq));
    const value = formDecode(eq < 0 ? '' : part.slice(eq + 1));
    if (FORBIDDEN_KEYS.has(name)) throw malformed('forbidden field name');
    if (fields.has(name)) throw malformed('repeated field');
    fields.set(name, value);
  }
  const status = fields.get('status');
  if (status === undefined || status === '') throw malformed('status missing or malformed');
  const result = fields.get('result');
  if (result === undefined || result === '') throw malformed('result missing or malformed');
  return { status, result, sign: fields.get('sign') };
}

function formDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw malformed('body is not valid form encoding');
  }
}

// ---------------------------------------------------------------------------------------------
// A strict JSON scanner that keeps numbers as their source text
// ---------------------------------------------------------------------------------------------

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
        if (FORBIDDEN_KEYS.has(key)) throw malformed(`${what} holds a forbidden key`);
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
