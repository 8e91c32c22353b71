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
