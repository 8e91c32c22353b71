/**
 * Combine payments (合单支付) through the notification pipeline against DynamoDB Local: each sub-order
 * is settled by the one settle path with its own conditional write. 200 concurrent duplicates of a
 * 3-sub-order payment make exactly 3 transitions; a sub-order with another amount or merchant is an
 * anomaly and the reply a failure while the consistent ones stay applied (and a retry re-applies them
 * idempotently); a forged or foreign combine message changes nothing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handleNotification } from '../../../lib/notify/handle';
import type { OrderState } from '../../../lib/orders/model';
import {
  v3CombineResource,
  v3Notification,
  type V3CombineParams,
  type WireRequest,
} from '../../../scripts/simulator/messages';
import { createHarness, orderNo, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const request = (wire: WireRequest) => ({ route: '/notify', headers: wire.headers, body: Buffer.from(wire.body) });
const combine = (p: V3CombineParams) =>
  v3Notification(h.keys, {
    eventType: 'TRANSACTION.SUCCESS',
    originalType: 'transaction',
    resource: v3CombineResource(h.keys, p),
  });
const deliveries = (combineNo: string) =>
  h.logs.filter((l) => l.message === 'delivery' && l.combineOutTradeNo === combineNo);
const partOutcomes = (combineNo: string) =>
  deliveries(combineNo).flatMap((l) => (l.parts as Array<{ outcome: string }>).map((p) => p.outcome));
const states = async (merchantId: string, nos: string[]): Promise<(OrderState | undefined)[]> =>
  Promise.all(nos.map(async (no) => (await h.store.getOrder(merchantId, no))?.state));

async function registered(merchantId: string, fens: number[]): Promise<string[]> {
  return Promise.all(
    fens.map(async (fen) => {
      const no = orderNo('C');
      await h.store.registerOrder({ outTradeNo: no, amountFen: fen, merchantId });
      return no;
    }),
  );
}

describe('combine payments', () => {
  it('direct: 200 concurrent duplicates of 3 sub-orders, all acknowledged, exactly 3 transitions', async () => {
    const nos = await registered(h.keys.mchid, [100, 250, 399]);
    const combineNo = orderNo('CB');
    const wire = combine({
      combineOutTradeNo: combineNo,
      subOrders: nos.map((outTradeNo, i) => ({ outTradeNo, total: [100, 250, 399][i] as number, payerTotal: 1 })),
    });
    const replies = await Promise.all(Array.from({ length: 200 }, () => handleNotification(request(wire), h.deps())));
    expect(replies.map((r) => r.statusCode)).toEqual(Array(200).fill(204));
    const outcomes = partOutcomes(combineNo);
    expect(outcomes.filter((o) => o === 'APPLIED')).toHaveLength(3);
    expect(outcomes.filter((o) => o === 'ALREADY_APPLIED')).toHaveLength(597);
    expect(await states(h.keys.mchid, nos)).toEqual(['PAID', 'PAID', 'PAID']);
    const order = await h.store.getOrder(h.keys.mchid, nos[1] as string);
    expect(order).toMatchObject({ paidFen: 250, paidVia: 'v3' });
  }, 120_000); // 200 concurrent deliveries against DynamoDB Local: slow on a busy two-core machine

  it('service provider: each sub-order settles under its own sub-merchant, once under 200 duplicates', async () => {
    const [a] = await registered('1900000201', [700]);
    const [b] = await registered('1900000202', [800]);
    const combineNo = orderNo('CP');
    const wire = combine({
      combineOutTradeNo: combineNo,
      subOrders: [
        { outTradeNo: a as string, total: 700, subMchid: '1900000201' },
        { outTradeNo: b as string, total: 800, subMchid: '1900000202' },
      ],
    });
    const replies = await Promise.all(Array.from({ length: 200 }, () => handleNotification(request(wire), h.deps())));
    expect(replies.map((r) => r.statusCode)).toEqual(Array(200).fill(204));
    expect(partOutcomes(combineNo).filter((o) => o === 'APPLIED')).toHaveLength(2);
    expect(await states('1900000201', [a as string])).toEqual(['PAID']);
    expect(await states('1900000202', [b as string])).toEqual(['PAID']);
  }, 120_000); // 200 concurrent deliveries against DynamoDB Local: slow on a busy two-core machine

  it('a sub-order with another amount: failure, the consistent ones stay applied, a retry re-applies them', async () => {
    const nos = await registered(h.keys.mchid, [100, 200, 300]);
    const combineNo = orderNo('CA');
    const wire = combine({
      combineOutTradeNo: combineNo,
      subOrders: [
        { outTradeNo: nos[0] as string, total: 100 },
        { outTradeNo: nos[1] as string, total: 201 },
        { outTradeNo: nos[2] as string, total: 300 },
      ],
    });
    const first = await handleNotification(request(wire), h.deps());
    expect(first.statusCode).toBe(400);
    expect(await states(h.keys.mchid, nos)).toEqual(['PAID', 'NOTPAY', 'PAID']);
    const retry = await handleNotification(request(wire), h.deps());
    expect(retry.statusCode).toBe(400);
    expect(partOutcomes(combineNo)).toEqual([
      'APPLIED',
      'CONFLICT',
      'APPLIED',
      'ALREADY_APPLIED',
      'CONFLICT',
      'ALREADY_APPLIED',
    ]);
    expect(deliveries(combineNo)[0]).toMatchObject({ outcome: 'INCONSISTENT', anomaly: 'AMOUNT_MISMATCH' });
    expect(await states(h.keys.mchid, nos)).toEqual(['PAID', 'NOTPAY', 'PAID']);
  });

  it('a sub-order for another merchant: MERCHANT_MISMATCH, failure, ours applied, theirs untouched', async () => {
    const [ours] = await registered(h.keys.mchid, [100]);
    const [theirs] = await registered('1900000999', [100]);
    const combineNo = orderNo('CM');
    h.logs.length = 0;
    const wire = combine({
      combineOutTradeNo: combineNo,
      subOrders: [
        { outTradeNo: ours as string, total: 100 },
        { outTradeNo: theirs as string, total: 100, mchid: '1900000999' },
      ],
    });
    expect((await handleNotification(request(wire), h.deps())).statusCode).toBe(400);
    expect(await states(h.keys.mchid, [ours as string])).toEqual(['PAID']);
    expect(await states('1900000999', [theirs as string])).toEqual(['NOTPAY']);
    expect(h.logs.filter((l) => l.message === 'anomaly')).toMatchObject([
      { kind: 'MERCHANT_MISMATCH', source: 'combine', outTradeNo: theirs },
    ]);
  });

  it.each([
    ['another initiator (combine_mchid)', { combineMchid: '1900000999' }, 400],
    ['another app (combine_appid)', { combineAppid: 'wx00000000000000ff' }, 400],
  ] as const)('%s: refused, nothing changes', async (_name, over, status) => {
    const nos = await registered(h.keys.mchid, [100, 200]);
    const wire = combine({
      combineOutTradeNo: orderNo('CX'),
      subOrders: nos.map((outTradeNo, i) => ({ outTradeNo, total: (i + 1) * 100 })),
      ...over,
    });
    expect((await handleNotification(request(wire), h.deps())).statusCode).toBe(status);
    expect(await states(h.keys.mchid, nos)).toEqual(['NOTPAY', 'NOTPAY']);
  });

  it('a forged combine message (signature over other bytes) is refused and changes nothing', async () => {
    const nos = await registered(h.keys.mchid, [100]);
    const wire = combine({
      combineOutTradeNo: orderNo('CF'),
      subOrders: [{ outTradeNo: nos[0] as string, total: 100 }],
    });
    const forged = { ...wire, body: wire.body.replace('"TRANSACTION.SUCCESS"', '"TRANSACTION.SUCCESS" ') };
    expect((await handleNotification(request(forged), h.deps())).statusCode).toBe(401);
    expect(await states(h.keys.mchid, nos)).toEqual(['NOTPAY']);
  });

  it.each([
    ['no sub-orders', (r: Record<string, unknown>) => ({ ...r, sub_orders: [] })],
    [
      '51 sub-orders',
      (r: Record<string, unknown>) => ({ ...r, sub_orders: Array(51).fill((r.sub_orders as unknown[])[0]) }),
    ],
    [
      'a repeated sub-order',
      (r: Record<string, unknown>) => ({
        ...r,
        sub_orders: [...(r.sub_orders as unknown[]), ...(r.sub_orders as unknown[])],
      }),
    ],
    ['a malformed combine_out_trade_no', (r: Record<string, unknown>) => ({ ...r, combine_out_trade_no: 'bad no!' })],
    [
      'a sub-order without an amount in fen',
      (r: Record<string, unknown>) => ({
        ...r,
        sub_orders: [{ ...(r.sub_orders as Array<Record<string, unknown>>)[0], amount: { total_amount: 1.5 } }],
      }),
    ],
    ['a sub-order that is not an object', (r: Record<string, unknown>) => ({ ...r, sub_orders: ['x'] })],
  ])('%s: MALFORMED (400), nothing changes', async (_name, mutate) => {
    const nos = await registered(h.keys.mchid, [100]);
    const resource = mutate(
      v3CombineResource(h.keys, {
        combineOutTradeNo: orderNo('CZ'),
        subOrders: [{ outTradeNo: nos[0] as string, total: 100 }],
      }),
    );
    const wire = v3Notification(h.keys, { eventType: 'TRANSACTION.SUCCESS', originalType: 'transaction', resource });
    const reply = await handleNotification(request(wire), h.deps());
    expect(reply.statusCode).toBe(400);
    expect(await states(h.keys.mchid, nos)).toEqual(['NOTPAY']);
  });

  it('an unpaid sub-order is ignored while the paid ones settle', async () => {
    const nos = await registered(h.keys.mchid, [100, 200]);
    const combineNo = orderNo('CN');
    const wire = combine({
      combineOutTradeNo: combineNo,
      subOrders: [
        { outTradeNo: nos[0] as string, total: 100 },
        { outTradeNo: nos[1] as string, total: 200, tradeState: 'NOTPAY' },
      ],
    });
    expect((await handleNotification(request(wire), h.deps())).statusCode).toBe(204);
    expect(partOutcomes(combineNo)).toEqual(['APPLIED', 'IGNORED']);
    expect(await states(h.keys.mchid, nos)).toEqual(['PAID', 'NOTPAY']);
  });
});
