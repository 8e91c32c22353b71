/**
 * The aggregator notification function, driven the way API Gateway drives it, against real DynamoDB
 * Local, with notifications from the independent sender (scripts/simulator/aggregator.ts): the reply
 * is exactly `success` only when the payment is durable (or already was), and `fail` otherwise.
 */
import { GetItemCommand, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { aggregatorHandler } from '../../lib/notify/aggregator';
import type { NotifyDeps } from '../../lib/notify/handle';
import { orderKey } from '../../lib/orders/table';
import type { HttpEvent } from '../../lib/lambda/http';
import {
  aggregatorNotification,
  aggregatorResult,
  aggregatorSign,
  type AggregatorSignMode,
} from '../../scripts/simulator/aggregator';
import { v2PaymentNotification, type WireRequest } from '../../scripts/simulator/messages';
import { createHarness, orderNo, toEvent, type Harness } from '../support/harness';

const SECRET = 'aggregator-test-secret-7f3a9c';
const ROUTE = '/notify/aggregator';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ env: { AGGREGATOR_SECRET: SECRET } });
});

type Reply = { statusCode: number; headers: Record<string, string>; body: string };

async function deliver(wire: WireRequest | HttpEvent, deps: NotifyDeps = h.deps()): Promise<Reply> {
  const event = 'isBase64Encoded' in wire ? wire : toEvent(wire as WireRequest);
  return (await aggregatorHandler(ROUTE, () => deps)(event)) as Reply;
}

/** Exactly what the aggregator accepts: the body `success`, nothing else. */
const acknowledged = (r: Reply) => r.body === 'success';

async function register(amountFen: number, channel: 'aggregator' | 'wechatpay' = 'aggregator'): Promise<string> {
  const no = orderNo('A');
  expect((await h.store.registerOrder({ outTradeNo: no, amountFen, merchantId: h.keys.mchid, channel })).kind).toBe(
    'REGISTERED',
  );
  return no;
}

async function item(no: string) {
  const res = await h.client.send(
    new GetItemCommand({
      TableName: h.tableName,
      Key: { pk: { S: orderKey(h.keys.mchid, no) } },
      ConsistentRead: true,
    }),
  );
  return res.Item;
}

const result = (no: string, realAmount: string, o: { amount?: string; transactionid?: string; custom?: string } = {}) =>
  aggregatorResult({
    orderid: no,
    amount: o.amount ?? realAmount,
    real_amount: realAmount,
    transactionid: o.transactionid ?? '6417483920174829301',
    custom: o.custom ?? 'cart-42',
  });

const paid = (
  no: string,
  realAmount: string,
  o: {
    format?: 'form' | 'json';
    status?: string;
    mode?: AggregatorSignMode;
    transactionid?: string;
    custom?: string;
  } = {},
) =>
  aggregatorNotification({
    secret: SECRET,
    result: result(no, realAmount, o),
    format: o.format,
    status: o.status,
    mode: o.mode,
  });

describe('a successful trade (status 10000)', () => {
  it.each(['form', 'json'] as const)(
    '%s body: applied once, answered exactly `success`, and `success` again for the duplicate',
    async (format) => {
      const no = await register(1990);
      const wire = paid(no, '19.9', { format, transactionid: '9007199254740993' });
      const r = await deliver(wire);
      expect(r).toEqual({ statusCode: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'success' });
      const first = await item(no);
      expect(first?.state?.S).toBe('PAID');
      expect(first?.paidVia?.S).toBe('aggregator');
      expect(first?.paidFen?.N).toBe('1990');
      expect(first?.transactionId?.S).toBe('AGG-9007199254740993');
      expect(first?.previousState?.S).toBe('NOTPAY');
      expect(first?.pending).toBeUndefined();
      expect(acknowledged(await deliver(wire))).toBe(true);
      expect((await item(no))?.appliedAt).toEqual(first?.appliedAt);
    },
  );

  it('reads a base64-encoded body as its exact bytes', async () => {
    const no = await register(100);
    expect(acknowledged(await deliver(toEvent(paid(no, '1.00', { custom: '中文 + & =' }), { base64: true })))).toBe(
      true,
    );
    expect((await item(no))?.state?.S).toBe('PAID');
  });

  it('stamps the payment with the time it was received (the aggregator sends none)', async () => {
    const no = await register(100);
    const at = Date.parse('2026-11-23T01:02:03.000Z');
    expect(acknowledged(await deliver(paid(no, '1'), h.deps({ now: () => at })))).toBe(true);
    expect((await item(no))?.paidAt?.S).toBe('2026-11-23T01:02:03.000Z');
  });

  it('property: any amount with at most two decimals lands as exactly its fen', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.bigInt({ min: 0n, max: 9_999_999_999n }),
        fc.stringMatching(/^\d{0,2}$/),
        async (whole, frac) => {
          const text = frac === '' ? String(whole) : `${whole}.${frac}`;
          const fen = whole * 100n + BigInt(frac.padEnd(2, '0'));
          // an order of 0 fen cannot be registered: nothing to compare a zero payment with
          fc.pre(fen > 0n);
          const no = await register(Number(fen));
          expect(acknowledged(await deliver(paid(no, text, { format: 'json' })))).toBe(true);
          expect((await item(no))?.paidFen?.N).toBe(String(fen));
        },
      ),
      {
        numRuns: 25,
        examples: [
          [19n, '9'],
          [0n, '1'],
          [0n, '3'],
          [0n, '07'],
          [1n, '15'],
          [4n, '35'],
          [20n, '0'],
        ],
      },
    );
  });

  it('200 concurrent deliveries of one notification: one transition, every reply `success`', async () => {
    const no = await register(4321);
    const wire = paid(no, '43.21');
    h.logs.length = 0;
    const replies = await Promise.all(Array.from({ length: 200 }, () => deliver(wire)));
    expect(replies.filter((r) => !acknowledged(r)).slice(0, 3)).toEqual([]);
    const outcomes = h.logs.filter((l) => l.message === 'delivery' && l.outTradeNo === no).map((l) => l.outcome);
    expect(outcomes).toHaveLength(200);
    expect(outcomes.filter((o) => o === 'APPLIED')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'ALREADY_APPLIED')).toHaveLength(199);
    expect((await item(no))?.state?.S).toBe('PAID');
  });

  it('costs one DynamoDB request on the first delivery', async () => {
    const no = await register(100);
    h.requests.length = 0;
    await deliver(paid(no, '1.00'));
    expect(h.requests).toEqual(['UpdateItemCommand']);
  });

  it('accepts the signature in lower-case hex (the same digest)', async () => {
    const no = await register(500);
    const res = result(no, '5.00');
    const sign = aggregatorSign('10000', res, SECRET).toLowerCase();
    expect(acknowledged(await deliver(aggregatorNotification({ secret: SECRET, result: res, sign })))).toBe(true);
  });

  it('verifies with the configured construction (AGGREGATOR_SIGN_MODE), and only with it', async () => {
    const concat = h.deps({ config: { ...h.config, aggregatorSignMode: 'concat-md5' } });
    const no = await register(100);
    expect(acknowledged(await deliver(paid(no, '1.00', { mode: 'concat-md5' })))).toBe(false);
    expect((await item(no))?.state?.S).toBe('NOTPAY');
    expect(acknowledged(await deliver(paid(no, '1.00', { mode: 'sorted-md5' }), concat))).toBe(false);
    expect(acknowledged(await deliver(paid(no, '1.00', { mode: 'concat-md5' }), concat))).toBe(true);
    expect((await item(no))?.state?.S).toBe('PAID');
  });
});

describe('rejected: `fail`, and nothing changes', () => {
  const cases: Array<[string, (no: string) => string | WireRequest | HttpEvent]> = [
    [
      'a forged signature',
      (no) =>
        aggregatorNotification({
          secret: SECRET,
          result: result(no, '12.00'),
          sign: '0123456789ABCDEF0123456789ABCDEF',
        }),
    ],
    [
      'a signature under another secret',
      (no) => aggregatorNotification({ secret: 'not-the-secret', result: result(no, '12.00') }),
    ],
    ['no signature', (no) => `status=10000&result=${encodeURIComponent(result(no, '12.00'))}`],
    [
      'a signature over the re-serialised result',
      (no) => {
        const sent = result(no, '12.00').replace('"amount":12.00', '"amount":12.0000');
        const sign = aggregatorSign('10000', JSON.stringify(JSON.parse(sent)), SECRET);
        return aggregatorNotification({ secret: SECRET, result: sent, sign });
      },
    ],
    [
      'a result re-serialised after signing',
      (no) => {
        const signedText = result(no, '12.00');
        return aggregatorNotification({
          secret: SECRET,
          result: JSON.stringify(JSON.parse(signedText)),
          sign: aggregatorSign('10000', signedText, SECRET),
        });
      },
    ],
    [
      'a failure status re-labelled 10000',
      (no) =>
        aggregatorNotification({
          secret: SECRET,
          result: result(no, '12.00'),
          status: '10000',
          sign: aggregatorSign('30916', result(no, '12.00'), SECRET),
        }),
    ],
    [
      'upper-case field names',
      (no) => paid(no, '12.00').body.replace('status=', 'STATUS=').replace('result=', 'Result='),
    ],
    ['a missing status', (no) => paid(no, '12.00').body.replace(/^status=10000&/, '')],
    ['a missing result', (no) => paid(no, '12.00').body.replace(/result=[^&]*&/, '')],
    [
      'a missing real_amount',
      (no) => aggregatorNotification({ secret: SECRET, result: `{"transactionid":1,"orderid":"${no}","amount":12}` }),
    ],
    ['a repeated field', (no) => `${paid(no, '12.00').body}&status=10000`],
    [
      'a repeated key in result',
      (no) =>
        aggregatorNotification({ secret: SECRET, result: result(no, '12.00').replace('}', ',"real_amount":0.01}') }),
    ],
    [
      'invalid JSON in result',
      (no) =>
        aggregatorNotification({
          secret: SECRET,
          result: `{"transactionid":1,"orderid":"${no}","amount":12,"real_amount":12`,
        }),
    ],
    [
      '__proto__ in result',
      (no) =>
        aggregatorNotification({
          secret: SECRET,
          result: result(no, '12.00').replace('{', '{"__proto__":{"polluted":1},'),
        }),
    ],
    [
      '__proto__ in a JSON body',
      (no) => paid(no, '12.00', { format: 'json' }).body.replace('{', '{"__proto__":{"polluted":1},'),
    ],
    ['__proto__ in a form body', (no) => `__proto__[polluted]=1&${paid(no, '12.00').body}&__proto__=1`],
    [
      'a huge real_amount',
      (no) => aggregatorNotification({ secret: SECRET, result: result(no, '1'.repeat(40), { amount: '12.00' }) }),
    ],
    [
      'real_amount 1e400',
      (no) => aggregatorNotification({ secret: SECRET, result: result(no, '1e400', { amount: '12.00' }) }),
    ],
    [
      'a fraction of a fen',
      (no) => aggregatorNotification({ secret: SECRET, result: result(no, '12.001', { amount: '12.00' }) }),
    ],
    [
      'a huge transactionid',
      (no) =>
        aggregatorNotification({ secret: SECRET, result: result(no, '12.00', { transactionid: '9'.repeat(400) }) }),
    ],
    [
      'a huge status',
      (no) =>
        aggregatorNotification({
          secret: SECRET,
          result: result(no, '12.00'),
          status: '1'.repeat(400),
          format: 'json',
        }),
    ],
    [
      'a 1 MB body',
      (no) => aggregatorNotification({ secret: SECRET, result: result(no, '12.00', { custom: 'x'.repeat(1 << 20) }) }),
    ],
    ['a 1 MB JSON body of nesting', () => `{"status":10000,"x":${'['.repeat(1 << 19)}${']'.repeat(1 << 19)}}`],
    ['a deep JSON body under the size limit', () => `{"status":10000,"x":${'['.repeat(20_000)}${']'.repeat(20_000)}}`],
    [
      'invalid UTF-8',
      () => ({
        headers: {},
        body: Buffer.from([0x73, 0x74, 0x61, 0x74, 0x75, 0x73, 0x3d, 0xff, 0xfe]).toString('base64'),
        isBase64Encoded: true,
      }),
    ],
    ['an XML body', (no) => v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 1200 })],
    ['an empty body', () => ''],
  ];

  const FORGERIES = new Set(cases.slice(0, 6).map(([name]) => name));

  it.each(cases)('%s', async (name, make) => {
    const no = await register(1200);
    const made = make(no);
    const wire =
      typeof made === 'string'
        ? { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: made }
        : made;
    const r = await deliver(wire);
    expect(r.body).toBe('fail');
    expect(r.statusCode).toBeGreaterThanOrEqual(400);
    expect((await item(no))?.state?.S).toBe('NOTPAY');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // for the reason the case is about: forgeries are unauthentic, everything else malformed
    const line = h.logs.filter((l) => l.message === 'delivery').at(-1);
    expect(line?.outcome).toBe(FORGERIES.has(name) ? 'UNAUTHENTIC' : 'MALFORMED');
    if (name.includes('real_amount') || name.includes('fen')) expect(line?.reason).toMatch(/real_amount/);
  });

  it('a real_amount that differs from the registered order: `fail`, an anomaly, the order stays NOTPAY', async () => {
    const no = await register(2000);
    const r = await deliver(paid(no, '19.99', { format: 'json' }));
    expect(r.body).toBe('fail');
    expect((await item(no))?.state?.S).toBe('NOTPAY');
    expect(h.logs.some((l) => l.kind === 'AMOUNT_MISMATCH' && l.outTradeNo === no && l.Anomaly === 1)).toBe(true);
    expect(h.logs.find((l) => l.message === 'delivery' && l.outTradeNo === no)).toMatchObject({
      outcome: 'INCONSISTENT',
      anomaly: 'AMOUNT_MISMATCH',
      realAmountFen: 1999,
    });
  });

  it('amount (submitted) is what matches the order; a smaller real_amount is recorded as credited and flagged', async () => {
    const no = await register(2000);
    expect(
      acknowledged(
        await deliver(aggregatorNotification({ secret: SECRET, result: result(no, '19.00', { amount: '20.0000' }) })),
      ),
    ).toBe(true);
    const it = await item(no);
    expect([it?.state?.S, it?.paidFen?.N, it?.creditedFen?.N]).toEqual(['PAID', '2000', '1900']);
    expect(
      h.logs.filter((l) => l.message === 'anomaly' && l.kind === 'CREDITED_BELOW_AMOUNT' && l.outTradeNo === no),
    ).toHaveLength(1);
    expect(h.logs.find((l) => l.message === 'delivery' && l.outTradeNo === no)).toMatchObject({
      outcome: 'APPLIED',
      anomaly: 'CREDITED_BELOW_AMOUNT',
      realAmountFen: 1900,
    });
  });

  it('an order registered for WeChat Pay: refused (`fail`, OTHER_CHANNEL) and nothing changes', async () => {
    const no = await register(300, 'wechatpay');
    const before = await item(no);
    expect((await deliver(paid(no, '3.00'))).body).toBe('fail');
    expect(await item(no)).toEqual(before);
    expect(h.logs.some((l) => l.kind === 'OTHER_CHANNEL' && l.outTradeNo === no)).toBe(true);
  });

  it('a closed WeChat Pay order cannot be reopened by the aggregator either', async () => {
    const no = await register(300, 'wechatpay');
    expect((await h.store.applyClose(h.keys.mchid, no)).kind).toBe('CLOSED');
    const before = await item(no);
    expect((await deliver(paid(no, '3.00'))).body).toBe('fail');
    expect(await item(no)).toEqual(before);
  });

  it('a WeChat Pay notification for an aggregator order: refused (v2 FAIL) and nothing changes', async () => {
    const no = await register(300);
    const before = await item(no);
    const { notifyHandler } = await import('../../lib/notify/lambda');
    const r = await notifyHandler('/notify/payment', () => h.deps())(
      toEvent(v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 300, transactionId: '6417483920174829301' })),
    );
    expect(r.body).toContain('<return_code><![CDATA[FAIL]]></return_code>');
    expect(await item(no)).toEqual(before);
    expect(h.logs.some((l) => l.kind === 'OTHER_CHANNEL' && l.outTradeNo === no)).toBe(true);
  });

  it('a second, different aggregator trade for a paid order', async () => {
    const no = await register(300);
    expect(acknowledged(await deliver(paid(no, '3.00', { transactionid: '1' })))).toBe(true);
    expect((await deliver(paid(no, '3.00', { transactionid: '2' }))).body).toBe('fail');
    expect((await item(no))?.transactionId?.S).toBe('AGG-1');
  });
});

describe('failure statuses', () => {
  it.each([
    ['30901', 'order expired'],
    ['30906', 'login failed'],
    ['30907', 'insufficient balance'],
    ['30911', 'verification failed'],
    ['30912', 'real-name check failed'],
    ['30916', 'trade failed'],
    ['30921', 'trade timed out'],
  ])('%s (%s) is acknowledged, logged with its meaning, and changes nothing', async (status, meaning) => {
    const no = await register(1200);
    h.requests.length = 0;
    const r = await deliver(paid(no, '12.00', { status, format: status.endsWith('1') ? 'json' : 'form' }));
    expect(r.body).toBe('success');
    expect(h.requests).toEqual([]);
    expect((await item(no))?.state?.S).toBe('NOTPAY');
    expect(h.logs.find((l) => l.message === 'delivery' && l.outTradeNo === no)).toMatchObject({
      outcome: 'TRADE_FAILED',
      status,
      meaning,
      protocol: 'aggregator',
    });
  });

  it('an undocumented status is acknowledged and logged as unknown', async () => {
    const no = await register(1200);
    expect((await deliver(paid(no, '12.00', { status: '40404' }))).body).toBe('success');
    expect((await item(no))?.state?.S).toBe('NOTPAY');
    expect(h.logs.find((l) => l.message === 'delivery' && l.outTradeNo === no)).toMatchObject({
      outcome: 'UNKNOWN_STATUS',
      status: '40404',
    });
  });

  it('a failure status with a forged signature is `fail` like any forgery', async () => {
    const no = await register(1200);
    expect(
      (await deliver(aggregatorNotification({ secret: 'wrong', result: result(no, '12.00'), status: '30916' }))).body,
    ).toBe('fail');
  });
});

describe('unregistered orders', () => {
  it('are refused even under the default `record` policy: `fail`, nothing written, anomaly logged', async () => {
    const no = orderNo('U');
    expect((await deliver(paid(no, '7.77'))).body).toBe('fail');
    expect(await item(no)).toBeUndefined();
    expect(h.logs.some((l) => l.kind === 'UNREGISTERED_ORDER' && l.outTradeNo === no)).toBe(true);
  });

  it('are refused when WECHATPAY_UNKNOWN_ORDER=reject', async () => {
    const no = orderNo('R');
    expect((await deliver(paid(no, '7.77'), h.deps({ policy: 'reject' }))).body).toBe('fail');
    expect(await item(no)).toBeUndefined();
  });
});

describe('durable before success', () => {
  it.each([
    ['throttling', () => new ProvisionedThroughputExceededException({ message: 'throttled', $metadata: {} })],
    ['a timeout', () => Object.assign(new Error('socket timed out'), { name: 'TimeoutError' })],
    ['an unexpected fault', () => new TypeError('boom')],
  ])('%s: `fail` (the aggregator resends), nothing changed, and the resend applies', async (_name, make) => {
    const no = await register(100);
    const store = h.faultyStore(1, make);
    const wire = paid(no, '1.00');
    const failed = await deliver(wire, h.deps({ store }));
    expect(failed).toMatchObject({ statusCode: 500, body: 'fail' });
    expect((await item(no))?.state?.S).toBe('NOTPAY');
    expect(h.logs.find((l) => l.message === 'delivery' && l.outTradeNo === no)).toMatchObject({
      outcome: 'UNAVAILABLE',
      level: 'error',
    });
    expect(acknowledged(await deliver(wire, h.deps({ store })))).toBe(true);
    expect((await item(no))?.state?.S).toBe('PAID');
  });

  it('without AGGREGATOR_SECRET, or with a broken configuration: `fail`, so nothing is lost', async () => {
    const no = await register(100);
    expect(
      await deliver(paid(no, '1.00'), h.deps({ config: { ...h.config, aggregatorSecret: undefined } })),
    ).toMatchObject({ statusCode: 500, body: 'fail' });
    const broken = (await aggregatorHandler(ROUTE, () => {
      throw new Error('PAYMENTS_TABLE is not set');
    })(toEvent(paid(no, '1.00')))) as Reply;
    expect(broken).toMatchObject({ statusCode: 500, body: 'fail' });
    expect((await item(no))?.state?.S).toBe('NOTPAY');
  });
});

describe('one delivery, one line of log', () => {
  it('logs the order, outcome and latency, and never the secret, the signature or the result', async () => {
    const no = await register(100);
    h.logs.length = 0;
    const wire = paid(no, '1.00', { format: 'json' });
    await deliver(wire);
    await deliver(aggregatorNotification({ secret: 'forged', result: result(no, '1.00') }));
    const lines = h.logs.filter((l) => l.message === 'delivery');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      route: ROUTE,
      protocol: 'aggregator',
      outTradeNo: no,
      outcome: 'APPLIED',
      transactionId: 'AGG-6417483920174829301',
    });
    expect(lines[1]).toMatchObject({ outcome: 'UNAUTHENTIC', reason: 'sign mismatch' });
    for (const l of lines) expect(typeof l.latencyMs).toBe('number');
    const text = JSON.stringify(h.logs);
    const sign = (JSON.parse(wire.body) as { sign: string }).sign;
    for (const secret of [SECRET, sign, 'cart-42', '"real_amount"']) expect(text).not.toContain(secret);
  });
});

describe('functions/aggregatorNotify', () => {
  it('is the middy handler over the environment', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, h.env);
    try {
      const { handler } = await import('../../functions/aggregatorNotify');
      const no = await register(990);
      const invoke = handler as unknown as (e: HttpEvent, c: unknown) => Promise<Reply>;
      const r = await invoke(toEvent(paid(no, '9.9')), {});
      expect(r.body).toBe('success');
      expect((await item(no))?.paidVia?.S).toBe('aggregator');
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});
