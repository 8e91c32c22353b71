/**
 * The stream decoder on records produced by real writes to DynamoDB Local's stream: each state
 * change appears once, duplicates and bookkeeping writes produce no event, keys are stable.
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeStreamRecord, decodeStreamRecords, type DomainEvent } from '../../../lib/orders/events';
import type { PaymentReport, RefundReport } from '../../../lib/orders/model';
import { createHarness, orderNo, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

/** Every record in the table's stream so far, in shard order. */
async function readStream(): Promise<Parameters<typeof decodeStreamRecord>[0][]> {
  const arn = (await h.client.send(new DescribeTableCommand({ TableName: h.tableName }))).Table?.LatestStreamArn;
  const streams = new DynamoDBStreamsClient({
    endpoint: inject('dynamoEndpoint'),
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription?.Shards ?? [];
  const records: Parameters<typeof decodeStreamRecord>[0][] = [];
  for (const shard of shards) {
    let iterator = (
      await streams.send(
        new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }),
      )
    ).ShardIterator;
    for (let i = 0; iterator && i < 50; i++) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
      records.push(...((page.Records ?? []) as Parameters<typeof decodeStreamRecord>[0][]));
      if (!page.Records?.length) break;
      iterator = page.NextShardIterator;
    }
  }
  streams.destroy();
  return records;
}

const pay = (no: string, fen: number, tx = `42${no}`): PaymentReport => ({
  outTradeNo: no,
  merchantId: h.keys.mchid,
  transactionId: tx,
  amountFen: fen,
  paidAt: '2026-11-23T02:00:00.000Z',
  channel: 'v3',
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
      await h.store.applyPayment(pay(a, 100), 'record');
      await h.store.applyPayment(pay(a, 100), 'record'); // duplicate: refused write, no record
      await h.store.applyRefund(refund(a, `${a}R1`, 'ABNORMAL', 30));
      await h.store.applyRefund(refund(a, `${a}R1`, 'SUCCESS', 30));
      await h.store.applyRefund(refund(a, `${a}R1`, 'SUCCESS', 30)); // duplicate
      await h.store.applyRefund(refund(a, `${a}R2`, 'SUCCESS', 80)); // crosses the paid total
      await h.store.applyClose(h.keys.mchid, b);
      await h.store.applyClose(h.keys.mchid, c);
      await h.store.applyPayment(pay(c, 100), 'record'); // paid after close
      const unregistered = orderNo('U');
      await h.store.applyPayment(pay(unregistered, 5), 'record');
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

      const events = decodeStreamRecords(await readStream());
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
        ['PAYMENT_SUCCEEDED', unregistered, ''],
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
      const records = await readStream();
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
