/** Setting the merchant-coupon callback against the simulator, with operator-facing error hints. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../../lib/config';
import { PayError } from '../../../../lib/errors';
import { createWechatPayClient, type WechatPayClient } from '../../../../lib/wechatpay/client';
import {
  checkCallbackUrl,
  couponCallbackErrorHint,
  registerCouponCallback,
} from '../../../../lib/wechatpay/v3/couponCallback';
import { generateTestKeys, toEnv } from '../../../../scripts/simulator/keys';
import { startSimulator, type Simulator } from '../../../../scripts/simulator/server';
import { httpError, wechatRefusal } from '../../../../lib/wechatpay/apiError';

let sim: Simulator;
let client: WechatPayClient;
const keys = generateTestKeys();

beforeAll(async () => {
  sim = await startSimulator({ keys, port: 0 });
  client = createWechatPayClient({
    config: loadConfig({ ...toEnv(keys), PAYMENTS_TABLE: 't', WECHATPAY_API_BASE_URL: sim.url }),
    sleep: async () => {},
  });
});
afterAll(async () => {
  await sim.close();
});

describe('registerCouponCallback', () => {
  it('sets the URL and confirms it by reading it back', async () => {
    const r = await registerCouponCallback(client, 'https://pay.example.com/notify/coupon');
    expect(r).toMatchObject({ notifyUrl: 'https://pay.example.com/notify/coupon', mchid: keys.mchid });
    expect(await client.v3.getCouponCallback()).toEqual({
      notifyUrl: 'https://pay.example.com/notify/coupon',
      mchid: keys.mchid,
    });
  });

  it('retries SYSTEM_ERROR and 429 and still succeeds', async () => {
    sim.faults.next('v3.busifavor', 'system-error', 1);
    sim.faults.next('v3.busifavor', 'rate-limit', 1);
    expect((await registerCouponCallback(client, 'https://pay.example.com/c2')).notifyUrl).toBe(
      'https://pay.example.com/c2',
    );
  });

  it('refuses URLs WeChat would refuse, before calling', () => {
    for (const bad of ['http://pay.example.com/c', 'https://pay.example.com/c?x=1', 'not a url', 'ftp://x/c']) {
      expect(() => checkCallbackUrl(bad)).toThrow(PayError);
    }
    expect(checkCallbackUrl('http://127.0.0.1:3000/notify/coupon')).toBe('http://127.0.0.1:3000/notify/coupon');
  });

  it('explains the documented errors', async () => {
    const err = await registerCouponCallback(client, 'https://pay.example.com/c', '1999999999').catch(
      (e: unknown) => e,
    );
    expect(couponCallbackErrorHint(err)).toMatch(/^NO_AUTH: .*permission/);
  });
});

// Registering the merchant-coupon callback with a scripted client (the outcomes the simulator never
// produces): the read-back that disagrees, the sub-merchant passed through, and the operator hints
// for errors that are not WeChat's.
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

describe('registerCouponCallback with a scripted client', () => {
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
