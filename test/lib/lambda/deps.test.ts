/**
 * The notify functions' dependencies built from the environment: a broken configuration is a CONFIG
 * error naming the variable, a good one gives a store on the real DynamoDB Local. Caching once per
 * container is the dependencies middleware's (test/lib/middleware/dependencies.test.ts).
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../../lib/errors';
import { createLogger } from '../../../lib/log';
import { notifyDeps } from '../../../lib/lambda/deps';
import { orderKey } from '../../../lib/orders/table';
import { createHarness, orderNo, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const quiet = createLogger({ service: 'test', write: () => {} });

describe('notifyDeps', () => {
  it('refuses a broken environment with a CONFIG error naming the variable; builds from a good one', async () => {
    let err: unknown;
    try {
      notifyDeps({ ...h.env, WECHATPAY_MCHID: 'not-digits' }, quiet);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PayError);
    expect((err as PayError).kind).toBe('CONFIG');
    expect((err as PayError).reason).toBe('WECHATPAY_MCHID must be digits');

    const deps = notifyDeps(h.env, quiet);
    expect(deps.config.mchid).toBe(h.keys.mchid);
    expect(deps.config.tableName).toBe(h.tableName);
    expect(deps.logger).toBe(quiet);
    expect(typeof deps.now()).toBe('number');

    // the store it built works against the configured table
    const no = orderNo('RT');
    expect((await deps.store.registerOrder({ outTradeNo: no, amountFen: 1, merchantId: h.keys.mchid })).kind).toBe(
      'REGISTERED',
    );
    expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('NOTPAY');

    // each call builds afresh: caching is the middleware's, so a test never sees another's dependencies
    expect(notifyDeps(h.env, quiet)).not.toBe(deps);
  });

  it('refuses a malformed PENDING_SHARDS, and writes to the shards it names', async () => {
    expect(() => notifyDeps({ ...h.env, PENDING_SHARDS: '0' }, quiet)).toThrow('PENDING_SHARDS must be');
    const deps = notifyDeps({ ...h.env, PENDING_SHARDS: '1' }, quiet);
    const no = orderNo('RS');
    await deps.store.registerOrder({ outTradeNo: no, amountFen: 1, merchantId: h.keys.mchid });
    // with one shard every entry is the unsharded key
    const listed = await notifyDeps({ ...h.env, PENDING_SHARDS: '1' }, quiet).store.countPendingBefore('9999', 100000);
    expect(listed).toBeGreaterThanOrEqual(1);
    const raw = await h.client.send(
      new GetItemCommand({
        TableName: h.tableName,
        Key: { pk: { S: orderKey(h.keys.mchid, no) } },
        ConsistentRead: true,
      }),
    );
    expect(raw.Item?.pending).toEqual({ S: 'NOTPAY' });
  });
});
