/**
 * The aggregator's signature (docs/protocol.md G): MD5 over the exact `status` and `result` strings
 * received and the shared secret, as 32 upper-case hex digits. Never over a re-serialised `result`.
 */
import { createHash } from 'node:crypto';
import { hexDigestEquals } from '../text';

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

/** The envelope as received: the exact strings the signature covers, and the signature. */
export interface AggregatorEnvelope {
  status: string;
  result: string;
  sign: string | undefined;
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
  // the aggregator sends upper case; lower-case hex is the same digest (as for APIv2)
  return given !== undefined && hexDigestEquals(given, signAggregator(envelope.status, envelope.result, secret, mode));
}
