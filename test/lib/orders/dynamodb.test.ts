/** The DynamoDB order store on the real local store: registration, payment, close and their races. */
import { beforeAll, describe, expect, it } from 'vitest';
import type { PaymentReport, CouponEvent, RefundReport } from '../../../lib/orders/model';
import { createHarness, orderNo, type Harness } from '../../support/harness';
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type DynamoDBClient,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import { PayError } from '../../../lib/errors';
import { createDynamoOrderStore, toOrder, toRefund } from '../../../lib/orders/dynamodb';
import { DEFAULT_PENDING_SHARDS, orderKey, pendingShardKey, pendingShardOf } from '../../../lib/orders/table';

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

/**
 * The DynamoDB order store, beyond dynamodb.test.ts: record expiry, refunds that arrive before their
 * order, store failures, and the two behaviours a healthy DynamoDB Local cannot stage (a store that
 * answers a refused write without the old item while the item keeps changing, and a count that spans
 * pages), which use a scripted client standing in for DynamoDB.
 */
describe('expiry, refunds before their order, store failures, and a scripted DynamoDB', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });

  const pay = (no: string, fen: number, tx = `42${no}`): PaymentReport => ({
    outTradeNo: no,
    merchantId: h.keys.mchid,
    transactionId: tx,
    amountFen: fen,
    paidAt: '2026-11-23T02:00:00.000Z',
    channel: 'v2',
  });
  const refund = (no: string, rn: string, state: RefundReport['state'], fen: number): RefundReport => ({
    outRefundNo: rn,
    outTradeNo: no,
    merchantId: h.keys.mchid,
    refundId: `50${rn}`,
    transactionId: `42${no}`,
    state,
    refundFen: fen,
    totalFen: 100,
    successAt: state === 'SUCCESS' ? '2026-11-23T03:00:00.000Z' : undefined,
    channel: 'v3',
  });

  async function rawOrder(no: string) {
    return (
      await h.client.send(
        new GetItemCommand({
          TableName: h.tableName,
          Key: { pk: { S: orderKey(h.keys.mchid, no) } },
          ConsistentRead: true,
        }),
      )
    ).Item;
  }

  describe('record expiry (TTL)', () => {
    it('stores the expiry of an unpaid registration, and a payment removes it with the pending flag', async () => {
      const no = orderNo('E');
      const expiresAt = Math.floor(Date.parse('2030-01-01T00:00:00Z') / 1000);
      expect(
        (await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid, expiresAt })).kind,
      ).toBe('REGISTERED');
      const shard = pendingShardKey(pendingShardOf(h.keys.mchid, no, DEFAULT_PENDING_SHARDS));
      expect(await rawOrder(no)).toMatchObject({ ttl: { N: String(expiresAt) }, pending: { S: shard } });
      expect((await h.store.applyPayment(pay(no, 100), 'reject')).kind).toBe('APPLIED');
      const paid = await rawOrder(no);
      expect(paid?.ttl).toBeUndefined();
      expect(paid?.pending).toBeUndefined();
      expect(paid?.state).toEqual({ S: 'PAID' });
    });

    it('stores no expiry when none is given', async () => {
      const no = orderNo('E');
      await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid });
      expect((await rawOrder(no))?.ttl).toBeUndefined();
    });
  });

  describe('a refund before its order', () => {
    it('leaves only a tally, which is no order; registering then keeps the tally and the payment sees it', async () => {
      const no = orderNo('F');
      const r = await h.store.applyRefund(refund(no, `${no}R`, 'SUCCESS', 60));
      expect(r).toMatchObject({ kind: 'APPLIED', previous: 'PROCESSING', exceedsPaid: false });
      expect(await h.store.getOrder(h.keys.mchid, no)).toBeUndefined();
      expect((await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid })).kind).toBe(
        'REGISTERED',
      );
      const applied = await h.store.applyPayment(pay(no, 100), 'reject');
      expect(applied).toMatchObject({ kind: 'APPLIED', previous: 'NOTPAY', order: { refundedFen: 60, paidFen: 100 } });
    });

    it('under the reject policy, a payment for a key holding only a refund tally is an unknown order', async () => {
      const no = orderNo('F');
      await h.store.applyRefund(refund(no, `${no}R`, 'SUCCESS', 10));
      expect(await h.store.applyPayment(pay(no, 100), 'reject')).toEqual({ kind: 'UNKNOWN_ORDER' });
      expect(await h.store.applyPayment(pay(no, 100), 'record')).toMatchObject({
        kind: 'APPLIED',
        previous: 'UNREGISTERED',
        order: { amountUnverified: true, refundedFen: 10 },
      });
    });

    it('counts each successful refund once, however often it is delivered, and flags refunds beyond the paid amount', async () => {
      const no = orderNo('F');
      await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid });
      await h.store.applyPayment(pay(no, 100), 'reject');
      expect(await h.store.applyRefund(refund(no, `${no}A`, 'SUCCESS', 70))).toMatchObject({
        kind: 'APPLIED',
        exceedsPaid: false,
      });
      expect(await h.store.applyRefund(refund(no, `${no}A`, 'SUCCESS', 70))).toMatchObject({
        kind: 'ALREADY_APPLIED',
        exceedsPaid: false,
      });
      expect(await h.store.applyRefund(refund(no, `${no}B`, 'SUCCESS', 40))).toMatchObject({
        kind: 'APPLIED',
        exceedsPaid: true,
      });
      expect((await h.store.getOrder(h.keys.mchid, no))?.refundedFen).toBe(110);
    });

    it('does not tally a refund that did not succeed', async () => {
      const no = orderNo('F');
      await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid });
      const closed = await h.store.applyRefund(refund(no, `${no}C`, 'CLOSED', 30));
      expect(closed).toMatchObject({ kind: 'APPLIED' });
      expect('exceedsPaid' in closed).toBe(false);
      expect((await h.store.getOrder(h.keys.mchid, no))?.refundedFen).toBeUndefined();
    });
  });

  describe('store failures', () => {
    const coupon = (code: string): CouponEvent => ({
      kind: 'USED',
      couponCode: code,
      stockId: '9856000',
      merchantId: h.keys.mchid,
      at: '2026-11-23T05:29:35.000Z',
      openid: undefined,
      channel: undefined,
      transactionId: '4200000002',
      amountFen: 100,
    });

    it('records a coupon with its optional fields, once', async () => {
      const code = orderNo('K');
      expect(await h.store.recordCoupon(coupon(code), 'EV-1')).toEqual({ kind: 'RECORDED' });
      expect(await h.store.recordCoupon(coupon(code), 'EV-2')).toEqual({ kind: 'ALREADY_RECORDED' });
    });

    it('turns a throttled coupon write into UNAVAILABLE (WeChat retries), recording nothing', async () => {
      const throttled = Object.assign(new Error('Rate of requests exceeds the allowed throughput'), {
        name: 'ThrottlingException',
      });
      const faulty = h.faultyStore(1, () => throttled);
      const code = orderNo('K');
      const e = await faulty.recordCoupon(coupon(code), 'EV-1').catch((err: unknown) => err);
      expect(e).toBeInstanceOf(PayError);
      expect((e as PayError).kind).toBe('UNAVAILABLE');
      expect((e as PayError).cause).toBe(throttled);
      expect(await h.store.recordCoupon(coupon(code), 'EV-1')).toEqual({ kind: 'RECORDED' });
    });

    it('turns a failed read into UNAVAILABLE', async () => {
      const faulty = h.faultyStore(1, () => new Error('socket hang up'));
      await expect(faulty.getOrder(h.keys.mchid, 'T1')).rejects.toMatchObject({
        kind: 'UNAVAILABLE',
        reason: 'order store unavailable',
      });
    });
  });

  /** A stand-in for a store that answers a refused write without the old item (dynalite), scripted per command. */
  function scriptedClient(script: {
    update?: () => unknown;
    get?: () => unknown;
    query?: (input: QueryCommandInput) => unknown;
  }) {
    const sent: string[] = [];
    const inputs: QueryCommandInput[] = [];
    const client = {
      send: async (command: unknown) => {
        if (command instanceof UpdateItemCommand) {
          sent.push('UpdateItem');
          return script.update
            ? script.update()
            : Promise.reject(
                new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }),
              );
        }
        if (command instanceof GetItemCommand) {
          sent.push('GetItem');
          return script.get?.() ?? {};
        }
        if (command instanceof QueryCommand) {
          sent.push('Query');
          inputs.push(command.input);
          return script.query?.(command.input) ?? {};
        }
        throw new Error('unexpected command');
      },
    } as unknown as DynamoDBClient;
    return {
      store: createDynamoOrderStore({
        client,
        tableName: 't',
        now: () => Date.parse('2026-11-23T00:00:00Z'),
        pendingShards: { write: 1, read: 1 },
      }),
      sent,
      inputs,
    };
  }

  describe('a refused write whose item keeps changing (no ALL_OLD from the store)', () => {
    const S = (s: string) => ({ S: s });
    const N = (n: number) => ({ N: String(n) });
    const notpay = {
      Item: {
        pk: S('ORDER#1#T1'),
        entity: S('ORDER'),
        state: S('NOTPAY'),
        outTradeNo: S('T1'),
        merchantId: S('1'),
        amountFen: N(100),
      },
    };

    it('gives up after three passes with a retryable UNAVAILABLE instead of looping (close)', async () => {
      const s = scriptedClient({ get: () => notpay });
      const e = await s.store.applyClose('1', 'T1').catch((err: unknown) => err);
      expect(e).toMatchObject({ kind: 'UNAVAILABLE', reason: 'record changed concurrently, retry' });
      expect(s.sent).toEqual(['UpdateItem', 'GetItem', 'UpdateItem', 'GetItem', 'UpdateItem', 'GetItem']);
    });

    it('retries a payment whose read says it should have applied, then gives up the same way', async () => {
      const s = scriptedClient({ get: () => notpay });
      await expect(
        s.store.applyPayment(
          {
            outTradeNo: 'T1',
            merchantId: '1',
            transactionId: '42',
            amountFen: 100,
            paidAt: '2026-11-23T02:00:00.000Z',
            channel: 'v3',
          },
          'record',
        ),
      ).rejects.toMatchObject({
        kind: 'UNAVAILABLE',
      });
      expect(s.sent.filter((c) => c === 'UpdateItem')).toHaveLength(3);
    });

    it('retries a registration refused for an item that is gone when read', async () => {
      const s = scriptedClient({ get: () => ({}) });
      await expect(s.store.registerOrder({ outTradeNo: 'T1', merchantId: '1', amountFen: 100 })).rejects.toMatchObject({
        kind: 'UNAVAILABLE',
      });
      expect(s.sent.filter((c) => c === 'UpdateItem')).toHaveLength(3);
    });

    it('retries a refund whose read shows a legal predecessor, then gives up', async () => {
      const abnormal = {
        Item: {
          pk: S('REFUND#1#R1'),
          entity: S('REFUND'),
          state: S('ABNORMAL'),
          refundId: S('5001'),
          outRefundNo: S('R1'),
          outTradeNo: S('T1'),
          merchantId: S('1'),
        },
      };
      const s = scriptedClient({ get: () => abnormal });
      const report: RefundReport = {
        outRefundNo: 'R1',
        outTradeNo: 'T1',
        merchantId: '1',
        refundId: '5001',
        transactionId: undefined,
        state: 'SUCCESS',
        refundFen: 1,
        totalFen: 2,
        successAt: '2026-11-23T03:00:00.000Z',
        channel: 'v3',
      };
      await expect(s.store.applyRefund(report)).rejects.toMatchObject({ kind: 'UNAVAILABLE' });
      expect(s.sent.filter((c) => c === 'UpdateItem')).toHaveLength(3);
    });

    it('settles as soon as the read shows a final answer (refused close of a paid order)', async () => {
      let reads = 0;
      const s = scriptedClient({
        get: () => (++reads === 1 ? notpay : { Item: { ...notpay.Item, state: S('PAID'), transactionId: S('42') } }),
      });
      expect(await s.store.applyClose('1', 'T1')).toMatchObject({ kind: 'PAID', order: { transactionId: '42' } });
      expect(s.sent).toEqual(['UpdateItem', 'GetItem', 'UpdateItem', 'GetItem']);
    });
  });

  describe('counting pending orders across pages', () => {
    it('follows the pages of the count, passing each page key on', async () => {
      const pages = [
        { Count: 2, LastEvaluatedKey: { pk: { S: 'a' } } },
        { LastEvaluatedKey: { pk: { S: 'b' } } },
        { Count: 3 },
      ];
      const s = scriptedClient({ query: () => pages.shift() });
      expect(await s.store.countPendingBefore('2026-11-23T00:00:00.000Z', 100)).toBe(5);
      expect(s.inputs.map((i) => i.ExclusiveStartKey)).toEqual([undefined, { pk: { S: 'a' } }, { pk: { S: 'b' } }]);
    });

    it('stops reading pages once the count reaches the cap, and answers the cap', async () => {
      const s = scriptedClient({ query: () => ({ Count: 700, LastEvaluatedKey: { pk: { S: 'x' } } }) });
      expect(await s.store.countPendingBefore('2026-11-23T00:00:00.000Z', 1000)).toBe(1000);
      expect(s.sent).toEqual(['Query', 'Query']);
    });

    it('lists nothing from a page that carries no items', async () => {
      const s = scriptedClient({ query: () => ({}) });
      expect(await s.store.listPending({ createdAfter: 'a', createdBefore: 'b', limit: 5 })).toEqual({ orders: [] });
    });
  });

  describe('reading items', () => {
    it('reads a key that holds only a refund tally as no order', () => {
      expect(toOrder({ pk: { S: 'ORDER#1#T1' }, refundedFen: { N: '10' } })).toBeUndefined();
    });

    it('reads a sparse order item without throwing: empty ids, zero amount, absent optional fields', () => {
      expect(toOrder({ state: { S: 'CLOSED' } })).toEqual({
        outTradeNo: '',
        merchantId: '',
        state: 'CLOSED',
        amountFen: 0,
        amountUnverified: false,
      });
    });

    it('reads an absent refund as a PROCESSING refund with no fields, and keeps what a full item holds', () => {
      expect(toRefund({})).toEqual({
        outRefundNo: '',
        outTradeNo: '',
        merchantId: '',
        refundId: '',
        state: 'PROCESSING',
        refundFen: 0,
        totalFen: 0,
      });
      expect(
        toRefund({
          state: { S: 'SUCCESS' },
          refundFen: { N: '5' },
          totalFen: { N: '9' },
          successAt: { S: 't' },
          previousState: { S: 'ABNORMAL' },
        }),
      ).toMatchObject({
        state: 'SUCCESS',
        refundFen: 5,
        totalFen: 9,
        successAt: 't',
        previousState: 'ABNORMAL',
      });
    });
  });
});
