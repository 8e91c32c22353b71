/**
 * The aggregator's strict JSON scanner and result reader on the malformed inputs aggregator.test.ts
 * does not send: a key without its colon, a lone low surrogate, an escape cut off at the end, and a
 * trade id given as text that is not digits (signed, so only the reader can refuse it).
 */
import { describe, expect, it } from 'vitest';
import { PayError } from '../../../lib/errors';
import { readAggregatorNotification, scanJson, type AggregatorSettings } from '../../../lib/wechatpay/aggregator';
import { aggregatorNotification } from '../../../scripts/simulator/aggregator';

const SECRET = 'agg-more-secret-0123456789';
const settings: AggregatorSettings = {
  aggregatorSecret: SECRET,
  aggregatorSignMode: 'sorted-md5',
  mchid: '1900000109',
  maxBodyBytes: 65536,
};

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PayError);
    expect((err as PayError).kind).toBe('MALFORMED');
    return (err as PayError).reason;
  }
  throw new Error('expected a MALFORMED PayError');
}

describe('scanJson', () => {
  it('refuses an object key not followed by a colon', () => {
    expect(reason(() => scanJson('{"a" 1}', 'result'))).toBe('result is not valid JSON');
    expect(reason(() => scanJson('{"a"', 'result'))).toBe('result is not valid JSON');
  });

  it('refuses a lone low surrogate, escaped or literal (it would sign as U+FFFD)', () => {
    expect(reason(() => scanJson('"\\udc00"', 'result'))).toBe('result holds an unpaired surrogate');
    expect(reason(() => scanJson('"a\udc00b"', 'result'))).toBe('result holds an unpaired surrogate');
    // a proper pair is fine
    expect(scanJson('"\\ud83d\\ude00"', 'result')).toEqual({ type: 'string', value: '😀' });
  });

  it('refuses a string whose escape is cut off at the end of the text', () => {
    expect(reason(() => scanJson('"abc\\', 'result'))).toBe('result is not valid JSON');
  });
});

describe('the result of a successful trade', () => {
  it.each(['12a', '', '1.5'])('refuses a transactionid given as the text %j', (id) => {
    const wire = aggregatorNotification({
      secret: SECRET,
      result: `{"transactionid":${JSON.stringify(id)},"orderid":"ORDER1","amount":1,"real_amount":1}`,
    });
    expect(reason(() => readAggregatorNotification(Buffer.from(wire.body, 'utf8'), settings, 0))).toBe(
      'result.transactionid missing or malformed',
    );
  });

  it('accepts a transactionid given as a string of digits, keeping it exactly', () => {
    const wire = aggregatorNotification({
      secret: SECRET,
      result: '{"transactionid":"009007199254740993","orderid":"ORDER1","amount":1,"real_amount":1}',
    });
    const notice = readAggregatorNotification(Buffer.from(wire.body, 'utf8'), settings, 0);
    expect(notice.kind === 'PAYMENT' && notice.report.transactionId).toBe('AGG-009007199254740993');
  });
});
