/**
 * The APIv2 client against the local WeChat Pay simulator: our signed XML is accepted, its signed
 * replies are verified, every mapped err_code arrives as the typed error, and only transient
 * failures are retried. Retry counts come from a counting fetch, never from durations.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../../../lib/config';
import { PayError } from '../../../../lib/errors';
import { WechatPayApiError, closeRefusal } from '../../../../lib/wechatpay/apiError';
import { type FetchLike } from '../../../../lib/wechatpay/http';
import { createWechatPayClient, type WechatPayClientOptions } from '../../../../lib/wechatpay/client';
import { generateTestKeys, toEnv, type TestKeys } from '../../../../scripts/simulator/keys';
import { startSimulator, type Simulator } from '../../../../scripts/simulator/server';

const CLOCK = Date.UTC(2024, 5, 1, 2, 3, 4);
let keys: TestKeys;
let sim: Simulator;
let config: Config;
let seq = 0;

beforeAll(async () => {
  keys = generateTestKeys();
  sim = await startSimulator({ keys, port: 0, now: () => CLOCK });
  config = loadConfig({ ...toEnv(keys), PAYMENTS_TABLE: 'x', WECHATPAY_API_BASE_URL: sim.url });
});

afterAll(async () => {
  await sim.close();
});

beforeEach(() => {
  sim.faults.clear();
});

/** A fetch that records every request it passes on, optionally rewriting it first. */
function countingFetch(rewrite?: (init: RequestInit) => RequestInit): {
  fetch: FetchLike;
  calls: { url: string; init: RequestInit }[];
} {
  const calls: { url: string; init: RequestInit }[] = [];
  return {
    calls,
    fetch: (url, init) => {
      const sent = rewrite ? rewrite(init) : init;
      calls.push({ url, init: sent });
      return fetch(url, sent);
    },
  };
}

function client(opts: Partial<WechatPayClientOptions> = {}) {
  const counting = countingFetch();
  const sleeps: number[] = [];
  const c = createWechatPayClient({
    config,
    fetch: counting.fetch,
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 0.5,
    ...opts,
  });
  return { ...c.v2, calls: counting.calls, sleeps };
}

function orderNo(): string {
  seq += 1;
  return `V2T${Date.now()}${seq}`;
}

function agedOrder(opts: { subMchid?: string; subAppid?: string } = {}): string {
  const outTradeNo = orderNo();
  sim.control.createOrder({ outTradeNo, amount: 1990, ageSeconds: 600, ...opts });
  return outTradeNo;
}

async function apiError(p: Promise<unknown>): Promise<WechatPayApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WechatPayApiError);
  return err as WechatPayApiError;
}

function xmlOf(init: RequestInit): string {
  return String(init.body);
}

describe('closeOrderV2', () => {
  it('closes an aged order with HMAC-SHA256 (default) and MD5 requests, replies verified', async () => {
    for (const signType of [undefined, 'MD5'] as const) {
      const c = client();
      const no = agedOrder();
      await c.closeOrderV2({ outTradeNo: no, ...(signType ? { signType } : {}) });
      expect(sim.state.findOrder(keys.mchid, no)?.state).toBe('CLOSED');
      expect(c.calls).toHaveLength(1);
      const body = xmlOf(c.calls[0]!.init);
      expect(body).toContain(`<sign_type><![CDATA[${signType ?? 'HMAC-SHA256'}]]></sign_type>`);
      expect(body).toContain(`<out_trade_no><![CDATA[${no}]]></out_trade_no>`);
      expect(c.calls[0]!.url).toBe(`${sim.url}/pay/closeorder`);
    }
  });

  it('sends sub_mch_id and sub_appid in provider mode, and closes the partner order', async () => {
    const c = client();
    const no = agedOrder({ subMchid: '1900000109', subAppid: 'wxsub0000000001' });
    await c.closeOrderV2({ outTradeNo: no, subMchId: '1900000109', subAppId: 'wxsub0000000001' });
    expect(sim.state.findOrder('1900000109', no)?.state).toBe('CLOSED');
    expect(xmlOf(c.calls[0]!.init)).toContain('<sub_mch_id><![CDATA[1900000109]]></sub_mch_id>');
  });

  it('uses a fresh nonce_str for each attempt', async () => {
    let n = 0;
    const c = client({ nonce: () => `NONCE${(n += 1)}` });
    sim.faults.next('v2.closeorder', 'system-error', 1);
    await c.closeOrderV2({ outTradeNo: agedOrder() });
    expect(c.calls.map((call) => /<nonce_str><!\[CDATA\[(\w+)]]>/.exec(xmlOf(call.init))?.[1])).toEqual([
      'NONCE1',
      'NONCE2',
    ]);
  });

  it.each([
    ['ORDERPAID', 'PAID', (no: string) => sim.state.pay(keys.mchid, no)],
    ['ORDERCLOSED', 'ALREADY_CLOSED', (no: string) => sim.state.close(keys.mchid, no, 0)],
  ] as const)('maps %s to a non-retryable error (%s)', async (code, refusal, stage) => {
    const c = client();
    const no = agedOrder();
    stage(no);
    const err = await apiError(c.closeOrderV2({ outTradeNo: no }));
    expect(err).toMatchObject({ code, status: 200, retryable: false, kind: 'UNAVAILABLE' });
    expect(err.message).not.toBe('');
    expect(closeRefusal(err)).toBe(refusal);
    expect(c.calls).toHaveLength(1);
  });

  it('maps ORDERNOTEXIST', async () => {
    const c = client();
    const err = await apiError(c.closeOrderV2({ outTradeNo: orderNo() }));
    expect(err).toMatchObject({ code: 'ORDERNOTEXIST', retryable: false });
    expect(closeRefusal(err)).toBe('UNKNOWN_ORDER');
  });

  it("maps the five-minute rule (the simulator's ORDER_NOT_READY) without retrying", async () => {
    const c = client();
    const no = orderNo();
    sim.control.createOrder({ outTradeNo: no, amount: 100, ageSeconds: 30 });
    const err = await apiError(c.closeOrderV2({ outTradeNo: no }));
    expect(err).toMatchObject({ code: 'ORDER_NOT_READY', retryable: false });
    expect(closeRefusal(err)).toBe('TOO_EARLY');
    expect(c.calls).toHaveLength(1);
    expect(sim.state.findOrder(keys.mchid, no)?.state).toBe('NOTPAY');
  });

  it('retries SYSTEMERROR and then succeeds', async () => {
    const c = client();
    const no = agedOrder();
    sim.faults.next('v2.closeorder', 'system-error', 2);
    await c.closeOrderV2({ outTradeNo: no });
    expect(c.calls).toHaveLength(3);
    expect(sim.state.findOrder(keys.mchid, no)?.state).toBe('CLOSED');
    // full jitter with random() = 0.5: half of 200·2^(n−1)
    expect(c.sleeps).toEqual([100, 200]);
  });

  it('stops after maxAttempts and reports the last transient error as retryable', async () => {
    const c = client({ maxAttempts: 4 });
    sim.faults.next('v2.closeorder', 'system-error', 10);
    const err = await apiError(c.closeOrderV2({ outTradeNo: agedOrder() }));
    expect(err).toMatchObject({ code: 'SYSTEMERROR', retryable: true });
    expect(c.calls).toHaveLength(4);
  });

  it('retries FREQUENCY_LIMITED and an unsigned HTTP 500 page', async () => {
    const c = client();
    sim.faults.next('v2.closeorder', 'rate-limit', 1);
    sim.faults.next('v2.closeorder', 'unsigned-500', 1);
    await c.closeOrderV2({ outTradeNo: agedOrder() });
    expect(c.calls).toHaveLength(3);
  });

  it('does not retry SIGNERROR (a request altered on the way)', async () => {
    // flip the first hex digit of sign, so the request can never verify
    const flip = (xml: string) =>
      xml.replace(/<sign><!\[CDATA\[(.)/, (_m, c: string) => `<sign><![CDATA[${c === '0' ? '1' : '0'}`);
    const tampering = countingFetch((init) => ({ ...init, body: flip(xmlOf(init)) }));
    const c = client({ fetch: tampering.fetch });
    const err = await apiError(c.closeOrderV2({ outTradeNo: agedOrder(), signType: 'MD5' }));
    expect(err).toMatchObject({ code: 'SIGNERROR', retryable: false });
    expect(tampering.calls).toHaveLength(1);
  });

  it('maps REQUIRE_POST_METHOD and XML_FORMAT_ERROR, not retried', async () => {
    const put = countingFetch((init) => ({ ...init, method: 'PUT' }));
    const e1 = await apiError(client({ fetch: put.fetch }).closeOrderV2({ outTradeNo: agedOrder() }));
    expect(e1).toMatchObject({ code: 'REQUIRE_POST_METHOD', retryable: false });
    expect(put.calls).toHaveLength(1);

    const garbled = countingFetch((init) => ({ ...init, body: '<xml><out_trade_no>' }));
    const e2 = await apiError(client({ fetch: garbled.fetch }).closeOrderV2({ outTradeNo: agedOrder() }));
    expect(e2).toMatchObject({ code: 'XML_FORMAT_ERROR', retryable: false });
    expect(garbled.calls).toHaveLength(1);
  });

  it('turns return_code FAIL into RETURN_FAIL, not retried', async () => {
    const c = client();
    sim.faults.next('v2.closeorder', 'return-fail', 1);
    const err = await apiError(c.closeOrderV2({ outTradeNo: agedOrder() }));
    expect(err).toMatchObject({ code: 'RETURN_FAIL', retryable: false });
    expect(err.message).toContain('系统繁忙');
    expect(c.calls).toHaveLength(1);
  });

  it.each(['forged-signature', 'signature-probe', 'unsigned-success'] as const)(
    'rejects a %s reply as unauthentic, even though it says SUCCESS',
    async (fault) => {
      const c = client();
      sim.faults.next('v2.closeorder', fault, 1);
      const err = await apiError(c.closeOrderV2({ outTradeNo: agedOrder() }));
      expect(err).toMatchObject({ code: 'UNAUTHENTIC_RESPONSE', kind: 'UNAUTHENTIC', retryable: false });
      expect(closeRefusal(err)).toBeUndefined();
      expect(c.calls).toHaveLength(1);
    },
  );

  it('rejects a reply signed with another key', async () => {
    const wrongKey = { ...config, apiV2Key: 'Z'.repeat(32) };
    // the simulator refuses our request (SIGNERROR) and signs that refusal with the real key, which we cannot verify
    const err = await apiError(client({ config: wrongKey }).closeOrderV2({ outTradeNo: agedOrder() }));
    expect(err.code).toBe('UNAUTHENTIC_RESPONSE');
  });

  it('times out a hanging call and retries it', async () => {
    const c = client({ timeoutMs: 300 });
    const no = agedOrder();
    sim.faults.next('v2.closeorder', 'hang', 1, { hangMs: 5000 });
    await c.closeOrderV2({ outTradeNo: no });
    expect(c.calls).toHaveLength(2);
    expect(sim.state.findOrder(keys.mchid, no)?.state).toBe('CLOSED');
  });

  it('reports TIMEOUT once every attempt has hung', async () => {
    const c = client({ timeoutMs: 200, maxAttempts: 2 });
    sim.faults.next('v2.closeorder', 'hang', 2, { hangMs: 5000 });
    const err = await apiError(c.closeOrderV2({ outTradeNo: agedOrder() }));
    expect(err).toMatchObject({ code: 'TIMEOUT', retryable: true, status: undefined });
    expect(c.calls).toHaveLength(2);
  });

  it('is a CONFIG error without an APIv2 key, before any request', async () => {
    const c = client({ config: { ...config, apiV2Key: undefined } });
    const err = await c.closeOrderV2({ outTradeNo: agedOrder() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayError);
    expect(err).toMatchObject({ kind: 'CONFIG' });
    expect(c.calls).toHaveLength(0);
  });
});

describe('queryOrderV2', () => {
  it('reads a paid order: integer fen, transaction id, time_end as an instant', async () => {
    const c = client();
    const no = agedOrder();
    const paid = sim.state.pay(keys.mchid, no);
    const tx = await c.queryOrderV2({ outTradeNo: no });
    expect(tx).toMatchObject({
      outTradeNo: no,
      tradeState: 'SUCCESS',
      totalFen: 1990,
      transactionId: paid.transactionId,
      paidAt: new Date(CLOCK).toISOString(),
      subMchId: undefined,
    });
    expect(c.calls[0]!.url).toBe(`${sim.url}/pay/orderquery`);
  });

  it('reads an unpaid partner order', async () => {
    const c = client();
    const no = agedOrder({ subMchid: '1900000110' });
    const tx = await c.queryOrderV2({ outTradeNo: no, subMchId: '1900000110', signType: 'MD5' });
    expect(tx).toMatchObject({
      tradeState: 'NOTPAY',
      totalFen: 1990,
      transactionId: undefined,
      paidAt: undefined,
      subMchId: '1900000110',
    });
  });

  it('maps ORDERNOTEXIST and retries SYSTEMERROR', async () => {
    const c = client();
    sim.faults.next('v2.orderquery', 'system-error', 1);
    const err = await apiError(c.queryOrderV2({ outTradeNo: orderNo() }));
    expect(err.code).toBe('ORDERNOTEXIST');
    expect(c.calls).toHaveLength(2);
  });

  it('rejects an unsigned query reply', async () => {
    const c = client();
    const no = agedOrder();
    sim.state.pay(keys.mchid, no);
    sim.faults.next('v2.orderquery', 'unsigned-success', 1);
    expect((await apiError(c.queryOrderV2({ outTradeNo: no }))).kind).toBe('UNAUTHENTIC');
  });
});
