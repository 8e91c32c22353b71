/**
 * The `Delivery` metric as CloudWatch would read it: a signed payment notification through the real
 * notify function chain (Powertools' middlewares included), its store pointed at a closed port, is
 * answered with a retryable failure, and standard output holds the `Delivery` embedded-metric record
 * with outcome failed-retryable in the {service, stage, outcome} set the alarm in serverless.yml
 * matches, beside a delivery line carrying the request id. Every outcome kind is counted once.
 */
import { createServer } from 'node:net';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../lib/log';
import { notifyHandler } from '../../../lib/notify/lambda';
import { createDynamoClient } from '../../../lib/orders/client';
import { createDynamoOrderStore } from '../../../lib/orders/dynamodb';
import { v2PaymentNotification, v3Notification, v3TransactionResource } from '../../../scripts/simulator/messages';
import { createHarness, orderNo, toEvent, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

/** A local port nothing listens on: bound, then released, so a connection to it is refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Runs `f` with standard output captured as parsed JSON lines (what CloudWatch Logs would receive). */
async function stdout<T>(f: () => Promise<T>): Promise<{ value: T; lines: Array<Record<string, unknown>> }> {
  const lines: Array<Record<string, unknown>> = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    for (const l of String(chunk).split('\n'))
      if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
    return true;
  });
  try {
    return { value: await f(), lines };
  } finally {
    spy.mockRestore();
  }
}

const deliveryMetrics = (lines: Array<Record<string, unknown>>) => lines.filter((l) => l.Delivery !== undefined);

describe('the Delivery metric', () => {
  it('a delivery with the store down: failed-retryable, in EMF, with the service and stage dimensions', async () => {
    vi.stubEnv('STAGE', 'prod');
    vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'wechatpay-lambda');
    vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', 'WechatPayLambda');
    const port = await closedPort();
    const client = createDynamoClient({ endpoint: `http://127.0.0.1:${port}` });
    const down = createDynamoOrderStore({ client, tableName: h.tableName });
    const handler = notifyHandler('/notify/payment', (logger) => ({ ...h.deps(), store: down, logger }));
    const no = orderNo('M');
    const wire = v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 100 });

    const { value, lines } = await stdout(() =>
      handler(toEvent(wire), { awsRequestId: 'req-store-down', functionName: 'paymentNotify' }),
    );
    expect((value as { body: string }).body).toContain('<return_code><![CDATA[FAIL]]></return_code>');

    expect(deliveryMetrics(lines)).toEqual([
      {
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [
            {
              Namespace: 'WechatPayLambda',
              Dimensions: [['service', 'stage', 'outcome']],
              Metrics: [{ Name: 'Delivery', Unit: 'Count' }],
            },
          ],
        },
        service: 'wechatpay-lambda',
        stage: 'prod',
        outcome: 'failed-retryable',
        route: '/notify/payment',
        protocol: 'v2',
        Delivery: 1,
      },
    ]);
    // the delivery's own line: the request id and cold start from Powertools' context, the store's failure
    expect(lines.find((l) => l.message === 'delivery')).toMatchObject({
      level: 'error',
      service: 'wechatpay-lambda',
      stage: 'prod',
      request_id: 'req-store-down',
      function_name: 'paymentNotify',
      cold_start: expect.any(Boolean),
      outcome: 'UNAVAILABLE',
      outTradeNo: no,
    });
    // nothing secret reached the output
    const text = JSON.stringify(lines);
    for (const secret of [h.keys.apiV2Key, h.keys.apiV3Key, 'PRIVATE KEY']) expect(text).not.toContain(secret);
  });

  it('counts applied, duplicate, rejected-forged and rejected-inconsistent, one record per delivery', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({ write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
    const handler = notifyHandler('/notify/payment', (l) => h.deps({ logger: l }), logger);
    const no = orderNo('M');
    await h.store.registerOrder({
      outTradeNo: no,
      merchantId: h.keys.mchid,
      amountFen: 100,
      createdAt: new Date().toISOString(),
    });
    const paid = v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 100 });
    await handler(toEvent(paid));
    await handler(toEvent(paid));
    // signed with another key: not WeChat's
    await handler(
      toEvent(v2PaymentNotification({ ...h.keys, apiV2Key: 'f'.repeat(32) }, { outTradeNo: no, totalFee: 100 })),
    );
    // authentic, but another payment of the order already paid
    await handler(toEvent(v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 999 })));
    const v3 = v3Notification(h.keys, {
      eventType: 'TRANSACTION.SUCCESS',
      originalType: 'transaction',
      resource: v3TransactionResource(h.keys, { outTradeNo: orderNo('M'), total: 300 }),
    });
    await handler(toEvent(v3));

    expect(deliveryMetrics(lines).map((l) => [l.outcome, l.protocol])).toEqual([
      ['applied', 'v2'],
      ['duplicate', 'v2'],
      ['rejected-forged', 'v2'],
      ['rejected-inconsistent', 'v2'],
      ['applied', 'v3'],
    ]);
    // the Anomaly record of the refused payment (the order is paid by another transaction) stays in
    // the alarm's {service, stage} set
    expect(lines.find((l) => l.Anomaly !== undefined)).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Dimensions: [['service', 'stage']], Metrics: [{ Name: 'Anomaly' }] }] },
      kind: 'OTHER_TRANSACTION',
    });
  });

  it('a broken configuration, answered by the middleware, is a failed-retryable delivery too', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({ write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
    const handler = notifyHandler(
      '/notify/refund',
      () => {
        throw new Error('boom');
      },
      logger,
    );
    await handler({ headers: { 'wechatpay-serial': 'X' }, body: '{}' });
    expect(deliveryMetrics(lines)).toEqual([
      expect.objectContaining({ outcome: 'failed-retryable', route: '/notify/refund', protocol: 'v3' }),
    ]);
  });
});
