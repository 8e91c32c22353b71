import { createHash, createHmac, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../scripts/simulator/cli';
import { generateTestKeys, type TestKeys } from '../../scripts/simulator/keys';
import { startSimulator, type Simulator } from '../../scripts/simulator/server';
import { rawRequest, startReceiver, xmlFields, type RawResponse, type Receiver } from './support';

const MINUTE = 60_000;
const BROWSER_HEADERS = { Accept: 'application/json', 'User-Agent': 'wechatpay-lambda-test/1.0' };

let keys: TestKeys;
let sim: Simulator;
let clock: number;
let orderSeq = 0;

beforeAll(async () => {
  keys = generateTestKeys();
  clock = Date.UTC(2024, 0, 1, 4, 0, 0);
  sim = await startSimulator({ keys, now: () => clock, timeScale: 0.0001, replyTimeoutMs: 2000 });
});

afterAll(async () => {
  await sim.close();
});

beforeEach(() => {
  sim.faults.clear();
  sim.control.suppress(false);
});

/** A fresh order number, so tests never share orders. */
function orderNo(): string {
  orderSeq += 1;
  return `T${Date.now()}${orderSeq}`;
}

/** An order old enough to be closed. */
function agedOrder(opts: { subMchid?: string } = {}): string {
  const outTradeNo = orderNo();
  sim.control.createOrder({ outTradeNo, amount: 1234, ageSeconds: 600, ...opts });
  return outTradeNo;
}

// ---- an independent APIv3 client (signs with node:crypto directly) ----

interface V3Options {
  body?: string;
  key?: KeyObject;
  serial?: string;
  mchid?: string;
  timestamp?: number;
  headers?: Record<string, string>;
  authorization?: string | null;
  timeoutMs?: number;
}

function authorization(method: string, url: string, body: string, opts: V3Options): string {
  const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = randomBytes(16).toString('hex');
  const message = `${method}\n${url}\n${timestamp}\n${nonce}\n${body}\n`;
  const signature = sign('sha256', Buffer.from(message), opts.key ?? keys.merchant.privateKey).toString('base64');
  const mchid = opts.mchid ?? keys.mchid;
  const serial = opts.serial ?? keys.merchant.serial;
  return `WECHATPAY2-SHA256-RSA2048 mchid="${mchid}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${serial}"`;
}

function v3(method: string, path: string, opts: V3Options = {}): Promise<RawResponse> {
  const body = opts.body ?? '';
  const auth = opts.authorization === undefined ? authorization(method, path, body, opts) : opts.authorization;
  const headers: Record<string, string> = {
    ...BROWSER_HEADERS,
    ...(body === '' ? {} : { 'Content-Type': 'application/json' }),
    ...(auth === null ? {} : { Authorization: auth }),
    ...opts.headers,
  };
  return rawRequest(sim.url, {
    method,
    path,
    headers,
    body,
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
  });
}

function closeV3(outTradeNo: string, opts: V3Options = {}): Promise<RawResponse> {
  return v3('POST', `/v3/pay/transactions/out-trade-no/${outTradeNo}/close`, {
    body: JSON.stringify({ mchid: keys.mchid }),
    ...opts,
  });
}

function closeV3Partner(outTradeNo: string, subMchid: string): Promise<RawResponse> {
  const body = JSON.stringify({ sp_mchid: keys.mchid, sub_mchid: subMchid });
  return v3('POST', `/v3/pay/partner/transactions/out-trade-no/${outTradeNo}/close`, { body });
}

function queryV3(outTradeNo: string, opts: V3Options = {}): Promise<RawResponse> {
  return v3('GET', `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=${keys.mchid}`, opts);
}

/** Verifies the Wechatpay-* response signature over `ts\nnonce\nbody\n`. */
function responseVerifies(res: RawResponse, publicKey: KeyObject = keys.platform.publicKey): boolean {
  const signature = res.headers['wechatpay-signature'];
  if (typeof signature !== 'string') return false;
  const message = `${String(res.headers['wechatpay-timestamp'])}\n${String(res.headers['wechatpay-nonce'])}\n${res.body}\n`;
  return verify('sha256', Buffer.from(message), publicKey, Buffer.from(signature, 'base64'));
}

/** Beijing wall-clock time of an instant, 'yyyy-MM-ddTHH:mm:ss' (computed here, not by the simulator). */
function beijing(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 19);
}

function code(res: RawResponse): unknown {
  return (JSON.parse(res.body) as { code?: unknown }).code;
}

// ---- an independent APIv2 client ----

function v2SignOf(fields: Record<string, string>, signType: 'MD5' | 'HMAC-SHA256', key = keys.apiV2Key): string {
  const names = Object.keys(fields)
    .filter((n) => n !== 'sign' && fields[n] !== '')
    .sort();
  const text = `${names.map((n) => `${n}=${fields[n] ?? ''}`).join('&')}&key=${key}`;
  const digest = signType === 'MD5' ? createHash('md5').update(text) : createHmac('sha256', key).update(text);
  return digest.digest('hex').toUpperCase();
}

async function v2(
  path: '/pay/closeorder' | '/pay/orderquery',
  fields: Record<string, string>,
  opts: { signType?: 'MD5' | 'HMAC-SHA256'; key?: string; method?: string } = {},
): Promise<{ res: RawResponse; reply: Record<string, string> }> {
  const signType = opts.signType ?? 'MD5';
  const all: Record<string, string> = {
    appid: keys.appid,
    mch_id: keys.mchid,
    nonce_str: randomBytes(8).toString('hex'),
    ...(signType === 'HMAC-SHA256' ? { sign_type: signType } : {}),
    ...fields,
  };
  all.sign = v2SignOf(all, signType, opts.key);
  const body = `<xml>${Object.entries(all)
    .map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`)
    .join('')}</xml>`;
  const res = await rawRequest(sim.url, {
    method: opts.method ?? 'POST',
    path,
    headers: { 'Content-Type': 'text/xml' },
    body,
  });
  return { res, reply: xmlFields(res.body) };
}

function replySignatureValid(reply: Record<string, string>, signType: 'MD5' | 'HMAC-SHA256'): boolean {
  return reply.sign === v2SignOf(reply, signType);
}

// ---------------------------------------------------------------------------------------------

describe('APIv3 request authentication', () => {
  it('accepts a correctly signed request and signs the response with the platform key', async () => {
    const outTradeNo = agedOrder();
    const res = await queryV3(outTradeNo);
    expect(res.status).toBe(200);
    expect(responseVerifies(res)).toBe(true);
    expect(res.headers['wechatpay-serial']).toBe(keys.platform.serial);
    expect(res.headers['request-id']).toBeTruthy();
    expect(JSON.parse(res.body)).toMatchObject({ out_trade_no: outTradeNo, trade_state: 'NOTPAY', mchid: keys.mchid });
  });

  it('rejects a signature made with another key, a wrong serial, a stale timestamp or a tampered body', async () => {
    const outTradeNo = agedOrder();
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const path = `/v3/pay/transactions/out-trade-no/${outTradeNo}/close`;
    const body = JSON.stringify({ mchid: keys.mchid });
    const attempts = [
      closeV3(outTradeNo, { key: stranger }),
      closeV3(outTradeNo, { serial: '1234567890ABCDEF1234567890ABCDEF12345678' }),
      closeV3(outTradeNo, { timestamp: Math.floor(Date.now() / 1000) - 301 }),
      closeV3(outTradeNo, { mchid: '1900000001' }),
      // signed over one body, sent with another
      v3('POST', path, { body: `${body} `, authorization: authorization('POST', path, body, {}) }),
      // signed for another URL
      v3('POST', path, { body, authorization: authorization('POST', `${path}?x=1`, body, {}) }),
      closeV3(outTradeNo, { authorization: null }),
      closeV3(outTradeNo, { authorization: 'WECHATPAY2-SHA256-RSA2048 garbage' }),
      closeV3(outTradeNo, {
        authorization: authorization('POST', path, body, {}).replace(
          /signature="[^"]*"/,
          'signature="WECHATPAY/SIGNTEST/abc"',
        ),
      }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(401);
      expect(code(res)).toBe('SIGN_ERROR');
      expect(responseVerifies(res)).toBe(true); // errors are signed too
    }
    expect(sim.state.findOrder(keys.mchid, outTradeNo)?.state).toBe('NOTPAY');
  });

  it('answers 400 INVALID_REQUEST when Accept or User-Agent is missing', async () => {
    const outTradeNo = agedOrder();
    const noAccept = await queryV3(outTradeNo, { headers: { Accept: '' } });
    const path = `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=${keys.mchid}`;
    const noAgent = await rawRequest(sim.url, {
      method: 'GET',
      path,
      headers: { Accept: 'application/json', Authorization: authorization('GET', path, '', {}) },
    });
    for (const res of [noAccept, noAgent]) {
      expect(res.status).toBe(400);
      expect(code(res)).toBe('INVALID_REQUEST');
      expect(responseVerifies(res)).toBe(true);
    }
  });

  it('signs with the WeChat Pay public key when the request names its id in Wechatpay-Serial', async () => {
    const outTradeNo = agedOrder();
    const res = await closeV3(outTradeNo, { headers: { 'Wechatpay-Serial': keys.publicKey.id } });
    expect(res.status).toBe(204);
    expect(res.body).toBe('');
    expect(res.headers['wechatpay-serial']).toBe(keys.publicKey.id);
    expect(responseVerifies(res, keys.publicKey.publicKey)).toBe(true);
    expect(responseVerifies(res, keys.platform.publicKey)).toBe(false);
  });

  it('signs the empty body of a 204 over ts\\nnonce\\n\\n', async () => {
    const res = await closeV3(agedOrder());
    expect(res.status).toBe(204);
    expect(responseVerifies(res)).toBe(true);
  });
});

describe('the five-minute rule', () => {
  it('refuses a v3 close before 300 s with RULE_LIMIT and accepts it afterwards', async () => {
    const outTradeNo = orderNo();
    sim.control.createOrder({ outTradeNo, amount: 100 });
    clock += 4 * MINUTE;
    const early = await closeV3(outTradeNo);
    expect(early.status).toBe(400);
    expect(code(early)).toBe('RULE_LIMIT');
    expect(sim.state.findOrder(keys.mchid, outTradeNo)?.state).toBe('NOTPAY');
    clock += MINUTE;
    expect((await closeV3(outTradeNo)).status).toBe(204);
    expect(sim.state.findOrder(keys.mchid, outTradeNo)?.state).toBe('CLOSED');
  });

  it('refuses a v2 close before 300 s with ORDER_NOT_READY (never SYSTEMERROR)', async () => {
    const outTradeNo = orderNo();
    sim.control.createOrder({ outTradeNo, amount: 100 });
    clock += 299_000;
    const early = await v2('/pay/closeorder', { out_trade_no: outTradeNo });
    expect(early.reply).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'ORDER_NOT_READY' });
    expect(replySignatureValid(early.reply, 'MD5')).toBe(true);
    clock += 1000;
    const late = await v2('/pay/closeorder', { out_trade_no: outTradeNo });
    expect(late.reply).toMatchObject({ return_code: 'SUCCESS', result_code: 'SUCCESS' });
  });

  it('can be disabled with closeMinAgeSeconds: 0', async () => {
    const other = await startSimulator({ keys, closeMinAgeSeconds: 0 });
    try {
      other.control.createOrder({ outTradeNo: 'young', amount: 1 });
      const path = '/v3/pay/transactions/out-trade-no/young/close';
      const body = JSON.stringify({ mchid: keys.mchid });
      const res = await rawRequest(other.url, {
        method: 'POST',
        path,
        headers: {
          ...BROWSER_HEADERS,
          'Content-Type': 'application/json',
          Authorization: authorization('POST', path, body, {}),
        },
        body,
      });
      expect(res.status).toBe(204);
    } finally {
      await other.close();
    }
  });
});

describe('APIv3 close and query', () => {
  it('answers ORDER_CLOSED for a second close and ORDERPAID for a paid order, paid winning over age', async () => {
    const closed = agedOrder();
    expect((await closeV3(closed)).status).toBe(204);
    const again = await closeV3(closed);
    expect([again.status, code(again)]).toEqual([400, 'ORDER_CLOSED']);

    const paid = orderNo();
    await sim.control.pay({ outTradeNo: paid, amount: 500, wait: 'none' }); // created just now: young and paid
    const res = await closeV3(paid);
    expect([res.status, code(res)]).toEqual([400, 'ORDERPAID']);
    expect(responseVerifies(res)).toBe(true);
  });

  it('answers 404 ORDER_NOT_EXIST for unknown orders and 400 PARAM_ERROR for bad input', async () => {
    const unknown = await closeV3('no-such-order');
    expect([unknown.status, code(unknown)]).toEqual([404, 'ORDER_NOT_EXIST']);
    expect((await queryV3('no-such-order')).status).toBe(404);
    const noMchid = await closeV3(agedOrder(), { body: '{}' });
    expect([noMchid.status, code(noMchid)]).toEqual([400, 'PARAM_ERROR']);
    const notJson = await closeV3(agedOrder(), { body: 'mchid=1' });
    expect([notJson.status, code(notJson)]).toEqual([400, 'PARAM_ERROR']);
    const badNo = await closeV3('bad%20number');
    expect([badNo.status, code(badNo)]).toEqual([400, 'PARAM_ERROR']);
  });

  it('returns the paid transaction with the same id, payer and amount as the notification', async () => {
    const r = await startReceiver(() => ({ status: 204 }));
    try {
      const outTradeNo = orderNo();
      const { order, delivery } = await sim.control.pay({ outTradeNo, amount: 888, notifyUrl: r.url, wait: 'all' });
      expect(delivery.accepted).toBe(true);
      const res = await queryV3(outTradeNo);
      const tx = JSON.parse(res.body) as Record<string, unknown>;
      expect(tx).toMatchObject({
        trade_state: 'SUCCESS',
        transaction_id: order.transactionId,
        amount: { total: 888, payer_total: 888, currency: 'CNY' },
        payer: { openid: order.openid },
        success_time: `${beijing(clock)}+08:00`,
      });
      expect(r.received).toHaveLength(1);
      expect(r.received[0]?.headers['wechatpay-serial']).toBe(keys.platform.serial);
    } finally {
      await r.close();
    }
  });

  it('serves partner orders on the partner routes only', async () => {
    const subMchid = '1900000109';
    const outTradeNo = agedOrder({ subMchid });
    const direct = await closeV3(outTradeNo);
    expect(direct.status).toBe(404);
    const query = await v3(
      'GET',
      `/v3/pay/partner/transactions/out-trade-no/${outTradeNo}?sp_mchid=${keys.mchid}&sub_mchid=${subMchid}`,
    );
    expect(query.status).toBe(200);
    expect(JSON.parse(query.body)).toMatchObject({ sp_mchid: keys.mchid, sub_mchid: subMchid, trade_state: 'NOTPAY' });
    expect((await closeV3Partner(outTradeNo, subMchid)).status).toBe(204);
    const again = await closeV3Partner(outTradeNo, subMchid);
    expect([again.status, code(again)]).toEqual([400, 'ORDER_CLOSED']);

    const paid = orderNo();
    await sim.control.pay({ outTradeNo: paid, amount: 10, subMchid, wait: 'none' });
    const res = await closeV3Partner(paid, subMchid);
    expect([res.status, code(res)]).toEqual([400, 'ORDERPAID']);
  });
});

describe('APIv2 close and query', () => {
  it('closes with MD5 and HMAC-SHA256 requests, answering with the same algorithm', async () => {
    const md5 = await v2('/pay/closeorder', { out_trade_no: agedOrder() });
    expect(md5.res.status).toBe(200);
    expect(md5.reply).toMatchObject({
      return_code: 'SUCCESS',
      result_code: 'SUCCESS',
      appid: keys.appid,
      mch_id: keys.mchid,
    });
    expect(replySignatureValid(md5.reply, 'MD5')).toBe(true);
    const hmac = await v2('/pay/closeorder', { out_trade_no: agedOrder() }, { signType: 'HMAC-SHA256' });
    expect(hmac.reply.result_code).toBe('SUCCESS');
    expect(hmac.reply.sign).toHaveLength(64);
    expect(replySignatureValid(hmac.reply, 'HMAC-SHA256')).toBe(true);
  });

  it('answers ORDERCLOSED, ORDERPAID and ORDERNOTEXIST', async () => {
    const outTradeNo = agedOrder();
    await v2('/pay/closeorder', { out_trade_no: outTradeNo });
    expect((await v2('/pay/closeorder', { out_trade_no: outTradeNo })).reply.err_code).toBe('ORDERCLOSED');
    const paid = orderNo();
    await sim.control.pay({ outTradeNo: paid, amount: 1, wait: 'none' });
    const paidReply = (await v2('/pay/closeorder', { out_trade_no: paid })).reply;
    expect(paidReply).toMatchObject({ result_code: 'FAIL', err_code: 'ORDERPAID' });
    expect(replySignatureValid(paidReply, 'MD5')).toBe(true);
    expect((await v2('/pay/closeorder', { out_trade_no: 'unknown-order' })).reply.err_code).toBe('ORDERNOTEXIST');
  });

  it('refuses a wrong key (SIGNERROR), GET (REQUIRE_POST_METHOD) and malformed or hostile XML', async () => {
    const outTradeNo = agedOrder();
    expect((await v2('/pay/closeorder', { out_trade_no: outTradeNo }, { key: 'x'.repeat(32) })).reply.err_code).toBe(
      'SIGNERROR',
    );
    expect((await v2('/pay/closeorder', { out_trade_no: outTradeNo }, { method: 'GET' })).reply.err_code).toBe(
      'REQUIRE_POST_METHOD',
    );
    const bodies = [
      '<xml><appid>unclosed</xml>',
      'not xml at all',
      '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><appid>&e;</appid></xml>',
    ];
    for (const body of bodies) {
      const res = await rawRequest(sim.url, {
        method: 'POST',
        path: '/pay/closeorder',
        headers: { 'Content-Type': 'text/xml' },
        body,
      });
      const reply = xmlFields(res.body);
      expect(reply).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'XML_FORMAT_ERROR' });
      expect(replySignatureValid(reply, 'MD5')).toBe(true);
    }
    expect(sim.state.findOrder(keys.mchid, outTradeNo)?.state).toBe('NOTPAY');
  });

  it('closes partner orders by sub_mch_id and echoes it', async () => {
    const subMchid = '1900000222';
    const outTradeNo = agedOrder({ subMchid });
    expect((await v2('/pay/closeorder', { out_trade_no: outTradeNo })).reply.err_code).toBe('ORDERNOTEXIST');
    const { reply } = await v2('/pay/closeorder', { out_trade_no: outTradeNo, sub_mch_id: subMchid });
    expect(reply).toMatchObject({ result_code: 'SUCCESS', sub_mch_id: subMchid });
    expect(replySignatureValid(reply, 'MD5')).toBe(true);
  });

  it('reports the trade state, total_fee, transaction_id and time_end on order query', async () => {
    const outTradeNo = orderNo();
    sim.control.createOrder({ outTradeNo, amount: 4321 });
    expect((await v2('/pay/orderquery', { out_trade_no: outTradeNo })).reply).toMatchObject({
      trade_state: 'NOTPAY',
      total_fee: '4321',
    });
    const { order } = await sim.control.pay({ outTradeNo, wait: 'none' });
    const { reply } = await v2('/pay/orderquery', { out_trade_no: outTradeNo });
    expect(reply).toMatchObject({
      result_code: 'SUCCESS',
      trade_state: 'SUCCESS',
      total_fee: '4321',
      transaction_id: order.transactionId,
      time_end: beijing(clock).replace(/[-T:]/g, ''),
    });
    expect(replySignatureValid(reply, 'MD5')).toBe(true);
    const byId = await v2('/pay/orderquery', { transaction_id: order.transactionId ?? '' });
    expect(byId.reply.out_trade_no).toBe(outTradeNo);
    expect((await v2('/pay/orderquery', { out_trade_no: 'nope' })).reply.err_code).toBe('ORDERNOTEXIST');
  });
});

describe('fault injection', () => {
  it('answers SYSTEM_ERROR / SYSTEMERROR for the next N calls, then normally, without changing state', async () => {
    const outTradeNo = agedOrder();
    sim.faults.next('v3.close', 'system-error', 2);
    const first = await closeV3(outTradeNo);
    const second = await closeV3(outTradeNo);
    expect([first.status, code(first), second.status]).toEqual([500, 'SYSTEM_ERROR', 500]);
    expect(responseVerifies(first)).toBe(true);
    expect((await closeV3(outTradeNo)).status).toBe(204);

    sim.faults.next('v2.closeorder', 'system-error');
    const v2Res = await v2('/pay/closeorder', { out_trade_no: agedOrder() });
    expect(v2Res.reply).toMatchObject({ result_code: 'FAIL', err_code: 'SYSTEMERROR' });
  });

  it('answers 429 RATELIMIT_EXCEEDED and unsigned 500s', async () => {
    sim.faults.next('v3.query', 'rate-limit');
    sim.faults.next('*', 'unsigned-500');
    const outTradeNo = agedOrder();
    const limited = await queryV3(outTradeNo);
    expect([limited.status, code(limited)]).toEqual([429, 'RATELIMIT_EXCEEDED']);
    const broken = await queryV3(outTradeNo);
    expect(broken.status).toBe(500);
    expect(broken.headers['wechatpay-signature']).toBeUndefined();
    expect((await queryV3(outTradeNo)).status).toBe(200);
  });

  it('forges, probes or drops the signature of an otherwise normal answer', async () => {
    sim.faults.next('v3.close', 'forged-signature');
    sim.faults.next('v3.close', 'signature-probe');
    sim.faults.next('v3.close', 'unsigned-success');
    const forged = await closeV3(agedOrder());
    expect(forged.status).toBe(204);
    expect(responseVerifies(forged)).toBe(false);
    const probe = await closeV3(agedOrder());
    expect(String(probe.headers['wechatpay-signature'])).toMatch(/^WECHATPAY\/SIGNTEST\//);
    const unsigned = await closeV3(agedOrder());
    expect(unsigned.status).toBe(204);
    expect(unsigned.headers['wechatpay-signature']).toBeUndefined();

    sim.faults.next('v2.closeorder', 'forged-signature');
    const { reply } = await v2('/pay/closeorder', { out_trade_no: agedOrder() });
    expect(reply.result_code).toBe('SUCCESS');
    expect(replySignatureValid(reply, 'MD5')).toBe(false);
  });

  it('hangs past a client timeout, yet the close still takes effect', async () => {
    const outTradeNo = agedOrder();
    sim.faults.next('v3.close', 'hang', 1, { hangMs: 300 });
    await expect(closeV3(outTradeNo, { timeoutMs: 50 })).rejects.toThrow('client timeout');
    for (let i = 0; i < 100 && sim.state.findOrder(keys.mchid, outTradeNo)?.state !== 'CLOSED'; i += 1) await delay(20);
    expect(sim.state.findOrder(keys.mchid, outTradeNo)?.state).toBe('CLOSED');
    const retry = await closeV3(outTradeNo);
    expect([retry.status, code(retry)]).toEqual([400, 'ORDER_CLOSED']);
  });

  it('answers a transport-level return_code FAIL on v2', async () => {
    sim.faults.next('v2.orderquery', 'return-fail');
    const { reply } = await v2('/pay/orderquery', { out_trade_no: agedOrder() });
    expect(reply.return_code).toBe('FAIL');
    expect(reply.sign).toBeUndefined();
  });
});

describe('control endpoints and notifications', () => {
  let receiver: Receiver;
  let failuresLeft = 0;

  beforeAll(async () => {
    receiver = await startReceiver(() => {
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        return { status: 500 };
      }
      return { status: 200, body: '<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>' };
    });
  });

  afterAll(async () => {
    await receiver.close();
  });

  beforeEach(() => {
    receiver.received.length = 0;
    failuresLeft = 0;
  });

  async function control(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await rawRequest(sim.url, {
      method,
      path,
      headers: { 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: JSON.parse(res.body) as Record<string, unknown> };
  }

  it('creates, pays (delivering a signed v2 notification with retries) and lists orders over HTTP', async () => {
    const outTradeNo = orderNo();
    expect((await control('POST', '/_sim/orders', { outTradeNo, amount: 300 })).status).toBe(201);
    expect((await control('POST', '/_sim/orders', { outTradeNo, amount: 300 })).status).toBe(409);
    failuresLeft = 2;
    const paid = await control('POST', '/_sim/pay', {
      outTradeNo,
      protocol: 'v2',
      notifyUrl: receiver.url,
      wait: 'all',
    });
    expect(paid.status).toBe(200);
    const delivery = paid.json.delivery as { accepted: boolean; attempts: Array<{ delayMs: number }> };
    expect(delivery.accepted).toBe(true);
    expect(delivery.attempts.map((a) => a.delayMs)).toEqual([0, 1.5, 1.5]); // 15 s × 0.0001
    const fields = xmlFields(receiver.received[0]?.body ?? '');
    expect(fields).toMatchObject({ out_trade_no: outTradeNo, total_fee: '300', result_code: 'SUCCESS' });
    expect(fields.sign).toBe(v2SignOf(fields, 'MD5'));
    const listed = await control('GET', '/_sim/orders');
    expect(listed.json.orders).toEqual(
      expect.arrayContaining([expect.objectContaining({ outTradeNo, state: 'SUCCESS' })]),
    );
  });

  it('replays the last notification N times concurrently, and suppresses notifications on request', async () => {
    const outTradeNo = orderNo();
    await control('POST', '/_sim/pay', { outTradeNo, amount: 10, notifyUrl: receiver.url, wait: 'all' });
    const replay = await control('POST', '/_sim/replay', { times: 20 });
    expect((replay.json.results as unknown[]).length).toBe(20);
    expect(receiver.received).toHaveLength(21);
    expect(new Set(receiver.received.map((r) => JSON.parse(r.body).id as string)).size).toBe(1);

    receiver.received.length = 0;
    expect((await control('POST', '/_sim/suppress', { on: true })).json).toEqual({ suppressed: true });
    const suppressed = await control('POST', '/_sim/pay', {
      outTradeNo: orderNo(),
      amount: 10,
      notifyUrl: receiver.url,
    });
    expect((suppressed.json.delivery as { skipped: string }).skipped).toBe('suppressed');
    expect(receiver.received).toHaveLength(0);
  });

  it('refunds with a v3 REFUND notification signed by the public key', async () => {
    const outTradeNo = orderNo();
    await sim.control.pay({ outTradeNo, amount: 1000, wait: 'all', notifyUrl: receiver.url });
    receiver.received.length = 0;
    const res = await control('POST', '/_sim/refund', {
      outTradeNo,
      outRefundNo: `R${outTradeNo}`,
      amount: 400,
      signer: 'publicKey',
      notifyUrl: receiver.url,
      wait: 'all',
    });
    expect(res.status).toBe(200);
    expect(res.json.order).toMatchObject({ state: 'REFUND', refunded: 400 });
    const received = receiver.received[0];
    expect(received?.headers['wechatpay-serial']).toBe(keys.publicKey.id);
    expect(JSON.parse(received?.body ?? '{}')).toMatchObject({ event_type: 'REFUND.SUCCESS' });
    const tooMuch = await control('POST', '/_sim/refund', { outTradeNo, outRefundNo: `X${outTradeNo}`, amount: 601 });
    expect([tooMuch.status, tooMuch.json.error]).toEqual([409, 'REFUND_EXCEEDS']);
  });

  it('plans faults over HTTP and rejects bad control input', async () => {
    expect((await control('POST', '/_sim/faults', { endpoint: 'v3.query', kind: 'rate-limit', count: 2 })).status).toBe(
      200,
    );
    expect(sim.faults.pending()).toEqual([
      expect.objectContaining({ endpoint: 'v3.query', kind: 'rate-limit', remaining: 2 }),
    ]);
    expect((await control('DELETE', '/_sim/faults')).json).toEqual({ faults: [] });
    expect((await control('POST', '/_sim/faults', { kind: 'explode' })).status).toBe(400);
    expect((await control('POST', '/_sim/orders', { outTradeNo: 'x', amount: 1.5 })).status).toBe(400);
    expect((await control('POST', '/_sim/pay', { outTradeNo: 'never-created' })).status).toBe(404);
    expect((await control('GET', '/_sim/nothing')).status).toBe(404);
  });

  it('sets and queries the merchant-coupon callback, then delivers COUPON.SEND to it', async () => {
    const unset = await v3('GET', `/v3/marketing/busifavor/callbacks?mchid=${keys.mchid}`);
    expect([unset.status, code(unset)]).toEqual([404, 'RESOURCE_NOT_EXISTS']);
    const set = await v3('POST', '/v3/marketing/busifavor/callbacks', {
      body: JSON.stringify({ notify_url: receiver.url }),
    });
    expect(set.status).toBe(200);
    expect(responseVerifies(set)).toBe(true);
    expect(JSON.parse(set.body)).toMatchObject({ notify_url: receiver.url, mchid: keys.mchid });
    const got = await v3('GET', `/v3/marketing/busifavor/callbacks?mchid=${keys.mchid}`);
    expect(JSON.parse(got.body)).toEqual({ notify_url: receiver.url, mchid: keys.mchid });
    const withQuery = await v3('POST', '/v3/marketing/busifavor/callbacks', {
      body: JSON.stringify({ notify_url: 'https://example.com/cb?x=1' }),
    });
    expect([withQuery.status, code(withQuery)]).toEqual([400, 'PARAM_ERROR']);

    const { delivery } = await sim.control.sendCoupon({ wait: 'all' });
    expect(delivery).toMatchObject({ kind: 'coupon', url: receiver.url, accepted: true });
    expect(JSON.parse(receiver.received.at(-1)?.body ?? '{}')).toMatchObject({ event_type: 'COUPON.SEND' });
  });

  it('sends transfer and profit-sharing notifications that the service verifies, decrypts and reads', async () => {
    const { loadConfig } = await import('../../lib/config');
    const { toEnv } = await import('../../scripts/simulator/keys');
    const { readNotice } = await import('../../lib/notify/read');
    const { headerGetter } = await import('../../lib/wechatpay/v3/verify');
    const config = loadConfig({ ...toEnv(keys), PAYMENTS_TABLE: 't' });
    const read = () => {
      const last = receiver.received.at(-1);
      const headers = (last?.headers ?? {}) as Record<string, string | undefined>;
      return readNotice('v3', headerGetter(headers), Buffer.from(last?.body ?? ''), config, Date.now()).notice;
    };
    const transfer = await control('POST', '/_sim/transfers/send', {
      outNo: 'B20261130001',
      amount: 300,
      state: 'FAIL',
      notifyUrl: receiver.url,
      wait: 'first',
    });
    expect(transfer.status).toBe(200);
    expect(read()).toMatchObject({
      kind: 'TRANSFER',
      report: { outBillNo: 'B20261130001', state: 'FAIL', amountFen: 300, failReason: 'ACCOUNT_FROZEN' },
    });
    const sharing = await control('POST', '/_sim/profitsharing/send', {
      outNo: 'P20261130001',
      amount: 120,
      notifyUrl: receiver.url,
      wait: 'first',
    });
    expect(sharing.status).toBe(200);
    expect(read()).toMatchObject({
      kind: 'PROFIT_SHARING',
      report: { outOrderNo: 'P20261130001', amountFen: 120, eventType: 'PROFITSHARING.SUCCESS' },
    });
    expect((await control('POST', '/_sim/transfers/send', { state: 'PROCESSING' })).status).toBe(400);
  });

  it('abandons pending retries when closed', async () => {
    const failing = await startReceiver(() => ({ status: 500 }));
    const slow = await startSimulator({ keys, timeScale: 1 }); // the next retry would be 15 s away
    try {
      const { delivery } = await slow.control.pay({ outTradeNo: 'abandoned', amount: 1, notifyUrl: failing.url });
      expect(delivery).toMatchObject({
        done: false,
        attempts: [expect.objectContaining({ attempt: 1, accepted: false })],
      });
      await slow.close();
      expect(slow.deliveries.list()[0]).toMatchObject({ done: true, accepted: false });
      expect(failing.received).toHaveLength(1);
    } finally {
      await failing.close();
    }
  });

  it('drives the simulator through the CLI', async () => {
    const out: string[] = [];
    const io = {
      env: { WECHATPAY_SIM_URL: sim.url },
      out: (t: string) => out.push(t),
      err: (t: string) => out.push(t),
    };
    const outTradeNo = orderNo();
    expect(await runCli(['create', outTradeNo, '700'], io)).toBe(0);
    expect(await runCli(['pay', outTradeNo, '700', '--v3', '--notify-url', receiver.url, '--wait', 'all'], io)).toBe(0);
    expect(JSON.parse(out.at(-1) ?? '{}')).toMatchObject({ order: { state: 'SUCCESS' }, delivery: { accepted: true } });
    expect(
      await runCli(
        ['refund', outTradeNo, `R${outTradeNo}`, '100', '--status', 'ABNORMAL', '--notify-url', receiver.url],
        io,
      ),
    ).toBe(0);
    expect(await runCli(['replay', '--times', '3'], io)).toBe(0);
    expect((JSON.parse(out.at(-1) ?? '{}') as { results: unknown[] }).results).toHaveLength(3);
    expect(await runCli(['orders'], io)).toBe(0);
    expect(await runCli(['pay', outTradeNo, '1.5'], io)).toBe(2); // yuan typed by mistake
    expect(await runCli(['pay', outTradeNo, '999'], io)).toBe(1); // amount mismatch, refused by the simulator
    expect(await runCli(['orders'], { ...io, env: {} })).toBe(2);
  });
});
