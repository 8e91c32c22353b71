/**
 * The APIv3 client on answers the simulator does not produce: signed error bodies of every shape,
 * success bodies that are not objects or omit optional fields, and a request URL that would be
 * re-encoded on the way. Answers are signed with the test platform key by the independent sender.
 */
import { randomBytes, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../../../lib/config';
import { PayError } from '../../../../lib/errors';
import { WechatPayApiError } from '../../../../lib/wechatpay/apiError';
import { type FetchLike } from '../../../../lib/wechatpay/http';
import { createWechatPayClient } from '../../../../lib/wechatpay/client';
import { generateTestKeys, toEnv } from '../../../../scripts/simulator/keys';
import { signV3Message, v3TransactionResource } from '../../../../scripts/simulator/messages';

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
        JSON.stringify({ code: 'PARAM_ERROR', message: 'mchid 不合法', detail: { field: 'mchid', location: 'body' } }),
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
