/**
 * The write-sharded pending index against DynamoDB Local: registrations spread over the shards, a
 * listing that merges them oldest first page by page, counts over every shard, shard counts that
 * change without losing an order, and the configuration that sets them.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { QueryCommand, ScanCommand, type DynamoDBClient, type QueryCommandInput } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDynamoOrderStore } from '../../../lib/orders/dynamodb';
import type { OrderStore } from '../../../lib/orders/store';
import {
  DEFAULT_PENDING_SHARDS,
  MAX_PENDING_SHARDS,
  orderKey,
  pendingShardKey,
  pendingShardOf,
  pendingShardsFromEnv,
  type PendingShards,
} from '../../../lib/orders/table';
import { createHarness, orderNo, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const store = (pendingShards: PendingShards): OrderStore =>
  createDynamoOrderStore({ client: h.client, tableName: h.tableName, pendingShards });

/** Every page of a listing, with the page sizes seen. */
async function listAll(s: OrderStore, window: { createdAfter: string; createdBefore: string }, limit: number) {
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await s.listPending({ ...window, limit, ...(cursor ? { cursor } : {}) });
    expect(page.orders.length).toBeLessThanOrEqual(limit);
    seen.push(...page.orders.map((o) => o.outTradeNo));
    cursor = page.cursor;
    pages++;
  } while (cursor && pages < 200);
  return seen;
}

/** Registers `count` orders a minute apart from `base`; returns their numbers, oldest first. */
async function registerSeries(s: OrderStore, base: number, count: number, prefix: string) {
  const nos: string[] = [];
  for (let i = 0; i < count; i++) {
    const no = orderNo(prefix);
    nos.push(no);
    await s.registerOrder({
      outTradeNo: no,
      amountFen: 100,
      merchantId: h.keys.mchid,
      createdAt: new Date(base + i * 60_000).toISOString(),
    });
  }
  return nos;
}

const windowOf = (base: number, minutes: number) => ({
  createdAfter: new Date(base).toISOString(),
  createdBefore: new Date(base + minutes * 60_000).toISOString(),
});

describe('the sharded pending index', () => {
  it('spreads registrations over the shards, and lists them merged oldest first, page by page', async () => {
    const base = Date.parse('2031-01-01T00:00:00.000Z');
    const s = store({ write: 4, read: 4 });
    const nos = await registerSeries(s, base, 24, 'SH');
    await s.applyPayment(
      {
        outTradeNo: nos[5] as string,
        merchantId: h.keys.mchid,
        transactionId: `42${nos[5]}`,
        amountFen: 100,
        paidAt: '2031-01-01T01:00:00.000Z',
        channel: 'v3',
      },
      'reject',
    );
    await s.applyClose(h.keys.mchid, nos[9] as string);
    const unpaid = nos.filter((_, i) => i !== 5 && i !== 9);

    const items = await h.client.send(
      new ScanCommand({
        TableName: h.tableName,
        FilterExpression: 'begins_with(outTradeNo, :p)',
        ExpressionAttributeValues: { ':p': { S: 'SH' } },
      }),
    );
    const shards = new Set((items.Items ?? []).map((i) => i.pending?.S).filter(Boolean));
    expect(shards.size).toBeGreaterThan(1);
    for (const key of shards) expect(key).toMatch(/^NOTPAY(#[1-3])?$/);

    for (const limit of [1, 3, 7, 50]) expect(await listAll(s, windowOf(base, 30), limit)).toEqual(unpaid);
    // a window narrower than the series
    expect(await listAll(s, windowOf(base + 10 * 60_000, 5), 2)).toEqual(nos.slice(10, 16));
    expect(await s.countPendingBefore(new Date(base + 12 * 60_000).toISOString(), 1000)).toBeGreaterThanOrEqual(10);
    expect(await s.countPendingBefore(new Date(base + 12 * 60_000).toISOString(), 3)).toBe(3);
  });

  it('queries each shard once per page, and the cursor skips shards read to the end', async () => {
    const base = Date.parse('2031-02-01T00:00:00.000Z');
    const s = store({ write: 3, read: 3 });
    await registerSeries(s, base, 4, 'SQ');
    h.requests.length = 0;
    const first = await s.listPending({ ...windowOf(base, 10), limit: 100 });
    expect(first.orders).toHaveLength(4);
    expect(first.cursor).toBeUndefined();
    expect(h.requests).toEqual(['QueryCommand', 'QueryCommand', 'QueryCommand']);
  });

  it('keeps every order when the shard count changes: up at once, down with the read count kept', async () => {
    const base = Date.parse('2031-03-01T00:00:00.000Z');
    // one shard is the unsharded layout: every entry is NOTPAY, which shard 0 of any count reads
    const old = await registerSeries(store({ write: 1, read: 1 }), base, 5, 'UP');
    const wide = await registerSeries(store({ write: 8, read: 8 }), base + 5 * 60_000, 10, 'UP');
    expect(await listAll(store({ write: 8, read: 8 }), windowOf(base, 20), 4)).toEqual([...old, ...wide]);

    // lowered to 2 for writing: reading 8 still finds what was written to shards 2..7
    const after = await registerSeries(store({ write: 2, read: 8 }), base + 15 * 60_000, 3, 'UP');
    expect(await listAll(store({ write: 2, read: 8 }), windowOf(base, 20), 4)).toEqual([...old, ...wide, ...after]);
    // and reading only 2 would miss them: why PENDING_SHARDS_READ exists
    const narrow = await listAll(store({ write: 2, read: 2 }), windowOf(base, 20), 4);
    expect(narrow.length).toBeLessThan(old.length + wide.length + after.length);
  });

  it('puts an order in the shard its key hashes to, the same on every call', () => {
    for (const n of [1, 2, 8, 64]) {
      const k = pendingShardOf('1900000109', 'ORDER-1', n);
      expect(k).toBe(pendingShardOf('1900000109', 'ORDER-1', n));
      expect(k).toBeGreaterThanOrEqual(0);
      expect(k).toBeLessThan(n);
    }
    // order numbers that differ only in letters sharing their low bits (A I Q Y a i q y) still spread
    const spread = new Set(
      [...'AIQYaiqy'].flatMap((c) => [...'AIQYaiqy'].map((d) => pendingShardOf('1', `ORDER${c}${d}`, 8))),
    );
    expect(spread.size).toBeGreaterThan(4);
    expect(pendingShardKey(0)).toBe('NOTPAY');
    expect(pendingShardKey(7)).toBe('NOTPAY#7');
  });

  it('property: the shard is the first 32 bits of the SHA-256 of the order key, big-endian, mod the count (the stored layout)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[0-9]{1,12}$/),
        fc.stringMatching(/^[0-9A-Za-z_\-|*@]{1,32}$/),
        fc.integer({ min: 1, max: 64 }),
        (mchid, no, n) => {
          const digest = createHash('sha256').update(orderKey(mchid, no)).digest();
          expect(pendingShardOf(mchid, no, n)).toBe(digest.readUInt32BE(0) % n);
        },
      ),
      { numRuns: 500 },
    );
    // a digest whose first byte is 0x8…: its first 32 bits read as the unsigned number
    const high = Array.from({ length: 200 }, (_, i) => `HI${i}`).find(
      (no) => (createHash('sha256').update(orderKey('1', no)).digest()[0] ?? 0) >= 0x80,
    ) as string;
    expect(pendingShardOf('1', high, 7)).toBe(
      createHash('sha256').update(orderKey('1', high)).digest().readUInt32BE(0) % 7,
    );
  });

  it('refuses a cursor it did not write, changing nothing', async () => {
    const s = store({ write: 2, read: 2 });
    for (const cursor of [
      '%%%',
      Buffer.from('{"a":1}').toString('base64url'),
      Buffer.from('[]').toString('base64url'),
      Buffer.from('[3]').toString('base64url'),
    ]) {
      await expect(s.listPending({ ...windowOf(0, 1), limit: 5, cursor })).rejects.toMatchObject({
        kind: 'MALFORMED',
        reason: 'pending cursor is not one this store wrote',
      });
    }
  });
});

/**
 * A page cut short by DynamoDB's 1 MB limit (fewer items than asked, and a key to go on from) cannot
 * be staged with DynamoDB Local at test sizes, so a scripted client answers the queries here.
 */
describe('a shard whose page was cut short', () => {
  const item = (shard: number, at: string, no: string) => ({
    pk: { S: `ORDER#1#${no}` },
    pending: { S: pendingShardKey(shard) },
    createdAt: { S: at },
    merchantId: { S: '1' },
    outTradeNo: { S: no },
  });

  it('lists nothing newer than what that shard has shown, and goes on from there', async () => {
    const inputs: QueryCommandInput[] = [];
    const answer = (input: QueryCommandInput) => {
      const shard = input.ExpressionAttributeValues?.[':p']?.S;
      const after = input.ExclusiveStartKey?.createdAt?.S;
      if (shard === 'NOTPAY') {
        // cut short after t1; then nothing more (a page of no items but a key, then the end)
        if (after === undefined) return { Items: [item(0, 't1', 'A1')], LastEvaluatedKey: item(0, 't1', 'A1') };
        if (after === 't1') return { Items: [], LastEvaluatedKey: item(0, 't1z', 'A1') };
        return {};
      }
      if (after === undefined) return { Items: [item(1, 't0', 'B0'), item(1, 't2', 'B2')] };
      if (after === 't0') return { Items: [item(1, 't2', 'B2')] };
      return {};
    };
    const client = {
      send: async (command: unknown) => {
        if (!(command instanceof QueryCommand)) throw new Error('unexpected command');
        inputs.push(command.input);
        return answer(command.input);
      },
    } as unknown as DynamoDBClient;
    const s = createDynamoOrderStore({ client, tableName: 't', pendingShards: { write: 2, read: 2 } });
    const q = { createdAfter: 't', createdBefore: 'u', limit: 5 };
    const one = await s.listPending(q);
    expect(one.orders.map((o) => o.outTradeNo)).toEqual(['B0', 'A1']);
    const two = await s.listPending({ ...q, cursor: one.cursor as string });
    // shard 0 answered no items but a key: nothing is listed past what it has shown
    expect(two.orders).toEqual([]);
    const three = await s.listPending({ ...q, cursor: two.cursor as string });
    expect(three.orders.map((o) => o.outTradeNo)).toEqual(['B2']);
    expect(three.cursor).toBeUndefined();
  });
});

describe('an index entry missing its attributes', () => {
  it('is listed with empty fields rather than throwing, and sorts first', async () => {
    // an entry DynamoDB would never hold (the index key is required); a scripted client stages it
    const client = {
      send: async (command: unknown) => {
        if (!(command instanceof QueryCommand)) throw new Error('unexpected command');
        const shard = command.input.ExpressionAttributeValues?.[':p']?.S;
        return shard === 'NOTPAY'
          ? {
              Items: [
                { pk: { S: 'ORDER#1#A' }, createdAt: { S: 't1' }, merchantId: { S: '1' }, outTradeNo: { S: 'A' } },
              ],
            }
          : { Items: [{ pk: { S: 'ORDER#1#B' } }] };
      },
    } as unknown as DynamoDBClient;
    const s = createDynamoOrderStore({ client, tableName: 't', pendingShards: { write: 2, read: 2 } });
    const page = await s.listPending({ createdAfter: 't', createdBefore: 'u', limit: 1 });
    expect(page.orders).toEqual([{ merchantId: '', outTradeNo: '', createdAt: '' }]);
    expect(page.cursor).toBeDefined();
  });
});

describe('PENDING_SHARDS and PENDING_SHARDS_READ', () => {
  it('default to DEFAULT_PENDING_SHARDS, and the read count to the write count', () => {
    expect(pendingShardsFromEnv({})).toEqual({ write: DEFAULT_PENDING_SHARDS, read: DEFAULT_PENDING_SHARDS });
    expect(pendingShardsFromEnv({ PENDING_SHARDS: '4', PENDING_SHARDS_READ: '' })).toEqual({ write: 4, read: 4 });
    expect(pendingShardsFromEnv({ PENDING_SHARDS: '2', PENDING_SHARDS_READ: '8' })).toEqual({ write: 2, read: 8 });
  });

  it.each([
    [{ PENDING_SHARDS: '0' }, 'PENDING_SHARDS must be a whole number of shards from 1 to 64'],
    [{ PENDING_SHARDS: `${MAX_PENDING_SHARDS + 1}` }, 'PENDING_SHARDS must be'],
    [{ PENDING_SHARDS: '1.5' }, 'PENDING_SHARDS must be'],
    [{ PENDING_SHARDS: 'eight' }, 'PENDING_SHARDS must be'],
    [{ PENDING_SHARDS: '-2' }, 'PENDING_SHARDS must be'],
    [{ PENDING_SHARDS_READ: '1e1' }, 'PENDING_SHARDS_READ must be'],
    [{ PENDING_SHARDS: '8', PENDING_SHARDS_READ: '4' }, 'PENDING_SHARDS_READ must not be lower than PENDING_SHARDS'],
  ])('refuses %j with a CONFIG error naming the variable', (env, message) => {
    expect(() => pendingShardsFromEnv(env)).toThrow(message);
    try {
      pendingShardsFromEnv(env);
    } catch (err) {
      expect(err).toMatchObject({ kind: 'CONFIG' });
    }
  });

  it('are held to 1 <= write <= read <= 64 by the store itself', () => {
    for (const pendingShards of [
      { write: 0, read: 1 },
      { write: 2, read: 1 },
      { write: 1, read: 65 },
      { write: 1.5, read: 2 },
    ]) {
      expect(() => createDynamoOrderStore({ client: h.client, tableName: 't', pendingShards })).toThrow(
        'pendingShards must satisfy',
      );
    }
  });
});
