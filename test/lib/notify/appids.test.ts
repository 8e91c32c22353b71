/**
 * Several appids (an official account, a mini program and an app under one merchant id): a message
 * carrying any configured appid is accepted on every path (v2 and v3 payments, v2 refunds, order
 * query answers), and one carrying another appid changes nothing and gets the protocol's failure.
 * Through the notification pipeline against DynamoDB Local, 200 concurrent duplicates included.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handleNotification } from '../../../lib/notify/handle';
import { readV2 } from '../../../lib/notify/query';
import {
  v2PaymentNotification,
  v2RefundNotification,
  v3Notification,
  v3TransactionResource,
  type WireRequest,
} from '../../../scripts/simulator/messages';
import { createHarness, orderNo, type Harness } from '../../support/harness';

const SECOND = 'wx00000000000000a2';
const THIRD = 'wx00000000000000a3';
const FOREIGN = 'wx00000000000000ff';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ env: { WECHATPAY_APPIDS: `${SECOND}, ${THIRD}` } });
});

const request = (wire: WireRequest) => ({ route: '/notify', headers: wire.headers, body: Buffer.from(wire.body) });
const v2Ok = (body: string) => body.includes('<return_code><![CDATA[SUCCESS]]></return_code>');
const deliveries = (no: string) =>
  h.logs.filter((l) => l.message === 'delivery' && l.outTradeNo === no).map((l) => l.outcome);

async function registered(fen: number): Promise<string> {
  const no = orderNo('A');
  await h.store.registerOrder({ outTradeNo: no, amountFen: fen, merchantId: h.keys.mchid });
  return no;
}

describe('WECHATPAY_APPIDS', () => {
  it('the configuration holds WECHATPAY_APPID first, then the list', () => {
    expect(h.config.appids).toEqual([h.keys.appid, SECOND, THIRD]);
    expect(h.config.appid).toBe(h.keys.appid);
  });

  it('a v2 payment through the second appid: 200 concurrent duplicates, applied exactly once', async () => {
    const no = await registered(1200);
    const wire = v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 1200, extra: { appid: SECOND } });
    const replies = await Promise.all(Array.from({ length: 200 }, () => handleNotification(request(wire), h.deps())));
    expect(replies.every((r) => v2Ok(r.body))).toBe(true);
    const outcomes = deliveries(no);
    expect(outcomes.filter((o) => o === 'APPLIED')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'ALREADY_APPLIED')).toHaveLength(199);
    expect(await h.store.getOrder(h.keys.mchid, no)).toMatchObject({ state: 'PAID', paidVia: 'v2' });
  }, 120_000); // 200 concurrent deliveries against DynamoDB Local: slow on a busy two-core machine

  it('a v2 payment through an appid not configured is refused and changes nothing', async () => {
    const no = await registered(1200);
    const wire = v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 1200, extra: { appid: FOREIGN } });
    const reply = await handleNotification(request(wire), h.deps());
    expect(v2Ok(reply.body)).toBe(false);
    expect(await h.store.getOrder(h.keys.mchid, no)).toMatchObject({ state: 'NOTPAY' });
  });

  it('a v3 payment through the second appid: 200 concurrent duplicates, applied exactly once', async () => {
    const no = await registered(1300);
    const wire = v3Notification(h.keys, {
      eventType: 'TRANSACTION.SUCCESS',
      originalType: 'transaction',
      resource: v3TransactionResource(h.keys, { outTradeNo: no, total: 1300, extra: { appid: SECOND } }),
    });
    const replies = await Promise.all(Array.from({ length: 200 }, () => handleNotification(request(wire), h.deps())));
    expect(replies.map((r) => r.statusCode)).toEqual(Array(200).fill(204));
    const outcomes = deliveries(no);
    expect(outcomes.filter((o) => o === 'APPLIED')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'ALREADY_APPLIED')).toHaveLength(199);
    expect(await h.store.getOrder(h.keys.mchid, no)).toMatchObject({ state: 'PAID', paidVia: 'v3' });
  }, 120_000); // 200 concurrent deliveries against DynamoDB Local: slow on a busy two-core machine

  it.each([
    [THIRD, 204, 'PAID'],
    [FOREIGN, 400, 'NOTPAY'],
  ] as const)('a v3 payment through appid %s: %i, order %s', async (appid, status, state) => {
    const no = await registered(800);
    const wire = v3Notification(h.keys, {
      eventType: 'TRANSACTION.SUCCESS',
      originalType: 'transaction',
      resource: v3TransactionResource(h.keys, { outTradeNo: no, total: 800, extra: { appid } }),
    });
    expect((await handleNotification(request(wire), h.deps())).statusCode).toBe(status);
    expect(await h.store.getOrder(h.keys.mchid, no)).toMatchObject({ state });
  });

  it.each([
    [SECOND, true],
    [FOREIGN, false],
  ] as const)('a v2 refund through appid %s is acknowledged: %s', async (appid, ok) => {
    const no = await registered(500);
    const wire = v2RefundNotification(h.keys, {
      outTradeNo: no,
      outRefundNo: `${no}R`,
      totalFee: 500,
      refundFee: 200,
      refundStatus: 'SUCCESS',
    });
    const body = wire.body.replace(`<appid><![CDATA[${h.keys.appid}]]></appid>`, `<appid><![CDATA[${appid}]]></appid>`);
    expect(body).toContain(appid);
    const reply = await handleNotification(request({ ...wire, body }), h.deps());
    expect(v2Ok(reply.body)).toBe(ok);
    expect((await h.store.getOrder(h.keys.mchid, no))?.refundedFen ?? 0).toBe(ok ? 200 : 0);
  });

  it('an order query answer naming any configured appid is read; another appid is refused', () => {
    const tx = (appid: string) => ({
      outTradeNo: 'ORDER1',
      tradeState: 'NOTPAY' as const,
      tradeStateDesc: undefined,
      transactionId: undefined,
      totalFen: undefined,
      paidAt: undefined,
      subMchId: undefined,
      fields: { mch_id: h.keys.mchid, appid },
    });
    const ref = { merchantId: h.keys.mchid, outTradeNo: 'ORDER1' };
    expect(readV2(tx(THIRD), ref, h.config).tradeState).toBe('NOTPAY');
    expect(() => readV2(tx(FOREIGN), ref, h.config)).toThrow('appid does not match');
  });
});
