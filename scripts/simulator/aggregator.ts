/**
 * TEST-ONLY: the payment aggregator's sending side (docs/protocol.md G), built independently of lib/.
 *
 * Builds the exact notification an aggregator posts: `status`, `result` (a JSON string written here
 * by hand, so amounts and ids appear as the exact number text a test chooses) and `sign`, as a form
 * or a JSON body. Deliberately imports nothing from lib/.
 */
import { createHash, randomInt } from 'node:crypto';
import type { WireRequest } from './messages';

/** The signature constructions the service can be configured with (AGGREGATOR_SIGN_MODE). */
export type AggregatorSignMode = 'sorted-md5' | 'sorted-md5-append' | 'concat-md5';

/** MD5, upper-case hex, over the construction `mode` names, of the exact strings given. */
export function aggregatorSign(
  status: string,
  result: string,
  secret: string,
  mode: AggregatorSignMode = 'sorted-md5',
): string {
  const text =
    mode === 'sorted-md5'
      ? // the APIv2 rule: fields sorted by name (result < status), then &key=
        `result=${result}&status=${status}&key=${secret}`
      : mode === 'sorted-md5-append'
        ? `result=${result}&status=${status}${secret}`
        : status + result + secret;
  return createHash('md5').update(Buffer.from(text, 'utf8')).digest('hex').toUpperCase();
}

/** The fields of `result`; numbers are raw JSON number text, inserted verbatim. */
export interface AggregatorResultFields {
  /** Raw JSON text of the long trade id, e.g. '9007199254740993' (default: 19 random digits). */
  transactionid?: string;
  orderid: string;
  /** Raw JSON number text in yuan, e.g. '19.9000'. */
  amount: string;
  /** Raw JSON number text in yuan, e.g. '19.90'. */
  real_amount: string;
  custom?: string;
}

/** Writes `result` the way a PHP/Java aggregator would: numbers bare, strings quoted, given order. */
export function aggregatorResult(f: AggregatorResultFields): string {
  const tx = f.transactionid ?? `${randomInt(1, 10)}${Array.from({ length: 18 }, () => randomInt(0, 10)).join('')}`;
  return `{"transactionid":${tx},"orderid":${JSON.stringify(f.orderid)},"amount":${f.amount},"real_amount":${f.real_amount},"custom":${JSON.stringify(f.custom ?? '')}}`;
}

export interface AggregatorNotificationOptions {
  secret: string;
  /** Status text as the aggregator sends it (default '10000'). */
  status?: string;
  /** The exact `result` string (build one with aggregatorResult). */
  result: string;
  /** Body encoding (default 'form'). */
  format?: 'form' | 'json';
  /** JSON bodies: send status as a JSON string instead of a number. */
  statusAsString?: boolean;
  mode?: AggregatorSignMode;
  /** Override the signature (forgeries). */
  sign?: string;
}

/** The HTTP request an aggregator posts to the merchant's notify URL. */
export function aggregatorNotification(o: AggregatorNotificationOptions): WireRequest {
  const status = o.status ?? '10000';
  const sign = o.sign ?? aggregatorSign(status, o.result, o.secret, o.mode);
  if (o.format === 'json') {
    const statusJson = o.statusAsString ? JSON.stringify(status) : status;
    return {
      headers: { 'Content-Type': 'application/json' },
      body: `{"status":${statusJson},"result":${JSON.stringify(o.result)},"sign":${JSON.stringify(sign)}}`,
    };
  }
  const body = new URLSearchParams([
    ['status', status],
    ['result', o.result],
    ['sign', sign],
  ]).toString();
  return { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body };
}
