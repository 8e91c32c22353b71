/**
 * The third-party aggregator's notification (docs/protocol.md G): a form or JSON body with `status`,
 * `result` (a JSON string) and `sign`. The signature covers the exact `status` and `result` strings
 * received, so both are kept as received text: `result` is parsed only after the signature verifies,
 * and its numbers are read as their source text (a long id beyond 2^53, amounts in decimal yuan).
 * What it returns is the aggregator's own message; lib/notify/read.ts turns it into a payment.
 */
import { configError, malformed, unauthentic } from '../errors';
import { yuanToFen } from '../money';
import { isOutTradeNo } from '../orders/model';
import { bodyByteLength, bodyText, isPrototypeKey, type ReceivedBody } from '../text';
import { scanJson, type JsonValue } from './json';
import { verifyAggregatorSign, type AggregatorEnvelope, type AggregatorSignMode } from './sign';

/** What reading a notification needs from the configuration. */
export interface AggregatorSettings {
  aggregatorSecret: string | undefined;
  aggregatorSignMode: AggregatorSignMode;
  maxBodyBytes: number;
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

/** A verified aggregator notification, as the aggregator says it. */
export type AggregatorMessage =
  /** status 10000: the trade succeeded; `realAmountFen` is what was credited, converted exactly. */
  | { kind: 'PAID'; result: AggregatorResult; realAmountFen: number }
  /** a documented failure status: nothing to record beyond a log line. */
  | { kind: 'FAILED'; status: AggregatorFailureStatus; meaning: string; orderId: string | undefined }
  /** a status the aggregator does not document: acknowledged, logged as unknown. */
  | { kind: 'UNKNOWN_STATUS'; status: string; orderId: string | undefined };

// `int` on the wire: canonical decimal text only, so one status has one spelling under the signature
const STATUS_TEXT = /^(?:0|-?[1-9]\d{0,9})$/;
const TRANSACTION_ID = /^\d{1,20}$/;
const YUAN_2 = /^\d{1,14}(?:\.\d{1,2})?$/;
const YUAN_4 = /^\d{1,14}(?:\.\d{1,4})?$/;
const MAX_CUSTOM = 100;

/** Verifies and reads one notification from its exact body bytes. */
export function readAggregatorMessage(body: ReceivedBody, settings: AggregatorSettings): AggregatorMessage {
  if (bodyByteLength(body) > settings.maxBodyBytes) throw malformed('body too large');
  const secret = settings.aggregatorSecret;
  if (secret === undefined) throw configError('AGGREGATOR_SECRET is not set');
  const envelope = parseAggregatorBody(body);
  if (!verifyAggregatorSign(envelope, secret, settings.aggregatorSignMode)) throw unauthentic('sign mismatch');
  return readVerified(envelope);
}

/** Reads the envelope of a form (`a=b&…`) or JSON (`{…}`) body; the content decides, not a header. */
export function parseAggregatorBody(body: ReceivedBody): AggregatorEnvelope {
  const text = bodyText(body);
  return isJsonText(text) ? jsonEnvelope(text) : formEnvelope(text);
}

function readVerified(envelope: AggregatorEnvelope): AggregatorMessage {
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
  return { kind: 'PAID', result, realAmountFen: yuanToFen(result.realAmountText, 'result.real_amount') };
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
    if (isPrototypeKey(name)) throw malformed('forbidden field name');
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
