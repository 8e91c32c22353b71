/**
 * The aggregator pipeline on failure notices whose `result` names no usable order: still acknowledged
 * (a resend would say the same), logged without an order number rather than with a hostile one, and
 * nothing is written. Notifications come from the independent sender; the store is DynamoDB Local.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handleAggregatorNotification } from '../../../lib/notify/aggregator';
import { aggregatorNotification } from '../../../scripts/simulator/aggregator';
import { createHarness, type Harness } from '../../support/harness';

const SECRET = 'aggregator-lib-test-secret-51ab';
let h: Harness;
beforeAll(async () => {
  h = await createHarness({ env: { AGGREGATOR_SECRET: SECRET } });
});

async function deliver(status: string, result: string) {
  const wire = aggregatorNotification({ secret: SECRET, status, result, format: 'json' });
  h.logs.length = 0;
  h.requests.length = 0;
  const reply = await handleAggregatorNotification(
    { route: '/notify/aggregator', headers: wire.headers, body: Buffer.from(wire.body, 'utf8') },
    h.deps(),
  );
  return { reply, line: h.logs.find((l) => l.message === 'delivery') };
}

describe('failure statuses without a usable order id', () => {
  it.each([
    ['no orderid at all', '{"transactionid":1}'],
    ['an orderid that is not an order number', '{"orderid":"../../etc/passwd"}'],
    ['an orderid that is not a string', '{"orderid":123456}'],
  ])('a documented failure with %s is acknowledged and logged without an order number', async (_name, result) => {
    const { reply, line } = await deliver('30907', result);
    expect(reply.body).toBe('success');
    expect(line).toMatchObject({
      outcome: 'TRADE_FAILED',
      status: '30907',
      meaning: 'insufficient balance',
      protocol: 'aggregator',
    });
    expect(line).not.toHaveProperty('outTradeNo');
    expect(h.requests).toEqual([]);
  });

  it('an undocumented status without an order id is acknowledged and logged as unknown', async () => {
    const { reply, line } = await deliver('-7', '{}');
    expect(reply.body).toBe('success');
    expect(line).toMatchObject({ outcome: 'UNKNOWN_STATUS', status: '-7' });
    expect(line).not.toHaveProperty('outTradeNo');
    expect(h.requests).toEqual([]);
  });

  it('an undocumented status with an order id names the order in the log line', async () => {
    const { line } = await deliver('20000', '{"orderid":"T2026112300009"}');
    expect(line).toMatchObject({ outcome: 'UNKNOWN_STATUS', status: '20000', outTradeNo: 'T2026112300009' });
  });
});
