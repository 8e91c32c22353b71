/**
 * The day's reconciliation end to end against the real simulator and DynamoDB Local: a 10,000-row bill
 * with every discrepancy kind injected three times is reconciled with every injected discrepancy found
 * and no other; a second run repairs nothing and finds nothing new; a tampered file and a summary that
 * disagrees with the rows fail and change nothing; a dry run writes nothing.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AttributeValue, BatchWriteItemCommand, CreateTableCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding, FindingKind } from '../../lib/bills/compare';
import { billClientDeps } from '../../lib/bills/fetch';
import { readBillReport, billReportRecorder } from '../../lib/bills/reportItem';
import { folderSink, runBill, type BillRunDeps, type BillReport } from '../../lib/bills/run';
import { PayError } from '../../lib/errors';
import { beijingDay, type BillAlteration, type BillInjection } from '../../scripts/simulator/bills';
import { generateTestKeys } from '../../scripts/simulator/keys';
import { startSimulator, type Simulator } from '../../scripts/simulator/server';
import type { SimOrder } from '../../scripts/simulator/state';
import { createHarness, type Harness } from '../support/harness';
import { createDynamoOrderStore } from '../../lib/orders/dynamodb';
import type { OrderStore } from '../../lib/orders/store';
import { DEFAULT_PENDING_SHARDS, paidDayKey, tableDefinition } from '../../lib/orders/table';

const PAYMENTS = 9_000;
const REFUNDS = 1_000;
const UNPAID = 10;
const TIMES = 3;
const keys = generateTestKeys();
const date = beijingDay(Date.now());
let sim: Simulator;
let h: Harness;
let dir: string;
let deps: BillRunDeps;
let store: OrderStore;
let tableName: string;

/** What each injection must be found as (the README's "Next-day bill reconciliation"). */
const EXPECTED: Record<BillInjection, FindingKind> = {
  'unknown-payment': 'PAID_UNKNOWN_HERE',
  'unpaid-here': 'STATE_DIFFERS',
  'unknown-refund': 'REFUND_UNKNOWN_HERE',
  'missing-payment': 'PAID_HERE_NOT_IN_BILL',
  amount: 'AMOUNT_DIFFERS',
  transaction: 'TRANSACTION_DIFFERS',
  'refund-amount': 'REFUND_DIFFERS',
  'refund-state': 'REFUND_DIFFERS',
};

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const item = items[next] as T;
        next += 1;
        await fn(item);
      }
    }),
  );
}

const no = (i: number) => `B${String(i).padStart(6, '0')}`;
const key = (a: { outTradeNo: string; outRefundNo?: string | undefined }) => `${a.outTradeNo}/${a.outRefundNo ?? ''}`;

beforeAll(async () => {
  sim = await startSimulator({ keys });
  h = await createHarness({ keys });
  // the production table but its stream: no bill step reads the stream, and DynamoDB Local records a
  // stream entry per write, which made the 10,000-item setup several times slower
  tableName = `${h.tableName}-bills`;
  await h.client.send(new CreateTableCommand({ ...tableDefinition(tableName), StreamSpecification: undefined }));
  store = createDynamoOrderStore({ client: h.client, tableName });
  dir = await mkdtemp(join(tmpdir(), 'bills-run-'));
  sim.bills.readiness = 'always';
  const config = { ...h.config, apiBaseUrl: sim.url };
  deps = {
    fetch: { client: billClientDeps(config), dir },
    store,
    table: { client: h.client, tableName, shards: DEFAULT_PENDING_SHARDS },
    logger: h.logger,
    sink: folderSink(join(dir, 'reports')),
    recordReport: billReportRecorder(h.client, tableName),
    now: Date.now,
  };
  // WeChat's record: paid orders, some refunded, a few unpaid; the table learns them as notifications would
  const paid = Array.from({ length: PAYMENTS }, (_, i) => i);
  for (const i of paid) {
    sim.state.createOrder({ outTradeNo: no(i), amount: 100 + i, mchid: keys.mchid, appid: keys.appid });
    sim.state.pay(keys.mchid, no(i));
  }
  for (let i = 0; i < UNPAID; i += 1)
    sim.state.createOrder({ outTradeNo: `U${i}`, amount: 50 + i, mchid: keys.mchid, appid: keys.appid });
  const refunded = paid.slice(0, REFUNDS).map((i) => {
    const { refund } = sim.state.refund({
      merchantId: keys.mchid,
      outTradeNo: no(i),
      outRefundNo: `R${no(i)}`,
      amount: 10,
      status: 'SUCCESS',
    });
    return refund;
  });
  // The table learns them as notifications would: the first refunded order and the first order without
  // a refund go through the real store, and every other order is a copy of the items those writes made,
  // its ids, amounts and times swapped in, sent with BatchWriteItem (one request per 25 items instead
  // of a conditional write each). The reconciliation itself then runs through the real code.
  const orders = new Map(sim.state.listOrders().map((o) => [o.outTradeNo, o]));
  const refundOf = new Map(refunded.map((r) => [r.outTradeNo, r]));
  const learn = async (outTradeNo: string) => {
    const o = orders.get(outTradeNo);
    if (o?.transactionId === undefined) throw new Error(`${outTradeNo} is not paid at the simulator`);
    // registered first, as the merchant's order function would: a payment for an order never registered is PAID_UNVERIFIED
    await store.registerOrder({ outTradeNo: o.outTradeNo, amountFen: o.amount, merchantId: o.merchantId });
    await store.applyPayment(
      {
        outTradeNo: o.outTradeNo,
        merchantId: o.merchantId,
        transactionId: o.transactionId,
        amountFen: o.amount,
        paidAt: new Date(o.successTime ?? 0).toISOString(),
        channel: 'v3',
      },
      'record',
    );
    const r = refundOf.get(outTradeNo);
    if (r === undefined) return;
    await store.applyRefund({
      outRefundNo: r.outRefundNo,
      outTradeNo: r.outTradeNo,
      merchantId: r.merchantId,
      refundId: r.refundId,
      transactionId: r.transactionId,
      state: 'SUCCESS',
      refundFen: r.amount,
      totalFen: r.total,
      successAt: new Date(r.successTime ?? 0).toISOString(),
      channel: 'v3',
    });
  };
  const templates = [0, REFUNDS];
  for (const i of templates) await learn(no(i));
  const written = (await h.client.send(new ScanCommand({ TableName: tableName }))).Items ?? [];
  const copies: Record<string, AttributeValue>[] = [];
  for (const i of paid) {
    if (templates.includes(i)) continue;
    const t = i < REFUNDS ? 0 : REFUNDS;
    const from = orders.get(no(t)) as SimOrder;
    const to = orders.get(no(i)) as SimOrder;
    const swaps: Array<[string, string]> = [
      [no(t), no(i)],
      [from.transactionId ?? '', to.transactionId ?? ''],
      [new Date(from.successTime ?? 0).toISOString(), new Date(to.successTime ?? 0).toISOString()],
    ];
    const rFrom = refundOf.get(no(t));
    const rTo = refundOf.get(no(i));
    if (rFrom !== undefined && rTo !== undefined) {
      swaps.push([rFrom.refundId, rTo.refundId]);
      swaps.push([new Date(rFrom.successTime ?? 0).toISOString(), new Date(rTo.successTime ?? 0).toISOString()]);
    }
    for (const item of written) {
      if (!JSON.stringify(item).includes(`${no(t)}"`)) continue;
      const copy: Record<string, AttributeValue> = Object.fromEntries(
        Object.entries(item).map(([k, v]) => {
          if (v.S !== undefined) return [k, { S: swaps.reduce((acc, [a, b]) => acc.replaceAll(a, b), v.S) }];
          // the order's amount (and the refund's order total) are the only numbers equal to it
          if (v.N !== undefined && Number(v.N) === from.amount) return [k, { N: String(to.amount) }];
          return [k, v];
        }),
      );
      // the paid-day entry goes to the copy's own shard, as the payment write would have put it
      if (copy.paidDay !== undefined)
        copy.paidDay = {
          S: paidDayKey(copy.paidAt?.S ?? '', keys.mchid, to.outTradeNo, DEFAULT_PENDING_SHARDS) ?? '',
        };
      copies.push(copy);
    }
  }
  const batches = Array.from({ length: Math.ceil(copies.length / 25) }, (_, b) => copies.slice(b * 25, b * 25 + 25));
  await inParallel(batches, 4, async (batch) => {
    let requests = batch.map((Item) => ({ PutRequest: { Item } }));
    while (requests.length > 0) {
      const out = await h.client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: requests } }));
      requests = (out.UnprocessedItems?.[tableName] ?? []) as typeof requests;
    }
  });
  for (const o of orders.values()) {
    if (o.transactionId === undefined)
      await store.registerOrder({ outTradeNo: o.outTradeNo, amountFen: o.amount, merchantId: o.merchantId });
  }
  // the copies are what the store itself would have written: spot-check one of each kind through the store
  const paidCopy = orders.get(no(PAYMENTS - 1)) as SimOrder;
  expect(await store.getOrder(keys.mchid, paidCopy.outTradeNo)).toMatchObject({
    state: 'PAID',
    transactionId: paidCopy.transactionId,
    amountFen: paidCopy.amount,
  });
  const refundCopy = refundOf.get(no(REFUNDS - 1));
  expect(await store.getRefund(keys.mchid, refundCopy?.outRefundNo ?? '')).toMatchObject({
    state: 'SUCCESS',
    refundId: refundCopy?.refundId,
    refundFen: 10,
  });
}, 600_000);

afterAll(async () => {
  await sim?.close();
  await rm(dir, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<PayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PayError);
  return err as PayError;
}

function tally(findings: Finding[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of findings) out[f.kind] = (out[f.kind] ?? 0) + 1;
  return out;
}

describe('bill reconciliation against the simulator', () => {
  let injected: BillAlteration[];

  it('finds every injected discrepancy and nothing else, repairing what the bill proves', async () => {
    for (const injection of Object.keys(EXPECTED) as BillInjection[]) sim.bills.inject(injection, TIMES, date);
    injected = sim.bills.build(date, keys.mchid).alterations;
    expect(injected).toHaveLength(Object.keys(EXPECTED).length * TIMES);

    // a dry run first: the same findings, nothing written
    const dry = await runBill(deps, { billDate: date }, { dryRun: true });
    if (dry.kind !== 'DONE') throw new Error('expected a report');
    expect(dry.report.totals.repaired).toBe(0);
    const unknown = injected.find((a) => a.injection === 'unknown-payment') as BillAlteration;
    expect(await store.getOrder(keys.mchid, unknown.outTradeNo)).toBeUndefined();
    expect(await readBillReport(h.client, tableName, keys.mchid, date)).toBeUndefined();

    const run = await runBill(deps, { billDate: date }, { dryRun: false });
    if (run.kind !== 'DONE') throw new Error('expected a report');
    const { report } = run;
    expect(report.totals.rows).toBeGreaterThanOrEqual(10_000);
    expect(report.findingsTruncated).toBe(false);

    const expected = new Map(injected.map((a) => [key(a), EXPECTED[a.injection]] as const));
    const found = new Map(report.findings.map((f) => [key(f), f.kind] as const));
    // every injected discrepancy found as its kind, and not a single finding more
    expect(found).toEqual(expected);
    expect(report.findings).toHaveLength(expected.size);
    expect(tally(report.findings)).toEqual({
      PAID_UNKNOWN_HERE: TIMES,
      STATE_DIFFERS: TIMES,
      REFUND_UNKNOWN_HERE: TIMES,
      PAID_HERE_NOT_IN_BILL: TIMES,
      AMOUNT_DIFFERS: TIMES,
      TRANSACTION_DIFFERS: TIMES,
      REFUND_DIFFERS: 2 * TIMES,
    });
    // every bill row but the injected ones matches (a missing payment is no row of the bill)
    expect(report.totals.counts.MATCH).toBe(report.totals.rows - (expected.size - TIMES));
    // what the bill proves is applied; differences are reported, never overwritten
    for (const f of report.findings) {
      const repairable = ['PAID_UNKNOWN_HERE', 'STATE_DIFFERS', 'REFUND_UNKNOWN_HERE'].includes(f.kind);
      expect(f.repair).toBe(repairable ? 'APPLIED' : 'NOT_REPAIRABLE');
    }
    expect(report.totals.repaired).toBe(3 * TIMES);
    // an order this service never registered: the bill proves the payment, the state says it was never checked here
    const repairedOrder = await store.getOrder(keys.mchid, unknown.outTradeNo);
    expect(repairedOrder).toMatchObject({ state: 'PAID_UNVERIFIED', paidVia: 'bill' });
    const changed = injected.find((a) => a.injection === 'amount') as BillAlteration;
    const kept = await store.getOrder(keys.mchid, changed.outTradeNo);
    expect(kept?.paidFen).toBe(sim.state.findOrder(keys.mchid, changed.outTradeNo)?.amount);
    // a payment the bill lacks is reported with what the table holds, and left as it is
    const missing = injected.find((a) => a.injection === 'missing-payment') as BillAlteration;
    const unbilled = report.findings.find(
      (f) => f.kind === 'PAID_HERE_NOT_IN_BILL' && f.outTradeNo === missing.outTradeNo,
    );
    const simOrder = sim.state.findOrder(keys.mchid, missing.outTradeNo);
    expect(unbilled).toMatchObject({
      line: 0,
      repair: 'NOT_REPAIRABLE',
      here: { state: 'PAID', transactionId: simOrder?.transactionId, amountFen: simOrder?.amount },
    });
    expect(unbilled?.bill).toBeUndefined();
    const onDisk = JSON.parse(await readFile(run.path, 'utf8')) as BillReport;
    expect(onDisk.totals).toEqual(report.totals);
  }, 600_000);

  it('a second run repairs nothing and finds nothing new; the report is replaced, not duplicated', async () => {
    const run = await runBill(deps, { billDate: date }, { dryRun: false });
    if (run.kind !== 'DONE') throw new Error('expected a report');
    expect(run.report.totals.repaired).toBe(0);
    expect(tally(run.report.findings)).toEqual({
      PAID_HERE_NOT_IN_BILL: TIMES,
      AMOUNT_DIFFERS: TIMES,
      TRANSACTION_DIFFERS: TIMES,
      REFUND_DIFFERS: 2 * TIMES,
    });
    expect(run.report.findings.every((f) => f.repair === 'NOT_REPAIRABLE')).toBe(true);
    // the table's item of the day is overwritten by the re-run, its counts the re-run's
    expect(await readBillReport(h.client, tableName, keys.mchid, date)).toMatchObject({
      billDate: date,
      merchantId: keys.mchid,
      repaired: 0,
      discrepancies: 5 * TIMES,
      counts: run.report.totals.counts,
      location: run.path,
    });
    // the alarm's metric, in the {service, stage} dimensions of the README's "Deploying"
    const line = h.logs.filter((l) => 'BillDiscrepancies' in l).at(-1);
    expect(line).toMatchObject({ BillDiscrepancies: 5 * TIMES, BillRepaired: 0, stage: 'local' });
    expect(line?._aws).toMatchObject({ CloudWatchMetrics: [{ Dimensions: [['service', 'stage']] }] });
    expect((await readdir(join(dir, 'reports'))).sort()).toEqual([
      `${date}-${keys.mchid}-dry-run.json`,
      `${date}-${keys.mchid}.json`,
    ]);
  }, 600_000);

  it('a file with one byte changed fails the digest and changes nothing', async () => {
    const made = sim.bills.inject('unknown-payment', 2);
    sim.bills.corruption = 'digest';
    const err = await failure(runBill(deps, { billDate: date }, { dryRun: false }));
    expect(err.kind).toBe('UNAUTHENTIC');
    for (const a of made) expect(await store.getOrder(keys.mchid, a.outTradeNo)).toBeUndefined();

    sim.bills.corruption = 'summary';
    const bad = await failure(runBill(deps, { billDate: date }, { dryRun: false }));
    expect(bad.kind).toBe('MALFORMED');
    expect(bad.reason).toMatch(/summary count/);
    for (const a of made) expect(await store.getOrder(keys.mchid, a.outTradeNo)).toBeUndefined();

    sim.bills.corruption = 'none';
    const ok = await runBill(deps, { billDate: date }, { dryRun: false });
    expect(ok.kind === 'DONE' && ok.report.totals.repaired).toBe(2);
    expect(await readdir(dir)).toEqual(['reports']);
  }, 600_000);

  it('a bill not yet generated is a retry-later outcome that writes nothing', async () => {
    sim.bills.readiness = 'never';
    expect(await runBill(deps, { billDate: date }, { dryRun: false })).toEqual({
      kind: 'NOT_READY',
      reason: 'NO_STATEMENT_EXIST',
    });
    sim.bills.readiness = 'always';
  });
});
