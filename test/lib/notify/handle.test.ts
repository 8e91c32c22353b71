/**
 * The notification pipeline, beyond the function tests: refunds recorded before their order's payment
 * that add up to more than it (flagged when the payment lands), and an APIv3 notification reaching a
 * deployment without an APIv3 key (a CONFIG failure WeChat retries, nothing written). DynamoDB Local.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handleNotification } from '../../../lib/notify/handle';
import type { RefundReport } from '../../../lib/orders/model';
import { v3Notification, v3TransactionResource, type WireRequest } from '../../../scripts/simulator/messages';
import { createHarness, orderNo, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const request = (wire: WireRequest) => ({
  route: '/notify/payment',
  headers: wire.headers,
  body: Buffer.from(wire.body, 'utf8'),
});
const payment = (no: string, total: number) =>
  v3Notification(h.keys, {
    eventType: 'TRANSACTION.SUCCESS',
    originalType: 'transaction',
    resource: v3TransactionResource(h.keys, { outTradeNo: no, total }),
  });
const refund = (no: string, rn: string, fen: number): RefundReport => ({
  outRefundNo: rn,
  outTradeNo: no,
  merchantId: h.keys.mchid,
  refundId: `50${rn}`,
  transactionId: undefined,
  state: 'SUCCESS',
  refundFen: fen,
  totalFen: 1000,
  successAt: '2026-11-23T03:00:00.000Z',
  channel: 'v3',
});

describe('refunds recorded before the payment', () => {
  it('a payment landing on refunds that exceed it is applied, acknowledged, and flagged REFUND_EXCEEDS_TOTAL', async () => {
    const no = orderNo('H');
    await h.store.applyRefund(refund(no, `${no}A`, 80));
    await h.store.applyRefund(refund(no, `${no}B`, 50));
    await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid });
    h.logs.length = 0;
    const reply = await handleNotification(request(payment(no, 100)), h.deps());
    expect(reply.statusCode).toBe(204);
    expect(await h.store.getOrder(h.keys.mchid, no)).toMatchObject({ state: 'PAID', refundedFen: 130 });
    expect(h.logs.find((l) => l.message === 'anomaly')).toMatchObject({ kind: 'REFUND_EXCEEDS_TOTAL', outTradeNo: no });
    expect(h.logs.find((l) => l.message === 'delivery')).toMatchObject({
      outcome: 'APPLIED',
      anomaly: 'REFUND_EXCEEDS_TOTAL',
    });
  });

  it('refunds within the amount raise nothing', async () => {
    const no = orderNo('H');
    await h.store.applyRefund(refund(no, `${no}A`, 100));
    await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid });
    h.logs.length = 0;
    expect((await handleNotification(request(payment(no, 100)), h.deps())).statusCode).toBe(204);
    expect(h.logs.some((l) => l.message === 'anomaly')).toBe(false);
  });
});

describe('an APIv3 notification without an APIv3 key configured', () => {
  it('is refused with 500 and a generic reason after its signature verified; nothing is written', async () => {
    const no = orderNo('H');
    await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid });
    h.logs.length = 0;
    const reply = await handleNotification(
      request(payment(no, 100)),
      h.deps({ config: { ...h.config, apiV3Key: undefined } }),
    );
    expect(reply.statusCode).toBe(500);
    expect(JSON.parse(reply.body)).toEqual({ code: 'FAIL', message: 'service not configured' });
    expect(h.logs.find((l) => l.message === 'delivery')).toMatchObject({
      level: 'error',
      outcome: 'CONFIG',
      reason: 'WECHATPAY_APIV3_KEY is not set',
    });
    expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('NOTPAY');
  });
});
