/**
 * Orders on the real store (DynamoDB Local): channels kept apart inside the payment's condition, and
 * a payment for an order never registered kept visibly unverified (PAID_UNVERIFIED) on every path
 * that meets it afterwards (a duplicate, another transaction, a close, a later registration).
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { orderKey } from '../../../../lib/orders/table';
import { createHarness, orderNo, type Harness } from '../../../support/harness';
import { paymentReport } from '../../../support/reports';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

async function raw(no: string) {
  const res = await h.client.send(
    new GetItemCommand({
      TableName: h.tableName,
      Key: { pk: { S: orderKey(h.keys.mchid, no) } },
      ConsistentRead: true,
    }),
  );
  return res.Item;
}

describe('channels', () => {
  it('registers for WeChat Pay by default and for the aggregator when asked', async () => {
    const w = orderNo('W');
    const a = orderNo('G');
    await h.store.registerOrder({ outTradeNo: w, amountFen: 500, merchantId: h.keys.mchid });
    await h.store.registerOrder({ outTradeNo: a, amountFen: 500, merchantId: h.keys.mchid, channel: 'aggregator' });
    expect((await h.store.getOrder(h.keys.mchid, w))?.channel).toBe('wechatpay');
    expect((await h.store.getOrder(h.keys.mchid, a))?.channel).toBe('aggregator');
  });

  it('refuses an unknown channel with a clear error and writes nothing', async () => {
    const no = orderNo('X');
    for (const channel of ['alipay', '', 'WECHATPAY', 'aggregator ']) {
      await expect(
        h.store.registerOrder({
          outTradeNo: no,
          amountFen: 500,
          merchantId: h.keys.mchid,
          channel: channel as 'aggregator',
        }),
      ).rejects.toMatchObject({ kind: 'MALFORMED', message: expect.stringMatching(/channel/) });
    }
    expect(await raw(no)).toBeUndefined();
  });

  it('re-registering under the other channel is a conflict, not a silent switch', async () => {
    const no = orderNo('C');
    await h.store.registerOrder({ outTradeNo: no, amountFen: 500, merchantId: h.keys.mchid });
    const again = await h.store.registerOrder({
      outTradeNo: no,
      amountFen: 500,
      merchantId: h.keys.mchid,
      channel: 'aggregator',
    });
    expect(again.kind).toBe('CONFLICT');
    expect((await h.store.getOrder(h.keys.mchid, no))?.channel).toBe('wechatpay');
  });

  it.each([
    ['wechatpay', 'aggregator'],
    ['aggregator', 'v3'],
    ['aggregator', 'v2'],
    ['aggregator', 'query'],
  ] as const)('an order registered for %s is not settled by a %s report (and nothing changes)', async (reg, via) => {
    const no = orderNo('O');
    await h.store.registerOrder({ outTradeNo: no, amountFen: 500, merchantId: h.keys.mchid, channel: reg });
    const before = await raw(no);
    const out = await h.store.applyPayment(paymentReport(h, no, { channel: via }), 'record');
    expect(out).toMatchObject({ kind: 'CONFLICT', reason: 'OTHER_CHANNEL' });
    expect(await raw(no)).toEqual(before);
  });

  it('the aggregator never creates an order, whatever the policy', async () => {
    const no = orderNo('N');
    expect(await h.store.applyPayment(paymentReport(h, no, { channel: 'aggregator' }), 'record')).toEqual({
      kind: 'UNKNOWN_ORDER',
    });
    expect(await raw(no)).toBeUndefined();
  });

  it('records what the aggregator credited beside the amount paid', async () => {
    const no = orderNo('K');
    await h.store.registerOrder({ outTradeNo: no, amountFen: 500, merchantId: h.keys.mchid, channel: 'aggregator' });
    const out = await h.store.applyPayment(paymentReport(h, no, { channel: 'aggregator', creditedFen: 480 }), 'record');
    expect(out).toMatchObject({ kind: 'APPLIED', order: { state: 'PAID', paidFen: 500, creditedFen: 480 } });
  });
});

describe('a payment for an order never registered (policy record)', () => {
  it('is PAID_UNVERIFIED, its repeat ALREADY_APPLIED, another transaction a CONFLICT', async () => {
    const no = orderNo('U');
    const first = await h.store.applyPayment(paymentReport(h, no), 'record');
    expect(first).toMatchObject({
      kind: 'APPLIED',
      previous: 'UNREGISTERED',
      order: { state: 'PAID_UNVERIFIED', amountUnverified: true, channel: 'wechatpay' },
    });
    expect((await h.store.applyPayment(paymentReport(h, no), 'record')).kind).toBe('ALREADY_APPLIED');
    expect(await h.store.applyPayment(paymentReport(h, no, { transactionId: '999' }), 'record')).toMatchObject({
      kind: 'CONFLICT',
      reason: 'OTHER_TRANSACTION',
    });
    expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('PAID_UNVERIFIED');
  });

  it('is refused under policy reject, nothing written', async () => {
    const no = orderNo('R');
    expect(await h.store.applyPayment(paymentReport(h, no), 'reject')).toEqual({ kind: 'UNKNOWN_ORDER' });
    expect(await raw(no)).toBeUndefined();
  });

  it('a close finds it paid; a later registration is a conflict and leaves it unverified', async () => {
    const no = orderNo('L');
    await h.store.applyPayment(paymentReport(h, no), 'record');
    expect((await h.store.applyClose(h.keys.mchid, no)).kind).toBe('PAID');
    expect((await h.store.registerOrder({ outTradeNo: no, amountFen: 500, merchantId: h.keys.mchid })).kind).toBe(
      'CONFLICT',
    );
    expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('PAID_UNVERIFIED');
  });

  it('200 concurrent duplicates: one transition, the rest ALREADY_APPLIED', async () => {
    const no = orderNo('D');
    const outs = await Promise.all(
      Array.from({ length: 200 }, () => h.store.applyPayment(paymentReport(h, no), 'record')),
    );
    expect(outs.filter((o) => o.kind === 'APPLIED')).toHaveLength(1);
    expect(outs.filter((o) => o.kind === 'ALREADY_APPLIED')).toHaveLength(199);
  });

  it('a registration racing the payment: the payment lands verified or unverified, never both', async () => {
    const no = orderNo('Z');
    const [out] = await Promise.all([
      h.store.applyPayment(paymentReport(h, no), 'record'),
      h.store.registerOrder({ outTradeNo: no, amountFen: 500, merchantId: h.keys.mchid }),
    ]);
    expect(out.kind).toBe('APPLIED');
    const state = (await h.store.getOrder(h.keys.mchid, no))?.state;
    expect(['PAID', 'PAID_UNVERIFIED']).toContain(state);
  });
});
