/**
 * End to end over HTTP: the real serverless-offline stack (API Gateway emulation, esbuild bundle,
 * worker threads) in front of DynamoDB Local, driven with notifications signed by the simulator's keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderStore } from '../../lib/orders/store';
import type { TestKeys } from '../../scripts/simulator/keys';
import {
  v2PaymentNotification,
  v2RefundNotification,
  v3Notification,
  v3RefundResource,
  v3TransactionResource,
  type WireRequest,
} from '../../scripts/simulator/messages';
import { aggregatorNotification, aggregatorResult } from '../../scripts/simulator/aggregator';
import { startE2eStack, type E2eStack } from '../support/e2e';
import { orderNo } from '../support/harness';

const AGGREGATOR_SECRET = 'test-only-aggregator-secret';

let stack: E2eStack;
let keys: TestKeys;
let store: OrderStore;

beforeAll(async () => {
  stack = await startE2eStack({ env: { AGGREGATOR_SECRET }, simulator: { timeScale: 0.001 } });
  ({ keys, store } = stack);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function post(wire: WireRequest, path = '/notify/payment') {
  const res = await fetch(`${stack.httpUrl}${path}`, { method: 'POST', headers: wire.headers, body: wire.body });
  return { status: res.status, body: await res.text() };
}

describe('POST /notify/payment through serverless-offline', () => {
  it('APIv2: applies the payment and answers the SUCCESS XML; a forgery gets FAIL', async () => {
    const no = orderNo('E');
    await store.registerOrder({ outTradeNo: no, amountFen: 2600, merchantId: keys.mchid });
    const wire = v2PaymentNotification(keys, { outTradeNo: no, totalFee: 2600 });
    const r = await post(wire);
    expect(r.status, stack.output).toBe(200);
    expect(r.body, stack.output).toBe(
      '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>',
    );
    expect((await store.getOrder(keys.mchid, no))?.state).toBe('PAID');
    const forged = await post({ headers: wire.headers, body: wire.body.replace('2600', '1') });
    expect(forged.status).toBe(200);
    expect(forged.body).toContain('FAIL');
  });

  it('APIv3: answers 204 and applies once; a stale timestamp gets 401 JSON', async () => {
    const no = orderNo('E');
    await store.registerOrder({ outTradeNo: no, amountFen: 990, merchantId: keys.mchid });
    const wire = v3Notification(keys, {
      eventType: 'TRANSACTION.SUCCESS',
      originalType: 'transaction',
      resource: v3TransactionResource(keys, { outTradeNo: no, total: 990 }),
    });
    const replies = await Promise.all(Array.from({ length: 10 }, () => post(wire)));
    expect(
      replies.map((r) => r.status),
      JSON.stringify(replies.filter((r) => r.status !== 204).slice(0, 2)) + stack.output.slice(-2000),
    ).toEqual(Array(10).fill(204));
    const order = await store.getOrder(keys.mchid, no);
    expect(order?.state).toBe('PAID');
    const stale = v3Notification(keys, {
      eventType: 'TRANSACTION.SUCCESS',
      originalType: 'transaction',
      resource: v3TransactionResource(keys, { outTradeNo: orderNo(), total: 1 }),
      timestamp: Math.floor(Date.now() / 1000) - 3600,
    });
    const r = await post(stale);
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'FAIL' });
  }, 90_000); // ten concurrent requests start ten worker threads: slow on a busy two-core machine

  it('POST /notify/refund: APIv2 and APIv3 refunds are recorded and acknowledged', async () => {
    const no = orderNo('E');
    const v2 = v2RefundNotification(keys, {
      outTradeNo: no,
      outRefundNo: `${no}R2`,
      refundStatus: 'SUCCESS',
      refundFee: 10,
      totalFee: 100,
    });
    const r2 = await post(v2, '/notify/refund');
    expect(r2.status, stack.output).toBe(200);
    expect(r2.body).toContain('SUCCESS');
    const resource = v3RefundResource(keys, {
      outTradeNo: no,
      outRefundNo: `${no}R3`,
      refundStatus: 'CLOSED',
      refund: 20,
      total: 100,
    });
    const r3 = await post(
      v3Notification(keys, { eventType: 'REFUND.CLOSED', originalType: 'refund', resource }),
      '/notify/refund',
    );
    expect(r3.status).toBe(204);
    expect((await store.getRefund(keys.mchid, `${no}R2`))?.state).toBe('SUCCESS');
    expect((await store.getRefund(keys.mchid, `${no}R3`))?.state).toBe('CLOSED');
  });

  it('the simulator pays and refunds over both protocols, with its retries, and the table follows', async () => {
    const sim = stack.sim;
    for (const protocol of ['v2', 'v3'] as const) {
      const no = orderNo('S');
      await store.registerOrder({ outTradeNo: no, amountFen: 1234, merchantId: keys.mchid });
      const paid = await sim.control.pay({ outTradeNo: no, amount: 1234, protocol, wait: 'first' });
      expect(paid.delivery.accepted, JSON.stringify(paid.delivery)).toBe(true);
      expect(await store.getOrder(keys.mchid, no)).toMatchObject({
        state: 'PAID',
        transactionId: paid.order.transactionId,
      });
      const refunded = await sim.control.refund({
        outTradeNo: no,
        outRefundNo: `${no}RF`,
        amount: 234,
        protocol,
        wait: 'first',
      });
      expect(refunded.delivery.accepted).toBe(true);
      expect(await store.getRefund(keys.mchid, `${no}RF`)).toMatchObject({ state: 'SUCCESS', refundFen: 234 });
      expect((await store.getOrder(keys.mchid, no))?.refundedFen).toBe(234);
    }
  });

  it('POST /notify/coupon: a merchant coupon sent by the simulator is recorded', async () => {
    const sim = stack.sim;
    const code = orderNo('K').slice(0, 20);
    const { delivery } = await sim.control.sendCoupon({
      couponCode: code,
      stockId: '1212000099',
      notifyUrl: `${stack.httpUrl}/notify/coupon`,
    });
    expect(delivery.accepted, JSON.stringify(delivery)).toBe(true);
  });

  it('POST /notify/aggregator: answers exactly success once durable, fail for a forgery', async () => {
    const no = orderNo('G');
    await store.registerOrder({ outTradeNo: no, amountFen: 1990, merchantId: keys.mchid, channel: 'aggregator' });
    const result = aggregatorResult({ orderid: no, amount: '19.9000', real_amount: '19.90' });
    const ok = await post(aggregatorNotification({ secret: AGGREGATOR_SECRET, result }), '/notify/aggregator');
    expect(ok).toEqual({ status: 200, body: 'success' });
    expect((await store.getOrder(keys.mchid, no))?.paidVia).toBe('aggregator');
    const forged = await post(aggregatorNotification({ secret: 'wrong', result }), '/notify/aggregator');
    expect(forged.body).not.toBe('success');
  });

  it('never lets an error escape as a Lambda error (no 200 with errorMessage, no 502)', async () => {
    const r = await post({
      headers: { 'content-type': 'application/json', 'wechatpay-signature': 'x' },
      body: '\u0000\u0001',
    });
    expect(r.status).toBe(401);
    expect(r.body).not.toContain('errorMessage');
  });
});
