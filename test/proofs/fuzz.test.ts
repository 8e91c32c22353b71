/**
 * Fuzzing the HTTP edge: each notify Lambda handler (functions/*), called the way API Gateway HTTP
 * API v2 calls it, receives bodies (random bytes, and real signed messages with mutations), headers
 * (case, duplicates, sizes, missing) and event shapes (base64 flags, missing fields). Properties:
 * the handler never throws, never answers 5xx (the store is up), and the table never changes.
 *
 * Why the table must never change: every seed message was delivered once before the fuzzing, so
 * the only thing a still-valid message may do is be recognised as a duplicate; a change could only
 * come from an unauthenticated input. FUZZ_RUNS sets the cases per route (default 5,000).
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  aggregatorNotification,
  aggregatorNotify,
  aggregatorResult,
  couponNotify,
  createHarness,
  orderNo,
  paymentNotify,
  refundNotify,
  scanAll,
  v2PaymentNotification,
  v2RefundNotification,
  v3Notification,
  v3RefundResource,
  v3TransactionResource,
  type Harness,
  type WireRequest,
} from './support';

const RUNS = Number(process.env.FUZZ_RUNS ?? 5_000);
const SECRET = 'fuzz-aggregator-secret-51c2';

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>;

let h: Harness;
const seeds: Record<string, WireRequest[]> = {};
let snapshot = '';

const context = (): Context => ({
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'wechatpay-lambda-test-notify',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:ap-east-1:000000000000:function:wechatpay-lambda-test-notify',
  memoryLimitInMB: '256',
  awsRequestId: 'fuzz-request',
  logGroupName: '/aws/lambda/wechatpay-lambda-test-notify',
  logStreamName: 'fuzz',
  getRemainingTimeInMillis: () => 5000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
});

/** The HTTP API v2 event for a request; fields left out by `omit` are removed (hostile shapes). */
function httpEvent(
  route: string,
  headers: Record<string, string> | null | undefined,
  body: string | null | undefined,
  isBase64Encoded: boolean | undefined,
  omit: string[],
): APIGatewayProxyEventV2 {
  const event: Record<string, unknown> = {
    version: '2.0',
    routeKey: `POST ${route}`,
    rawPath: route,
    rawQueryString: '',
    headers,
    body,
    isBase64Encoded,
    requestContext: {
      accountId: '000000000000',
      apiId: 'fuzz',
      domainName: 'fuzz.example',
      domainPrefix: 'fuzz',
      http: { method: 'POST', path: route, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'Mozilla/4.0' },
      requestId: 'fuzz',
      routeKey: `POST ${route}`,
      stage: '$default',
      time: '30/Nov/2026:04:00:00 +0000',
      timeEpoch: 0,
    },
  };
  for (const k of omit) delete event[k];
  return event as unknown as APIGatewayProxyEventV2;
}

const table = async () =>
  JSON.stringify((await scanAll(h.client, h.tableName)).sort((a, b) => String(a.pk?.S).localeCompare(String(b.pk?.S))));

beforeAll(async () => {
  h = await createHarness({ env: { AGGREGATOR_SECRET: SECRET } });
  // the handlers build their dependencies from the environment on the first call (lib/runtime.ts)
  Object.assign(process.env, h.env, { LOG_LEVEL: 'error' });
  const k = h.keys;
  const pay2 = orderNo('F');
  const pay3 = orderNo('F');
  const agg = orderNo('F');
  // the aggregator settles only orders registered for it (the README's "Every authentic event kept, channels apart")
  for (const [no, fen] of [
    [pay2, 1999],
    [pay3, 2500],
    [agg, 1000],
  ] as const)
    await h.store.registerOrder({
      outTradeNo: no,
      amountFen: fen,
      merchantId: k.mchid,
      ...(no === agg ? { channel: 'aggregator' as const } : {}),
    });
  const resource = v3TransactionResource(k, { outTradeNo: pay3, total: 2500 });
  seeds.payment = [
    v2PaymentNotification(k, { outTradeNo: pay2, totalFee: 1999, transactionId: '4200000001202611300000001999' }),
    v3Notification(k, { eventType: 'TRANSACTION.SUCCESS', originalType: 'transaction', resource }),
  ];
  seeds.refund = [
    v2RefundNotification(k, {
      outTradeNo: pay2,
      outRefundNo: `${pay2}R`,
      totalFee: 1999,
      refundFee: 999,
      refundStatus: 'SUCCESS',
      refundId: '50300000012026113000000001999',
    }),
    v3Notification(k, {
      eventType: 'REFUND.SUCCESS',
      originalType: 'refund',
      resource: v3RefundResource(k, {
        outTradeNo: pay3,
        outRefundNo: `${pay3}R`,
        refundStatus: 'SUCCESS',
        total: 2500,
        refund: 500,
        refundId: '50300000012026113000000002500',
      }),
    }),
  ];
  seeds.coupon = [
    v3Notification(k, {
      eventType: 'COUPON.SEND',
      originalType: 'coupon',
      resource: {
        event_type: 'EVENT_TYPE_BUSICOUPON_SEND',
        coupon_code: orderNo('C'),
        stock_id: '1212000001',
        send_time: '2026-11-30T10:00:00+08:00',
        openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
        send_channel: 'BUSICOUPON_SEND_CHANNEL_MINIAPP',
        send_merchant: k.mchid,
      },
    }),
  ];
  const aggResult = aggregatorResult({
    orderid: agg,
    amount: '10',
    real_amount: '10',
    transactionid: '9007199254740993',
  });
  seeds.aggregator = [
    aggregatorNotification({ secret: SECRET, result: aggResult }),
    aggregatorNotification({ secret: SECRET, result: aggResult, format: 'json' }),
  ];
  // deliver every seed once: from here on a valid message is a duplicate and changes nothing
  for (const [route, list] of Object.entries(seeds))
    for (const wire of list) {
      const r = (await handlers[route]!(
        httpEvent(`/notify/${route}`, wire.headers, wire.body, false, []),
        context(),
      )) as APIGatewayProxyStructuredResultV2;
      expect(r.statusCode, `${route} seed: ${r.body}`).toBeLessThan(300);
      expect(String(r.body)).not.toMatch(/FAIL|fail/);
    }
  snapshot = await table();
}, 120_000);

const handlers: Record<string, Handler> = {
  payment: paymentNotify as unknown as Handler,
  refund: refundNotify as unknown as Handler,
  coupon: couponNotify as unknown as Handler,
  aggregator: aggregatorNotify as unknown as Handler,
};

// ---------------------------------------------------------------------------------------------
// Arbitraries

const junk = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(
    '<',
    '>',
    ']]>',
    '<![CDATA[',
    '<!DOCTYPE x [<!ENTITY e "boom">]>',
    '&e;',
    '&amp;',
    '"',
    '{',
    '}',
    '[',
    ',',
    ':null',
    '\u0000',
    '\uFEFF',
    '%',
    '&',
    '=',
    '+',
    '9'.repeat(400),
    'A'.repeat(70_000),
  ),
);

/** One textual mutation of a body: insert, delete, replace, duplicate, truncate. */
const mutation = fc.oneof(
  fc.record({ op: fc.constant('insert' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), text: junk }),
  fc.record({
    op: fc.constant('delete' as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    len: fc.integer({ min: 1, max: 40 }),
  }),
  fc.record({ op: fc.constant('replace' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), text: junk }),
  fc.record({
    op: fc.constant('duplicate' as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    len: fc.integer({ min: 1, max: 200 }),
  }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(body: string, m: Mutation): string {
  const at = Math.floor(m.at * body.length);
  switch (m.op) {
    case 'insert':
      return body.slice(0, at) + m.text + body.slice(at);
    case 'delete':
      return body.slice(0, at) + body.slice(at + m.len);
    case 'replace':
      return body.slice(0, at) + m.text + body.slice(at + m.text.length);
    case 'duplicate':
      return body.slice(0, at + m.len) + body.slice(at, at + m.len) + body.slice(at + m.len);
    case 'truncate':
      return body.slice(0, at);
  }
}

/** A structural change of a JSON body: a value at some path replaced by another type or size. */
const jsonEdit = fc.record({
  pick: fc.nat(),
  value: fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(null, '', 0, -1, 1e21, '1e21', 'x'.repeat(5000), [], {}, true),
  ),
  remove: fc.boolean(),
});

function editJson(body: string, e: { pick: number; value: unknown; remove: boolean }): string {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return body;
  }
  const paths: Array<{ parent: Record<string, unknown>; key: string }> = [];
  const walk = (v: unknown) => {
    if (v && typeof v === 'object')
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        paths.push({ parent: v as Record<string, unknown>, key: k });
        walk(child);
      }
  };
  walk(doc);
  const target = paths[e.pick % Math.max(1, paths.length)];
  if (target) {
    if (e.remove) delete target.parent[target.key];
    else target.parent[target.key] = e.value;
  }
  return JSON.stringify(doc);
}

/** A body: random bytes, or a seed with textual mutations, or a seed with a JSON edit, or a seed as is. */
const bodyArb = (route: string) =>
  fc.oneof(
    fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 2048 }) }),
    fc.record({
      kind: fc.constant('mutated' as const),
      seed: fc.nat({ max: seeds[route]!.length - 1 }),
      mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }),
    }),
    fc.record({ kind: fc.constant('json' as const), seed: fc.nat({ max: seeds[route]!.length - 1 }), edit: jsonEdit }),
    fc.record({ kind: fc.constant('seed' as const), seed: fc.nat({ max: seeds[route]!.length - 1 }) }),
  );

/** Header changes: names re-cased, dropped, duplicated under another case, values mutated or huge. */
const headerEdit = fc.oneof(
  fc.record({ op: fc.constant('case' as const), pick: fc.nat(), upper: fc.array(fc.boolean(), { maxLength: 30 }) }),
  fc.record({ op: fc.constant('drop' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('dup' as const), pick: fc.nat(), value: junk }),
  fc.record({ op: fc.constant('value' as const), pick: fc.nat(), m: mutation }),
  fc.record({ op: fc.constant('huge' as const), pick: fc.nat(), n: fc.integer({ min: 1, max: 20_000 }) }),
  fc.record({ op: fc.constant('extra' as const), name: fc.string({ minLength: 1, maxLength: 30 }), value: junk }),
);
type HeaderEdit = typeof headerEdit extends fc.Arbitrary<infer T> ? T : never;

function editHeaders(headers: Record<string, string>, edits: HeaderEdit[]): Record<string, string> {
  const out = { ...headers };
  for (const e of edits) {
    const names = Object.keys(out);
    const name = names.length > 0 && 'pick' in e ? names[e.pick % names.length]! : undefined;
    switch (e.op) {
      case 'case': {
        if (!name) break;
        const value = out[name]!;
        delete out[name];
        out[[...name].map((c, i) => (e.upper[i] ? c.toUpperCase() : c.toLowerCase())).join('')] = value;
        break;
      }
      case 'drop':
        if (name) delete out[name];
        break;
      case 'dup':
        if (name) out[name === name.toUpperCase() ? name.toLowerCase() : name.toUpperCase()] = e.value;
        break;
      case 'value':
        if (name) out[name] = mutate(out[name]!, e.m);
        break;
      case 'huge':
        if (name) out[name] = out[name]!.repeat(Math.ceil(e.n / Math.max(1, out[name]!.length)) || 1);
        break;
      case 'extra':
        out[e.name] = e.value;
        break;
    }
  }
  return out;
}

/** The event shape: headers as sent (lower-cased, as HTTP APIs deliver them) or raw, base64 or not, fields missing. */
const shapeArb = fc.record({
  lowerCase: fc.boolean(),
  base64: fc.constantFrom('honest', 'honest', 'flag-only', 'encoded-unflagged', 'absent'),
  nullHeaders: fc.integer({ min: 0, max: 30 }).map((n) => n === 0),
  nullBody: fc.integer({ min: 0, max: 30 }).map((n) => n === 0),
  omit: fc.subarray(['requestContext', 'version', 'routeKey', 'rawPath', 'isBase64Encoded']),
});

const caseArb = (route: string) =>
  fc.record({ body: bodyArb(route), headers: fc.array(headerEdit, { maxLength: 4 }), shape: shapeArb });
type Case = typeof caseArb extends (r: string) => fc.Arbitrary<infer T> ? T : never;

function buildEvent(route: string, c: Case): APIGatewayProxyEventV2 {
  const seed = seeds[route]!['seed' in c.body ? c.body.seed : 0]!;
  let bytes: Buffer;
  if (c.body.kind === 'bytes') bytes = Buffer.from(c.body.bytes);
  else if (c.body.kind === 'mutated') bytes = Buffer.from(c.body.mutations.reduce(mutate, seed.body), 'utf8');
  else if (c.body.kind === 'json') bytes = Buffer.from(editJson(seed.body, c.body.edit), 'utf8');
  else bytes = Buffer.from(seed.body, 'utf8');
  let headers = editHeaders(seed.headers, c.headers);
  if (c.shape.lowerCase) headers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const b64 = bytes.toString('base64');
  const text = bytes.toString('utf8');
  const [body, flag] =
    c.shape.base64 === 'honest'
      ? [c.body.kind === 'bytes' ? b64 : text, c.body.kind === 'bytes']
      : c.shape.base64 === 'flag-only'
        ? [text, true]
        : c.shape.base64 === 'encoded-unflagged'
          ? [b64, false]
          : [text, undefined];
  return httpEvent(
    `/notify/${route}`,
    c.shape.nullHeaders ? null : headers,
    c.shape.nullBody ? null : body,
    flag,
    c.shape.omit,
  );
}

describe.each(['payment', 'refund', 'coupon', 'aggregator'])('the %s notify handler under fuzzed requests', (route) => {
  it(`${RUNS} cases: never throws, never 5xx, never changes the table`, async () => {
    let reachedStore = 0;
    // the handlers log every delivery to stdout: count outcomes instead of printing thousands of lines
    const outcomes = new Map<string, number>();
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      const outcome = /"outcome":"([A-Z_]+)"/.exec(String(chunk))?.[1] ?? 'other';
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      return true;
    }) as typeof process.stdout.write;
    try {
      await fc.assert(
        fc.asyncProperty(caseArb(route), async (c) => {
          const event = buildEvent(route, c);
          const r = (await handlers[route]!(event, context())) as APIGatewayProxyStructuredResultV2;
          expect(typeof r.statusCode).toBe('number');
          expect(r.statusCode ?? 0, `reply ${r.statusCode} ${r.body}`).toBeLessThan(500);
          expect(typeof r.body).toBe('string');
          // a success-looking reply went through verification and the store: read the table now;
          // every other case is covered by the read after the run
          if ((r.statusCode ?? 0) < 300 && !/FAIL|fail/.test(String(r.body))) {
            reachedStore++;
            expect(await table()).toBe(snapshot);
          }
        }),
        { numRuns: RUNS },
      );
    } finally {
      process.stdout.write = write;
    }
    expect(await table()).toBe(snapshot);
    const seen = [...outcomes].map(([k, n]) => `${k} ${n}`).join(', ');
    process.stdout.write(`fuzz ${route}: ${RUNS} cases (${seen}); ${reachedStore} acknowledged, table unchanged\n`);
  }, 900_000);
});
