/**
 * The scheduled bills function through its middy chain, against the real simulator and DynamoDB
 * Local: the previous Beijing day reconciled for the merchant and for each sub-merchant, a day already
 * recorded skipped, a bill not ready retried within the run and then left for the next schedule, a
 * broken configuration answered without a throw.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billClientDeps } from '../../../lib/bills/fetch';
import {
  type BillsMerchantOutcome,
  type BillsRuntime,
  type BillsSummary,
  billMerchants,
  billsErrorSummary,
  billsHandler,
  billsRuntime,
  previousBeijingDay,
  readSubMchids,
  s3Sink,
} from '../../../lib/bills/lambda';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { billReportKey, billReportRecorder, readBillReport } from '../../../lib/bills/reportItem';
import { folderSink } from '../../../lib/bills/run';
import { PayError } from '../../../lib/errors';
import { beijingDay } from '../../../scripts/simulator/bills';
import { generateTestKeys } from '../../../scripts/simulator/keys';
import { startSimulator, type Simulator } from '../../../scripts/simulator/server';
import { createHarness, orderNo, type Harness } from '../../support/harness';
import { paymentReport } from '../../support/reports';
import { DEFAULT_PENDING_SHARDS } from '../../../lib/orders/table';

const DAY_MS = 86_400_000;
const SUB = '1900009991';
const keys = generateTestKeys();
let sim: Simulator;
let h: Harness;
let dir: string;
let slept: number[];

beforeAll(async () => {
  sim = await startSimulator({ keys });
  h = await createHarness({ keys });
  dir = await mkdtemp(join(tmpdir(), 'bills-lambda-'));
  sim.bills.readiness = 'always';
  // today's trades at the simulator: one for the merchant (known here), one for a sub-merchant (unknown here)
  const own = orderNo('L');
  sim.state.createOrder({ outTradeNo: own, amount: 120, mchid: keys.mchid, appid: keys.appid });
  const paid = sim.state.pay(keys.mchid, own);
  await h.store.registerOrder({ outTradeNo: own, amountFen: 120, merchantId: keys.mchid });
  await h.store.applyPayment(
    paymentReport(h, own, {
      transactionId: paid.transactionId ?? '',
      amountFen: 120,
      paidAt: new Date().toISOString(),
    }),
    'reject',
  );
  sim.state.createOrder({ outTradeNo: orderNo('S'), amount: 80, mchid: keys.mchid, appid: keys.appid, subMchid: SUB });
  for (const o of sim.state.listOrders()) if (o.merchantId === SUB) sim.state.pay(SUB, o.outTradeNo);
}, 120_000);

afterAll(async () => {
  await sim?.close();
  await rm(dir, { recursive: true, force: true });
});

/** One merchant's outcome in a run's summary. */
function outcomeOf(summary: BillsSummary, merchantId: string): BillsMerchantOutcome | undefined {
  return summary.merchants.find((m) => m.merchantId === merchantId);
}

/** A runtime whose clock is a day ahead, so the day it reconciles is today's, the one the simulator has. */
function runtime(subMchids: string[], attempts = 3): BillsRuntime {
  slept = [];
  return {
    run: {
      fetch: { client: billClientDeps({ ...h.config, apiBaseUrl: sim.url }), dir },
      store: h.store,
      table: { client: h.client, tableName: h.tableName, shards: DEFAULT_PENDING_SHARDS },
      logger: h.logger,
      sink: folderSink(join(dir, 'reports')),
      recordReport: billReportRecorder(h.client, h.tableName),
      now: () => Date.now() + DAY_MS,
      stage: 'test',
    },
    dynamo: h.client,
    tableName: h.tableName,
    subMchids,
    retryDelayMs: 5,
    attempts,
    // no real wait in a test: the waits asked for are recorded
    sleep: async (ms) => {
      slept.push(ms);
    },
  };
}

describe('previousBeijingDay', () => {
  it('is the Beijing calendar day before the one the instant falls in', () => {
    expect(previousBeijingDay(Date.parse('2026-11-30T02:30:00Z'))).toBe('2026-11-29');
    // 00:30 on the 30th in Beijing is still the 29th in UTC
    expect(previousBeijingDay(Date.parse('2026-11-29T16:30:00Z'))).toBe('2026-11-29');
    expect(previousBeijingDay(Date.parse('2026-11-29T15:59:59Z'))).toBe('2026-11-28');
  });
});

describe('readSubMchids', () => {
  it('reads a comma-separated list once each, and refuses what is not a merchant id', () => {
    expect(readSubMchids({})).toEqual([]);
    expect(readSubMchids({ BILLS_SUB_MCHIDS: ' ' })).toEqual([]);
    expect(readSubMchids({ BILLS_SUB_MCHIDS: '1900000001, 1900000002,1900000001' })).toEqual([
      '1900000001',
      '1900000002',
    ]);
    for (const bad of ['19000,abc', '1900000001,', '../1', '1900000001;DROP']) {
      const err = (() => {
        try {
          readSubMchids({ BILLS_SUB_MCHIDS: bad });
        } catch (e) {
          return e;
        }
      })();
      expect(err, bad).toBeInstanceOf(PayError);
      expect((err as PayError).kind).toBe('CONFIG');
    }
  });
});

describe('s3Sink', () => {
  it('puts the report under bills/ in the bucket and answers its s3 address', async () => {
    // no S3 runs here: the client records the command it is given, which is all the sink decides
    const sent: PutObjectCommand[] = [];
    const sink = s3Sink({ send: async (c: PutObjectCommand) => void sent.push(c) } as never, 'my-bucket');
    expect(await sink('2026-11-29-1900000109.json', '{}\n')).toBe('s3://my-bucket/bills/2026-11-29-1900000109.json');
    expect(sent[0]?.input).toMatchObject({
      Bucket: 'my-bucket',
      Key: 'bills/2026-11-29-1900000109.json',
      Body: '{}\n',
      ContentType: 'application/json',
    });
  });
});

describe('the bills function', () => {
  it("reconciles the merchant's day, then skips it on the next schedule", async () => {
    const date = beijingDay(Date.now());
    const handler = billsHandler(() => runtime([]));
    const first = await handler({});
    expect(first).toMatchObject({ billDate: date, merchants: [{ merchantId: keys.mchid, outcome: 'DONE' }] });
    const [done] = first.merchants;
    expect(done?.discrepancies).toBe(0);
    const report = JSON.parse(await readFile(done?.location ?? '', 'utf8'));
    expect(report).toMatchObject({ billDate: date, merchantId: keys.mchid, dryRun: false });
    expect(await readBillReport(h.client, h.tableName, keys.mchid, date)).toMatchObject({
      location: done?.location,
      discrepancies: 0,
    });
    expect(await handler({})).toEqual({
      billDate: date,
      merchants: [{ merchantId: keys.mchid, outcome: 'ALREADY_DONE' }],
    });
  });

  it('fetches one bill per sub-merchant and repairs what each proves', async () => {
    const date = beijingDay(Date.now());
    const summary = await billsHandler(() => runtime([SUB]))({});
    // the merchant's own day is recorded already (the test above); the configured sub-merchant's is new
    expect(outcomeOf(summary, keys.mchid)).toEqual({ merchantId: keys.mchid, outcome: 'ALREADY_DONE' });
    expect(outcomeOf(summary, SUB)).toMatchObject({ outcome: 'DONE', discrepancies: 1, repaired: 1 });
    const item = await readBillReport(h.client, h.tableName, SUB, date);
    expect(item?.counts).toMatchObject({ PAID_UNKNOWN_HERE: 1 });
  });

  it("finds the sub-merchants with orders paid that day in the table, and each bill's payments missing from it", async () => {
    const date = beijingDay(Date.now());
    const sub = '1900009995';
    // one order paid at WeChat and here, one recorded here only (a payment WeChat's bill does not list)
    const both = orderNo('B');
    sim.state.createOrder({ outTradeNo: both, amount: 90, mchid: keys.mchid, appid: keys.appid, subMchid: sub });
    const paid = sim.state.pay(sub, both);
    const hereOnly = orderNo('H');
    for (const [no, tx] of [
      [both, paid.transactionId ?? ''],
      [hereOnly, 'TXHEREONLY'],
    ] as const) {
      await h.store.registerOrder({ outTradeNo: no, amountFen: 90, merchantId: sub });
      await h.store.applyPayment(
        paymentReport(h, no, { merchantId: sub, transactionId: tx, amountFen: 90, paidAt: new Date().toISOString() }),
        'reject',
      );
    }
    // not configured: found in the paid-day index, and its bill asked for with sub_mchid
    const summary = await billsHandler(() => runtime([]))({});
    expect(outcomeOf(summary, sub)).toMatchObject({ outcome: 'DONE', discrepancies: 1, repaired: 0 });
    const item = await readBillReport(h.client, h.tableName, sub, date);
    expect(item?.counts).toMatchObject({ MATCH: 1, PAID_HERE_NOT_IN_BILL: 1 });
    const report = JSON.parse(await readFile(item?.location ?? '', 'utf8'));
    // the simulator served the sub-merchant's own bill: its one payment, none of the merchant's
    expect(report.totals.rows).toBe(1);
    expect(report.findings).toEqual([
      {
        kind: 'PAID_HERE_NOT_IN_BILL',
        repair: 'NOT_REPAIRABLE',
        line: 0,
        merchantId: sub,
        outTradeNo: hereOnly,
        here: { state: 'PAID', transactionId: 'TXHEREONLY', amountFen: 90 },
      },
    ]);
  });

  it('retries a bill not ready within the run, then leaves it to the next schedule', async () => {
    sim.bills.readiness = 'never';
    const rt = runtime(['1900009992'], 3);
    const summary = await billsHandler(() => rt)({});
    sim.bills.readiness = 'always';
    expect(outcomeOf(summary, '1900009992')).toEqual({
      merchantId: '1900009992',
      outcome: 'NOT_READY',
      reason: 'NO_STATEMENT_EXIST',
    });
    expect(slept).toEqual([5, 5]);
    // with too little time left for a wait and a run, no wait at all
    sim.bills.readiness = 'never';
    const tight = { ...runtime(['1900009992'], 3), retryDelayMs: 60_000 };
    const short = await billsHandler(() => tight)({}, { getRemainingTimeInMillis: () => 100_000 });
    sim.bills.readiness = 'always';
    expect(outcomeOf(short, '1900009992')).toMatchObject({ outcome: 'NOT_READY' });
    expect(slept).toEqual([]);
  });

  it('answers DEADLINE when the invocation is about to time out', async () => {
    sim.bills.readiness = 'never';
    // a wait that never ends stands for a run caught by its deadline
    const stuck = { ...runtime(['1900009994']), sleep: () => new Promise<void>(() => undefined) };
    const summary = await billsHandler(() => stuck)({}, { getRemainingTimeInMillis: () => 1200 });
    sim.bills.readiness = 'always';
    expect(summary).toEqual({ billDate: '', merchants: [], stopped: 'DEADLINE' });
  });

  it("logs one merchant's failure and goes on with the next", async () => {
    sim.bills.corruption = 'digest';
    const summary = await billsHandler(() => runtime(['1900009993']))({});
    sim.bills.corruption = 'none';
    expect(outcomeOf(summary, '1900009993')).toMatchObject({ outcome: 'FAILED' });
    expect(await readBillReport(h.client, h.tableName, '1900009993', beijingDay(Date.now()))).toBeUndefined();
  });

  it('answers a broken configuration with a stopped summary, never a throw', async () => {
    expect(await billsHandler(() => billsRuntime({}))({})).toEqual({ billDate: '', merchants: [], stopped: 'CONFIG' });
    const noBucket = { ...h.env, BILLS_BUCKET: '' };
    expect(() => billsRuntime(noBucket)).toThrow(/BILLS_BUCKET/);
    const built = billsRuntime({ ...h.env, BILLS_BUCKET: 'b', BILLS_SUB_MCHIDS: SUB });
    expect(built.subMchids).toEqual([SUB]);
    await built.sleep(1);
    expect(built.run.stage).toBe('local');
  });
});

describe('billMerchants', () => {
  it("is the merchant's own bill alone on a day with no payment here and none configured", async () => {
    expect(await billMerchants(runtime([]), '2020-01-01')).toEqual([undefined]);
    expect(await billMerchants(runtime(['1900009997']), '2020-01-01')).toEqual(['1900009997']);
  });
});

describe('billsErrorSummary', () => {
  it('stops with CONFIG for a configuration error and INTERNAL_ERROR for anything else', () => {
    expect(billsErrorSummary(new PayError('CONFIG', 'x')).stopped).toBe('CONFIG');
    expect(billsErrorSummary(new PayError('UNAVAILABLE', 'x')).stopped).toBe('INTERNAL_ERROR');
  });
});

describe('the report item', () => {
  it('reads an APIv2 run back, and an item missing its fields as empty, not as a crash', async () => {
    const record = billReportRecorder(h.client, h.tableName);
    const counts = { MATCH: 2, AMOUNT_DIFFERS: 1 };
    const report = {
      billDate: '2026-11-01',
      merchantId: '1900000777',
      protocol: 'v2' as const,
      dryRun: false,
      ranAt: '2026-11-02T02:30:00.000Z',
      sha1: 'abc',
      summary: {} as never,
      totals: { rows: 4, notCompared: 1, repaired: 0, counts: counts as never },
      findings: [],
      findingsTruncated: false,
      notChecked: [],
    };
    await record(report, '/tmp/x.json');
    await record({ ...report, ranAt: '2026-11-02T04:30:00.000Z' }, '/tmp/x.json');
    expect(await readBillReport(h.client, h.tableName, '1900000777', '2026-11-01')).toEqual({
      billDate: '2026-11-01',
      merchantId: '1900000777',
      ranAt: '2026-11-02T04:30:00.000Z',
      protocol: 'v2',
      sha1: 'abc',
      rows: 4,
      repaired: 0,
      discrepancies: 1,
      counts,
      location: '/tmp/x.json',
    });
    await h.client.send(
      new PutItemCommand({
        TableName: h.tableName,
        // a count that is no number reads as 0
        Item: { pk: { S: billReportKey('1900000778', '2026-11-01') }, counts: { M: { MATCH: { S: 'x' } } } },
      }),
    );
    expect(await readBillReport(h.client, h.tableName, '1900000778', '2026-11-01')).toMatchObject({
      billDate: '',
      protocol: 'v3',
      rows: 0,
      counts: { MATCH: 0 },
    });
  });
});
