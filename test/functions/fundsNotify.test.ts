/**
 * Events that are not payments or refunds, through the notify handler against real DynamoDB Local:
 * transfer results (MCHTRANSFER.BILL.FINISHED), profit-sharing movements (PROFITSHARING.*) and every
 * other verified APIv3 event (complaints, new types), each recorded once under 200 concurrent
 * duplicates; forged and inconsistent ones change nothing; no decrypted content reaches a log line.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { notifyHandler } from '../../lib/notify/lambda';
import { eventKey, profitSharingKey, transferKey } from '../../lib/orders/table';
import {
  v3Notification,
  v3ProfitSharingResource,
  v3TransferResource,
  type WireRequest,
} from '../../scripts/simulator/messages';
import { createHarness, orderNo, toEvent, type Harness } from '../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

type Reply = { statusCode: number; body: string };
const deliver = async (wire: WireRequest) =>
  (await notifyHandler('/notify/payment', () => h.deps())(toEvent(wire))) as Reply;
const ok = (r: Reply) => r.statusCode >= 200 && r.statusCode < 300;

async function item(pk: string) {
  return (
    await h.client.send(new GetItemCommand({ TableName: h.tableName, Key: { pk: { S: pk } }, ConsistentRead: true }))
  ).Item;
}

/** A copy of a signed notification whose body was changed after signing. */
const forged = (wire: WireRequest): WireRequest => ({ ...wire, body: wire.body.replace('"id":"', '"id":"X') });

describe('MCHTRANSFER.BILL.FINISHED', () => {
  const transfer = (outBillNo: string, state: 'SUCCESS' | 'FAIL' | 'CANCELLED', o: Record<string, unknown> = {}) =>
    v3Notification(h.keys, {
      eventType: 'MCHTRANSFER.BILL.FINISHED',
      originalType: 'mch_payment',
      resource: {
        ...v3TransferResource({
          mchid: h.keys.mchid,
          outBillNo,
          state,
          amount: 300,
          transferBillNo: `1330${outBillNo}`,
          ...(state === 'FAIL' ? { failReason: 'ACCOUNT_FROZEN' } : {}),
        }),
        ...o,
      },
    });

  it.each(['SUCCESS', 'FAIL', 'CANCELLED'] as const)(
    '%s: recorded exactly once under 200 concurrent duplicates, every delivery acknowledged',
    async (state) => {
      const no = orderNo('B');
      const wire = transfer(no, state);
      const replies = await Promise.all(Array.from({ length: 200 }, () => deliver(wire)));
      expect(replies.filter((r) => !ok(r))).toEqual([]);
      const it = await item(transferKey(h.keys.mchid, no));
      expect([it?.entity?.S, it?.state?.S, it?.amountFen?.N, it?.transferBillNo?.S]).toEqual([
        'TRANSFER',
        state,
        '300',
        `1330${no}`,
      ]);
      const lines = h.logs.filter((l) => l.message === 'delivery' && l.outBillNo === no);
      expect(lines.filter((l) => l.outcome === 'TRANSFER_APPLIED')).toHaveLength(1);
      expect(lines.filter((l) => l.outcome === 'TRANSFER_ALREADY_APPLIED')).toHaveLength(199);
    },
  );

  it('a different final state for a recorded bill: refused, anomaly, the first result stays', async () => {
    const no = orderNo('B');
    expect(ok(await deliver(transfer(no, 'SUCCESS')))).toBe(true);
    expect(ok(await deliver(transfer(no, 'FAIL')))).toBe(false);
    expect((await item(transferKey(h.keys.mchid, no)))?.state?.S).toBe('SUCCESS');
    expect(h.logs.some((l) => l.kind === 'TRANSFER_CONFLICT' && l.outBillNo === no)).toBe(true);
  });

  it.each([
    ['forged body', (no: string) => forged(transfer(no, 'SUCCESS'))],
    ['another merchant', (no: string) => transfer(no, 'SUCCESS', { mch_id: '1999999999' })],
    ['a state that is not final', (no: string) => transfer(no, 'SUCCESS', { state: 'PROCESSING' })],
    ['a fractional amount', (no: string) => transfer(no, 'SUCCESS', { transfer_amount: 1.5 })],
    ['a bad out_bill_no', (no: string) => transfer(no, 'SUCCESS', { out_bill_no: `${no}/../x` })],
  ])('%s: refused and nothing written', async (_name, make) => {
    const no = orderNo('B');
    expect(ok(await deliver(make(no)))).toBe(false);
    expect(await item(transferKey(h.keys.mchid, no))).toBeUndefined();
  });
});

describe('PROFITSHARING.*', () => {
  const sharing = (
    outOrderNo: string,
    orderId: string,
    type = 'PROFITSHARING.SUCCESS',
    o: Record<string, unknown> = {},
  ) =>
    v3Notification(h.keys, {
      eventType: type,
      originalType: 'profitsharing',
      resource: { ...v3ProfitSharingResource({ mchid: h.keys.mchid, outOrderNo, orderId, amount: 120 }), ...o },
    });
  const key = (orderId: string, type = 'PROFITSHARING.SUCCESS') =>
    profitSharingKey({
      eventType: type,
      merchantId: h.keys.mchid,
      orderId,
      receiverType: 'MERCHANT_ID',
      receiverAccount: h.keys.mchid,
    });

  it.each(['PROFITSHARING.SUCCESS', 'PROFITSHARING.RETURN'])(
    '%s: recorded exactly once under 200 concurrent duplicates',
    async (type) => {
      const no = orderNo('P');
      const orderId = `3008${Date.now()}`;
      const wire = sharing(no, orderId, type);
      const replies = await Promise.all(Array.from({ length: 200 }, () => deliver(wire)));
      expect(replies.filter((r) => !ok(r))).toEqual([]);
      const it = await item(key(orderId, type));
      expect([it?.entity?.S, it?.state?.S, it?.amountFen?.N, it?.outOrderNo?.S]).toEqual([
        'PROFIT_SHARING',
        'RECORDED',
        '120',
        no,
      ]);
      const lines = h.logs.filter((l) => l.message === 'delivery' && l.outOrderNo === no);
      expect(lines.filter((l) => l.outcome === 'PROFIT_SHARING_RECORDED')).toHaveLength(1);
    },
  );

  it.each([
    ['forged body', (no: string, id: string) => forged(sharing(no, id))],
    ['another merchant', (no: string, id: string) => sharing(no, id, undefined, { mchid: '1999999999' })],
    ['no receiver', (no: string, id: string) => sharing(no, id, undefined, { receiver: undefined })],
    [
      'a negative amount',
      (no: string, id: string) =>
        sharing(no, id, undefined, { receiver: { type: 'MERCHANT_ID', account: 'x', amount: -1 } }),
    ],
  ])('%s: refused and nothing written', async (_name, make) => {
    const no = orderNo('P');
    const orderId = `3009${Date.now()}`;
    expect(ok(await deliver(make(no, orderId)))).toBe(false);
    expect(await item(key(orderId))).toBeUndefined();
  });
});

describe('profit sharing labelled TRANSACTION.SUCCESS (as WeChat sends it to some merchants)', () => {
  // docs/protocol.md I: a split and its return may both arrive under this label; only the content tells
  const labelled = (id: string, orderId: string, o: Record<string, unknown> = {}) =>
    v3Notification(h.keys, {
      id,
      eventType: 'TRANSACTION.SUCCESS',
      originalType: 'profitsharing',
      summary: '分账',
      resource: { ...v3ProfitSharingResource({ mchid: h.keys.mchid, outOrderNo: 'P9', orderId, amount: 50 }), ...o },
    });
  const key = (orderId: string, notificationId: string) =>
    profitSharingKey({
      eventType: 'TRANSACTION.SUCCESS',
      merchantId: h.keys.mchid,
      orderId,
      receiverType: 'MERCHANT_ID',
      receiverAccount: h.keys.mchid,
      notificationId,
    });

  it('a split and its return, same order, receiver and amount: each kept once under 200 duplicates', async () => {
    const orderId = `3010${Date.now()}`;
    const [split, back] = [randomUUID(), randomUUID()];
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) => deliver(labelled(i % 2 === 0 ? split : back, orderId))),
    );
    expect(replies.filter((r) => !ok(r))).toEqual([]);
    for (const id of [split, back]) {
      const it = await item(key(orderId, id));
      expect([it?.entity?.S, it?.eventType?.S, it?.amountFen?.N]).toEqual([
        'PROFIT_SHARING',
        'TRANSACTION.SUCCESS',
        '50',
      ]);
    }
    const lines = h.logs.filter((l) => l.message === 'delivery' && l.outOrderNo === 'P9' && l.eventId !== undefined);
    const recorded = lines.filter((l) => l.outcome === 'PROFIT_SHARING_RECORDED').map((l) => l.eventId);
    expect(recorded.filter((id) => id === split || id === back).sort()).toEqual([split, back].sort());
  });

  it('for another merchant: refused and nothing written', async () => {
    const orderId = `3011${Date.now()}`;
    const id = randomUUID();
    expect(ok(await deliver(labelled(id, orderId, { mchid: '1999999999' })))).toBe(false);
    expect(await item(key(orderId, id))).toBeUndefined();
  });
});

describe('every other verified event is kept whole, once, and never logged', () => {
  const complaint = (id: string, type: string) =>
    v3Notification(h.keys, {
      id,
      eventType: type,
      originalType: 'complaint',
      summary: '投诉通知',
      resource: {
        complaint_id: '200201820200101080076610000',
        action_type: 'CREATE_COMPLAINT',
        secret_note: 'S3cr3tPhone13800000000',
      },
    });

  it.each(['COMPLAINT.CREATE', 'COMPLAINT.STATE_CHANGE', 'COMPLAINT.UPDATE', 'SOMETHING.NEW_NEXT_YEAR'])(
    '%s: stored under the notification id exactly once under 200 concurrent duplicates',
    async (type) => {
      const id = randomUUID();
      const wire = complaint(id, type);
      const replies = await Promise.all(Array.from({ length: 200 }, () => deliver(wire)));
      expect(replies.filter((r) => !ok(r))).toEqual([]);
      const it = await item(eventKey(id));
      expect([it?.entity?.S, it?.eventType?.S, it?.summary?.S]).toEqual(['EVENT', type, '投诉通知']);
      expect(JSON.parse(it?.resource?.S ?? '{}')).toMatchObject({ action_type: 'CREATE_COMPLAINT' });
      const lines = h.logs.filter((l) => l.message === 'delivery' && l.eventId === id);
      expect(lines.filter((l) => l.outcome === 'EVENT_RECORDED')).toHaveLength(1);
      expect(lines.filter((l) => l.outcome === 'EVENT_ALREADY_RECORDED')).toHaveLength(199);
      expect(JSON.stringify(h.logs)).not.toContain('S3cr3tPhone');
    },
  );

  it('a forged one is refused and nothing is written', async () => {
    const id = randomUUID();
    const wire = complaint(id, 'COMPLAINT.CREATE');
    const bad = { ...wire, body: wire.body.replace('投诉通知', '投诉通知!') };
    expect(ok(await deliver(bad))).toBe(false);
    expect(await item(eventKey(id))).toBeUndefined();
  });

  it('one encrypted under another key is refused and nothing is written', async () => {
    const id = randomUUID();
    const wire = v3Notification(
      { ...h.keys, apiV3Key: 'A'.repeat(32) },
      { id, eventType: 'COMPLAINT.CREATE', originalType: 'complaint', resource: { complaint_id: '1' } },
    );
    expect(ok(await deliver(wire))).toBe(false);
    expect(await item(eventKey(id))).toBeUndefined();
  });
});
