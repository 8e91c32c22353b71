/**
 * The XML gate reads markup, not text: a merchant's `attach` that says `<constructor>`, `<__proto__>`,
 * `<!DOCTYPE x>` or `<!ENTITY y "z">` is data. Such a v2 notification verifies and is applied through
 * the notification pipeline against DynamoDB Local, and the order query answer for such an order
 * (from the simulator) is read as the payment it is. Real declarations in markup are still refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config';
import { handleNotification } from '../../../lib/notify/handle';
import { queryOrder } from '../../../lib/notify/query';
import { settlePayment } from '../../../lib/settle/settle';
import { createWechatPayClient } from '../../../lib/wechatpay/client';
import { v2PaymentNotification, type WireRequest } from '../../../scripts/simulator/messages';
import { startSimulator, type Simulator } from '../../../scripts/simulator/server';
import { createHarness, orderNo, type Harness } from '../../support/harness';

const TEXTS = ['<constructor>', '<__proto__>', '<!DOCTYPE x>', '<!ENTITY y "z">'];

let h: Harness;
let sim: Simulator;
beforeAll(async () => {
  h = await createHarness();
  sim = await startSimulator({ keys: h.keys, port: 0 });
});
afterAll(async () => {
  await sim.close();
});

const request = (wire: WireRequest) => ({
  route: '/notify/payment',
  headers: wire.headers,
  body: Buffer.from(wire.body, 'utf8'),
});

describe('a v2 attach holding markup-like text', () => {
  it.each(TEXTS)('%s as CDATA text: verified, applied once, acknowledged', async (attach) => {
    const no = orderNo('X');
    await h.store.registerOrder({ outTradeNo: no, amountFen: 700, merchantId: h.keys.mchid });
    const wire = v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 700, extra: { attach } });
    expect(wire.body).toContain(`<attach><![CDATA[${attach}]]></attach>`);
    const reply = await handleNotification(request(wire), h.deps());
    expect(reply.body).toContain('<return_code><![CDATA[SUCCESS]]></return_code>');
    expect(await h.store.getOrder(h.keys.mchid, no)).toMatchObject({ state: 'PAID', paidFen: 700 });
    const again = await handleNotification(request(wire), h.deps());
    expect(again.body).toContain('<return_code><![CDATA[SUCCESS]]></return_code>');
    expect(h.logs.filter((l) => l.message === 'delivery' && l.outTradeNo === no).map((l) => l.outcome)).toEqual([
      'APPLIED',
      'ALREADY_APPLIED',
    ]);
  });

  it('the same text as a real declaration in markup is still refused, and nothing changes', async () => {
    const no = orderNo('X');
    await h.store.registerOrder({ outTradeNo: no, amountFen: 700, merchantId: h.keys.mchid });
    const wire = v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 700 });
    const reply = await handleNotification(request({ ...wire, body: `<!DOCTYPE x>${wire.body}` }), h.deps());
    expect(reply.body).toContain('<return_code><![CDATA[FAIL]]></return_code>');
    expect(await h.store.getOrder(h.keys.mchid, no)).toMatchObject({ state: 'NOTPAY' });
  });

  it.each(TEXTS)('the order query answer for an order whose attach is %s is read and settled', async (attach) => {
    const config = loadConfig({ ...h.env, WECHATPAY_API_BASE_URL: sim.url });
    const client = createWechatPayClient({ config });
    const no = orderNo('Q');
    sim.control.createOrder({ outTradeNo: no, amount: 900, attach });
    const paid = sim.state.pay(h.keys.mchid, no);
    await h.store.registerOrder({ outTradeNo: no, amountFen: 900, merchantId: h.keys.mchid });
    const answer = await queryOrder({ merchantId: h.keys.mchid, outTradeNo: no }, 'v2', { config, client });
    expect(answer.report).toMatchObject({ outTradeNo: no, amountFen: 900, transactionId: paid.transactionId });
    const settled = await settlePayment(answer.report!, 'reconcile', { ...h.deps(), config });
    expect(settled).toMatchObject({ status: 'PAID', recorded: true });
  });
});
