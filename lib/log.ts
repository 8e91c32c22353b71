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
          _aws: {
            Timestamp: ts,
            CloudWatchMetrics: [
              {
                Namespace: METRIC_NAMESPACE,
                Dimensions: [['kind'], []],
                Metrics: [{ Name: 'Anomaly', Unit: 'Count' }],
              },
            ],
          },
          level: 'warn',
          time: new Date(ts).toISOString(),
          service: opts.service,
          message: 'anomaly',
          kind,
          Anomaly: 1,
          ...fields,
        }),
      );
    },
  };
}
