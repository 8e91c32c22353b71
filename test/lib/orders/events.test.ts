/**
 * The stream decoder on records produced by real writes to DynamoDB Local's stream: each state
 * change appears once, duplicates and bookkeeping writes produce no event, keys are stable.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import {
  decodeStreamRecord,
  decodeStreamRecords,
  type DomainEvent,
  type StreamRecordLike,
  type StreamValue,
} from '../../../lib/orders/events';
import type { RefundReport } from '../../../lib/orders/model';
import { createHarness, orderNo, type Harness } from '../../support/harness';
import { paymentReport } from '../../support/reports';
import { readStream } from '../../support/stream';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const refund = (no: string, rn: string, state: RefundReport['state'], fen: number): RefundReport => ({
  outRefundNo: rn,
  outTradeNo: no,
  merchantId: h.keys.mchid,
  refundId: `50${rn}`,
  transactionId: undefined,
  state,
  refundFen: fen,
  totalFen: 100,
  successAt: state === 'SUCCESS' ? '2026-11-23T03:00:00.000Z' : undefined,
  channel: 'v2',
});

describe.skipIf(inject('dynamoEngine') !== 'dynamodb-local')(
  'stream decoder on DynamoDB Local (dynalite has no streams)',
  () => {
    it('turns real writes into one event per state change', async () => {
      const a = orderNo('A');
      const b = orderNo('B');
      const c = orderNo('C');
      for (const no of [a, b, c])
        await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid });
      await h.store.applyPayment(paymentReport(h, a, { amountFen: 100 }), 'record');
      await h.store.applyPayment(paymentReport(h, a, { amountFen: 100 }), 'record'); // duplicate: refused write, no record
      await h.store.applyRefund(refund(a, `${a}R1`, 'ABNORMAL', 30));
      await h.store.applyRefund(refund(a, `${a}R1`, 'SUCCESS', 30));
      await h.store.applyRefund(refund(a, `${a}R1`, 'SUCCESS', 30)); // duplicate
      await h.store.applyRefund(refund(a, `${a}R2`, 'SUCCESS', 80)); // crosses the paid total
      await h.store.applyClose(h.keys.mchid, b);
      await h.store.applyClose(h.keys.mchid, c);
      await h.store.applyPayment(paymentReport(h, c, { amountFen: 100 }), 'record'); // paid after close
      const unregistered = orderNo('U');
      await h.store.applyPayment(paymentReport(h, unregistered, { amountFen: 5 }), 'record');
      const coupon = {
        kind: 'SENT' as const,
        couponCode: `K${a}`,
        stockId: '1212',
        merchantId: h.keys.mchid,
        at: '2026-11-23T04:00:00.000Z',
        openid: 'o1',
        channel: undefined,
        transactionId: undefined,
        amountFen: undefined,
      };
      await h.store.recordCoupon(coupon, 'EV-1');
      await h.store.recordCoupon(coupon, 'EV-1'); // duplicate

      const events = decodeStreamRecords(await readStream(h));
      const summary = events.map((e) => [
        e.type,
        e.outTradeNo,
        e.type === 'ANOMALY' ? e.anomaly : 'refundFen' in e ? e.refundFen : '',
      ]);
      expect(summary).toEqual([
        ['PAYMENT_SUCCEEDED', a, ''],
        ['REFUND_ABNORMAL', a, 30],
        ['REFUND_SUCCEEDED', a, 30],
        ['REFUND_SUCCEEDED', a, 80],
        ['ANOMALY', a, 'REFUND_EXCEEDS_TOTAL'],
        ['ORDER_CLOSED', b, ''],
        ['ORDER_CLOSED', c, ''],
        ['PAYMENT_SUCCEEDED', c, ''],
        ['ANOMALY', c, 'PAID_AFTER_CLOSE'],
        ['PAYMENT_UNVERIFIED', unregistered, ''],
        ['ANOMALY', unregistered, 'UNREGISTERED_ORDER'],
        ['COUPON_SENT', '', ''],
      ]);
      expect(new Set(events.map((e) => e.idempotencyKey)).size).toBe(events.length);
      const paid = events[0] as Extract<DomainEvent, { type: 'PAYMENT_SUCCEEDED' }>;
      expect(paid).toMatchObject({
        transactionId: `42${a}`,
        amountFen: 100,
        paidAt: '2026-11-23T02:00:00.000Z',
        via: 'v3',
        amountUnverified: false,
        merchantId: h.keys.mchid,
      });
    });

    it('is stable when the stream redelivers a record (same events, same keys)', async () => {
      const records = await readStream(h);
      expect(decodeStreamRecords(records)).toEqual(decodeStreamRecords(records));
    });
  },
);

describe('stream decoder edge cases', () => {
  it('ignores removals (TTL expiry) and records without a new image', () => {
    expect(
      decodeStreamRecord({
        eventName: 'REMOVE',
        dynamodb: { OldImage: { pk: { S: 'ORDER#1#x' }, state: { S: 'NOTPAY' } } },
      }),
    ).toEqual([]);
    expect(decodeStreamRecord({ eventName: 'MODIFY', dynamodb: {} })).toEqual([]);
  });
});

/**
 * The stream decoder on hand-written records shaped as Lambda delivers them (DynamoDB JSON): the
 * transitions DynamoDB Local's stream test does not produce (coupon uses, refunds with and without a
 * success time, unknown entities) and sparse images, which must decode without throwing.
 */
describe('hand-written stream records', () => {
  type Image = Record<string, StreamValue>;

  const S = (s: string) => ({ S: s });
  const N = (n: number) => ({ N: String(n) });

  const modify = (next: Image, prev?: Image): StreamRecordLike => ({
    eventName: prev ? 'MODIFY' : 'INSERT',
    dynamodb: { NewImage: next, ...(prev ? { OldImage: prev } : {}) },
  });

  describe('coupon events', () => {
    it('decodes a used coupon with its paying transaction', () => {
      const events = decodeStreamRecord(
        modify({
          pk: S('COUPON#9856000#C1#USED'),
          entity: S('COUPON'),
          state: S('USED'),
          couponCode: S('C1'),
          stockId: S('9856000'),
          merchantId: S('1900000100'),
          at: S('2026-11-23T05:29:35.000Z'),
          transactionId: S('4200000002'),
        }),
      );
      expect(events).toEqual([
        {
          type: 'COUPON_USED',
          idempotencyKey: 'COUPON#9856000#C1#USED#USED',
          merchantId: '1900000100',
          outTradeNo: '',
          couponCode: 'C1',
          stockId: '9856000',
          at: '2026-11-23T05:29:35.000Z',
          transactionId: '4200000002',
        },
      ]);
    });

    it('decodes a sent coupon without a transaction, leaving the field out', () => {
      const [e] = decodeStreamRecord(
        modify({
          pk: S('COUPON#1212#C2#SENT'),
          entity: S('COUPON'),
          state: S('SENT'),
          couponCode: S('C2'),
          stockId: S('1212'),
          at: S('2026-11-23T02:00:00.000Z'),
        }),
      );
      expect(e).toMatchObject({ type: 'COUPON_SENT', couponCode: 'C2', merchantId: '' });
      expect(e && 'transactionId' in e).toBe(false);
    });
  });

  describe('refund events', () => {
    const refundImage = (state: string, extra: Image = {}): Image => ({
      pk: S('REFUND#1900000100#R1'),
      entity: S('REFUND'),
      state: S(state),
      outRefundNo: S('R1'),
      outTradeNo: S('T1'),
      merchantId: S('1900000100'),
      refundId: S('5001'),
      refundFen: N(40),
      ...extra,
    });

    it('carries the success time of a succeeded refund, and none for a closed one', () => {
      expect(
        decodeStreamRecord(
          modify(refundImage('SUCCESS', { successAt: S('2026-11-23T03:00:00.000Z') }), refundImage('ABNORMAL')),
        ),
      ).toEqual([
        {
          type: 'REFUND_SUCCEEDED',
          idempotencyKey: 'REFUND#1900000100#R1#SUCCESS',
          merchantId: '1900000100',
          outTradeNo: 'T1',
          outRefundNo: 'R1',
          refundId: '5001',
          refundFen: 40,
          successAt: '2026-11-23T03:00:00.000Z',
        },
      ]);
      const [closed] = decodeStreamRecord(modify(refundImage('CLOSED')));
      expect(closed).toMatchObject({ type: 'REFUND_CLOSED', refundFen: 40 });
      expect(closed && 'successAt' in closed).toBe(false);
    });

    it('emits nothing for a refund state that is not a result', () => {
      expect(decodeStreamRecord(modify(refundImage('PROCESSING')))).toEqual([]);
    });

    it('emits nothing when only bookkeeping changed (same state)', () => {
      expect(
        decodeStreamRecord(
          modify(refundImage('SUCCESS', { updatedAt: S('b') }), refundImage('SUCCESS', { updatedAt: S('a') })),
        ),
      ).toEqual([]);
    });
  });

  describe('order events', () => {
    it('decodes a sparse PAID image without throwing, with empty fields and v3 as the channel', () => {
      expect(decodeStreamRecord(modify({ entity: S('ORDER'), state: S('PAID') }))).toEqual([
        {
          type: 'PAYMENT_SUCCEEDED',
          idempotencyKey: '#PAID',
          merchantId: '',
          outTradeNo: '',
          transactionId: '',
          amountFen: 0,
          paidAt: '',
          via: 'v3',
          amountUnverified: false,
        },
      ]);
    });

    it('decodes a close without closedAt, and ignores NOTPAY (a registration)', () => {
      expect(decodeStreamRecord(modify({ pk: S('ORDER#1#T9'), entity: S('ORDER'), state: S('CLOSED') }))).toMatchObject(
        [{ type: 'ORDER_CLOSED', closedAt: '' }],
      );
      expect(decodeStreamRecord(modify({ pk: S('ORDER#1#T9'), entity: S('ORDER'), state: S('NOTPAY') }))).toEqual([]);
    });

    it('emits nothing for an entity it does not know', () => {
      expect(decodeStreamRecord(modify({ pk: S('AUDIT#1'), entity: S('AUDIT'), state: S('DONE') }))).toEqual([]);
      expect(decodeStreamRecord(modify({ pk: S('X#1'), state: S('PAID') }))).toEqual([]);
    });
  });

  describe('over-refund anomaly', () => {
    const paidOrder = (refunded?: number, paid?: number) => ({
      pk: S('ORDER#1900000100#T1'),
      entity: S('ORDER'),
      state: S('PAID'),
      merchantId: S('1900000100'),
      outTradeNo: S('T1'),
      ...(paid === undefined ? {} : { paidFen: N(paid) }),
      ...(refunded === undefined ? {} : { refundedFen: N(refunded) }),
    });

    it('fires once, at the tally write that crosses the paid amount', () => {
      const crossing = decodeStreamRecord(modify(paidOrder(120, 100), paidOrder(60, 100)));
      expect(crossing).toEqual([
        {
          type: 'ANOMALY',
          anomaly: 'REFUND_EXCEEDS_TOTAL',
          merchantId: '1900000100',
          outTradeNo: 'T1',
          idempotencyKey: 'ORDER#1900000100#T1#ANOMALY#REFUND_EXCEEDS_TOTAL',
        },
      ]);
      expect(decodeStreamRecord(modify(paidOrder(150, 100), paidOrder(120, 100)))).toEqual([]);
      expect(decodeStreamRecord(modify(paidOrder(100, 100), paidOrder(60, 100)))).toEqual([]);
    });

    it('counts a first refund tally that already exceeds (no refundedFen before)', () => {
      expect(decodeStreamRecord(modify(paidOrder(120, 100), paidOrder(undefined, 100)))).toHaveLength(1);
    });

    it('stays quiet while the paid amount is unknown (a refund tally on an order not paid yet)', () => {
      expect(decodeStreamRecord(modify(paidOrder(120), paidOrder(60)))).toEqual([]);
      const tallyOnly = { pk: S('ORDER#1900000100#T2'), refundedFen: N(500) };
      expect(decodeStreamRecord(modify(tallyOnly, { pk: S('ORDER#1900000100#T2') }))).toEqual([]);
    });

    it('on a sparse image uses empty ids rather than throwing', () => {
      const next = { state: S('PAID'), paidFen: N(10), refundedFen: N(20) };
      expect(decodeStreamRecord(modify(next, { state: S('PAID'), paidFen: N(10) }))).toEqual([
        {
          type: 'ANOMALY',
          anomaly: 'REFUND_EXCEEDS_TOTAL',
          merchantId: '',
          outTradeNo: '',
          idempotencyKey: '#ANOMALY#REFUND_EXCEEDS_TOTAL',
        },
      ]);
    });
  });

  describe('sparse images', () => {
    it('decode refunds and coupons without throwing, with empty ids and zero amounts', () => {
      expect(decodeStreamRecord(modify({ entity: S('REFUND'), state: S('CLOSED') }))).toEqual([
        {
          type: 'REFUND_CLOSED',
          idempotencyKey: '#CLOSED',
          merchantId: '',
          outTradeNo: '',
          outRefundNo: '',
          refundId: '',
          refundFen: 0,
        },
      ]);
      expect(decodeStreamRecord(modify({ entity: S('COUPON'), state: S('SENT') }))).toEqual([
        {
          type: 'COUPON_SENT',
          idempotencyKey: '#SENT',
          merchantId: '',
          outTradeNo: '',
          couponCode: '',
          stockId: '',
          at: '',
        },
      ]);
    });

    it('decode transfers, profit sharing and kept events without throwing, with empty ids and zero amounts', () => {
      expect(decodeStreamRecord(modify({ entity: S('TRANSFER'), state: S('CANCELLED') }))).toEqual([
        {
          type: 'TRANSFER_CANCELLED',
          idempotencyKey: '#CANCELLED',
          merchantId: '',
          outTradeNo: '',
          outBillNo: '',
          transferBillNo: '',
          amountFen: 0,
          updatedAt: '',
        },
      ]);
      expect(decodeStreamRecord(modify({ entity: S('PROFIT_SHARING'), state: S('RECORDED') }))).toEqual([
        {
          type: 'PROFIT_SHARING',
          idempotencyKey: '#RECORDED',
          merchantId: '',
          outTradeNo: '',
          eventType: '',
          orderId: '',
          outOrderNo: '',
          transactionId: '',
          receiverType: '',
          receiverAccount: '',
          amountFen: 0,
          successAt: '',
        },
      ]);
      expect(decodeStreamRecord(modify({ entity: S('EVENT'), state: S('RECORDED') }))).toEqual([
        {
          type: 'WECHATPAY_EVENT',
          idempotencyKey: '#RECORDED',
          merchantId: '',
          outTradeNo: '',
          eventId: '',
          eventType: '',
          resourceType: '',
          summary: '',
          createTime: '',
          resource: '',
        },
      ]);
      // a transfer state the service never writes is no event
      expect(decodeStreamRecord(modify({ entity: S('TRANSFER'), state: S('PROCESSING') }))).toEqual([]);
    });

    it('an earlier image without a paid amount was not over-refunded: the crossing is reported', () => {
      const next = { pk: S('ORDER#1#T3'), state: S('PAID'), paidFen: N(10), refundedFen: N(20) };
      expect(
        decodeStreamRecord(modify(next, { pk: S('ORDER#1#T3'), state: S('PAID'), refundedFen: N(20) })),
      ).toHaveLength(1);
    });
  });

  it('decodes a batch in order, skipping removals', () => {
    const batch: StreamRecordLike[] = [
      modify({ pk: S('ORDER#1#A'), entity: S('ORDER'), state: S('CLOSED'), outTradeNo: S('A'), closedAt: S('t1') }),
      { eventName: 'REMOVE', dynamodb: { OldImage: { pk: S('ORDER#1#B') } } },
      modify({ pk: S('ORDER#1#C'), entity: S('ORDER'), state: S('CLOSED'), outTradeNo: S('C'), closedAt: S('t2') }),
    ];
    expect(decodeStreamRecords(batch).map((e) => e.outTradeNo)).toEqual(['A', 'C']);
  });
});
