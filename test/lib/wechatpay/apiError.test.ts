/**
 * The one error a WeChat Pay call raises: its kind (forged answers are UNAUTHENTIC, everything else
 * UNAVAILABLE to our caller), whether it may be retried, what a reader failure becomes, and which
 * refusals of a close carry a business meaning.
 */
import { describe, expect, it } from 'vitest';
import { malformed, PayError } from '../../../lib/errors';
import {
  closeRefusal,
  forgedResponse,
  httpError,
  isTransientStatus,
  readAnswer,
  TRANSIENT_CODES,
  WechatPayApiError,
  wechatRefusal,
} from '../../../lib/wechatpay/apiError';

describe('WechatPayApiError', () => {
  it('is a PayError: UNAUTHENTIC for a forged answer, UNAVAILABLE for any other failure', () => {
    const forged = forgedResponse(200, 'signature mismatch', '{}');
    expect(forged).toBeInstanceOf(PayError);
    expect(forged.kind).toBe('UNAUTHENTIC');
    expect(forged.code).toBe('UNAUTHENTIC_RESPONSE');
    expect(forged.retryable).toBe(false);
    expect(forged.reason).toBe('unauthentic WeChat Pay answer: signature mismatch');
    const refused = wechatRefusal(400, 'PARAM_ERROR', 'bad param', '{}');
    expect(refused.kind).toBe('UNAVAILABLE');
    expect(refused.name).toBe('WechatPayApiError');
  });

  it('keeps status, code and retryability in the log detail, never the raw body', () => {
    const e = wechatRefusal(500, 'SYSTEM_ERROR', 'busy', '{"secret":"x"}');
    expect(e.detail).toEqual({ status: 500, code: 'SYSTEM_ERROR', retryable: true });
  });

  it('truncates the raw answer to 2 KiB and leaves it undefined when there was none', () => {
    const e = httpError(502, 'x'.repeat(5000));
    expect(e.raw).toHaveLength(2048);
    expect(
      new WechatPayApiError({ status: undefined, code: 'TIMEOUT', message: 'no answer', retryable: true }).raw,
    ).toBeUndefined();
  });

  it('carries the APIv3 detail WeChat sent, and the cause', () => {
    const cause = new Error('socket hang up');
    const e = new WechatPayApiError({
      status: 400,
      code: 'PARAM_ERROR',
      message: 'm',
      retryable: false,
      detail: { field: 'mchid' },
      cause,
    });
    expect(e.apiDetail).toEqual({ field: 'mchid' });
    expect(e.cause).toBe(cause);
  });
});

describe('retryability', () => {
  it('treats 5xx and 429 as transient, other statuses not', () => {
    expect([500, 502, 503, 504, 429].every(isTransientStatus)).toBe(true);
    expect([200, 204, 400, 401, 403, 404, 499].some(isTransientStatus)).toBe(false);
  });

  it('an unsigned HTTP error is retried by its status alone', () => {
    expect(httpError(503, '<html/>').retryable).toBe(true);
    expect(httpError(404, '<html/>').retryable).toBe(false);
    expect(httpError(404, '').code).toBe('HTTP_ERROR');
  });

  it('a refusal is retried when its code or its status says transient', () => {
    for (const code of TRANSIENT_CODES) expect(wechatRefusal(200, code, 'm', '').retryable).toBe(true);
    expect(wechatRefusal(500, 'UNKNOWN', 'm', '').retryable).toBe(true);
    expect(wechatRefusal(400, 'ORDERPAID', 'm', '').retryable).toBe(false);
  });
});

describe('readAnswer', () => {
  it('returns what the reader returns', () => {
    expect(readAnswer(200, () => 42)).toBe(42);
  });

  it('turns a field the reader cannot read into a non-retryable MALFORMED_RESPONSE naming it', () => {
    const cause = malformed('transaction.trade_state unknown');
    let err: unknown;
    try {
      readAnswer(200, () => {
        throw cause;
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WechatPayApiError);
    const api = err as WechatPayApiError;
    expect(api).toMatchObject({ status: 200, code: 'MALFORMED_RESPONSE', retryable: false, kind: 'UNAVAILABLE' });
    expect(api.reason).toBe('unreadable answer: transaction.trade_state unknown');
    expect(api.cause).toBe(cause);
  });

  it('lets an API error through unchanged', () => {
    const forged = forgedResponse(200, 'bad', '');
    expect(() =>
      readAnswer(200, () => {
        throw forged;
      }),
    ).toThrow(forged);
  });

  it('lets a plain bug through unchanged (it is not an unreadable answer)', () => {
    const bug = new TypeError('x is undefined');
    expect(() =>
      readAnswer(200, () => {
        throw bug;
      }),
    ).toThrow(bug);
  });
});

describe('closeRefusal', () => {
  it.each([
    ['ORDERPAID', 'PAID'],
    ['ORDERCLOSED', 'ALREADY_CLOSED'],
    ['ORDER_CLOSED', 'ALREADY_CLOSED'],
    ['ORDER_NOT_READY', 'TOO_EARLY'],
    ['RULE_LIMIT', 'TOO_EARLY'],
    ['ORDERNOTEXIST', 'UNKNOWN_ORDER'],
    ['ORDER_NOT_EXIST', 'UNKNOWN_ORDER'],
  ])('reads %s as %s', (code, meaning) => {
    expect(closeRefusal(wechatRefusal(400, code, 'm', ''))).toBe(meaning);
  });

  it('gives plain failures and our own client codes no business meaning', () => {
    expect(closeRefusal(wechatRefusal(401, 'SIGN_ERROR', 'm', ''))).toBeUndefined();
    expect(closeRefusal(httpError(502, ''))).toBeUndefined();
    expect(
      closeRefusal(new WechatPayApiError({ status: undefined, code: 'TIMEOUT', message: 'm', retryable: true })),
    ).toBeUndefined();
  });

  it('never believes a code carried by a forged answer', () => {
    const forged = new WechatPayApiError({ status: 400, code: 'UNAUTHENTIC_RESPONSE', message: 'm', retryable: false });
    expect(forged.kind).toBe('UNAUTHENTIC');
    expect(closeRefusal(forged)).toBeUndefined();
  });
});
