/**
 * Structured JSON logs, one object per line. Callers pass only what is safe to log: ids, outcomes,
 * reasons. Anomalies are also emitted in CloudWatch embedded metric format, so they count as a metric.
 */
import type { Anomaly } from './orders/model';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  log(level: LogLevel, message: string, fields?: LogFields): void;
  /** Counts an anomaly as the `Anomaly` metric (dimension `kind`) and logs it. */
  anomaly(kind: Anomaly, fields?: LogFields): void;
}

export const METRIC_NAMESPACE = 'WechatPayLambda';

/**
 * The embedded-metric-format fields that make a log line count as metrics (one `Count` per name):
 * the one EMF builder. `dimensions` lists the dimension sets; `[[]]` is the metric without dimensions.
 */
export function metricFields(
  timestamp: number,
  metrics: Readonly<Record<string, number>>,
  dimensions: string[][] = [[]],
): Record<string, unknown> {
  return {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: METRIC_NAMESPACE,
          Dimensions: dimensions,
          Metrics: Object.keys(metrics).map((Name) => ({ Name, Unit: 'Count' })),
        },
      ],
    },
    ...metrics,
  };
}

/** A logger writing JSON lines to `write` (stdout by default), stamped by the injected clock. */
export function createLogger(
  opts: { service: string; write?: (line: string) => void; now?: () => number } = { service: 'wechatpay-lambda' },
): Logger {
  const write = opts.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const now = opts.now ?? Date.now;
  const log = (level: LogLevel, message: string, fields: LogFields = {}) => {
    write(JSON.stringify({ level, time: new Date(now()).toISOString(), service: opts.service, message, ...fields }));
  };
  return {
    log,
    anomaly(kind, fields = {}) {
      const ts = now();
      write(
        JSON.stringify({
          ...metricFields(ts, { Anomaly: 1 }, [['kind'], []]),
          level: 'warn',
          time: new Date(ts).toISOString(),
          service: opts.service,
          message: 'anomaly',
          kind,
          ...fields,
        }),
      );
    },
  };
}
