/**
 * The notify functions' dependencies built from the environment: a broken configuration is a CONFIG
 * error naming the variable, a good one gives a store on the real DynamoDB Local. Caching once per
 * container is the dependencies middleware's (test/lib/middleware/dependencies.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../../lib/errors';
import { createLogger } from '../../../lib/log';
import { notifyDeps } from '../../../lib/lambda/deps';
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
});
