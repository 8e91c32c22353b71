/**
 * The APIv2 reply reader and order-query reader on replies built by the independent sender's signer,
 * plus the client's input checks (made before any request leaves). The simulator-driven flows are in
 * client.test.ts; these are the reply shapes the simulator never sends.
 */
import { thrownPayError as thrown } from '../../../support/errors';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../../lib/config';
import { PayError } from '../../../../lib/errors';
import { WechatPayApiError } from '../../../../lib/wechatpay/apiError';
import { type FetchLike } from '../../../../lib/wechatpay/http';
import { createWechatPayClient } from '../../../../lib/wechatpay/client';
import { readReply, readV2Transaction } from '../../../../lib/wechatpay/v2/client';
import { generateTestKeys, toEnv } from '../../../../scripts/simulator/keys';
import { v2Sign, v2Xml } from '../../../../scripts/simulator/messages';

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
    const forged = v2Xml({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'ORDERPAID', sign: 'F'.repeat(64) });
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
      apiErr(() => readReply(200, signed({ result_code: 'FAIL', err_code: 'SYSTEMERROR', err_code_des: 'busy' }), KEY))
        .retryable,
    ).toBe(true);
  });

  it('falls back to result_msg, then to the code, and to FAIL when WeChat names no err_code', () => {
    expect(
      apiErr(() => readReply(200, signed({ result_code: 'FAIL', err_code: 'ORDERCLOSED', result_msg: 'closed' }), KEY))
        .message,
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
