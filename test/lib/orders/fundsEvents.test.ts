/**
 * The stream decoder on the new entities, from real writes to DynamoDB Local's stream: a transfer's
 * final state, a profit-sharing movement, a kept event, a payment kept unverified and one credited
 * below its amount each appear once as their own typed event; duplicates add none.
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeStreamRecords, type StreamRecordLike } from '../../../lib/orders/events';
import type { ProfitSharingReport, TransferReport } from '../../../lib/orders/funds';
import type { PaymentReport } from '../../../lib/orders/model';
import { createHarness, orderNo, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

async function readStream(): Promise<StreamRecordLike[]> {
  const arn = (await h.client.send(new DescribeTableCommand({ TableName: h.tableName }))).Table?.LatestStreamArn;
  const streams = new DynamoDBStreamsClient({
    endpoint: inject('dynamoEndpoint'),
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription?.Shards ?? [];
  const records: StreamRecordLike[] = [];
  for (const shard of shards) {
    let iterator = (
      await streams.send(
        new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }),
      )
    ).ShardIterator;
    for (let i = 0; iterator && i < 50; i++) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
      records.push(...((page.Records ?? []) as StreamRecordLike[]));
      if (!page.Records?.length) break;
      iterator = page.NextShardIterator;
    }
  }
  streams.destroy();
  return records;
}

describe('stream events of transfers, profit sharing, kept events and unverified payments', () => {
  it('one typed event per state change, none for a duplicate', async () => {
    const bill = orderNo('B');
    const failed = orderNo('F');
    const transfer = (outBillNo: string, state: TransferReport['state']): TransferReport => ({
      merchantId: h.keys.mchid,
      outBillNo,
      transferBillNo: `1330${outBillNo}`,
      state,
      amountFen: 300,
      updatedAt: '2026-11-23T02:00:00.000Z',
      failReason: state === 'FAIL' ? 'ACCOUNT_FROZEN' : undefined,
    });
    await h.store.applyTransfer(transfer(bill, 'SUCCESS'));
    await h.store.applyTransfer(transfer(bill, 'SUCCESS'));
    await h.store.applyTransfer(transfer(failed, 'FAIL'));
    const sharing: ProfitSharingReport = {
      eventType: 'PROFITSHARING.SUCCESS',
      merchantId: h.keys.mchid,
      orderId: '3008001',
      outOrderNo: 'P1',
      transactionId: '4200001',
      receiverType: 'MERCHANT_ID',
      receiverAccount: h.keys.mchid,
      amountFen: 120,
      successAt: '2026-11-23T02:00:00.000Z',
      description: undefined,
    };
    await h.store.recordProfitSharing(sharing);
    await h.store.recordProfitSharing(sharing);
    const event = {
      eventId: 'EV-1',
      eventType: 'COMPLAINT.CREATE',
      resourceType: 'encrypt-resource',
      summary: 'complaint',
      createTime: '2026-11-23T10:00:00+08:00',
      resource: '{"complaint_id":"1"}',
    };
    await h.store.recordEvent(event);
    await h.store.recordEvent(event);
    const unregistered = orderNo('U');
    const pay = (no: string, o: Partial<PaymentReport> = {}): PaymentReport => ({
      outTradeNo: no,
      merchantId: h.keys.mchid,
      transactionId: `42${no}`,
      amountFen: 500,
      paidAt: '2026-11-23T02:00:00.000Z',
      channel: 'v3',
      ...o,
    });
    await h.store.applyPayment(pay(unregistered), 'record');
    await h.store.applyPayment(pay(unregistered), 'record');
    const agg = orderNo('G');
    await h.store.registerOrder({ outTradeNo: agg, amountFen: 500, merchantId: h.keys.mchid, channel: 'aggregator' });
    await h.store.applyPayment(pay(agg, { channel: 'aggregator', transactionId: 'AGG-1', creditedFen: 480 }), 'reject');

    const events = decodeStreamRecords(await readStream());
    expect(events.map((e) => [e.type, e.type === 'ANOMALY' ? e.anomaly : ''])).toEqual([
      ['TRANSFER_SUCCEEDED', ''],
      ['TRANSFER_FAILED', ''],
      ['PROFIT_SHARING', ''],
      ['WECHATPAY_EVENT', ''],
      ['PAYMENT_UNVERIFIED', ''],
      ['ANOMALY', 'UNREGISTERED_ORDER'],
      ['PAYMENT_SUCCEEDED', ''],
      ['ANOMALY', 'CREDITED_BELOW_AMOUNT'],
    ]);
    expect(new Set(events.map((e) => e.idempotencyKey)).size).toBe(events.length);
    expect(events[1]).toMatchObject({ outBillNo: failed, failReason: 'ACCOUNT_FROZEN', amountFen: 300 });
    expect(events[2]).toMatchObject({ outOrderNo: 'P1', amountFen: 120, eventType: 'PROFITSHARING.SUCCESS' });
    expect(events[3]).toMatchObject({ eventId: 'EV-1', eventType: 'COMPLAINT.CREATE', resource: event.resource });
    expect(events[4]).toMatchObject({ outTradeNo: unregistered, amountFen: 500, via: 'v3' });
    expect(events[6]).toMatchObject({ outTradeNo: agg, amountFen: 500, creditedFen: 480, via: 'aggregator' });
  });
});
