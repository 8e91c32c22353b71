/**
 * Coupon callbacks through the handler against real DynamoDB Local: COUPON.SEND (merchant coupon)
 * and COUPON.USE (cash coupon), one record per coupon and event, duplicates, forgeries.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { notifyHandler } from '../../lib/notify/lambda';
import { couponKey } from '../../lib/orders/table';
import { rfc3339Beijing, v3Notification, type WireRequest } from '../../scripts/simulator/messages';
import { createHarness, orderNo, toEvent, type Harness } from '../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

type Reply = { statusCode: number; body: string };
const deliver = async (wire: WireRequest) =>
  (await notifyHandler('/notify/coupon', () => h.deps())(toEvent(wire))) as Reply;

const sendResource = (code: string, stock = '1212000001') => ({
  event_type: 'EVENT_TYPE_BUSICOUPON_SEND',
  coupon_code: code,
  stock_id: stock,
  send_time: rfc3339Beijing(new Date('2026-11-23T02:00:00Z')),
  openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
  send_channel: 'BUSICOUPON_SEND_CHANNEL_MINIAPP',
  send_merchant: h.keys.mchid,
  attach_info: { transaction_id: '4200000000000000000000000001', act_code: 'A1' },
});

const useResource = (couponId: string) => ({
  stock_creator_mchid: h.keys.mchid,
  stock_id: '9856000',
  coupon_id: couponId,
  coupon_name: 'test',
  status: 'USED',
  create_time: '2026-11-20T13:29:35+08:00',
  coupon_type: 'NORMAL',
  no_cash: false,
  normal_coupon_information: { coupon_amount: 100, transaction_minimum: 500 },
  consume_information: {
    consume_time: '2026-11-23T13:29:35+08:00',
    consume_mchid: h.keys.mchid,
    transaction_id: '4200000000000000000000000002',
  },
});

async function item(pk: string) {
  return (
    await h.client.send(new GetItemCommand({ TableName: h.tableName, Key: { pk: { S: pk } }, ConsistentRead: true }))
  ).Item;
}

describe('COUPON.SEND', () => {
  it('records the coupon once and answers 204 to every delivery', async () => {
    const code = orderNo('C');
    const wire = v3Notification(h.keys, {
      eventType: 'COUPON.SEND',
      originalType: 'coupon',
      resource: sendResource(code),
    });
    expect((await deliver(wire)).statusCode).toBe(204);
    const first = await item(couponKey('1212000001', code, 'SENT'));
    expect(first).toMatchObject({
      state: { S: 'SENT' },
      couponCode: { S: code },
      at: { S: '2026-11-23T02:00:00.000Z' },
      transactionId: { S: '4200000000000000000000000001' },
    });
    expect((await deliver(wire)).statusCode).toBe(204);
    expect((await item(couponKey('1212000001', code, 'SENT')))?.recordedAt).toEqual(first?.recordedAt);
  });

  it('200 concurrent duplicates: one record, every reply 204', async () => {
    const code = orderNo('C');
    const wire = v3Notification(h.keys, {
      eventType: 'COUPON.SEND',
      originalType: 'coupon',
      resource: sendResource(code),
      signer: 'publicKey',
    });
    h.logs.length = 0;
    const replies = await Promise.all(Array.from({ length: 200 }, () => deliver(wire)));
    expect(replies.every((r) => r.statusCode === 204)).toBe(true);
    const outcomes = h.logs.filter((l) => l.message === 'delivery' && l.couponCode === code).map((l) => l.outcome);
    expect(outcomes.filter((o) => o === 'COUPON_SENT_RECORDED')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'COUPON_SENT_ALREADY_RECORDED')).toHaveLength(199);
  });

  it('rejects forged, stale, undecryptable and malformed coupon callbacks, recording nothing', async () => {
    const code = orderNo('C');
    const wire = v3Notification(h.keys, {
      eventType: 'COUPON.SEND',
      originalType: 'coupon',
      resource: sendResource(code),
    });
    const tampered = { headers: wire.headers, body: wire.body.replace('"COUPON.SEND"', '"COUPON.SEND" ') };
    expect((await deliver(tampered)).statusCode).toBe(401);
    const stale = v3Notification(h.keys, {
      eventType: 'COUPON.SEND',
      originalType: 'coupon',
      resource: sendResource(code),
      timestamp: Math.floor(Date.now() / 1000) - 600,
    });
    expect((await deliver(stale)).statusCode).toBe(401);
    const otherKey = v3Notification(
      { ...h.keys, apiV3Key: 'Q'.repeat(32) },
      { eventType: 'COUPON.SEND', originalType: 'coupon', resource: sendResource(code) },
    );
    expect((await deliver(otherKey)).statusCode).toBe(401);
    for (const bad of [
      { ...sendResource(code), coupon_code: '' },
      { ...sendResource(code), send_time: 'yesterday' },
      { ...sendResource(code), coupon_code: '../../x' },
      { ...sendResource(code), event_type: 'EVENT_TYPE_OTHER' },
    ]) {
      expect(
        (await deliver(v3Notification(h.keys, { eventType: 'COUPON.SEND', originalType: 'coupon', resource: bad })))
          .statusCode,
      ).toBe(400);
    }
    const probe = { headers: { ...wire.headers, 'Wechatpay-Signature': 'WECHATPAY/SIGNTEST/abc' }, body: wire.body };
    expect((await deliver(probe)).statusCode).toBe(401);
    expect(await item(couponKey('1212000001', code, 'SENT'))).toBeUndefined();
  });

  it('rejects a signed body with prototype keys in the resource', async () => {
    const code = orderNo('C');
    const wire = v3Notification(h.keys, {
      eventType: 'COUPON.SEND',
      originalType: 'coupon',
      resource: `{"coupon_code":"${code}","__proto__":{"x":1}}`,
    });
    expect((await deliver(wire)).statusCode).toBe(400);
  });
});

describe('COUPON.USE (cash coupon)', () => {
  it('records the use once, with amount and transaction', async () => {
    const id = orderNo('U');
    const wire = v3Notification(h.keys, { eventType: 'COUPON.USE', originalType: 'coupon', resource: useResource(id) });
    expect((await deliver(wire)).statusCode).toBe(204);
    expect((await deliver(wire)).statusCode).toBe(204);
    expect(await item(couponKey('9856000', id, 'USED'))).toMatchObject({
      state: { S: 'USED' },
      amountFen: { N: '100' },
      at: { S: '2026-11-23T05:29:35.000Z' },
    });
  });

  it('rejects a use without consume information', async () => {
    const resource: Record<string, unknown> = { ...useResource(orderNo('U')) };
    delete resource.consume_information;
    expect(
      (await deliver(v3Notification(h.keys, { eventType: 'COUPON.USE', originalType: 'coupon', resource }))).statusCode,
    ).toBe(400);
  });
});
