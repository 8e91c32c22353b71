/** The DynamoDB order store on the real local store: registration, payment, close and their races. */
import { beforeAll, describe, expect, it } from 'vitest';
import type { PaymentReport } from '../../../lib/orders/model';
import { createHarness, orderNo, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const report = (no: string, fen: number, tx = `42${no}`): PaymentReport => ({
  outTradeNo: no,
  merchantId: h.keys.mchid,
  transactionId: tx,
  amountFen: fen,
  paidAt: '2026-11-23T02:00:00.000Z',
  channel: 'v3',
});

describe('registerOrder', () => {
  it('is idempotent for the same amount and refuses another amount', async () => {
    const no = orderNo();
    const input = { outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid, createdAt: '2026-11-23T01:00:00.000Z' };
    expect((await h.store.registerOrder(input)).kind).toBe('REGISTERED');
    expect((await h.store.registerOrder(input)).kind).toBe('ALREADY_REGISTERED');
    expect((await h.store.registerOrder({ ...input, amountFen: 101 })).kind).toBe('CONFLICT');
    expect(await h.store.getOrder(h.keys.mchid, no)).toMatchObject({
      state: 'NOTPAY',
      amountFen: 100,
      createdAt: '2026-11-23T01:00:00.000Z',
      amountUnverified: false,
    });
  });

  it('refuses to re-register a paid order', async () => {
    const no = orderNo();
    await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid });
    await h.store.applyPayment(report(no, 100), 'record');
    const again = await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid });
    expect(again).toMatchObject({ kind: 'CONFLICT', order: { state: 'PAID' } });
  });
});

describe('applyClose', () => {
  it('closes an unpaid order once', async () => {
    const no = orderNo();
    await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid });
    expect((await h.store.applyClose(h.keys.mchid, no)).kind).toBe('CLOSED');
    expect((await h.store.applyClose(h.keys.mchid, no)).kind).toBe('ALREADY_CLOSED');
  });

  it('never overwrites PAID, and a payment after a close still wins', async () => {
    const paid = orderNo();
    await h.store.registerOrder({ outTradeNo: paid, amountFen: 100, merchantId: h.keys.mchid });
    await h.store.applyPayment(report(paid, 100), 'record');
    expect((await h.store.applyClose(h.keys.mchid, paid)).kind).toBe('PAID');
    expect((await h.store.getOrder(h.keys.mchid, paid))?.state).toBe('PAID');

    const closed = orderNo();
    await h.store.registerOrder({ outTradeNo: closed, amountFen: 100, merchantId: h.keys.mchid });
    await h.store.applyClose(h.keys.mchid, closed);
    expect(await h.store.applyPayment(report(closed, 100), 'record')).toMatchObject({
      kind: 'APPLIED',
      previous: 'CLOSED',
    });
  });

  it('reports an unknown order', async () => {
    expect((await h.store.applyClose(h.keys.mchid, orderNo())).kind).toBe('UNKNOWN_ORDER');
  });

  it('races with payments: whatever the interleaving, the order ends PAID with one transaction', async () => {
    for (let i = 0; i < 30; i++) {
      const no = orderNo();
      await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid });
      const ops = [
        () => h.store.applyClose(h.keys.mchid, no),
        () => h.store.applyPayment(report(no, 100), 'record'),
        () => h.store.applyPayment(report(no, 100), 'record'),
      ];
      if (i % 2) ops.reverse();
      await Promise.all(ops.map((op) => op()));
      const order = await h.store.getOrder(h.keys.mchid, no);
      expect(order?.state).toBe('PAID');
      expect(order?.transactionId).toBe(`42${no}`);
    }
  });
});

describe('the pending index', () => {
  it('lists unpaid orders in a creation window, oldest first, page by page, and drops them once paid or closed', async () => {
    const base = Date.parse('2030-01-01T00:00:00.000Z'); // a window no other test writes into
    const nos: string[] = [];
    for (let i = 0; i < 7; i++) {
      const no = orderNo('W');
      nos.push(no);
      await h.store.registerOrder({
        outTradeNo: no,
        amountFen: 100,
        merchantId: h.keys.mchid,
        createdAt: new Date(base + i * 60_000).toISOString(),
      });
    }
    await h.store.applyPayment(report(nos[1] as string, 100), 'record');
    await h.store.applyClose(h.keys.mchid, nos[2] as string, 'REVOKED');
    const window = {
      createdAfter: new Date(base).toISOString(),
      createdBefore: new Date(base + 6 * 60_000).toISOString(),
    };
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await h.store.listPending({ ...window, limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.orders.map((o) => o.outTradeNo));
      cursor = page.cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual([nos[0], nos[3], nos[4], nos[5], nos[6]]);
    expect(await h.store.countPendingBefore(new Date(base + 4 * 60_000).toISOString(), 1000)).toBeGreaterThanOrEqual(3);
    expect((await h.store.getOrder(h.keys.mchid, nos[2] as string))?.closedReason).toBe('REVOKED');
  });
});
