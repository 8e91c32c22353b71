/**
 * The service's logger on Powertools: JSON lines with the service and stage, the level Lambda is
 * configured with, metrics as embedded-metric records in the {service, stage} set plus the caller's
 * own dimensions, and the Lambda context (request id, cold start) once Powertools' middleware ran.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, DEFAULT_SERVICE, DEFAULT_STAGE, emfRecord, isPlainJson, METRIC_NAMESPACE } from '../../lib/log';
import { observability } from '../../lib/middleware/observability';

afterEach(() => {
  vi.unstubAllEnvs();
});

function captured(opts: { service?: string; env?: Record<string, string> } = {}) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ ...opts, write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { lines, logger };
}

describe('log lines', () => {
  it('one JSON object per line: level, service, stage, message, then the fields', () => {
    const { lines, logger } = captured({ service: 'svc', env: { STAGE: 'staging' } });
    logger.log('warn', 'delivery', { outTradeNo: 'T1', latencyMs: 3 });
    expect(lines).toEqual([
      {
        level: 'warn',
        timestamp: expect.any(String),
        service: 'svc',
        stage: 'staging',
        message: 'delivery',
        outTradeNo: 'T1',
        latencyMs: 3,
      },
    ]);
  });

  it('service and stage from the environment serverless.yml sets, defaults outside a deployment', () => {
    const a = captured({ env: { POWERTOOLS_SERVICE_NAME: 'wechatpay-lambda', STAGE: 'prod' } });
    a.logger.log('info', 'x');
    expect(a.lines[0]).toMatchObject({ service: 'wechatpay-lambda', stage: 'prod' });
    const b = captured({ env: {} });
    b.logger.log('info', 'x');
    expect(b.lines[0]).toMatchObject({ service: DEFAULT_SERVICE, stage: DEFAULT_STAGE });
  });

  it("follows Lambda's log level (AWS_LAMBDA_LOG_LEVEL): below it nothing is written", () => {
    vi.stubEnv('AWS_LAMBDA_LOG_LEVEL', 'WARN');
    const { lines, logger } = captured();
    logger.log('debug', 'd');
    logger.log('info', 'i');
    logger.log('warn', 'w');
    logger.log('error', 'e');
    expect(
      lines.filter((l) => (l.message !== undefined && l.level !== 'warn') || l.message === 'w').map((l) => l.message),
    ).toEqual(['w', 'e']);
  });

  it('POWERTOOLS_LOG_LEVEL=DEBUG lets debug lines through; the default (INFO) does not', () => {
    const quiet = captured();
    quiet.logger.log('debug', 'd');
    expect(quiet.lines).toEqual([]);
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'DEBUG');
    const loud = captured();
    loud.logger.log('debug', 'd');
    expect(loud.lines.map((l) => l.message)).toEqual(['d']);
  });

  it('a field named like a reserved key cannot overwrite the level or the message', () => {
    const { lines, logger } = captured();
    logger.log('info', 'real', { level: 'fake', message: 'forged' });
    expect(lines.find((l) => l.message === 'real')).toMatchObject({ level: 'info', message: 'real' });
    expect(lines.some((l) => l.message === 'forged' || l.level === 'fake')).toBe(false);
  });
});

describe('line writing', () => {
  it('plain JSON values are written without the replacer; an Error, a bigint or a cycle still go through it', () => {
    const { lines, logger } = captured();
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    logger.log('info', 'plain', { n: 1, s: 'x', parts: [{ outTradeNo: 'A', outcome: 'APPLIED' }], u: undefined });
    logger.log('error', 'error', { err: new TypeError('boom') });
    logger.log('info', 'big', { big: 12345678901234567890n });
    logger.log('info', 'cycle', { cycle });
    expect(lines[0]).toMatchObject({
      message: 'plain',
      n: 1,
      s: 'x',
      parts: [{ outTradeNo: 'A', outcome: 'APPLIED' }],
    });
    expect(lines[0]).not.toHaveProperty('u');
    expect(lines[1]).toMatchObject({ err: { name: 'TypeError', message: 'boom' } });
    expect(lines[2]).toMatchObject({ big: '12345678901234567890' });
    expect(lines[3]).toMatchObject({ cycle: { a: 1 } });
  });

  it('isPlainJson: primitives, arrays and plain objects a few levels deep; nothing else', () => {
    expect(isPlainJson({ a: [1, 'x', true, null, undefined, { b: { c: 1 } }] }, 0)).toBe(true);
    for (const v of [new Error('x'), new Date(0), new Map(), 1n, () => 1, Symbol('s'), Object.create(null)])
      expect(isPlainJson({ v }, 0)).toBe(false);
    expect(isPlainJson({ a: { b: { c: { d: 1 } } } }, 0)).toBe(true);
    expect(isPlainJson({ a: { b: { c: { d: { e: 1 } } } } }, 0)).toBe(false);
  });

  it('a timestamp in UTC by default; a TZ other than UTC is honoured as Powertools does', () => {
    const { lines, logger } = captured();
    logger.log('info', 'utc');
    expect(String(lines[0]?.timestamp)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    vi.stubEnv('TZ', 'Asia/Shanghai');
    const shanghai = captured();
    shanghai.logger.log('info', 'shanghai');
    expect(String(shanghai.lines[0]?.timestamp)).toMatch(/\+08:00$/);
  });
});

describe('lines written directly', () => {
  /** Every line `act` writes, timestamps blanked; and how many log calls went through Powertools. */
  function run(act: (logger: ReturnType<typeof createLogger>) => void) {
    const lines: string[] = [];
    const logger = createLogger({ service: 'svc', env: { STAGE: 'dev' }, write: (l) => lines.push(l) });
    const pt = logger.powertools.logger;
    const spies = (['debug', 'info', 'warn', 'error'] as const).map((level) => vi.spyOn(pt, level));
    act(logger);
    const viaPowertools = spies.reduce((n, spy) => n + spy.mock.calls.length, 0);
    return { lines: lines.map((l) => l.replace(/"timestamp":"[^"]*"/, '"timestamp":"T"')), viaPowertools };
  }

  const context = (id: string | undefined, name: string | undefined) =>
    ({ awsRequestId: id, functionName: name, invokedFunctionArn: 'arn', memoryLimitInMB: '128' }) as never;

  it('property: the line written directly is the one Powertools writes, byte for byte but the timestamp', () => {
    // names that collide with the line's own keys, the persistent stage, Powertools' reserved keys or a prototype
    const key = fc.constantFrom(
      'outTradeNo',
      'outcome',
      'parts',
      'latencyMs',
      'stage',
      'message',
      'level',
      'request_id',
      'sampling_rate',
      '__proto__',
      'constructor',
      'x',
    );
    const leaf = fc.oneof(
      fc.string({ maxLength: 6 }),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
    );
    const nested = fc.oneof(
      leaf,
      fc.array(leaf, { maxLength: 3 }),
      fc.array(fc.tuple(key, leaf), { maxLength: 3 }).map((entries) => Object.fromEntries(entries)),
    );
    const value = fc.oneof(nested, fc.array(nested, { maxLength: 2 }), fc.constant(new Error('e')));
    const fields = fc.array(fc.tuple(key, value), { maxLength: 5 }).map((entries) => Object.fromEntries(entries));
    const trace = fc.constantFrom(
      undefined,
      '',
      'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
      'bare-id',
    );
    const invocations = fc.array(
      fc.tuple(fc.option(fc.string({ maxLength: 4 })), fc.option(fc.string({ maxLength: 4 }))),
      { maxLength: 2 },
    );
    let direct = 0;
    fc.assert(
      fc.property(
        fc.constantFrom('debug', 'info', 'warn', 'error'),
        fc.string({ maxLength: 8 }),
        fields,
        trace,
        invocations,
        fc.constantFrom(undefined, 'on-demand', 'provisioned-concurrency'),
        (level, message, f, traceId, contexts, initialization) => {
          vi.stubEnv('_X_AMZN_TRACE_ID', traceId);
          // read when the logger is created: only an on-demand container's first invocation is a cold start
          vi.stubEnv('AWS_LAMBDA_INITIALIZATION_TYPE', initialization);
          const setUp = (logger: ReturnType<typeof createLogger>) => {
            for (const [id, name] of contexts)
              logger.powertools.logger.addContext(context(id ?? undefined, name ?? undefined));
          };
          const mine = run((logger) => {
            setUp(logger);
            logger.log(level, message, f);
          });
          const theirs = run((logger) => {
            setUp(logger);
            logger.powertools.logger[level](message, f);
          });
          expect(mine.lines).toEqual(theirs.lines);
          if (mine.viaPowertools === 0 && mine.lines.length > 0) direct++;
        },
      ),
      { numRuns: 3000 },
    );
    expect(direct).toBeGreaterThan(300); // the comparison ran on direct lines, not only on fallbacks
  });

  it('keys appended or removed after construction: every later line goes through Powertools, with them', () => {
    const { lines, viaPowertools } = run((logger) => {
      logger.log('info', 'before');
      logger.powertools.logger.appendKeys({ tenant: 't1' });
      logger.log('info', 'after', { n: 1 });
    });
    expect(viaPowertools).toBe(1);
    expect(JSON.parse(lines[1] as string)).toMatchObject({ message: 'after', tenant: 't1', n: 1, stage: 'dev' });
  });

  it("Lambda's multi-concurrency mode (AWS_LAMBDA_MAX_CONCURRENCY): every line is Powertools' to write", () => {
    // Powertools then keeps each invocation's context in Lambda's InvokeStore: a stand-in for it here
    const held = new Map<string, unknown>();
    const global = globalThis as { awslambda?: unknown };
    global.awslambda = {
      InvokeStore: {
        get: (k: string) => held.get(k),
        set: (k: string, v: unknown) => held.set(k, v),
        getXRayTraceId: () => undefined,
      },
    };
    vi.stubEnv('AWS_LAMBDA_MAX_CONCURRENCY', '4');
    try {
      const { viaPowertools, lines } = run((logger) => logger.log('info', 'x', { n: 1 }));
      expect(viaPowertools).toBe(1);
      expect(JSON.parse(lines[0] as string)).toMatchObject({ message: 'x', n: 1 });
    } finally {
      delete global.awslambda;
    }
  });
});

describe('metrics', () => {
  it('count: one EMF record now, {service, stage} plus the dimensions, properties alongside', () => {
    const { lines, logger } = captured({ service: 'wechatpay-lambda', env: { STAGE: 'prod' } });
    logger.count({ Delivery: 1 }, { outcome: 'applied' }, { route: '/notify/payment' });
    logger.count({ ReconcileRecovered: 2, PendingPastHorizon: 0 });
    expect(lines).toEqual([
      {
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [
            {
              Namespace: METRIC_NAMESPACE,
              Dimensions: [['service', 'stage', 'outcome']],
              Metrics: [{ Name: 'Delivery', Unit: 'Count' }],
            },
          ],
        },
        service: 'wechatpay-lambda',
        stage: 'prod',
        outcome: 'applied',
        route: '/notify/payment',
        Delivery: 1,
      },
      {
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [
            {
              Namespace: METRIC_NAMESPACE,
              Dimensions: [['service', 'stage']],
              Metrics: [
                { Name: 'ReconcileRecovered', Unit: 'Count' },
                { Name: 'PendingPastHorizon', Unit: 'Count' },
              ],
            },
          ],
        },
        service: 'wechatpay-lambda',
        stage: 'prod',
        ReconcileRecovered: 2,
        PendingPastHorizon: 0,
      },
    ]);
  });

  it('property: the directly built record is the one Powertools serialises, byte for byte but the timestamp', () => {
    // small alphabets, so names collide with each other and with service/stage as often as not
    // and names JSON.stringify would reorder (array indices) or that touch a prototype
    const metric = fc.constantFrom('Delivery', 'A', 'B', 'outcome', '', '7');
    const dimension = fc.constantFrom('outcome', 'kind', 'verifiedBy', 'stage', '0');
    const property = fc.constantFrom('route', 'protocol', 'outTradeNo', 'kind', 'service', '12', '__proto__', '_aws');
    const text = fc.oneof(fc.constantFrom('applied', '/notify/payment', 'x y', '"q"\\', '支付'), fc.constant(''));
    const number = fc.oneof(fc.integer({ min: -5, max: 1000 }), fc.double(), fc.constant(Number.NaN));
    let direct = 0;
    fc.assert(
      fc.property(
        fc.dictionary(metric, number, { minKeys: 1, maxKeys: 3 }),
        fc.dictionary(dimension, text, { maxKeys: 2 }),
        fc.dictionary(property, text, { maxKeys: 2 }),
        fc.constantFrom(MetricUnit.Count, MetricUnit.NoUnit),
        (values, dimensions, properties, unit) => {
          const line = emfRecord('Ns', 'svc', 'dev', unit, values, dimensions, properties, 1_700_000_000_000);
          if (line === undefined) return; // not ordinary: createLogger hands it to Powertools itself
          direct++;
          const pt = new Metrics({ namespace: 'Ns', serviceName: 'svc', defaultDimensions: { stage: 'dev' } });
          pt.setTimestamp(1_700_000_000_000);
          for (const [k, v] of Object.entries(dimensions)) pt.addDimension(k, v);
          for (const [k, v] of Object.entries(properties)) pt.addMetadata(k, v);
          for (const [k, v] of Object.entries(values)) pt.addMetric(k, unit, v);
          expect(line).toBe(JSON.stringify(pt.serializeMetrics()));
        },
      ),
      { numRuns: 5000 },
    );
    expect(direct).toBeGreaterThan(200); // the comparison ran on ordinary records, not only on skips
  });

  it('an unusual record (a property named like a dimension, an empty dimension value) still goes through Powertools', () => {
    const { lines, logger } = captured({ env: { STAGE: 'dev' } });
    logger.count({ Delivery: 1 }, { outcome: '' });
    logger.count({ Delivery: 1 }, { outcome: 'applied' }, { outcome: 'x' });
    const records = lines.filter((l) => l._aws !== undefined);
    expect(records).toHaveLength(2);
    for (const l of records) expect(l).toMatchObject({ Delivery: 1, stage: 'dev' });
  });

  it('POWERTOOLS_METRICS_DISABLED: no record on either path', () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    const { lines, logger } = captured();
    logger.count({ Delivery: 1 }, { outcome: 'applied' });
    logger.count({ Delivery: 1 }, { outcome: '' });
    logger.gauge('PlatformCertificateDaysToExpiry', 3);
    expect(lines.filter((l) => l._aws !== undefined)).toEqual([]);
  });

  it('the namespace follows POWERTOOLS_METRICS_NAMESPACE', () => {
    const { lines, logger } = captured({ env: { POWERTOOLS_METRICS_NAMESPACE: 'Other' } });
    logger.count({ Delivery: 1 });
    expect(lines[0]).toMatchObject({ _aws: { CloudWatchMetrics: [{ Namespace: 'Other' }] } });
  });

  it('gauge: one level (unit None) in the {service, stage} set, nothing stored after it', () => {
    const { lines, logger } = captured({ env: { STAGE: 'prod' } });
    logger.gauge('PlatformCertificateDaysToExpiry', 41.5);
    logger.gauge('PlatformCertificateDaysToExpiry', 40);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: METRIC_NAMESPACE,
            Dimensions: [['service', 'stage']],
            Metrics: [{ Name: 'PlatformCertificateDaysToExpiry', Unit: 'None' }],
          },
        ],
      },
      stage: 'prod',
      PlatformCertificateDaysToExpiry: 41.5,
    });
    // each call flushes its own record: the second does not carry the first's value
    expect(lines[1]).toMatchObject({ PlatformCertificateDaysToExpiry: 40 });
  });

  it('anomaly: the Anomaly record in the {service, stage} set (the kind a property), then the warn line', () => {
    const { lines, logger } = captured({ env: { STAGE: 'dev' } });
    logger.anomaly('AMOUNT_MISMATCH', { outTradeNo: 'T9' });
    expect(lines).toEqual([
      expect.objectContaining({
        _aws: expect.objectContaining({
          CloudWatchMetrics: [
            {
              Namespace: METRIC_NAMESPACE,
              Dimensions: [['service', 'stage']],
              Metrics: [{ Name: 'Anomaly', Unit: 'Count' }],
            },
          ],
        }),
        kind: 'AMOUNT_MISMATCH',
        Anomaly: 1,
      }),
      expect.objectContaining({
        level: 'warn',
        message: 'anomaly',
        kind: 'AMOUNT_MISMATCH',
        outTradeNo: 'T9',
        stage: 'dev',
      }),
    ]);
  });

  it("whatever is put in Powertools' stores directly is flushed by the middleware's flush, and gone after it", () => {
    const { lines, logger } = captured();
    const metrics = logger.powertools.metrics;
    const flushEmpty = () => metrics.publishStoredMetrics();
    // a flush with nothing stored writes nothing
    flushEmpty();
    expect(lines).toEqual([]);
    // each storing call alone, then the flush: the next record (through Powertools) carries none of it
    const stores: Array<[string, () => void]> = [
      ['addDimension', () => metrics.addDimension('region', 'r1')],
      ['addDimensions', () => metrics.addDimensions({ region: 'r2' })],
      ['addMetadata', () => metrics.addMetadata('note', 'n1')],
      ['setTimestamp', () => metrics.setTimestamp(1_000)],
    ];
    for (const [name, store] of stores) {
      store();
      flushEmpty();
      metrics.addMetric('Probe', MetricUnit.Count, 1);
      metrics.publishStoredMetrics();
      const probe = lines.at(-1) as Record<string, unknown> & { _aws: { Timestamp: number } };
      expect({ name, region: probe.region, note: probe.note }).toEqual({ name, region: undefined, note: undefined });
      expect(probe._aws.Timestamp).not.toBe(1_000);
    }
  });

  it('dimensions are per record: the next record does not inherit the last one', () => {
    const { lines, logger } = captured();
    logger.count({ Delivery: 1 }, { outcome: 'duplicate' });
    logger.count({ Anomaly: 1 });
    expect(lines[1]).not.toHaveProperty('outcome');
  });
});

describe('inside an invocation (Powertools middlewares)', () => {
  it('every line carries the request id and the cold-start flag; the next invocation its own id, warm', async () => {
    const { lines, logger } = captured();
    const handler = middy(async () => {
      logger.log('info', 'inside');
      return 'ok';
    }).use(observability(logger));
    await handler({}, { awsRequestId: 'r-1', functionName: 'f' } as never);
    await handler({}, { awsRequestId: 'r-2', functionName: 'f' } as never);
    const inside = lines.filter((l) => l.message === 'inside');
    expect(inside).toEqual([
      // the cold-start flag is the process's own (Powertools keeps one): only a later invocation is surely warm
      expect.objectContaining({ request_id: 'r-1', cold_start: expect.any(Boolean), function_name: 'f' }),
      expect.objectContaining({ request_id: 'r-2', cold_start: false, function_name: 'f' }),
    ]);
    // logMetrics flushes only what is stored: an invocation without metrics writes no empty record
    expect(lines.filter((l) => l._aws !== undefined)).toEqual([]);
  });
});
