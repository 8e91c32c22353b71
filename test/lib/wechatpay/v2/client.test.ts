/**
 * The APIv2 client against the local WeChat Pay simulator: our signed XML is accepted, its signed
 * replies are verified, every mapped err_code arrives as the typed error, and only transient
 * failures are retried. Retry counts come from a counting fetch, never from durations.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../../../lib/config';
import { PayError } from '../../../../lib/errors';
import { closeRefusal, WechatPayApiError } from '../../../../lib/wechatpay/apiError';
import type { FetchLike } from '../../../../lib/wechatpay/http';
import { type WechatPayClientOptions, createWechatPayClient } from '../../../../lib/wechatpay/client';
import { type TestKeys, generateTestKeys, toEnv } from '../../../../scripts/simulator/keys';
import { startSimulator, type Simulator } from '../../../../scripts/simulator/server';
import { thrownPayError as thrown } from '../../../support/errors';
import { readReply, readV2Transaction } from '../../../../lib/wechatpay/v2/client';
import { v2Sign, v2Xml } from '../../../../scripts/simulator/messages';

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

// The APIv2 reply reader and order-query reader on replies built by the independent sender's signer,
// plus the client's input checks (made before any request leaves). The simulator-driven flows are in
// the tests above; these are the reply shapes the simulator never sends.
describe('replies the simulator never sends (built by the independent signer)', () => {
  const keys = generateTestKeys();
  const KEY = keys.apiV2Key;

  const apiErr = (fn: () => unknown) => {
    const e = thrown(fn);
    expect(e).toBeInstanceOf(WechatPayApiError);
    return e as WechatPayApiError;
  };

  /** A reply as WeChat signs it (HMAC-SHA256 unless told). */
  function signed(fields: Record<string, string>, signType: 'MD5' | 'HMAC-SHA256' = 'HMAC-SHA256'): string {
    const all = {
      return_code: 'SUCCESS',
      return_msg: 'OK',
      appid: keys.appid,
      mch_id: keys.mchid,
      nonce_str: 'n0nce',
      sign_type: signType,
      ...fields,
    };
    return v2Xml({ ...all, sign: v2Sign(all, KEY, signType) });
  }

  describe('readReply', () => {
    it('returns the verified fields of a SUCCESS reply', () => {
      const f = readReply(200, signed({ result_code: 'SUCCESS', out_trade_no: 'T1' }), KEY);
      expect(f).toMatchObject({ result_code: 'SUCCESS', out_trade_no: 'T1', mch_id: keys.mchid });
    });

    it('accepts an MD5-signed reply', () => {
      expect(readReply(200, signed({ result_code: 'SUCCESS' }, 'MD5'), KEY).result_code).toBe('SUCCESS');
    });

    it('never reads a non-200 body: HTTP_ERROR, retried only when the status is transient', () => {
      const busy = apiErr(() => readReply(503, signed({ result_code: 'SUCCESS' }), KEY));
      expect(busy).toMatchObject({ code: 'HTTP_ERROR', status: 503, retryable: true });
      expect(apiErr(() => readReply(404, '<html/>', KEY))).toMatchObject({ code: 'HTTP_ERROR', retryable: false });
    });

    it('refuses an answer that is not WeChat XML as MALFORMED_RESPONSE, not retried', () => {
      for (const text of ['<html><body>gateway</body></html>', '{"return_code":"SUCCESS"}', '']) {
        const e = apiErr(() => readReply(200, text, KEY));
        expect(e).toMatchObject({ code: 'MALFORMED_RESPONSE', retryable: false, status: 200 });
        expect(e.cause).toBeInstanceOf(PayError);
      }
    });

    it('turns return_code FAIL into RETURN_FAIL with WeChat text, or a default when it sent none', () => {
      expect(apiErr(() => readReply(200, v2Xml({ return_code: 'FAIL', return_msg: '签名错误' }), KEY))).toMatchObject({
        code: 'RETURN_FAIL',
        message: '签名错误',
        retryable: false,
      });
      expect(apiErr(() => readReply(200, v2Xml({ return_code: 'FAIL' }), KEY)).message).toBe('return_code FAIL');
      expect(apiErr(() => readReply(200, v2Xml({ return_code: 'FAIL', return_msg: '' }), KEY)).message).toBe(
        'return_code FAIL',
      );
    });

    it('is UNAUTHENTIC_RESPONSE for a reply without sign, with a wrong one, or signed with another key', () => {
      const unsigned = v2Xml({ return_code: 'SUCCESS', result_code: 'SUCCESS', out_trade_no: 'T1' });
      const missing = apiErr(() => readReply(200, unsigned, KEY));
      expect(missing).toMatchObject({ code: 'UNAUTHENTIC_RESPONSE', kind: 'UNAUTHENTIC', retryable: false });
      expect(missing.message).toContain('missing sign');
      const tampered = signed({ result_code: 'SUCCESS', total_fee: '1' }).replace(
        '<total_fee><![CDATA[1]]>',
        '<total_fee><![CDATA[100]]>',
      );
      expect(apiErr(() => readReply(200, tampered, KEY)).message).toContain('bad sign');
      expect(apiErr(() => readReply(200, signed({ result_code: 'SUCCESS' }), 'K'.repeat(32))).code).toBe(
        'UNAUTHENTIC_RESPONSE',
      );
    });

    it('does not believe a refusal code carried by a forged reply', () => {
      const forged = v2Xml({
        return_code: 'SUCCESS',
        result_code: 'FAIL',
        err_code: 'ORDERPAID',
        sign: 'F'.repeat(64),
      });
      expect(apiErr(() => readReply(200, forged, KEY)).code).toBe('UNAUTHENTIC_RESPONSE');
    });

    it('maps a signed result_code FAIL to WeChat err_code and err_code_des', () => {
      expect(
        apiErr(() =>
          readReply(200, signed({ result_code: 'FAIL', err_code: 'ORDERPAID', err_code_des: '订单已支付' }), KEY),
        ),
      ).toMatchObject({
        code: 'ORDERPAID',
        message: '订单已支付',
        retryable: false,
      });
      expect(
        apiErr(() =>
          readReply(200, signed({ result_code: 'FAIL', err_code: 'SYSTEMERROR', err_code_des: 'busy' }), KEY),
        ).retryable,
      ).toBe(true);
    });

    it('falls back to result_msg, then to the code, and to FAIL when WeChat names no err_code', () => {
      expect(
        apiErr(() =>
          readReply(200, signed({ result_code: 'FAIL', err_code: 'ORDERCLOSED', result_msg: 'closed' }), KEY),
        ).message,
      ).toBe('closed');
      expect(apiErr(() => readReply(200, signed({ result_code: 'FAIL', err_code: 'ORDERCLOSED' }), KEY)).message).toBe(
        'ORDERCLOSED',
      );
      expect(apiErr(() => readReply(200, signed({ result_code: 'FAIL' }), KEY))).toMatchObject({
        code: 'FAIL',
        message: 'FAIL',
        retryable: false,
      });
      // a reply with no result_code at all is not a success either
      expect(apiErr(() => readReply(200, signed({}), KEY)).code).toBe('FAIL');
    });
  });

  describe('readV2Transaction', () => {
    const paid = {
      out_trade_no: 'T2026112300001',
      trade_state: 'SUCCESS',
      trade_state_desc: '支付成功',
      transaction_id: '4200000001202611230000000001',
      total_fee: '1999',
      time_end: '20261123100000',
    };

    it('reads a paid order: fen, Beijing time_end as an instant, every verified field kept', () => {
      const tx = readV2Transaction({ ...paid, bank_type: 'OTHERS' });
      expect(tx).toMatchObject({
        outTradeNo: 'T2026112300001',
        tradeState: 'SUCCESS',
        tradeStateDesc: '支付成功',
        transactionId: '4200000001202611230000000001',
        totalFen: 1999,
        paidAt: '2026-11-23T02:00:00.000Z',
        subMchId: undefined,
      });
      expect(tx.fields.bank_type).toBe('OTHERS');
    });

    it('reads an unpaid order whose payment fields are absent or empty as undefined', () => {
      const tx = readV2Transaction({
        out_trade_no: 'T1',
        trade_state: 'NOTPAY',
        transaction_id: '',
        total_fee: '',
        time_end: '',
        sub_mch_id: '1900000109',
      });
      expect(tx).toMatchObject({
        tradeState: 'NOTPAY',
        transactionId: undefined,
        totalFen: undefined,
        paidAt: undefined,
        tradeStateDesc: undefined,
        subMchId: '1900000109',
      });
    });

    it('refuses a missing or malformed out_trade_no', () => {
      expect(thrown(() => readV2Transaction({ ...paid, out_trade_no: '' })).reason).toBe(
        'orderquery out_trade_no missing or malformed',
      );
      const { out_trade_no: _drop, ...rest } = paid;
      expect(thrown(() => readV2Transaction(rest)).reason).toBe('orderquery out_trade_no missing or malformed');
    });

    it('refuses a missing or unknown trade_state', () => {
      const { trade_state: _drop, ...rest } = paid;
      expect(thrown(() => readV2Transaction(rest)).reason).toBe('orderquery trade_state unknown');
      expect(thrown(() => readV2Transaction({ ...paid, trade_state: 'PAID' })).kind).toBe('MALFORMED');
    });

    it('refuses a total_fee in yuan and a time_end that is not a Beijing time', () => {
      expect(thrown(() => readV2Transaction({ ...paid, total_fee: '19.99' })).reason).toBe(
        'total_fee is not an integer amount in fen',
      );
      expect(thrown(() => readV2Transaction({ ...paid, time_end: '2026-11-23T10:00:00+08:00' })).reason).toBe(
        'time_end is not a Beijing time',
      );
    });
  });

  describe('the v2 client before any request', () => {
    const config = loadConfig({ ...toEnv(keys), PAYMENTS_TABLE: 't', WECHATPAY_API_BASE_URL: 'http://127.0.0.1:9' });
    function client(reply?: string) {
      const calls: string[] = [];
      const fetch: FetchLike = async (url) => {
        calls.push(url);
        return new Response(reply ?? '', { status: 200 });
      };
      return { calls, v2: createWechatPayClient({ config, fetch, sleep: async () => {} }).v2 };
    }

    it('refuses an out_trade_no WeChat would refuse, sending nothing', async () => {
      const c = client();
      for (const outTradeNo of ['', 'T 1', 'x'.repeat(33)]) {
        const e = await c.v2.closeOrderV2({ outTradeNo }).catch((err: unknown) => err);
        expect(e).toBeInstanceOf(PayError);
        expect((e as PayError).kind).toBe('MALFORMED');
        expect((e as PayError).reason).toBe('outTradeNo is not a WeChat out_trade_no');
      }
      expect(c.calls).toEqual([]);
    });

    it('refuses a sub-merchant id that is not digits, sending nothing', async () => {
      const c = client();
      const e = (await c.v2
        .queryOrderV2({ outTradeNo: 'T1', subMchId: '19000-109' })
        .catch((err: unknown) => err)) as PayError;
      expect(e.reason).toBe('subMchId must be digits');
      expect(c.calls).toEqual([]);
    });

    it('turns an authentic query reply it cannot read into MALFORMED_RESPONSE, not retried', async () => {
      const c = client(signed({ result_code: 'SUCCESS', out_trade_no: 'T1', trade_state: 'SOMETHING_NEW' }));
      const e = (await c.v2.queryOrderV2({ outTradeNo: 'T1' }).catch((err: unknown) => err)) as WechatPayApiError;
      expect(e).toBeInstanceOf(WechatPayApiError);
      expect(e).toMatchObject({ code: 'MALFORMED_RESPONSE', retryable: false });
      expect(e.message).toBe('unreadable answer: orderquery trade_state unknown');
      expect(c.calls).toHaveLength(1);
    });
  });
});
