/** The closeOrder event: both key styles, validation, and that nothing but a clean request gets through. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PayError } from '../../../lib/errors';
import { readCloseRequest } from '../../../lib/close/request';
import { chooseProtocol, secondsToWait } from '../../../lib/close/closeOrder';
import { loadConfig } from '../../../lib/config';
import type { Order } from '../../../lib/orders/model';
import { generateTestKeys, toEnv } from '../../../scripts/simulator/keys';

const refused = (event: unknown): string => {
  try {
    readCloseRequest(event);
  } catch (err) {
    expect(err).toBeInstanceOf(PayError);
    expect((err as PayError).kind).toBe('MALFORMED');
    return (err as PayError).reason;
  }
  throw new Error(`accepted ${JSON.stringify(event)}`);
};

describe('readCloseRequest', () => {
  it('reads the camelCase shape', () => {
    expect(readCloseRequest({ outTradeNo: 'A-1_b|c*d@e' })).toEqual({ outTradeNo: 'A-1_b|c*d@e' });
    expect(readCloseRequest({ outTradeNo: 'N1', subMchId: '1900000109', subAppId: 'wx1234', protocol: 'v2' })).toEqual({
      outTradeNo: 'N1',
      subMchId: '1900000109',
      subAppId: 'wx1234',
      protocol: 'v2',
    });
  });

  it('reads the cloud-function snake_case shape; nonce_str is checked, then left to the client', () => {
    expect(
      readCloseRequest({ out_trade_no: 'N2', sub_mch_id: '1230000109', sub_appid: 'wx5678', nonce_str: 'abcDEF123' }),
    ).toEqual({
      outTradeNo: 'N2',
      subMchId: '1230000109',
      subAppId: 'wx5678',
    });
    expect(readCloseRequest({ out_trade_no: 'N3', sub_mch_id: '', nonce_str: 'x' })).toEqual({ outTradeNo: 'N3' });
  });

  it('accepts both spellings when they agree, and a double-encoded JSON event', () => {
    expect(readCloseRequest({ outTradeNo: 'N4', out_trade_no: 'N4', subMchid: '12', sub_mch_id: '12' })).toEqual({
      outTradeNo: 'N4',
      subMchId: '12',
    });
    expect(readCloseRequest(JSON.stringify({ out_trade_no: 'N5' }))).toEqual({ outTradeNo: 'N5' });
  });

  it.each([
    [undefined, 'event must be an object'],
    [null, 'event must be an object'],
    [[{ outTradeNo: 'N' }], 'event must be an object'],
    ['not json', 'event is not a JSON object'],
    [{}, 'out_trade_no is required'],
    [{ outTradeNo: '' }, 'out_trade_no is required'],
    [{ outTradeNo: 'x'.repeat(33) }, 'out_trade_no must be 1-32 characters of 0-9 A-Z a-z _ - | * @'],
    [{ outTradeNo: 'a b' }, 'out_trade_no must be 1-32 characters of 0-9 A-Z a-z _ - | * @'],
    [{ outTradeNo: 'a/../b' }, 'out_trade_no must be 1-32 characters of 0-9 A-Z a-z _ - | * @'],
    [{ outTradeNo: 12345 }, 'out_trade_no must be a string'],
    [{ outTradeNo: 'N', out_trade_no: 'M' }, 'out_trade_no is given twice with different values'],
    [{ outTradeNo: 'N', subMchId: '12a' }, 'sub_mch_id must be digits'],
    [{ outTradeNo: 'N', subMchId: 1900000109 }, 'sub_mch_id must be a string'],
    [{ outTradeNo: 'N', subAppId: 'wx1' }, 'sub_appid needs sub_mch_id'],
    [{ outTradeNo: 'N', subMchId: '1', subAppId: 'wx-1' }, 'sub_appid is malformed'],
    [{ out_trade_no: 'N', nonce_str: 'has space' }, 'nonce_str must be 1-32 letters or digits'],
    [{ outTradeNo: 'N', protocol: 'v4' }, 'protocol must be v2 or v3'],
    ['x'.repeat(5000), 'event is too large'],
  ])('refuses %j: %s', (event, reason) => {
    expect(refused(event)).toBe(reason);
  });

  it('property: any accepted request holds only valid ids, and every valid id is accepted in either style', () => {
    const no = fc.stringMatching(/^[0-9A-Za-z_\-|*@]{1,32}$/);
    const sub = fc.option(fc.stringMatching(/^[0-9]{1,32}$/), { nil: undefined });
    fc.assert(
      fc.property(no, sub, fc.boolean(), (outTradeNo, subMchId, snake) => {
        const event = snake ? { out_trade_no: outTradeNo, sub_mch_id: subMchId } : { outTradeNo, subMchId };
        expect(readCloseRequest(event)).toEqual(subMchId === undefined ? { outTradeNo } : { outTradeNo, subMchId });
      }),
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }),
        (event) => {
          let request;
          try {
            request = readCloseRequest(event);
          } catch (err) {
            expect(err).toBeInstanceOf(PayError);
            return;
          }
          expect(request.outTradeNo).toMatch(/^[0-9A-Za-z_\-|*@]{1,32}$/);
          if (request.subMchId !== undefined) expect(request.subMchId).toMatch(/^\d{1,32}$/);
          expect(
            Object.keys(request).every((k) => ['outTradeNo', 'subMchId', 'subAppId', 'protocol'].includes(k)),
          ).toBe(true);
        },
      ),
    );
  });
});

describe('chooseProtocol', () => {
  const keys = generateTestKeys();
  const full = loadConfig({ ...toEnv(keys), PAYMENTS_TABLE: 't' });
  const v2Only = { ...full, merchant: undefined };
  const v3Only = { ...full, apiV2Key: undefined };

  it('prefers APIv3 when the merchant key and a WeChat key are configured, else APIv2', () => {
    expect(chooseProtocol(full, undefined)).toBe('v3');
    expect(chooseProtocol(v2Only, undefined)).toBe('v2');
    expect(chooseProtocol({ ...full, keyRing: { ...full.keyRing, serials: () => [] } }, undefined)).toBe('v2');
  });

  it('does what the request asks, or says which variable is missing', () => {
    expect(chooseProtocol(full, 'v2')).toBe('v2');
    expect(chooseProtocol(v3Only, 'v3')).toBe('v3');
    expect(() => chooseProtocol(v2Only, 'v3')).toThrow(/WECHATPAY_MERCHANT_PRIVATE_KEY/);
    expect(() => chooseProtocol(v3Only, 'v2')).toThrow(/WECHATPAY_APIV2_KEY/);
    expect(() => chooseProtocol({ ...v2Only, apiV2Key: undefined }, undefined)).toThrow(/WECHATPAY_APIV2_KEY/);
  });
});

describe('secondsToWait', () => {
  const order = (createdAt?: string): Order => ({
    outTradeNo: 'N',
    merchantId: '1',
    state: 'NOTPAY',
    amountFen: 1,
    amountUnverified: false,
    ...(createdAt ? { createdAt } : {}),
  });
  const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);

  it('counts five minutes from the registration time, rounding up', () => {
    const created = new Date(t0).toISOString();
    expect(secondsToWait(order(created), t0)).toBe(300);
    expect(secondsToWait(order(created), t0 + 100_000)).toBe(200);
    expect(secondsToWait(order(created), t0 + 299_001)).toBe(1);
    expect(secondsToWait(order(created), t0 + 300_000)).toBe(0);
    expect(secondsToWait(order(created), t0 + 3_600_000)).toBe(0);
  });

  it('does not hold back an order whose creation time is unknown', () => {
    expect(secondsToWait(order(), t0)).toBe(0);
    expect(secondsToWait(order('not a date'), t0)).toBe(0);
  });
});
