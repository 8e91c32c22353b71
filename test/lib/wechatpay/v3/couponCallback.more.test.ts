/**
 * Registering the merchant-coupon callback with a scripted client (the outcomes the simulator never
 * produces): the read-back that disagrees, the sub-merchant passed through, and the operator hints
 * for errors that are not WeChat's.
 */
import { describe, expect, it } from 'vitest';
import { PayError } from '../../../../lib/errors';
import { httpError, wechatRefusal } from '../../../../lib/wechatpay/apiError';
import type { WechatPayClient } from '../../../../lib/wechatpay/client';
import {
  checkCallbackUrl,
  couponCallbackErrorHint,
  registerCouponCallback,
} from '../../../../lib/wechatpay/v3/couponCallback';

function scripted(readBack: (asked: { mchid?: string }) => string) {
  const calls: Array<{ op: string; input: unknown }> = [];
  const client = {
    v3: {
      setCouponCallback: async (input: { notifyUrl: string; mchid?: string }) => {
        calls.push({ op: 'set', input });
        return {
          notifyUrl: input.notifyUrl,
          mchid: input.mchid ?? '1900000100',
          updateTime: '2026-11-23T02:00:00.000Z',
        };
      },
      getCouponCallback: async (input: { mchid?: string } = {}) => {
        calls.push({ op: 'get', input });
        return { notifyUrl: readBack(input), mchid: input.mchid ?? '1900000100' };
      },
    },
  } as unknown as WechatPayClient;
  return { client, calls };
}

describe('registerCouponCallback', () => {
  it('sets and reads back for the sub-merchant named, with the normalised URL', async () => {
    const s = scripted(() => 'https://pay.example.com/notify/coupon');
    const r = await registerCouponCallback(s.client, 'https://PAY.example.com/notify/coupon', '1900000109');
    expect(r).toEqual({
      notifyUrl: 'https://pay.example.com/notify/coupon',
      mchid: '1900000109',
      updateTime: '2026-11-23T02:00:00.000Z',
    });
    expect(s.calls).toEqual([
      { op: 'set', input: { notifyUrl: 'https://pay.example.com/notify/coupon', mchid: '1900000109' } },
      { op: 'get', input: { mchid: '1900000109' } },
    ]);
  });

  it('sends no mchid when none is named (the configured merchant)', async () => {
    const s = scripted(() => 'https://pay.example.com/c');
    await registerCouponCallback(s.client, 'https://pay.example.com/c');
    expect(s.calls).toEqual([
      { op: 'set', input: { notifyUrl: 'https://pay.example.com/c' } },
      { op: 'get', input: {} },
    ]);
  });

  it('fails when WeChat reports another URL than the one just set', async () => {
    const s = scripted(() => 'https://old.example.com/c');
    const e = await registerCouponCallback(s.client, 'https://pay.example.com/c').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(PayError);
    expect((e as PayError).kind).toBe('MALFORMED');
    expect((e as PayError).reason).toBe('WeChat Pay reports another callback URL than the one just set');
  });

  it('calls nothing for a URL WeChat would refuse', async () => {
    const s = scripted(() => '');
    for (const url of ['https://pay.example.com/c#frag', 'http://example.com/c', 'https://pay.example.com/c?a=1']) {
      await expect(registerCouponCallback(s.client, url)).rejects.toBeInstanceOf(PayError);
    }
    expect(s.calls).toEqual([]);
  });
});

describe('checkCallbackUrl', () => {
  it('accepts plain HTTP only on loopback (the simulator), by name or address', () => {
    expect(checkCallbackUrl('http://localhost:3000/c')).toBe('http://localhost:3000/c');
    expect(checkCallbackUrl('http://[::1]:3000/c')).toBe('http://[::1]:3000/c');
    expect(() => checkCallbackUrl('http://10.0.0.1/c')).toThrow('callback URL must be HTTPS');
  });

  it('names the problem: not a URL, not HTTPS, a query or fragment', () => {
    expect(() => checkCallbackUrl('pay.example.com/c')).toThrow('callback URL is not a URL');
    expect(() => checkCallbackUrl('https://pay.example.com/c#x')).toThrow(
      'callback URL must not have a query string or fragment',
    );
  });
});

describe('couponCallbackErrorHint', () => {
  it('explains documented WeChat codes and keeps WeChat message for others', () => {
    expect(couponCallbackErrorHint(wechatRefusal(429, 'RATELIMIT_EXCEEDED', 'slow down', ''))).toBe(
      'RATELIMIT_EXCEEDED: called too often: wait a minute and try again',
    );
    expect(couponCallbackErrorHint(wechatRefusal(400, 'SOME_NEW_CODE', '新的错误', ''))).toBe(
      'SOME_NEW_CODE: 新的错误',
    );
    expect(couponCallbackErrorHint(httpError(502, '<html/>'))).toBe(
      'HTTP_ERROR: HTTP 502 without a signed WeChat Pay body',
    );
  });

  it('gives the message of any other error, and the text of a non-error', () => {
    expect(couponCallbackErrorHint(new PayError('CONFIG', 'WECHATPAY_MERCHANT_PRIVATE_KEY is not set'))).toBe(
      'WECHATPAY_MERCHANT_PRIVATE_KEY is not set',
    );
    expect(couponCallbackErrorHint(new TypeError('fetch failed'))).toBe('fetch failed');
    expect(couponCallbackErrorHint('plain text')).toBe('plain text');
    expect(couponCallbackErrorHint(undefined)).toBe('undefined');
  });
});
