/**
 * The APIv3 client against the local WeChat Pay simulator: the simulator verifies our Authorization,
 * we verify its signed answers (204s and errors included), every mapped code arrives as the typed
 * error, and only transient failures are retried. Counts come from a counting fetch.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../../../lib/config';
import { PayError } from '../../../../lib/errors';
import { closeRefusal, WechatPayApiError } from '../../../../lib/wechatpay/apiError';
import type { FetchLike } from '../../../../lib/wechatpay/http';
import { type WechatPayClientOptions, createWechatPayClient } from '../../../../lib/wechatpay/client';
import { createKeyRing } from '../../../../lib/wechatpay/v3/keyring';
import { type TestKeys, generateTestKeys, toEnv } from '../../../../scripts/simulator/keys';
import { startSimulator, type Simulator } from '../../../../scripts/simulator/server';
import { signV3Message, v3TransactionResource } from '../../../../scripts/simulator/messages';

const CLOCK = Date.UTC(2024, 5, 1, 2, 3, 4);
let keys: TestKeys;
let sim: Simulator;
let config: Config;
let platformOnly: Config;
let seq = 0;

beforeAll(async () => {
  keys = generateTestKeys();
  sim = await startSimulator({ keys, port: 0, now: () => CLOCK });
  const env = { ...toEnv(keys), PAYMENTS_TABLE: 'x', WECHATPAY_API_BASE_URL: sim.url };
  config = loadConfig(env);
  platformOnly = loadConfig({ ...env, WECHATPAY_PUBLIC_KEY: undefined, WECHATPAY_PUBLIC_KEY_ID: undefined });
});

afterAll(async () => {
  await sim.close();
});

beforeEach(() => {
  sim.faults.clear();
});

interface Call {
  url: string;
  init: RequestInit;
  status: number;
  headers: Headers;
}

/** A fetch that records every request and the status and headers of its answer. */
function countingFetch(): { fetch: FetchLike; calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    fetch: async (url, init) => {
      const entry: Call = { url, init, status: 0, headers: new Headers() };
      calls.push(entry);
      const res = await fetch(url, init);
      entry.status = res.status;
      entry.headers = res.headers;
      return res;
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
    random: () => 0.25,
    ...opts,
  });
  return { ...c.v3, calls: counting.calls, sleeps };
}

function orderNo(): string {
  seq += 1;
  return `V3T${Date.now()}${seq}`;
}

function agedOrder(opts: { subMchid?: string; outTradeNo?: string } = {}): string {
  const outTradeNo = opts.outTradeNo ?? orderNo();
  sim.control.createOrder({
    outTradeNo,
    amount: 2500,
    ageSeconds: 600,
    ...(opts.subMchid ? { subMchid: opts.subMchid } : {}),
  });
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

function header(init: RequestInit, name: string): string | undefined {
  return new Headers(init.headers).get(name) ?? undefined;
}

describe('closeOrderV3', () => {
  it('closes a direct order: our Authorization accepted, the signed 204 verified', async () => {
    const c = client();
    const no = agedOrder();
    await c.closeOrderV3({ outTradeNo: no });
    expect(sim.state.findOrder(keys.mchid, no)?.state).toBe('CLOSED');
    const [call] = c.calls;
    expect(call?.url).toBe(`${sim.url}/v3/pay/transactions/out-trade-no/${no}/close`);
    expect(call?.status).toBe(204);
    expect(call?.init.body).toBe(JSON.stringify({ mchid: keys.mchid }));
    expect(header(call!.init, 'accept')).toBe('application/json');
    expect(header(call!.init, 'content-type')).toBe('application/json');
    expect(header(call!.init, 'user-agent')).toMatch(/^wechatpay-lambda\//);
    expect(header(call!.init, 'authorization')).toMatch(
      /^WECHATPAY2-SHA256-RSA2048 mchid="\d+",nonce_str="\w+",signature="[^"]+",timestamp="\d+",serial_no="\w+"$/,
    );
    // the ring holds the public key, so we ask WeChat to sign with it
    expect(header(call!.init, 'wechatpay-serial')).toBe(keys.publicKey.id);
    expect(call?.headers.get('wechatpay-serial')).toBe(keys.publicKey.id);
  });

  it('verifies platform-certificate answers when no public key is configured', async () => {
    const c = client({ config: platformOnly });
    await c.closeOrderV3({ outTradeNo: agedOrder() });
    expect(header(c.calls[0]!.init, 'wechatpay-serial')).toBeUndefined();
    expect(c.calls[0]?.headers.get('wechatpay-serial')).toBe(keys.platform.serial);
  });

  it('uses the partner route and body', async () => {
    const c = client();
    const no = agedOrder({ subMchid: '1900000201' });
    await c.closeOrderV3({ outTradeNo: no, subMchid: '1900000201' });
    expect(sim.state.findOrder('1900000201', no)?.state).toBe('CLOSED');
    expect(c.calls[0]?.url).toBe(`${sim.url}/v3/pay/partner/transactions/out-trade-no/${no}/close`);
    expect(c.calls[0]?.init.body).toBe(JSON.stringify({ sp_mchid: keys.mchid, sub_mchid: '1900000201' }));
  });

  it('percent-encodes the order number and signs the encoded path', async () => {
    const c = client();
    const no = agedOrder({ outTradeNo: `E|${seq}@x*` });
    await c.closeOrderV3({ outTradeNo: no });
    expect(c.calls[0]?.url).toBe(`${sim.url}/v3/pay/transactions/out-trade-no/${encodeURIComponent(no)}/close`);
    expect(sim.state.findOrder(keys.mchid, no)?.state).toBe('CLOSED');
  });

  it.each([
    ['ORDERPAID', 'PAID', (no: string) => sim.state.pay(keys.mchid, no)],
    ['ORDER_CLOSED', 'ALREADY_CLOSED', (no: string) => sim.state.close(keys.mchid, no, 0)],
  ] as const)('maps 400 %s (%s), not retried', async (code, refusal, stage) => {
    const c = client();
    const no = agedOrder();
    stage(no);
    const err = await apiError(c.closeOrderV3({ outTradeNo: no }));
    expect(err).toMatchObject({ status: 400, code, retryable: false, kind: 'UNAVAILABLE' });
    expect(closeRefusal(err)).toBe(refusal);
    expect(c.calls).toHaveLength(1);
  });

  it('maps 404 ORDER_NOT_EXIST', async () => {
    const err = await apiError(client().closeOrderV3({ outTradeNo: orderNo() }));
    expect(err).toMatchObject({ status: 404, code: 'ORDER_NOT_EXIST', retryable: false });
    expect(closeRefusal(err)).toBe('UNKNOWN_ORDER');
  });

  it("maps the five-minute rule (the simulator's 400 RULE_LIMIT), not retried", async () => {
    const c = client();
    const no = orderNo();
    sim.control.createOrder({ outTradeNo: no, amount: 100, ageSeconds: 10 });
    const err = await apiError(c.closeOrderV3({ outTradeNo: no }));
    expect(err).toMatchObject({ status: 400, code: 'RULE_LIMIT', retryable: false });
    expect(err.message).toContain('5分钟');
    expect(closeRefusal(err)).toBe('TOO_EARLY');
    expect(c.calls).toHaveLength(1);
  });

  it('retries 500 SYSTEM_ERROR, then succeeds, with fresh signatures', async () => {
    const c = client();
    const no = agedOrder();
    sim.faults.next('v3.close', 'system-error', 2);
    await c.closeOrderV3({ outTradeNo: no });
    expect(c.calls.map((call) => call.status)).toEqual([500, 500, 204]);
    const nonces = c.calls.map((call) => /nonce_str="(\w+)"/.exec(header(call.init, 'authorization') ?? '')?.[1]);
    expect(new Set(nonces).size).toBe(3);
    expect(c.sleeps).toEqual([50, 100]);
    expect(sim.state.findOrder(keys.mchid, no)?.state).toBe('CLOSED');
  });

  it('retries 429 RATELIMIT_EXCEEDED and an unsigned 500 page', async () => {
    const c = client();
    sim.faults.next('v3.close', 'rate-limit', 1);
    sim.faults.next('v3.close', 'unsigned-500', 1);
    await c.closeOrderV3({ outTradeNo: agedOrder() });
    expect(c.calls.map((call) => call.status)).toEqual([429, 500, 204]);
  });

  it('bounds the number of attempts', async () => {
    const c = client({ maxAttempts: 3 });
    sim.faults.next('v3.close', 'system-error', 20);
    const err = await apiError(c.closeOrderV3({ outTradeNo: agedOrder() }));
    expect(err).toMatchObject({ status: 500, code: 'SYSTEM_ERROR', retryable: true });
    expect(c.calls).toHaveLength(3);
  });

  it('does not retry 401 SIGN_ERROR (a merchant key that does not match the serial)', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const c = client({ config: { ...config, merchant: { privateKey: other, serialNo: config.merchant!.serialNo } } });
    const err = await apiError(c.closeOrderV3({ outTradeNo: agedOrder() }));
    expect(err).toMatchObject({ status: 401, code: 'SIGN_ERROR', retryable: false });
    expect(c.calls).toHaveLength(1);
  });

  it.each(['forged-signature', 'signature-probe', 'unsigned-success'] as const)(
    'treats a %s 204 as forged, never as success',
    async (fault) => {
      const c = client();
      sim.faults.next('v3.close', fault, 1);
      const err = await apiError(c.closeOrderV3({ outTradeNo: agedOrder() }));
      expect(err).toMatchObject({ status: 204, code: 'UNAUTHENTIC_RESPONSE', kind: 'UNAUTHENTIC', retryable: false });
      expect(closeRefusal(err)).toBeUndefined();
      expect(c.calls).toHaveLength(1);
    },
  );

  it('times out a hanging call and retries it', async () => {
    const c = client({ timeoutMs: 300 });
    const no = agedOrder();
    sim.faults.next('v3.close', 'hang', 1, { hangMs: 5000 });
    await c.closeOrderV3({ outTradeNo: no });
    expect(c.calls).toHaveLength(2);
    expect(sim.state.findOrder(keys.mchid, no)?.state).toBe('CLOSED');
  });

  it('reports TIMEOUT after maxAttempts hung calls', async () => {
    const c = client({ timeoutMs: 150, maxAttempts: 2 });
    sim.faults.next('v3.query', 'hang', 2, { hangMs: 5000 });
    const err = await apiError(c.queryOrderV3({ outTradeNo: agedOrder() }));
    expect(err).toMatchObject({ code: 'TIMEOUT', retryable: true, status: undefined });
    expect(c.calls).toHaveLength(2);
  });
});

describe('queryOrderV3', () => {
  it('reads a paid direct order with readTransaction', async () => {
    const c = client();
    const no = agedOrder();
    const paid = sim.state.pay(keys.mchid, no);
    const tx = await c.queryOrderV3({ outTradeNo: no });
    expect(c.calls[0]?.url).toBe(`${sim.url}/v3/pay/transactions/out-trade-no/${no}?mchid=${keys.mchid}`);
    expect(header(c.calls[0]!.init, 'content-type')).toBeUndefined();
    expect(tx).toMatchObject({
      outTradeNo: no,
      tradeState: 'SUCCESS',
      transactionId: paid.transactionId,
      mchid: keys.mchid,
      subMchid: undefined,
      totalFen: 2500,
      successTime: new Date(CLOCK).toISOString(),
    });
  });

  it('reads an unpaid partner order on the partner route', async () => {
    const c = client({ config: platformOnly });
    const no = agedOrder({ subMchid: '1900000202' });
    const tx = await c.queryOrderV3({ outTradeNo: no, subMchid: '1900000202' });
    expect(c.calls[0]?.url).toBe(
      `${sim.url}/v3/pay/partner/transactions/out-trade-no/${no}?sp_mchid=${keys.mchid}&sub_mchid=1900000202`,
    );
    expect(tx).toMatchObject({
      tradeState: 'NOTPAY',
      mchid: keys.mchid,
      subMchid: '1900000202',
      transactionId: undefined,
      totalFen: 2500,
    });
  });

  it('maps 404 ORDER_NOT_EXIST and retries SYSTEM_ERROR first', async () => {
    const c = client();
    sim.faults.next('v3.query', 'system-error', 1);
    const err = await apiError(c.queryOrderV3({ outTradeNo: orderNo() }));
    expect(err.code).toBe('ORDER_NOT_EXIST');
    expect(c.calls).toHaveLength(2);
  });

  it.each(['forged-signature', 'signature-probe', 'unsigned-success'] as const)('rejects a %s 200', async (fault) => {
    const c = client();
    sim.faults.next('v3.query', fault, 1);
    expect((await apiError(c.queryOrderV3({ outTradeNo: agedOrder() }))).kind).toBe('UNAUTHENTIC');
  });
});

describe('merchant-coupon callbacks', () => {
  it('reads 404 RESOURCE_NOT_EXISTS before any is set, then sets and reads one', async () => {
    const c = client();
    const unset = await apiError(c.getCouponCallback());
    expect(unset).toMatchObject({ status: 404, code: 'RESOURCE_NOT_EXISTS', retryable: false });

    const set = await c.setCouponCallback({ notifyUrl: 'https://pay.example.com/notify/coupon' });
    expect(set).toEqual({
      updateTime: new Date(CLOCK).toISOString(),
      notifyUrl: 'https://pay.example.com/notify/coupon',
      mchid: keys.mchid,
    });
    expect(c.calls[1]?.init.body).toBe(
      JSON.stringify({ mchid: keys.mchid, notify_url: 'https://pay.example.com/notify/coupon' }),
    );

    expect(await c.getCouponCallback({ mchid: keys.mchid })).toEqual({
      notifyUrl: 'https://pay.example.com/notify/coupon',
      mchid: keys.mchid,
    });
    expect(c.calls[2]?.url).toBe(`${sim.url}/v3/marketing/busifavor/callbacks?mchid=${keys.mchid}`);
  });

  it('maps PARAM_ERROR with its detail and 403 NO_AUTH, not retried', async () => {
    const c = client();
    const param = await apiError(c.setCouponCallback({ notifyUrl: 'https://pay.example.com/notify?x=1' }));
    expect(param).toMatchObject({
      status: 400,
      code: 'PARAM_ERROR',
      retryable: false,
      apiDetail: { field: 'notify_url' },
    });
    const noAuth = await apiError(c.setCouponCallback({ notifyUrl: 'https://pay.example.com/c', mchid: '1999999999' }));
    expect(noAuth).toMatchObject({ status: 403, code: 'NO_AUTH', retryable: false });
    expect(c.calls).toHaveLength(2);
  });

  it('retries SYSTEM_ERROR and 429 on the busifavor endpoint', async () => {
    const c = client();
    sim.faults.next('v3.busifavor', 'system-error', 1);
    sim.faults.next('v3.busifavor', 'rate-limit', 1);
    await c.setCouponCallback({ notifyUrl: 'https://pay.example.com/notify/coupon2' });
    expect(c.calls.map((call) => call.status)).toEqual([500, 429, 200]);
  });
});

describe('answers that are not from WeChat', () => {
  const stub =
    (res: () => Response): FetchLike =>
    async () =>
      res();

  it('treats a 2xx without signature headers as forged', async () => {
    const c = client({ fetch: stub(() => new Response(null, { status: 204 })) });
    expect(await apiError(c.closeOrderV3({ outTradeNo: 'T1' }))).toMatchObject({
      code: 'UNAUTHENTIC_RESPONSE',
      kind: 'UNAUTHENTIC',
    });
  });

  it('treats an answer signed by a key outside the ring as forged, even with a known serial', async () => {
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const body = JSON.stringify({ out_trade_no: 'T1', trade_state: 'SUCCESS', mchid: keys.mchid });
    const ts = String(Math.floor(Date.now() / 1000));
    const nonce = randomBytes(8).toString('hex');
    const signature = sign('sha256', Buffer.from(`${ts}\n${nonce}\n${body}\n`), stranger).toString('base64');
    const headers = {
      'Wechatpay-Serial': keys.platform.serial,
      'Wechatpay-Signature': signature,
      'Wechatpay-Timestamp': ts,
      'Wechatpay-Nonce': nonce,
    };
    const c = client({ config: platformOnly, fetch: stub(() => new Response(body, { status: 200, headers })) });
    expect((await apiError(c.queryOrderV3({ outTradeNo: 'T1' }))).code).toBe('UNAUTHENTIC_RESPONSE');
  });

  it('never reads the code of an unsigned error body (it could claim ORDER_CLOSED)', async () => {
    const body = JSON.stringify({ code: 'ORDER_CLOSED', message: 'closed' });
    const c = client({ fetch: stub(() => new Response(body, { status: 400 })) });
    const err = await apiError(c.closeOrderV3({ outTradeNo: 'T1' }));
    expect(err).toMatchObject({ status: 400, code: 'HTTP_ERROR', retryable: false });
    expect(closeRefusal(err)).toBeUndefined();
  });

  it('retries network errors', async () => {
    let n = 0;
    const c = client({
      fetch: async (url, init) => {
        n += 1;
        if (n === 1) throw new TypeError('fetch failed');
        return fetch(url, init);
      },
    });
    await c.closeOrderV3({ outTradeNo: agedOrder() });
    expect(n).toBe(2);
  });
});

describe('configuration', () => {
  it('is a CONFIG error without a merchant key and serial, or without any WeChat key', async () => {
    const noMerchant = client({ config: { ...config, merchant: undefined } });
    await expect(noMerchant.closeOrderV3({ outTradeNo: 'T1' })).rejects.toMatchObject({ kind: 'CONFIG' });
    const noRing = client({ config: { ...config, keyRing: createKeyRing({}) } });
    const err = await noRing.getCouponCallback().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayError);
    expect(err).toMatchObject({ kind: 'CONFIG' });
    expect(noMerchant.calls.length + noRing.calls.length).toBe(0);
  });

  it('refuses a malformed order number or sub-merchant id before sending', async () => {
    const c = client();
    await expect(c.queryOrderV3({ outTradeNo: 'a/b' })).rejects.toMatchObject({ kind: 'MALFORMED' });
    await expect(c.closeOrderV3({ outTradeNo: 'T1', subMchid: '12&x=1' })).rejects.toMatchObject({ kind: 'MALFORMED' });
    expect(c.calls).toHaveLength(0);
  });
});

// The APIv3 client on answers the simulator does not produce: signed error bodies of every shape,
// success bodies that are not objects or omit optional fields, and a request URL that would be
// re-encoded on the way. Answers are signed with the test platform key by the independent sender.
describe('answers the simulator never sends (signed by the independent sender)', () => {
  const keys = generateTestKeys();
  const config = loadConfig({ ...toEnv(keys), PAYMENTS_TABLE: 't', WECHATPAY_API_BASE_URL: 'http://127.0.0.1:9' });

  /** An answer as WeChat Pay sends it, signed over its exact body with the platform key (unless `unsigned`). */
  function answer(status: number, body: string, opts: { unsigned?: boolean } = {}): Response {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomBytes(16).toString('hex');
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (!opts.unsigned) {
      Object.assign(headers, {
        'Wechatpay-Serial': keys.platform.serial,
        'Wechatpay-Timestamp': timestamp,
        'Wechatpay-Nonce': nonce,
        'Wechatpay-Signature': signV3Message(keys.platform.privateKey, timestamp, nonce, body),
      });
    }
    return new Response(status === 204 ? null : body, { status, headers });
  }

  function client(reply: () => Response, cfg: Config = config) {
    const calls: string[] = [];
    const fetch: FetchLike = async (url) => {
      calls.push(url);
      return reply();
    };
    return { calls, v3: createWechatPayClient({ config: cfg, fetch, sleep: async () => {}, random: () => 0 }).v3 };
  }

  async function failure(p: Promise<unknown>): Promise<WechatPayApiError> {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(WechatPayApiError);
    return e as WechatPayApiError;
  }

  describe('signed error answers', () => {
    it('reads WeChat code, message and detail from a signed JSON error', async () => {
      const c = client(() =>
        answer(
          400,
          JSON.stringify({
            code: 'PARAM_ERROR',
            message: 'mchid 不合法',
            detail: { field: 'mchid', location: 'body' },
          }),
        ),
      );
      const e = await failure(c.v3.closeOrderV3({ outTradeNo: 'T1' }));
      expect(e).toMatchObject({
        status: 400,
        code: 'PARAM_ERROR',
        message: 'mchid 不合法',
        retryable: false,
        apiDetail: { field: 'mchid', location: 'body' },
      });
      expect(c.calls).toHaveLength(1);
    });

    it('falls back to HTTP_ERROR and "HTTP <status>" when the signed error names no code or message', async () => {
      const c = client(() => answer(403, JSON.stringify({ code: '', detail: 'not an object' })));
      const e = await failure(c.v3.closeOrderV3({ outTradeNo: 'T1' }));
      expect(e).toMatchObject({ code: 'HTTP_ERROR', message: 'HTTP 403', retryable: false, apiDetail: undefined });
    });

    it('keeps a code with a default message, and a message with a default code', async () => {
      expect(
        await failure(
          client(() => answer(400, JSON.stringify({ code: 'INVALID_REQUEST', message: 7 }))).v3.closeOrderV3({
            outTradeNo: 'T1',
          }),
        ),
      ).toMatchObject({
        code: 'INVALID_REQUEST',
        message: 'HTTP 400',
      });
      expect(
        await failure(
          client(() => answer(400, JSON.stringify({ message: 'bad' }))).v3.closeOrderV3({ outTradeNo: 'T1' }),
        ),
      ).toMatchObject({
        code: 'HTTP_ERROR',
        message: 'bad',
      });
    });

    it('fails a signed error whose body is JSON but not an object, or not JSON, by its status alone', async () => {
      for (const body of ['["ORDERPAID"]', '"ORDERPAID"', 'ORDERPAID', '']) {
        const e = await failure(client(() => answer(400, body)).v3.closeOrderV3({ outTradeNo: 'T1' }));
        expect(e).toMatchObject({ code: 'HTTP_ERROR', message: 'HTTP 400', retryable: false });
      }
    });

    it('retries a signed 500 whose body carries no code, by its status', async () => {
      const c = client(() => answer(500, '[]'));
      const e = await failure(c.v3.closeOrderV3({ outTradeNo: 'T1' }));
      expect(e).toMatchObject({ code: 'HTTP_ERROR', retryable: true });
      expect(c.calls).toHaveLength(3);
    });

    it('never believes a code in an error whose signature fails', async () => {
      const c = client(() => {
        const r = answer(400, JSON.stringify({ code: 'ORDER_CLOSED', message: 'closed' }));
        const headers = new Headers(r.headers);
        headers.set('Wechatpay-Signature', Buffer.alloc(256, 1).toString('base64'));
        return new Response(JSON.stringify({ code: 'ORDER_CLOSED', message: 'closed' }), { status: 400, headers });
      });
      const e = await failure(c.v3.closeOrderV3({ outTradeNo: 'T1' }));
      expect(e).toMatchObject({ code: 'UNAUTHENTIC_RESPONSE', kind: 'UNAUTHENTIC', retryable: false });
      expect(e.message).toContain('signature mismatch');
    });
  });

  describe('success answers', () => {
    it('refuses a signed order-query answer that is not a JSON object as MALFORMED_RESPONSE', async () => {
      for (const body of ['[]', '"SUCCESS"', 'null']) {
        const e = await failure(client(() => answer(200, body)).v3.queryOrderV3({ outTradeNo: 'T1' }));
        expect(e).toMatchObject({ code: 'MALFORMED_RESPONSE', retryable: false });
        expect(e.message).toBe('unreadable answer: transaction is not a JSON object');
      }
    });

    it('refuses a signed answer that is not UTF-8', async () => {
      const bytes = Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]);
      const c = client(() => {
        const timestamp = String(Math.floor(Date.now() / 1000));
        // signed over the exact bytes received, as WeChat signs
        const message = Buffer.concat([Buffer.from(`${timestamp}\nn1\n`), bytes, Buffer.from('\n')]);
        const signature = sign('sha256', message, keys.platform.privateKey).toString('base64');
        return new Response(bytes, {
          status: 200,
          headers: {
            'Wechatpay-Serial': keys.platform.serial,
            'Wechatpay-Timestamp': timestamp,
            'Wechatpay-Nonce': 'n1',
            'Wechatpay-Signature': signature,
          },
        });
      });
      const e = await failure(c.v3.queryOrderV3({ outTradeNo: 'T1' }));
      expect(e.message).toBe('unreadable answer: transaction is not valid UTF-8');
    });

    it('reads a signed transaction answer', async () => {
      const resource = v3TransactionResource(keys, {
        outTradeNo: 'T1',
        total: 300,
        transactionId: '4200000001202611230000000001',
      });
      const tx = await client(() => answer(200, JSON.stringify(resource))).v3.queryOrderV3({ outTradeNo: 'T1' });
      expect(tx).toMatchObject({
        outTradeNo: 'T1',
        tradeState: 'SUCCESS',
        totalFen: 300,
        transactionId: '4200000001202611230000000001',
      });
    });

    it('uses the merchant asked about when the callback answers name none', async () => {
      const set = await client(() =>
        answer(
          200,
          JSON.stringify({ update_time: '2026-11-23T10:00:00+08:00', notify_url: 'https://pay.example.com/c' }),
        ),
      ).v3.setCouponCallback({
        notifyUrl: 'https://pay.example.com/c',
      });
      expect(set).toEqual({
        updateTime: '2026-11-23T02:00:00.000Z',
        notifyUrl: 'https://pay.example.com/c',
        mchid: keys.mchid,
      });
      const got = await client(() =>
        answer(200, JSON.stringify({ notify_url: 'https://pay.example.com/c' })),
      ).v3.getCouponCallback({ mchid: '1900000109' });
      expect(got).toEqual({ notifyUrl: 'https://pay.example.com/c', mchid: '1900000109' });
    });

    it('refuses a callback answer without notify_url or with an update_time that is not RFC 3339', async () => {
      const noUrl = await failure(
        client(() => answer(200, JSON.stringify({ mchid: keys.mchid }))).v3.getCouponCallback(),
      );
      expect(noUrl.message).toBe('unreadable answer: callback.notify_url missing or malformed');
      const badTime = await failure(
        client(() =>
          answer(200, JSON.stringify({ update_time: 'now', notify_url: 'https://pay.example.com/c' })),
        ).v3.setCouponCallback({ notifyUrl: 'https://pay.example.com/c' }),
      );
      expect(badTime.message).toBe('unreadable answer: callback.update_time is not an RFC 3339 time');
    });
  });

  describe('the request itself', () => {
    it('refuses a sub-merchant id that is not digits and an invalid out_trade_no, sending nothing', async () => {
      const c = client(() => answer(204, ''));
      const sub = await c.v3.closeOrderV3({ outTradeNo: 'T1', subMchid: '19x' }).catch((e: unknown) => e);
      expect(sub).toBeInstanceOf(PayError);
      expect((sub as PayError).reason).toBe('subMchid must be digits');
      const no = await c.v3.queryOrderV3({ outTradeNo: 'T/1' }).catch((e: unknown) => e);
      expect((no as PayError).reason).toBe('outTradeNo is not a WeChat out_trade_no');
      expect(c.calls).toEqual([]);
    });

    it('never sends a request whose URL fetch would re-encode (the signature would cover other bytes)', async () => {
      const c = client(() => answer(204, ''), { ...config, apiBaseUrl: 'http://127.0.0.1:9?x=' });
      const e = await c.v3.closeOrderV3({ outTradeNo: 'T1' }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(TypeError);
      expect((e as Error).message).toContain('request path is not in canonical form');
      expect(c.calls).toEqual([]);
    });
  });
});
