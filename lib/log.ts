/**
 * Structured JSON logs and CloudWatch metrics through Powertools for AWS Lambda (Logger and Metrics),
 * behind the small interface the code uses. Callers pass only what is safe to log: ids, outcomes,
 * reasons; never a secret, never a decrypted payload. Every line carries the service and the stage;
 * inside a Lambda invocation (lib/middleware/observability.ts) also the request id, the cold-start
 * flag and the function name, and the X-Ray trace id when tracing is on. The log level is Powertools'
 * (POWERTOOLS_LOG_LEVEL, and Lambda's own `AWS_LAMBDA_LOG_LEVEL` when the function sets one).
 * Metrics are written at once, one embedded-metric record per call, in the dimension set
 * {service, stage} plus the caller's own (the alarms in serverless.yml match these sets exactly).
 * The ordinary line and record (every delivery's) are written here, as the exact text Powertools
 * would write (property tests hold them to it), without its per-call machinery; anything unusual
 * is handed to Powertools itself.
 */
import { LogFormatter, LogItem, Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions, LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { getXRayTraceIdFromEnv, shouldUseInvokeStore } from '@aws-lambda-powertools/commons/utils/env';
import type { Context } from 'aws-lambda';
import type { Anomaly } from './orders/model';
import { isPrototypeKey } from './text';
import { isoFromMillis } from './time';

/** A CloudWatch unit, as Powertools names them. */
type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  log(level: LogLevel, message: string, fields?: LogFields): void;
  /** Counts an anomaly as the `Anomaly` metric ({service, stage}; the kind and the ids as properties), then logs it. */
  anomaly(kind: Anomaly, fields?: LogFields): void;
  /**
   * Writes `metrics` (name to count) now as one embedded-metric record: dimensions {service, stage}
   * plus `dimensions`; `properties` ride along on the record, searchable but not dimensions.
   */
  count(
    metrics: Readonly<Record<string, number>>,
    dimensions?: Readonly<Record<string, string>>,
    properties?: Readonly<Record<string, string>>,
  ): void;
  /** Writes one level (not a count: unit None) now as an embedded-metric record in the {service, stage} dimension set. */
  gauge(name: string, value: number): void;
}

/** A logger with the Powertools instances behind it, for the middy middlewares that need them. */
export interface ServiceLogger extends Logger {
  readonly powertools: { readonly logger: PowertoolsLogger; readonly metrics: Metrics };
}

/** The metrics namespace when POWERTOOLS_METRICS_NAMESPACE is not set (serverless.yml sets it to this). */
export const METRIC_NAMESPACE = 'WechatPayLambda';
/** The service name when neither the caller nor POWERTOOLS_SERVICE_NAME gives one. */
export const DEFAULT_SERVICE = 'wechatpay-lambda';
/** The stage when STAGE is not set: only outside a deployment (tests, scripts), since serverless.yml sets it. */
export const DEFAULT_STAGE = 'local';

export interface LoggerOptions {
  /** The `service` field and dimension; POWERTOOLS_SERVICE_NAME, then {@link DEFAULT_SERVICE}, otherwise. */
  service?: string;
  /** Where each JSON line goes (without its newline); standard output by default, as Lambda expects. */
  write?: (line: string) => void;
  /** Where STAGE, POWERTOOLS_SERVICE_NAME and POWERTOOLS_METRICS_NAMESPACE are read; process.env by default. */
  env?: Readonly<Record<string, string | undefined>>;
}

const stdoutLine = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/**
 * The line layout: Powertools' keys under the names this service has always used (`level` in lower
 * case, the request id as `request_id`), then the caller's fields. Undefined keys are left out.
 */
class LineFormatter extends LogFormatter {
  // Powertools reads TZ from the environment on every line; Lambda fixes it (a reserved variable), so
  // whether it names UTC is decided once
  readonly utc = !process.env.TZ || process.env.TZ.includes('UTC');

  override formatTimestamp(now: Date): string {
    return this.utc ? isoFromMillis(now.getTime()) : super.formatTimestamp(now);
  }

  formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    return new LogItem({
      attributes: lineHead(
        attributes.logLevel.toLowerCase(),
        this.formatTimestamp(attributes.timestamp),
        attributes.serviceName,
        attributes.message,
        attributes.lambdaContext,
        attributes.xRayTraceId,
      ),
    }).addAttributes(additional);
  }
}

/** What a line carries of the invocation, under the names of Powertools' own record of it. */
interface InvocationFacts {
  awsRequestId?: string | undefined;
  coldStart?: boolean | undefined;
  functionName?: string | undefined;
}

/**
 * The keys a line starts with, in order: Powertools' attributes under the names this service has
 * always used. One layout for the lines Powertools formats and the ones written directly.
 */
function lineHead(
  level: string,
  timestamp: string,
  service: string | undefined,
  message: string,
  context: InvocationFacts | undefined,
  traceId: string | undefined,
): Record<string, unknown> {
  return {
    level,
    timestamp,
    service,
    message,
    request_id: context?.awsRequestId,
    cold_start: context?.coldStart,
    function_name: context?.functionName,
    xray_trace_id: traceId,
  };
}

/** Powertools' numbers for the levels this service logs at (its LogLevelThreshold). */
const LEVEL_NUMBER: Readonly<Record<LogLevel, number>> = { debug: 8, info: 12, warn: 16, error: 20 };
/** The keys a line starts with, and sampling_rate, which Powertools also reserves: a field named so goes through Powertools. */
const LINE_KEYS = new Set([...Object.keys(lineHead('', '', '', '', undefined, undefined)), 'sampling_rate']);

/** Powertools' Logger writing its lines to an injectable sink (tests read what Lambda would receive). */
class LineLogger extends PowertoolsLogger {
  // undefined while the base constructor runs (it may warn): those lines go to standard output
  private sink: ((line: string) => void) | undefined;
  private coldStartSeen = false;
  private invocation: InvocationFacts | undefined;
  /**
   * Whether a line may be written by {@link direct}: false once the keys were changed after construction
   * (appended, removed, a correlation id), and when Powertools keeps state per concurrent invocation
   * (Lambda's multi-concurrency mode), which a single mirror of the context cannot follow.
   */
  private plain = !shouldUseInvokeStore();

  constructor(
    options: ConstructorOptions,
    sink: (line: string) => void,
    private readonly line: { service: string; persistent: Readonly<Record<string, string>>; utc: boolean },
  ) {
    super(options);
    this.sink = sink;
  }

  override getColdStart(): boolean {
    this.coldStartSeen = super.getColdStart();
    return this.coldStartSeen;
  }

  /** Powertools records the context (its coldStart through getColdStart above); a copy is kept for {@link direct}. */
  override addContext(context: Context): void {
    super.addContext(context);
    this.invocation = {
      awsRequestId: context.awsRequestId,
      coldStart: this.coldStartSeen,
      functionName: context.functionName,
    };
  }

  override appendKeys(attributes: LogAttributes): void {
    this.plain = false;
    super.appendKeys(attributes);
  }

  override appendPersistentKeys(attributes: LogAttributes): void {
    this.plain = false;
    super.appendPersistentKeys(attributes);
  }

  override removeKeys(keys: string[]): void {
    this.plain = false;
    super.removeKeys(keys);
  }

  override removePersistentKeys(keys: string[]): void {
    this.plain = false;
    super.removePersistentKeys(keys);
  }

  override setCorrelationId(value: unknown, correlationIdPath?: string): void {
    this.plain = false;
    super.setCorrelationId(value, correlationIdPath);
  }

  override setPersistentLogAttributes(attributes: LogAttributes): void {
    this.plain = false;
    super.setPersistentLogAttributes(attributes);
  }

  /**
   * Writes the line Powertools would write for `logger[level](message, fields)`, byte for byte but the
   * timestamp (test/lib/log.test.ts holds the two to each other), without Powertools' per-line work:
   * its attribute stores, the deep merge, the reserved-key scan. Returns false, writing nothing, for
   * anything but the ordinary case (changed keys, a field named like one of the line's own keys,
   * a value the replacer would have to format, a prototype name at any depth); the caller then logs
   * through Powertools.
   */
  direct(level: LogLevel, message: string, fields: LogFields): boolean {
    if (!this.plain || !this.line.utc || this.line.service === '') return false;
    for (const key in fields) {
      // a field named like a persistent key (stage) replaces it in place, as Powertools' merge does
      if (LINE_KEYS.has(key) || isPrototypeKey(key)) return false;
      if (!isPlainJson(fields[key], 1)) return false;
    }
    if (LEVEL_NUMBER[level] < this.level) return true;
    const attributes = lineHead(
      level,
      isoFromMillis(Date.now()),
      this.line.service,
      message,
      this.invocation,
      getXRayTraceIdFromEnv(),
    );
    Object.assign(attributes, this.line.persistent, fields);
    (this.sink ?? stdoutLine)(JSON.stringify(attributes));
    return true;
  }

  /**
   * Powertools' replacer (errors formatted, bigints as text, cycles cut) costs a call per key; a line
   * of plain JSON values, which every delivery line is, needs none of it and is written without it.
   */
  protected override printLog(_level: number, log: LogItem): void {
    const attributes = log.getAttributes();
    (this.sink ?? stdoutLine)(
      isPlainJson(attributes, 0) ? JSON.stringify(attributes) : JSON.stringify(attributes, this.getJsonReplacer()),
    );
  }
}

const PLAIN_DEPTH = 4;

/**
 * Whether JSON.stringify alone writes `value` as Powertools' replacer would: primitives but bigint, and
 * arrays and plain objects of them a few levels deep (deeper, or any Error, Date, Map or class
 * instance, and the replacer is used; a cycle cannot pass the depth limit).
 */
export function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
      return true;
    case 'object': {
      if (value === null) return true;
      if (depth >= PLAIN_DEPTH) return false;
      if (Array.isArray(value)) return value.every((item) => isPlainJson(item, depth + 1));
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      for (const key in value)
        if (isPrototypeKey(key) || !isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
      return true;
    }
    default:
      return false;
  }
}

/** Powertools' Metrics writing each flush to the same sink as the log lines. */
class LineMetrics extends Metrics {
  private sink: ((line: string) => void) | undefined;

  constructor(options: ConstructorParameters<typeof Metrics>[0], sink: (line: string) => void) {
    super(options);
    this.sink = sink;
  }

  /** Whether records are written at all (Powertools' POWERTOOLS_METRICS_DISABLED and dev mode). */
  get enabled(): boolean {
    return !this.isDisabled();
  }

  /**
   * Powertools' flush, to the sink; nothing stored writes nothing. The logMetrics middleware flushes
   * every invocation, and the per-delivery records never store anything here (createLogger writes
   * them directly): with nothing added since the last flush, there is nothing to clear either.
   */
  override publishStoredMetrics(): this {
    if (!this.pending) return this;
    try {
      if (this.hasStoredMetrics() && !this.isDisabled())
        (this.sink ?? stdoutLine)(JSON.stringify(this.serializeMetrics()));
    } finally {
      this.clearMetrics();
      this.clearDimensions();
      this.clearMetadata();
      this.pending = false;
    }
    return this;
  }

  // what puts something in the stores the flush clears
  private pending = false;

  override addMetric(...args: Parameters<Metrics['addMetric']>): this {
    this.pending = true;
    return super.addMetric(...args);
  }

  override addDimension(name: string, value: string): this {
    this.pending = true;
    return super.addDimension(name, value);
  }

  override addDimensions(...args: Parameters<Metrics['addDimensions']>): this {
    this.pending = true;
    return super.addDimensions(...args);
  }

  override addMetadata(key: string, value: string): this {
    this.pending = true;
    return super.addMetadata(key, value);
  }

  override setTimestamp(timestamp: number | Date): this {
    this.pending = true;
    return super.setTimestamp(timestamp);
  }
}

/** A logger (and metrics) on Powertools, writing JSON lines to `write` (standard output by default). */
export function createLogger(opts: LoggerOptions = {}): ServiceLogger {
  const env = opts.env ?? process.env;
  const write = opts.write ?? stdoutLine;
  const service = opts.service ?? (env.POWERTOOLS_SERVICE_NAME || DEFAULT_SERVICE);
  const stage = env.STAGE || DEFAULT_STAGE;
  const namespace = env.POWERTOOLS_METRICS_NAMESPACE || METRIC_NAMESPACE;
  const formatter = new LineFormatter();
  const persistent = { stage };
  const logger = new LineLogger({ serviceName: service, logFormatter: formatter, persistentKeys: persistent }, write, {
    service,
    persistent,
    utc: formatter.utc,
  });
  const metrics = new LineMetrics(
    {
      namespace,
      serviceName: service,
      defaultDimensions: { stage },
      // Powertools' own notices (a dimension overwritten, a key collision) go to the log, as warnings
      logger,
    },
    write,
  );
  const log = (level: LogLevel, message: string, fields: LogFields = {}): void => {
    if (!logger.direct(level, message, fields)) logger[level](message, fields);
  };
  const viaPowertools = (
    unit: Unit,
    values: Readonly<Record<string, number>>,
    dimensions: Readonly<Record<string, string>>,
    properties: Readonly<Record<string, string>>,
  ): void => {
    for (const [name, value] of Object.entries(dimensions)) metrics.addDimension(name, value);
    for (const [key, value] of Object.entries(properties)) metrics.addMetadata(key, value);
    for (const [name, value] of Object.entries(values)) metrics.addMetric(name, unit, value);
    metrics.publishStoredMetrics();
  };
  // the per-delivery records are built directly (the same record Powertools writes, byte for byte but
  // the timestamp: test/lib/log.test.ts compares them); anything unusual goes through Powertools itself
  const record = (
    unit: Unit,
    values: Readonly<Record<string, number>>,
    dimensions: Readonly<Record<string, string>> = {},
    properties: Readonly<Record<string, string>> = {},
  ): void => {
    const line = emfRecord(namespace, service, stage, unit, values, dimensions, properties, Date.now());
    if (line === undefined) viaPowertools(unit, values, dimensions, properties);
    else if (metrics.enabled) write(line);
  };
  const count: Logger['count'] = (values, dimensions, properties) =>
    record(MetricUnit.Count, values, dimensions, properties);
  const gauge: Logger['gauge'] = (name, value) => record(MetricUnit.NoUnit, { [name]: value });
  return {
    log,
    count,
    gauge,
    anomaly(kind, fields = {}) {
      // the record names what the line names (ids, the door), so either one found leads to the other
      const properties: Record<string, string> = { kind };
      for (const [key, value] of Object.entries(fields)) if (typeof value === 'string') properties[key] = value;
      count({ Anomaly: 1 }, {}, properties);
      log('warn', 'anomaly', { kind, ...fields });
    },
    powertools: { logger, metrics },
  };
}

/** EMF's limits Powertools enforces: dimensions per set (with service and stage), metrics per record. */
const MAX_DIMENSIONS = 29;
const MAX_METRICS = 100;
/**
 * A key JSON.stringify would move to the front of an object (an array index): such a record is left to
 * Powertools, so the text written here never depends on that reordering.
 */
const INDEX_KEY = /^(0|[1-9][0-9]{0,9})$/;

/** Whether `key` may be written by {@link emfRecord}: not empty, not a record key, not an index or prototype name. */
function ordinaryKey(key: string): boolean {
  return (
    key !== '' && key !== '_aws' && key !== 'service' && key !== 'stage' && !INDEX_KEY.test(key) && !isPrototypeKey(key)
  );
}

/**
 * One embedded-metric record as Powertools' Metrics serialises it for {service, stage} plus
 * `dimensions`: `_aws` (timestamp, namespace, the one dimension set, each metric with its unit), then
 * the properties, the dimension values and the metric values. Written as text in that order, with no
 * object built to be serialised. Undefined when the input is anything but ordinary (no metric, a key
 * used twice, clashing with a record key or shaped like an array index, an empty name or dimension
 * value, a value that is not a finite number, past EMF's limits): Powertools then writes it, with its
 * own warnings, so the two paths never differ.
 */
export function emfRecord(
  namespace: string,
  service: string,
  stage: string,
  unit: Unit,
  values: Readonly<Record<string, number>>,
  dimensions: Readonly<Record<string, string>>,
  properties: Readonly<Record<string, string>>,
  timestamp: number,
): string | undefined {
  const names = Object.keys(values);
  const dimensionNames = Object.keys(dimensions);
  const propertyNames = Object.keys(properties);
  if (names.length === 0 || names.length > MAX_METRICS || dimensionNames.length + 2 > MAX_DIMENSIONS) return undefined;
  const keys = [...propertyNames, ...dimensionNames, ...names];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (!ordinaryKey(key) || keys.indexOf(key) !== i) return undefined;
  }
  let set = '["service","stage"';
  let tail = '';
  for (const name of propertyNames) {
    const value = properties[name];
    if (typeof value !== 'string') return undefined;
    tail += `,${JSON.stringify(name)}:${JSON.stringify(value)}`;
  }
  tail += `,"service":${JSON.stringify(service)},"stage":${JSON.stringify(stage)}`;
  for (const name of dimensionNames) {
    const value = dimensions[name];
    if (typeof value !== 'string' || value === '') return undefined;
    const key = JSON.stringify(name);
    set += `,${key}`;
    tail += `,${key}:${JSON.stringify(value)}`;
  }
  let metrics = '';
  for (const name of names) {
    const value = values[name] as number;
    if (!Number.isFinite(value)) return undefined;
    const key = JSON.stringify(name);
    metrics += `${metrics === '' ? '' : ','}{"Name":${key},"Unit":${JSON.stringify(unit)}}`;
    tail += `,${key}:${JSON.stringify(value)}`;
  }
  return `{"_aws":{"Timestamp":${JSON.stringify(timestamp)},"CloudWatchMetrics":[{"Namespace":${JSON.stringify(namespace)},"Dimensions":[${set}]],"Metrics":[${metrics}]}]}${tail}}`;
}
