/**
 * Real merchants' shapes, black-box through the real local stack (serverless-offline in front of
 * DynamoDB Local, the simulator as WeChat Pay): a second appid over APIv2 and APIv3, combine
 * payments direct and service-provider, the aggregator, transfers, profit sharing and an event type
 * the service does not interpret. For each: the authentic message sent as concurrent duplicates is
 * acknowledged every time and recorded exactly once, counted on the table's stream (what the
 * downstream consumers see); the forged and the inconsistent message get the protocol's failure and
 * leave the stream untouched. Channels stay apart both ways. Then the simulator sends every shape
 * itself, as `npm start` shows them.
 *
 * Duplicates per shape: SHAPES_DUPLICATES (default 20, so the file stays bounded on a busy two-core
 * machine, where serverless-offline serves about six requests a second); `npm run test:shapes` runs
 * the issue's 200. The in-process tests (test/functions/fundsNotify, test/lib/notify/combine, appids)
 * run 200 per shape against the same handler code.
 */
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeStreamRecords, type StreamRecordLike } from '../../lib/orders/events';
import { eventKey, orderKey, profitSharingKey, transferKey } from '../../lib/orders/table';
import type { OrderStore } from '../../lib/orders/store';
import { aggregatorNotification, aggregatorResult } from '../../scripts/simulator/aggregator';
import { generateTestKeys, type TestKeys } from '../../scripts/simulator/keys';
import {
  v2PaymentNotification,
  v3CombineResource,
  v3Notification,
  v3ProfitSharingResource,
  v3TransactionResource,
  v3TransferResource,
  type V3CombineParams,
  type WireRequest,
} from '../../scripts/simulator/messages';
import { secondAppid } from '../../scripts/simulator/shapes';
import type { Simulator } from '../../scripts/simulator/server';
import { startE2eStack, type E2eStack } from '../support/e2e';
import { streamRecords } from '../support/stream';
import { orderNo } from '../support/harness';

const DUPLICATES = Number(process.env.SHAPES_DUPLICATES ?? 20);
/** A storm's bound: a worker thread per concurrent request starts cold, then each request takes its turn. */
const STORM_MS = 45_000 + DUPLICATES * 600;
const AGGREGATOR_SECRET = 'test-only-aggregator-secret';
const FOREIGN_APPID = 'wx00000000000000ff';
const FOREIGN_MCHID = '1999999999';
const SUB_A = '1900000201';
const SUB_B = '1900000202';

vi.setConfig({ testTimeout: STORM_MS });

let stack: E2eStack;
let sim: Simulator;
let keys: TestKeys;
let store: OrderStore;
let streams: DynamoDBStreamsClient;

beforeAll(async () => {
  keys = generateTestKeys();
  stack = await startE2eStack({
    keys,
    env: { AGGREGATOR_SECRET, WECHATPAY_APPIDS: secondAppid(keys) },
    simulator: { timeScale: 0.001 },
    keepOutput: 4000,
  });
  ({ sim, store, streams } = stack);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

type Format = 'v2' | 'v3' | 'aggregator';
interface Reply {
  status: number;
  body: string;
}

async function post(wire: WireRequest, path = '/notify/payment'): Promise<Reply> {
  const res = await fetch(`${stack.httpUrl}${path}`, { method: 'POST', headers: wire.headers, body: wire.body });
  return { status: res.status, body: await res.text() };
}

/** The same message `DUPLICATES` times at once. */
const storm = (wire: WireRequest, path?: string) =>
  Promise.all(Array.from({ length: DUPLICATES }, () => post(wire, path)));

/** Whether WeChat (or the aggregator) counts the reply as received; a Lambda error body never is. */
function acknowledged(format: Format, r: Reply): boolean {
  if (r.body.includes('errorMessage')) return false;
  if (format === 'v3') return r.status >= 200 && r.status < 300;
  if (format === 'v2') return r.status === 200 && r.body.includes('<return_code><![CDATA[SUCCESS]]></return_code>');
  return r.status === 200 && r.body === 'success';
}

/** The protocol's failure: v3 a 4xx with {code: FAIL}, v2 FAIL XML, the aggregator `fail`. */
function expectFailure(format: Format, r: Reply): void {
  if (format === 'v3') {
    expect(r.status, r.body).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'FAIL' });
  } else if (format === 'v2') {
    expect(r.status).toBe(200);
    expect(r.body).toContain('<return_code><![CDATA[FAIL]]></return_code>');
  } else {
    expect(r).toMatchObject({ status: 400, body: 'fail' });
  }
}

function expectAllAcknowledged(format: Format, replies: Reply[]): void {
  const refused = replies.filter((r) => !acknowledged(format, r));
  expect(refused.slice(0, 3), `${refused.length} not acknowledged\n${stack.output}`).toEqual([]);
  expect(replies).toHaveLength(DUPLICATES);
}

/** Every stream record of the table so far (DynamoDB Local keeps one shard per table here). */
function streamRecordsSoFar(): Promise<StreamRecordLike[]> {
  return streamRecords(stack.dynamo, streams, stack.tableName);
}

/** The stream records of these items, and the typed events decoded from them. */
async function changesOf(...pks: string[]) {
  const wanted = new Set(pks);
  const read = async () =>
    (await streamRecordsSoFar()).filter((r) => wanted.has((r.dynamodb?.NewImage ?? r.dynamodb?.OldImage)?.pk?.S ?? ''));
  // a loaded DynamoDB Local may publish a record a moment after the write: read until two reads agree
  let records = await read();
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 300));
    const again = await read();
    if (again.length === records.length) break;
    records = again;
  }
  return { records, events: decodeStreamRecords(records).map((e) => e.type) };
}

/** State changes only: a registration (INSERT of NOTPAY) is not a transition. */
const transitions = (records: StreamRecordLike[]) =>
  records.filter((r) => r.eventName === 'MODIFY' && r.dynamodb?.OldImage?.state?.S !== r.dynamodb?.NewImage?.state?.S);

async function registered(fen: number, o: { merchantId?: string; channel?: 'aggregator'; combine?: string } = {}) {
  const no = orderNo('SH');
  await store.registerOrder({
    outTradeNo: no,
    amountFen: fen,
    merchantId: o.merchantId ?? keys.mchid,
    ...(o.channel === undefined ? {} : { channel: o.channel }),
    ...(o.combine === undefined ? {} : { combineOutTradeNo: o.combine }),
  });
  return no;
}

const v3Payment = (no: string, total: number, extra: Record<string, unknown> = {}) =>
  v3Notification(keys, {
    eventType: 'TRANSACTION.SUCCESS',
    originalType: 'transaction',
    resource: v3TransactionResource(keys, { outTradeNo: no, total, extra }),
  });
const combine = (p: V3CombineParams) =>
  v3Notification(keys, {
    eventType: 'TRANSACTION.SUCCESS',
    originalType: 'transaction',
    resource: v3CombineResource(keys, p),
  });
/** The signed message with one byte of its body changed after signing. */
const forged = (wire: WireRequest): WireRequest => ({ ...wire, body: wire.body.replace('"id":"', '"id":"X') });
const state = async (no: string, merchantId = keys.mchid) => (await store.getOrder(merchantId, no))?.state;

describe('a second appid', () => {
  it('APIv2: acknowledged every time, one transition; forged and foreign-appid ones change nothing', async () => {
    const no = await registered(1200);
    const wire = v2PaymentNotification(keys, { outTradeNo: no, totalFee: 1200, extra: { appid: secondAppid(keys) } });
    const replies = await storm(wire);
    const bad = await registered(1200);
    // a signature that is not the key's over these fields
    const tampered = v2PaymentNotification(keys, {
      outTradeNo: bad,
      totalFee: 1200,
      extra: { appid: secondAppid(keys), sign: 'A'.repeat(32) },
    });
    const foreign = v2PaymentNotification(keys, { outTradeNo: bad, totalFee: 1200, extra: { appid: FOREIGN_APPID } });
    expectFailure('v2', await post(tampered));
    expectFailure('v2', await post(foreign));
    const paid = await changesOf(orderKey(keys.mchid, no));
    expect(transitions(paid.records)).toHaveLength(1);
    expect(paid.events.filter((t) => t === 'PAYMENT_SUCCEEDED')).toHaveLength(1);
    expect(transitions((await changesOf(orderKey(keys.mchid, bad))).records)).toEqual([]);
    expect(await state(bad)).toBe('NOTPAY');
    // acknowledgements last: an overloaded stack times out, but must still have applied once
    expectAllAcknowledged('v2', replies);
  });

  it('APIv3: acknowledged every time, one transition; forged and foreign-appid ones change nothing', async () => {
    const no = await registered(990);
    const wire = v3Payment(no, 990, { appid: secondAppid(keys) });
    const replies = await storm(wire);
    const bad = await registered(990);
    expectFailure('v3', await post(forged(v3Payment(bad, 990, { appid: secondAppid(keys) }))));
    expectFailure('v3', await post(v3Payment(bad, 990, { appid: FOREIGN_APPID })));
    expect(transitions((await changesOf(orderKey(keys.mchid, no))).records)).toHaveLength(1);
    expect(transitions((await changesOf(orderKey(keys.mchid, bad))).records)).toEqual([]);
    expect(await state(bad)).toBe('NOTPAY');
    // acknowledgements last: an overloaded stack times out, but must still have applied once
    expectAllAcknowledged('v3', replies);
  });
});

describe('combine payments', () => {
  it('direct, 3 sub-orders: acknowledged every time, exactly 3 transitions', async () => {
    const combineNo = orderNo('CB');
    const nos = [await registered(100), await registered(250), await registered(399)];
    const wire = combine({
      combineOutTradeNo: combineNo,
      subOrders: nos.map((outTradeNo, i) => ({ outTradeNo, total: [100, 250, 399][i] as number })),
    });
    const replies = await storm(wire);
    const { records, events } = await changesOf(...nos.map((n) => orderKey(keys.mchid, n)));
    expect(transitions(records)).toHaveLength(3);
    expect(events.filter((t) => t === 'PAYMENT_SUCCEEDED')).toHaveLength(3);
    // acknowledgements last: an overloaded stack times out, but must still have applied once
    expectAllAcknowledged('v3', replies);
  });

  it('service provider, a sub-order per sub-merchant: exactly one transition each', async () => {
    const a = await registered(700, { merchantId: SUB_A });
    const b = await registered(800, { merchantId: SUB_B });
    const wire = combine({
      combineOutTradeNo: orderNo('CP'),
      subOrders: [
        { outTradeNo: a, total: 700, subMchid: SUB_A },
        { outTradeNo: b, total: 800, subMchid: SUB_B },
      ],
    });
    const replies = await storm(wire);
    const { records } = await changesOf(orderKey(SUB_A, a), orderKey(SUB_B, b));
    expect(transitions(records)).toHaveLength(2);
    expect([await state(a, SUB_A), await state(b, SUB_B)]).toEqual(['PAID', 'PAID']);
    // acknowledgements last: an overloaded stack times out, but must still have applied once
    expectAllAcknowledged('v3', replies);
  });

  it('forged, or from another initiator: refused, no sub-order changes', async () => {
    const nos = [await registered(100), await registered(200)];
    const p = {
      combineOutTradeNo: orderNo('CX'),
      subOrders: nos.map((n, i) => ({ outTradeNo: n, total: (i + 1) * 100 })),
    };
    expectFailure('v3', await post(forged(combine(p))));
    expectFailure('v3', await post(combine({ ...p, combineMchid: FOREIGN_MCHID })));
    expectFailure('v3', await post(combine({ ...p, combineAppid: FOREIGN_APPID })));
    expect(transitions((await changesOf(...nos.map((n) => orderKey(keys.mchid, n)))).records)).toEqual([]);
  });

  it('one inconsistent sub-order: the failure reply, that sub-order unchanged, the consistent ones applied once', async () => {
    const nos = [await registered(100), await registered(200), await registered(300)];
    const wire = combine({
      combineOutTradeNo: orderNo('CA'),
      subOrders: [
        { outTradeNo: nos[0] as string, total: 100 },
        { outTradeNo: nos[1] as string, total: 201 },
        { outTradeNo: nos[2] as string, total: 300 },
      ],
    });
    const replies = await Promise.all([post(wire), post(wire), post(wire)]);
    for (const r of replies) expectFailure('v3', r);
    expect(await Promise.all(nos.map((n) => state(n)))).toEqual(['PAID', 'NOTPAY', 'PAID']);
    expect(transitions((await changesOf(...nos.map((n) => orderKey(keys.mchid, n)))).records)).toHaveLength(2);
  });
});

describe('the aggregator', () => {
  const notice = (no: string, amount: string, secret = AGGREGATOR_SECRET) =>
    aggregatorNotification({ secret, result: aggregatorResult({ orderid: no, amount, real_amount: amount }) });

  it('acknowledged every time, one transition; forged and another amount change nothing', async () => {
    const no = await registered(1990, { channel: 'aggregator' });
    const replies = await storm(notice(no, '19.90'), '/notify/aggregator');
    const bad = await registered(1990, { channel: 'aggregator' });
    expectFailure('aggregator', await post(notice(bad, '19.90', 'wrong-secret'), '/notify/aggregator'));
    expectFailure('aggregator', await post(notice(bad, '19.91'), '/notify/aggregator'));
    expect(transitions((await changesOf(orderKey(keys.mchid, no))).records)).toHaveLength(1);
    expect(transitions((await changesOf(orderKey(keys.mchid, bad))).records)).toEqual([]);
    // acknowledgements last: an overloaded stack times out, but must still have applied once
    expectAllAcknowledged('aggregator', replies);
  });
});

describe('channels kept apart', () => {
  it('an aggregator notification for an order registered for WeChat Pay is refused and changes nothing', async () => {
    const no = await registered(500);
    const result = aggregatorResult({ orderid: no, amount: '5.00', real_amount: '5.00' });
    const replies = await Promise.all(
      Array.from({ length: 3 }, () =>
        post(aggregatorNotification({ secret: AGGREGATOR_SECRET, result }), '/notify/aggregator'),
      ),
    );
    for (const r of replies) expectFailure('aggregator', r);
    expect(await state(no)).toBe('NOTPAY');
    expect((await changesOf(orderKey(keys.mchid, no))).records.map((r) => r.eventName)).toEqual(['INSERT']);
  });

  it('a WeChat Pay notification for an order registered for the aggregator is refused and changes nothing', async () => {
    const no = await registered(500, { channel: 'aggregator' });
    expectFailure('v3', await post(v3Payment(no, 500)));
    expectFailure('v2', await post(v2PaymentNotification(keys, { outTradeNo: no, totalFee: 500 })));
    expect(await state(no)).toBe('NOTPAY');
    expect((await changesOf(orderKey(keys.mchid, no))).records.map((r) => r.eventName)).toEqual(['INSERT']);
  });
});

describe('transfers, profit sharing and events the service does not interpret', () => {
  const transfer = (outBillNo: string, o: Record<string, unknown> = {}) =>
    v3Notification(keys, {
      eventType: 'MCHTRANSFER.BILL.FINISHED',
      originalType: 'mch_payment',
      resource: {
        ...v3TransferResource({ mchid: keys.mchid, outBillNo, state: 'SUCCESS', amount: 300 }),
        ...o,
      },
    });

  it('MCHTRANSFER.BILL.FINISHED: acknowledged every time, recorded once; forged and foreign ones not at all', async () => {
    const bill = orderNo('B');
    const replies = await storm(transfer(bill));
    const bad = orderNo('B');
    expectFailure('v3', await post(forged(transfer(bad))));
    expectFailure('v3', await post(transfer(bad, { mch_id: FOREIGN_MCHID })));
    const kept = await changesOf(transferKey(keys.mchid, bill));
    expect(kept.records.map((r) => r.eventName)).toEqual(['INSERT']);
    expect(kept.events).toEqual(['TRANSFER_SUCCEEDED']);
    expect((await changesOf(transferKey(keys.mchid, bad))).records).toEqual([]);
    // acknowledgements last: an overloaded stack times out, but must still have applied once
    expectAllAcknowledged('v3', replies);
  });

  it('PROFITSHARING.SUCCESS: acknowledged every time, recorded once; forged and foreign ones not at all', async () => {
    const orderId = `3008${Date.now()}`;
    const sharing = (o: Record<string, unknown> = {}, id = orderId) =>
      v3Notification(keys, {
        eventType: 'PROFITSHARING.SUCCESS',
        originalType: 'profitsharing',
        resource: {
          ...v3ProfitSharingResource({ mchid: keys.mchid, outOrderNo: 'P1', orderId: id, amount: 120 }),
          ...o,
        },
      });
    const key = (id: string) =>
      profitSharingKey({
        eventType: 'PROFITSHARING.SUCCESS',
        merchantId: keys.mchid,
        orderId: id,
        receiverType: 'MERCHANT_ID',
        receiverAccount: keys.mchid,
      });
    const replies = await storm(sharing());
    const badId = `3009${Date.now()}`;
    expectFailure('v3', await post(forged(sharing({}, badId))));
    expectFailure('v3', await post(sharing({ mchid: FOREIGN_MCHID }, badId)));
    const kept = await changesOf(key(orderId));
    expect(kept.records.map((r) => r.eventName)).toEqual(['INSERT']);
    expect(kept.events).toEqual(['PROFIT_SHARING']);
    expect((await changesOf(key(badId))).records).toEqual([]);
    // acknowledgements last: an overloaded stack times out, but must still have applied once
    expectAllAcknowledged('v3', replies);
  });

  it('an event type without a handler: kept once under its id; forged or undecryptable, not at all', async () => {
    const id = randomUUID();
    const event = (eventId: string, apiV3Key = keys.apiV3Key) =>
      v3Notification(
        { ...keys, apiV3Key },
        { id: eventId, eventType: 'COMPLAINT.CREATE', originalType: 'complaint', resource: { complaint_id: '2002' } },
      );
    const replies = await storm(event(id));
    const bad = randomUUID();
    expectFailure('v3', await post(forged(event(bad))));
    expectFailure('v3', await post(event(bad, 'A'.repeat(32))));
    const kept = await changesOf(eventKey(id));
    expect(kept.records.map((r) => r.eventName)).toEqual(['INSERT']);
    expect(kept.events).toEqual(['WECHATPAY_EVENT']);
    expect((await changesOf(eventKey(bad), eventKey(`X${bad}`))).records).toEqual([]);
    // acknowledgements last: an overloaded stack times out, but must still have applied once
    expectAllAcknowledged('v3', replies);
  });
});

describe('the simulator sends every shape (what `npm start` shows)', () => {
  it('a second appid, combine payments direct and provider, transfers, profit sharing and a complaint', async () => {
    // until acknowledged: WeChat's retries (scaled) carry a delivery past a first attempt the busy stack answers late
    const wait = 'all' as const;
    const v2 = await registered(321);
    const v3 = await registered(654);
    const paidV2 = await sim.control.pay({
      outTradeNo: v2,
      amount: 321,
      appid: secondAppid(keys),
      protocol: 'v2',
      wait,
    });
    const paidV3 = await sim.control.pay({
      outTradeNo: v3,
      amount: 654,
      appid: secondAppid(keys),
      protocol: 'v3',
      wait,
    });
    const subs = [await registered(100), await registered(200), await registered(300)];
    const direct = await sim.shapes.payCombine({
      combineOutTradeNo: orderNo('SC'),
      subOrders: subs.map((outTradeNo, i) => ({ outTradeNo, amount: (i + 1) * 100 })),
      wait,
    });
    const a = await registered(700, { merchantId: SUB_A });
    const provider = await sim.shapes.payCombine({
      combineOutTradeNo: orderNo('SP'),
      subOrders: [{ outTradeNo: a, amount: 700, subMchid: SUB_A }],
      wait,
    });
    const bills = ['SUCCESS', 'FAIL', 'CANCELLED'] as const;
    const transfers = await Promise.all(
      bills.map((s, i) => sim.control.sendFunds({ kind: 'transfer', outNo: `SIMB${i}${Date.now()}`, state: s, wait })),
    );
    const sharing = await sim.control.sendFunds({ kind: 'profitsharing', outNo: `SIMP${Date.now()}`, wait });
    const complaint = await sim.shapes.sendEvent({ eventType: 'COMPLAINT.CREATE', wait });
    const deliveries = [paidV2, paidV3, direct, provider, ...transfers, sharing, complaint].map((d) => d.delivery);
    expect(
      deliveries.map((d) => d.accepted),
      JSON.stringify(deliveries.filter((d) => !d.accepted)),
    ).toEqual(Array(deliveries.length).fill(true));
    expect(await Promise.all([v2, v3, ...subs].map((n) => state(n)))).toEqual(Array(5).fill('PAID'));
    expect(await store.getOrder(keys.mchid, v2)).toMatchObject({ transactionId: paidV2.order.transactionId });
    expect(await state(a, SUB_A)).toBe('PAID');
    expect((await changesOf(eventKey(complaint.id))).events).toEqual(['WECHATPAY_EVENT']);
  });
});
