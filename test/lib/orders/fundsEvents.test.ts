/**
 * The stream decoder on the new entities, from real writes to DynamoDB Local's stream: a transfer's
 * final state, a profit-sharing movement, a kept event, a payment kept unverified and one credited
 * below its amount each appear once as their own typed event; duplicates add none.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeStreamRecords } from '../../../lib/orders/events';
import type { ProfitSharingReport, TransferReport } from '../../../lib/orders/funds';
import { createHarness, orderNo, type Harness } from '../../support/harness';
import { paymentReport } from '../../support/reports';
import { readStream } from '../../support/stream';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

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
    await h.store.applyPayment(paymentReport(h, unregistered), 'record');
    await h.store.applyPayment(paymentReport(h, unregistered), 'record');
    const agg = orderNo('G');
    await h.store.registerOrder({ outTradeNo: agg, amountFen: 500, merchantId: h.keys.mchid, channel: 'aggregator' });
    await h.store.applyPayment(
      paymentReport(h, agg, { channel: 'aggregator', transactionId: 'AGG-1', creditedFen: 480 }),
      'reject',
    );

    const events = decodeStreamRecords(await readStream(h));
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
