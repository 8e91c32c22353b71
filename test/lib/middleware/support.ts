/** What the middleware tests share: a fake Lambda context and a logger that keeps its lines. */
import type { Context } from 'aws-lambda';
import { createLogger, type Logger } from '../../../lib/log';

/** A Lambda context whose invocation has `remainingMs` left (middy reads nothing else of it). */
export function fakeContext(remainingMs: number): Context {
  return { getRemainingTimeInMillis: () => remainingMs } as Partial<Context> as Context;
}

/** A logger whose JSON lines are parsed into `lines`. */
export function recordingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return {
    lines,
    logger: createLogger({ service: 'test', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }),
  };
}

/** A core that never settles: a dependency stuck past the deadline (no real part hangs on demand). */
export const hang = (): Promise<never> => new Promise<never>(() => {});
