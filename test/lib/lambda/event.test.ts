/**
 * The invoked functions' shared event reader and failure mapping: every error family member maps to
 * one code (closeOrder and refund answer alike), and hostile events are refused with a reason.
 */
import { describe, expect, it } from 'vitest';
import { configError, inconsistent, malformed, PayError, unauthentic, unavailable } from '../../../lib/errors';
import { eventObject, failureFields } from '../../../lib/lambda/event';
import { WechatPayApiError } from '../../../lib/wechatpay/apiError';

describe('eventObject', () => {
  it('takes an object or its JSON text', () => {
    expect(eventObject({ a: 1 })).toEqual({ a: 1 });
    expect(eventObject('{"a":1}')).toEqual({ a: 1 });
  });

  it.each([
    [null, 'event must be an object'],
    [7, 'event must be an object'],
    [[1], 'event must be an object'],
    ['[1]', 'event must be an object'],
    ['{', 'event is not a JSON object'],
    [`"${'x'.repeat(4095)}"`, 'event is too large'],
  ])('%j is refused: %s', (event, reason) => {
    expect(() => eventObject(event)).toThrow(reason);
  });
});

describe('failureFields', () => {
  it.each([
    [malformed('bad field'), true, { code: 'PARAM_ERROR', retryable: false }],
    [malformed('bad answer'), false, { code: 'MALFORMED_RESPONSE', retryable: false }],
    [inconsistent('mch_id does not match'), false, { code: 'MERCHANT_MISMATCH', retryable: false }],
    [configError('WECHATPAY_MCHID is not set'), false, { code: 'CONFIG_ERROR', retryable: false }],
    [unavailable('throttled'), false, { code: 'STORE_UNAVAILABLE', retryable: true }],
    [unauthentic('bad sign'), false, { code: 'UNAUTHENTIC_RESPONSE', retryable: false }],
    [new PayError('UNKNOWN_ORDER', 'not registered'), false, { code: 'UNKNOWN_ORDER', retryable: false }],
    [new Error('bug'), false, { code: 'INTERNAL_ERROR', message: 'internal error', retryable: true }],
    [
      new WechatPayApiError({ status: 200, code: 'NOTENOUGH', message: '余额不足', retryable: false }),
      false,
      { code: 'NOTENOUGH', message: '余额不足', retryable: false },
    ],
  ])('%s → %j', (err, badInput, fields) => {
    expect(failureFields(err, badInput)).toMatchObject(fields);
  });

  it('never repeats a store failure’s own text', () => {
    expect(failureFields(unavailable('endpoint http://10.0.0.1 refused'), false).message).not.toContain('10.0.0.1');
  });
});
