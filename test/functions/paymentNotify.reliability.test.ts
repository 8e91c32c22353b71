/**
 * Exactly once under WeChat's concurrent retries, durable before success under store faults, and the
 * cost of a delivery in DynamoDB requests, all against the real local DynamoDB.
 */
import { GetItemCommand, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { notifyHandler } from '../../lib/notify/lambda';
import { orderKey } from '../../lib/orders/table';
import {
  v2PaymentNotification,
  v3Notification,
  v3TransactionResource,
  type WireRequest,
} from '../../scripts/simulator/messages';
import { createHarness, orderNo, toEvent, type Harness } from '../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const deliver = async (wire: WireRequest, deps = h.deps()) =>
  (await notifyHandler('/notify/payment', () => deps)(toEvent(wire))) as { statusCode: number; body: string };

const isSuccess = (r: { statusCode: number; body: string }) =>
  r.statusCode === 204 || (r.statusCode === 200 && r.body.includes('SUCCESS'));

const wireFor = {
  v2: (no: string, fen: number) => v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: fen }),
  v3: (no: string, fen: number) =>
    v3Notification(h.keys, {
      eventType: 'TRANSACTION.SUCCESS',
      originalType: 'transaction',
      resource: v3TransactionResource(h.keys, { outTradeNo: no, total: fen }),
    }),
};

describe.each(['v2', 'v3'] as const)('%s: 200 concurrent deliveries of one notification', (protocol) => {
  it('apply exactly once, and every delivery is answered with success', async () => {
    const no = orderNo();
    await h.store.registerOrder({ outTradeNo: no, amountFen: 4321, merchantId: h.keys.mchid });
    const wire = wireFor[protocol](no, 4321);
    h.logs.length = 0;
    const replies = await Promise.all(Array.from({ length: 200 }, () => deliver(wire)));
    expect(
      replies.filter((r) => !isSuccess(r)).slice(0, 3),
      JSON.stringify(h.logs.filter((l) => l.outcome !== 'ALREADY_APPLIED').slice(0, 3)),
    ).toEqual([]);
    const outcomes = h.logs.filter((l) => l.message === 'delivery' && l.outTradeNo === no).map((l) => l.outcome);
    expect(outcomes).toHaveLength(200);
    expect(outcomes.filter((o) => o === 'APPLIED')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'ALREADY_APPLIED')).toHaveLength(199);
    const item = await h.client.send(
      new GetItemCommand({
        TableName: h.tableName,
        Key: { pk: { S: orderKey(h.keys.mchid, no) } },
        ConsistentRead: true,
      }),
    );
    expect(item.Item?.state?.S).toBe('PAID');
    expect(item.Item?.previousState?.S).toBe('NOTPAY');
  });
});

describe('store faults', () => {
  it.each([
    ['throttling', () => new ProvisionedThroughputExceededException({ message: 'throttled', $metadata: {} })],
    ['a timeout', () => Object.assign(new Error('socket timed out'), { name: 'TimeoutError' })],
  ])('%s answers failure, changes nothing, and the retry applies', async (_name, make) => {
    for (const protocol of ['v2', 'v3'] as const) {
      const no = orderNo();
      await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid });
      const store = h.faultyStore(1, make);
      const wire = wireFor[protocol](no, 100);
      const failed = await deliver(wire, h.deps({ store }));
      if (protocol === 'v3') {
        expect(failed.statusCode).toBe(500);
        expect(JSON.parse(failed.body)).toEqual({ code: 'FAIL', message: 'temporarily unavailable, retry later' });
      } else {
        expect(failed.body).toContain('<return_code><![CDATA[FAIL]]></return_code>');
      }
      expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('NOTPAY');
      expect(isSuccess(await deliver(wire, h.deps({ store })))).toBe(true);
      expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('PAID');
    }
  });
});

describe('DynamoDB requests per delivery', () => {
  it('first delivery 1, duplicate 1 (2 only where the store cannot return the old item)', async () => {
    for (const protocol of ['v2', 'v3'] as const) {
      const no = orderNo();
      await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid });
      const wire = wireFor[protocol](no, 100);
      h.requests.length = 0;
      await deliver(wire);
      expect(h.requests).toEqual(['UpdateItemCommand']);
      h.requests.length = 0;
      await deliver(wire);
      const duplicateCost =
        inject('dynamoEngine') === 'dynamodb-local' ? ['UpdateItemCommand'] : ['UpdateItemCommand', 'GetItemCommand'];
      expect(h.requests).toEqual(duplicateCost);
    }
  });
});
