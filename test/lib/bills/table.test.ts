/**
 * The bill run's bulk reads against DynamoDB Local: the paid-day entry the payment write files (and
 * the ones it does not), listing a merchant's paid day page by page, finding the day's merchants, the
 * bill's orders kept as fingerprints, a page of items read in batches with unprocessed keys asked again.
 */
import {
  type BatchGetItemCommandOutput,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareUnbilled, type CompareTotals, FINDING_KINDS, type Finding } from '../../../lib/bills/compare';
import {
  type BillTable,
  forEachPaidOnDay,
  merchantsPaidOnDay,
  type PaidEntry,
  readItems,
  SeenOrders,
} from '../../../lib/bills/table';
import { PayError } from '../../../lib/errors';
import { createDynamoOrderStore } from '../../../lib/orders/dynamodb';
import { orderKey, paidDayKey, paidDayShardKey } from '../../../lib/orders/table';
import { createHarness, orderNo, type Harness } from '../../support/harness';

let h: Harness;
let table: BillTable;
const SHARDS = 4;

beforeAll(async () => {
  h = await createHarness();
  table = { client: h.client, tableName: h.tableName, shards: SHARDS };
});

/** A store that spreads index entries over SHARDS, as a stage configured with PENDING_SHARDS=4. */
const store = () =>
  createDynamoOrderStore({ client: h.client, tableName: h.tableName, pendingShards: { write: SHARDS, read: SHARDS } });

async function pay(
  merchantId: string,
  paidAt: string,
  opts: { channel?: 'v3' | 'aggregator'; register?: boolean } = {},
): Promise<string> {
  const no = orderNo('P');
  const s = store();
  const channel = opts.channel ?? 'v3';
  if (opts.register !== false)
    await s.registerOrder({
      outTradeNo: no,
      amountFen: 100,
      merchantId,
      ...(channel === 'aggregator' ? { channel: 'aggregator' as const } : {}),
    });
  const outcome = await s.applyPayment(
    { outTradeNo: no, merchantId, transactionId: `TX${no}`, amountFen: 100, paidAt, channel },
    'record',
  );
  expect(outcome.kind).toBe('APPLIED');
  return no;
}

async function paidDayOf(merchantId: string, no: string): Promise<string | undefined> {
  const out = await h.client.send(
    new GetItemCommand({ TableName: h.tableName, Key: { pk: { S: orderKey(merchantId, no) } }, ConsistentRead: true }),
  );
  return out.Item?.paidDay?.S;
}

async function paidOnDay(day: string, merchantId: string, pageSize?: number): Promise<PaidEntry[]> {
  const out: PaidEntry[] = [];
  await forEachPaidOnDay(table, day, merchantId, (e) => void out.push(e), pageSize);
  return out;
}

describe('the paid-day entry', () => {
  it("is the payment's Beijing day on the order's shard, filed by the payment's own write", async () => {
    const m = '1900000401';
    // 16:30 UTC on the 4th is 00:30 on the 5th in Beijing
    const late = await pay(m, '2026-10-04T16:30:00.000Z');
    expect(await paidDayOf(m, late)).toBe(paidDayKey('2026-10-04T16:30:00.000Z', m, late, SHARDS));
    expect(await paidDayOf(m, late)).toMatch(/^PAIDDAY#20261005#[0-3]$/);
    // a payment for an order never registered (PAID_UNVERIFIED) is listed too: the bill has it
    const unregistered = await pay(m, '2026-10-05T01:00:00.000Z', { register: false });
    expect(await paidDayOf(m, unregistered)).toMatch(/^PAIDDAY#20261005#/);
  });

  it("is not filed for an aggregator's payment (never in WeChat's bill of the merchant), nor for a time that does not parse", async () => {
    const m = '1900000402';
    const aggregated = await pay(m, '2026-10-05T01:00:00.000Z', { channel: 'aggregator' });
    expect(await paidDayOf(m, aggregated)).toBeUndefined();
    expect(paidDayKey('not a time', m, 'X', SHARDS)).toBeUndefined();
    expect(paidDayShardKey('2026-10-05', 3)).toBe('PAIDDAY#20261005#3');
  });
});

describe('listing a paid day', () => {
  it("lists one merchant's orders of the day over every shard, page by page, and finds the day's merchants", async () => {
    const day = '2026-09-01';
    const at = '2026-09-01T03:00:00.000Z';
    const a = '1900000411';
    const b = '1900000412';
    const c = '1900000413';
    const ofA = await Promise.all(Array.from({ length: 9 }, () => pay(a, at)));
    const ofB = await Promise.all(Array.from({ length: 3 }, () => pay(b, at)));
    // the day before in Beijing: not listed
    await pay(c, '2026-08-31T15:59:59.000Z');
    const listed = await paidOnDay(day, a, 2);
    expect(listed.map((e) => e.outTradeNo).sort()).toEqual([...ofA].sort());
    expect(listed[0]).toMatchObject({ merchantId: a, state: 'PAID', paidFen: 100 });
    expect(listed[0]?.transactionId).toBe(`TX${listed[0]?.outTradeNo}`);
    expect((await paidOnDay(day, b)).length).toBe(ofB.length);
    expect(await merchantsPaidOnDay(table, day)).toEqual([a, b]);
    expect(await merchantsPaidOnDay(table, '2026-08-31')).toEqual([c]);
    expect(await merchantsPaidOnDay(table, '2026-08-30')).toEqual([]);
  });

  it('reports the paid orders the bill did not list, once each, with what the table holds', async () => {
    const day = '2026-09-02';
    const m = '1900000421';
    const listedNos = await Promise.all(Array.from({ length: 3 }, () => pay(m, '2026-09-02T02:00:00.000Z')));
    const unlisted = await pay(m, '2026-09-02T02:00:00.000Z');
    // an entry missing its fields (written by hand, as no write of the store would) reads as empty ones
    await h.client.send(
      new PutItemCommand({
        TableName: h.tableName,
        Item: { pk: { S: 'ORDER#odd' }, paidDay: { S: paidDayShardKey(day, 0) }, merchantId: { S: m } },
      }),
    );
    const seen = new SeenOrders();
    for (const no of listedNos) seen.add(m, no);
    const totals: CompareTotals = {
      rows: 3,
      notCompared: 0,
      counts: Object.fromEntries(FINDING_KINDS.map((k) => [k, 0])) as CompareTotals['counts'],
      repaired: 0,
    };
    const found: Finding[] = [];
    await compareUnbilled({ table }, { billDate: day, merchantId: m }, seen, totals, (f) => {
      found.push(f);
    });
    expect(totals.counts.PAID_HERE_NOT_IN_BILL).toBe(2);
    expect(found.find((f) => f.outTradeNo === unlisted)).toEqual({
      kind: 'PAID_HERE_NOT_IN_BILL',
      repair: 'NOT_REPAIRABLE',
      line: 0,
      merchantId: m,
      outTradeNo: unlisted,
      here: { state: 'PAID', transactionId: `TX${unlisted}`, amountFen: 100 },
    });
    expect(found.find((f) => f.outTradeNo === '')).toMatchObject({ here: { state: '' } });
    expect(found.find((f) => f.outTradeNo === '')?.here).not.toHaveProperty('transactionId');
  });
});

describe('SeenOrders', () => {
  it('holds any number of orders and tells them from others of the same number or merchant', () => {
    const seen = new SeenOrders();
    expect(seen.has('1', 'A')).toBe(false);
    const other = new SeenOrders();
    for (let i = 0; i < 5000; i += 1) other.add('1900000001', `N${i}`);
    expect(other.size).toBe(5000);
    other.seal();
    other.seal();
    for (let i = 0; i < 5000; i += 1) expect(other.has('1900000001', `N${i}`)).toBe(true);
    expect(other.has('1900000002', 'N1')).toBe(false);
    expect(other.has('1900000001', 'N5000')).toBe(false);
    expect(() => other.add('1', 'late')).toThrow(/sealed/);
  });
});

describe('readItems', () => {
  /**
   * A client whose BatchGetItem answers leave keys unprocessed `rounds` times (all but the first item
   * of the answer, or a lone one, moved to UnprocessedKeys), as DynamoDB does under throttling: a fault
   * DynamoDB Local never produces, so the real answer is altered after it arrives.
   */
  function throttled(rounds: number): { client: DynamoDBClient; calls: () => number } {
    const client = new DynamoDBClient({
      endpoint: h.env.DYNAMODB_ENDPOINT,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    let left = rounds;
    let calls = 0;
    client.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        calls += 1;
        const out = result.output as BatchGetItemCommandOutput;
        const items = out.Responses?.[h.tableName] ?? [];
        if (left > 0 && items.length > 0) {
          left -= 1;
          const kept = items.length > 1 ? 1 : 0;
          out.Responses = { [h.tableName]: items.slice(0, kept) };
          out.UnprocessedKeys = {
            [h.tableName]: {
              Keys: items.slice(kept).map((i) => ({ pk: i.pk as { S: string } })),
              ConsistentRead: true,
            },
          };
        }
        return result;
      },
      { step: 'initialize', name: 'leaveUnprocessed' },
    );
    return { client, calls: () => calls };
  }

  it('reads more than a batch, each key once, and asks again for keys left unprocessed', async () => {
    const m = '1900000431';
    const nos = await Promise.all(Array.from({ length: 5 }, () => pay(m, '2026-09-03T02:00:00.000Z')));
    const pks = [...nos, ...nos].map((no) => orderKey(m, no));
    const missing = Array.from({ length: 230 }, (_, i) => orderKey(m, `absent${i}`));
    const paused: number[] = [];
    const t = throttled(2);
    const items = await readItems({ ...table, client: t.client }, [...missing, ...pks], async (ms) => {
      paused.push(ms);
    });
    expect([...items.keys()].sort()).toEqual(nos.map((no) => orderKey(m, no)).sort());
    expect(items.get(orderKey(m, nos[0] as string))?.state?.S).toBe('PAID');
    // 235 distinct keys: 3 batches, and 2 more rounds for the one that held the items
    expect(t.calls()).toBe(5);
    expect(paused).toEqual([50, 100]);
  });

  it('waits before asking again when no pause is given', async () => {
    const m = '1900000433';
    const nos = await Promise.all(Array.from({ length: 2 }, () => pay(m, '2026-09-03T02:00:00.000Z')));
    const t = throttled(1);
    const items = await readItems(
      { ...table, client: t.client },
      nos.map((no) => orderKey(m, no)),
    );
    expect(items.size).toBe(2);
    expect(t.calls()).toBe(2);
  });

  it('gives up as UNAVAILABLE when keys stay unprocessed, and when the table cannot be read', async () => {
    const m = '1900000432';
    const nos = await Promise.all(Array.from({ length: 3 }, () => pay(m, '2026-09-03T02:00:00.000Z')));
    const t = throttled(1000);
    const err = await readItems(
      { ...table, client: t.client },
      nos.map((no) => orderKey(m, no)),
      async () => undefined,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayError);
    expect((err as PayError).kind).toBe('UNAVAILABLE');
    expect(t.calls()).toBe(8);
    const gone = await readItems({ ...table, tableName: 'no-such-table' }, ['ORDER#1#x']).catch((e: unknown) => e);
    expect((gone as PayError).kind).toBe('UNAVAILABLE');
  });
});
