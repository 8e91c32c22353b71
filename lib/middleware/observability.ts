/**
 * Powertools' own middy middlewares for every function: `injectLambdaContext` puts the request id,
 * the cold-start flag and the function name on every log line of the invocation (and drops the keys
 * a line appended for one invocation only), `logMetrics` flushes what is still stored when the
 * invocation ends, error or not. They go first in each adapter's list, so even the lines logged
 * while the dependencies are built carry the request id.
 */
import type { MiddlewareObj } from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context } from 'aws-lambda';
import type { ServiceLogger } from '../log';

/** The logging and metrics middlewares of `logger`, in `use` order. */
export function observability<TEvent, TResult, TContext extends Context = Context>(
  logger: ServiceLogger,
): Array<MiddlewareObj<TEvent, TResult, Error, TContext>> {
  const { logger: log, metrics } = logger.powertools;
  // middy's request type is wider than the one Powertools declares; the shapes agree where they are read
  return [
    injectLambdaContext(log, { resetKeys: true }) as MiddlewareObj<TEvent, TResult, Error, TContext>,
    logMetrics(metrics) as MiddlewareObj<TEvent, TResult, Error, TContext>,
  ];
}
