/**
 * The refund writes of the DynamoDB store against DynamoDB Local: the reservation's condition (PAID,
 * and paid − refunded − reserved ≥ the amount, with the paid and refunded totals it was computed from
 * pinned), its release exactly once on SUCCESS or CLOSED, and the pending index under the refund key.
 */
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../../lib/orders/client';
import { createDynamoOrderStore } from '../../../lib/orders/dynamodb';
import { refundableFen, type RefundReport } from '../../../lib/orders/model';
import { orderKey } from '../../../lib/orders/table';
import { createHarness, orderNo, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const mid = () => h.config.mchid;

async function paidOrder(fen: number): Promise<string> {
  const no = orderNo('S');
  await h.store.registerOrder({ outTradeNo: no, amountFen: fen, merchantId: mid() });
  await h.store.applyPayment(
    {
      outTradeNo: no,
      merchantId: mid(),
      transactionId: `tx${no}`,
      amountFen: fen,
      paidAt: '2026-11-30T00:00:00.000Z',
      channel: 'v3',
    },
    'reject',
  );
  return no;
}

const report = (outTradeNo: string, outRefundNo: string, fen: number, state: RefundReport['state']): RefundReport => ({
  outRefundNo,
  outTradeNo,
  merchantId: mid(),
  refundId: `rid${outRefundNo}`,
  transactionId: undefined,
  state,
  refundFen: fen,
  totalFen: 1000,
  successAt: state === 'SUCCESS' ? '2026-11-30T00:00:00.000Z' : undefined,
  channel: 'v3',
});

describe('reserveRefund', () => {
  it('admits only what is left, once per out_refund_no', async () => {
    const no = await paidOrder(100);
    const ask = (r: string, fen: number) =>
      h.store.reserveRefund({ outTradeNo: no, outRefundNo: r, merchantId: mid(), refundFen: fen });
    expect(await ask('a', 60)).toMatchObject({ kind: 'RESERVED', order: { reservedFen: 60 } });
    expect(await ask('a', 60)).toMatchObject({ kind: 'ALREADY_RESERVED' });
    expect(await ask('b', 41)).toMatchObject({ kind: 'EXCEEDS_REFUNDABLE', refundableFen: 40 });
    expect(await ask('b', 40)).toMatchObject({ kind: 'RESERVED', order: { reservedFen: 100 } });
    const order = await h.store.getOrder(mid(), no);
    expect(order && refundableFen(order)).toBe(0);
  });

  it('re-reads when the refunded total moved under it, and still never over-reserves', async () => {
    const no = await paidOrder(100);
    await h.store.reserveRefund({ outTradeNo: no, outRefundNo: 'a', merchantId: mid(), refundFen: 50 });
    // a refund made elsewhere lands between this call's read and its write: the pinned total refuses the write.
    // The race rides on a client of its own: the store's client resolves its middleware once, at its first send
    const racing = createDynamoClient({ endpoint: h.env.DYNAMODB_ENDPOINT });
    let raced = 0;
    racing.middlewareStack.add(
      (next, context) => async (args) => {
        if (raced === 0 && context.commandName === 'UpdateItemCommand') {
          raced += 1;
          await h.client.send(
            new UpdateItemCommand({
              TableName: h.tableName,
              Key: { pk: { S: orderKey(mid(), no) } },
              UpdateExpression: 'ADD refundedFen :r',
              ExpressionAttributeValues: { ':r': { N: '30' } },
            }),
          );
        }
        return next(args);
      },
      { step: 'initialize', name: 'raceRefund' },
    );
    const store = createDynamoOrderStore({ client: racing, tableName: h.tableName });
    try {
      expect(
        await store.reserveRefund({ outTradeNo: no, outRefundNo: 'b', merchantId: mid(), refundFen: 30 }),
      ).toMatchObject({ kind: 'EXCEEDS_REFUNDABLE', refundableFen: 20 });
    } finally {
      racing.destroy();
    }
    expect(raced).toBe(1);
    expect(await h.store.getOrder(mid(), no)).toMatchObject({ refundedFen: 30, reservedFen: 50 });
  });

  it('refuses unpaid and unknown orders', async () => {
    const no = orderNo('U');
    const ask = () => h.store.reserveRefund({ outTradeNo: no, outRefundNo: 'a', merchantId: mid(), refundFen: 1 });
    expect(await ask()).toEqual({ kind: 'UNKNOWN_ORDER' });
    await h.store.registerOrder({ outTradeNo: no, amountFen: 10, merchantId: mid() });
    expect(await ask()).toMatchObject({ kind: 'ORDER_NOT_PAID', order: { state: 'NOTPAY' } });
  });
});

describe('results release the reservation exactly once', () => {
  it('SUCCESS moves it into refundedFen once, however often the result arrives', async () => {
    const no = await paidOrder(100);
    const ask = { outTradeNo: no, outRefundNo: `${no}a`, merchantId: mid(), refundFen: 70 };
    expect(await h.store.requestRefund(ask)).toMatchObject({ kind: 'RECORDED', refund: { state: 'REQUESTED' } });
    expect(await h.store.requestRefund(ask)).toMatchObject({ kind: 'EXISTS' });
    expect(await h.store.requestRefund({ ...ask, refundFen: 71 })).toMatchObject({ kind: 'CONFLICT' });
    await h.store.reserveRefund(ask);
    await Promise.all(
      Array.from({ length: 10 }, () => h.store.applyRefund(report(no, ask.outRefundNo, 70, 'SUCCESS'))),
    );
    expect(await h.store.getOrder(mid(), no)).toMatchObject({ refundedFen: 70, reservedFen: 0 });
    const pending = await h.store.listPendingRefunds({ createdBefore: '9999', limit: 100 });
    expect(pending.refunds.map((r) => r.outRefundNo)).not.toContain(ask.outRefundNo);
  });

  it('a result for another amount than requested is a conflict and releases nothing', async () => {
    const no = await paidOrder(100);
    const ask = { outTradeNo: no, outRefundNo: `${no}b`, merchantId: mid(), refundFen: 40 };
    await h.store.requestRefund(ask);
    await h.store.reserveRefund(ask);
    expect(await h.store.applyRefund(report(no, ask.outRefundNo, 41, 'SUCCESS'))).toMatchObject({ kind: 'CONFLICT' });
    expect(await h.store.getOrder(mid(), no)).toMatchObject({ reservedFen: 40 });
  });

  it('CLOSED gives it back; ABNORMAL keeps it and stays on the pending index', async () => {
    const no = await paidOrder(100);
    const ask = { outTradeNo: no, outRefundNo: `${no}c`, merchantId: mid(), refundFen: 30 };
    await h.store.requestRefund(ask);
    await h.store.reserveRefund(ask);
    await h.store.applyRefund(report(no, ask.outRefundNo, 30, 'ABNORMAL'));
    expect(await h.store.getOrder(mid(), no)).toMatchObject({ reservedFen: 30 });
    const pending = await h.store.listPendingRefunds({ createdBefore: '9999', limit: 1000 });
    expect(pending.refunds).toContainEqual(expect.objectContaining({ outRefundNo: ask.outRefundNo, outTradeNo: no }));
    await h.store.applyRefund(report(no, ask.outRefundNo, 30, 'CLOSED'));
    await h.store.applyRefund(report(no, ask.outRefundNo, 30, 'CLOSED'));
    expect(await h.store.getOrder(mid(), no)).toMatchObject({ reservedFen: 0 });
    expect((await h.store.getOrder(mid(), no))?.refundedFen).toBeUndefined();
  });

  it('ABNORMAL then SUCCESS still moves the reservation into refundedFen once', async () => {
    const no = await paidOrder(100);
    const ask = { outTradeNo: no, outRefundNo: `${no}d`, merchantId: mid(), refundFen: 25 };
    await h.store.requestRefund(ask);
    await h.store.reserveRefund(ask);
    await h.store.recordRefundId(mid(), ask.outRefundNo, `rid${ask.outRefundNo}`);
    await h.store.applyRefund(report(no, ask.outRefundNo, 25, 'ABNORMAL'));
    await h.store.applyRefund(report(no, ask.outRefundNo, 25, 'SUCCESS'));
    expect(await h.store.getOrder(mid(), no)).toMatchObject({ refundedFen: 25, reservedFen: 0 });
  });

  it('abandonRefund releases and forgets a request, but never one WeChat answered', async () => {
    const no = await paidOrder(100);
    const ask = { outTradeNo: no, outRefundNo: `${no}e`, merchantId: mid(), refundFen: 10 };
    await h.store.requestRefund(ask);
    await h.store.reserveRefund(ask);
    await h.store.abandonRefund(ask);
    await h.store.abandonRefund(ask);
    expect(await h.store.getRefund(mid(), ask.outRefundNo)).toBeUndefined();
    expect(await h.store.getOrder(mid(), no)).toMatchObject({ reservedFen: 0 });
    expect(await h.store.requestRefund(ask)).toMatchObject({ kind: 'RECORDED' });
    await h.store.recordRefundId(mid(), ask.outRefundNo, 'rid');
    await h.store.abandonRefund(ask);
    expect(await h.store.getRefund(mid(), ask.outRefundNo)).toMatchObject({ state: 'REQUESTED', refundId: 'rid' });
  });

  it('lists pending refunds a page at a time', async () => {
    const no = await paidOrder(100);
    for (const r of ['p1', 'p2', 'p3'])
      await h.store.requestRefund({ outTradeNo: no, outRefundNo: `${no}${r}`, merchantId: mid(), refundFen: 1 });
    const first = await h.store.listPendingRefunds({ createdBefore: '9999', limit: 1 });
    expect(first.refunds).toHaveLength(1);
    expect(first.cursor).toBeDefined();
    const second = await h.store.listPendingRefunds({
      createdBefore: '9999',
      limit: 1,
      cursor: first.cursor as string,
    });
    expect(second.refunds[0]?.outRefundNo).not.toBe(first.refunds[0]?.outRefundNo);
  });
});
