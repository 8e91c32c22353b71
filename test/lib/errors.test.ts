import { describe, it, expect } from 'vitest';
import { PayError, asPayError, configError, inconsistent, malformed, unauthentic, unavailable } from '../../lib/errors';

describe('PayError', () => {
  it('is an Error carrying kind, reason, detail and cause', () => {
    const cause = new Error('root');
    const err = new PayError('INCONSISTENT', 'amount differs', { cause, detail: { field: 'total_fee' } });
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(PayError);
    expect(err.name).toBe('PayError');
    expect(err.kind).toBe('INCONSISTENT');
    expect(err.reason).toBe('amount differs');
    expect(err.message).toBe('amount differs');
    expect(err.detail).toEqual({ field: 'total_fee' });
    expect(err.cause).toBe(cause);
    expect(err.stack).toContain('amount differs');
  });

  it('has no cause or detail unless given', () => {
    const err = new PayError('MALFORMED', 'bad');
    expect(err.detail).toBeUndefined();
    expect('cause' in err).toBe(false);
  });
});

describe('shorthand constructors', () => {
  it('give each failure its kind', () => {
    expect(unauthentic('a', { probe: true })).toMatchObject({
      kind: 'UNAUTHENTIC',
      reason: 'a',
      detail: { probe: true },
    });
    expect(malformed('b')).toMatchObject({ kind: 'MALFORMED', reason: 'b' });
    expect(inconsistent('c', { field: 'appid' })).toMatchObject({
      kind: 'INCONSISTENT',
      reason: 'c',
      detail: { field: 'appid' },
    });
    expect(configError('WECHATPAY_MCHID is not set')).toMatchObject({
      kind: 'CONFIG',
      reason: 'WECHATPAY_MCHID is not set',
    });
    const cause = new Error('throttled');
    const err = unavailable('store busy', cause);
    expect(err).toMatchObject({ kind: 'UNAVAILABLE', reason: 'store busy' });
    expect(err.cause).toBe(cause);
  });
});

describe('asPayError', () => {
  it('passes a PayError through unchanged', () => {
    const err = malformed('x');
    expect(asPayError(err)).toBe(err);
  });

  it.each([[new Error('boom')], [new TypeError('type')], ['a string'], [undefined], [null], [{ code: 'ECONNRESET' }]])(
    'treats %j as transient, keeping it only as the cause',
    (raw) => {
      const err = asPayError(raw);
      expect(err).toBeInstanceOf(PayError);
      expect(err.kind).toBe('UNAVAILABLE');
      expect(err.reason).toBe('temporarily unavailable');
      if (raw !== undefined) expect(err.cause).toBe(raw);
    },
  );

  it('does not mistake a look-alike for a PayError', () => {
    const fake = Object.assign(new Error('fake'), { name: 'PayError', kind: 'MALFORMED', reason: 'fake' });
    expect(asPayError(fake).kind).toBe('UNAVAILABLE');
  });
});
