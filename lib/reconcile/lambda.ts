/**
 * The Lambda adapter of reconcile, made of middy middlewares: dependencies and options built once per
 * container, the deadline taken from the invocation's context, the summary logged (by the core) and
 * returned. Nothing is thrown for business or operational failures: a scheduled run that threw would
 * only be retried by Lambda with the same outcome, while the next scheduled run retries anyway.
 * functions/reconcile.ts composes `middy(reconcileCore, RECONCILE_TIMING).use(reconcileMiddlewares())`;
 * `reconcileHandler` is the same chain with an injectable runtime, for tests.
 */
import middy, { type MiddlewareObj } from '@middy/core';
import { CLOSE_CLIENT_TIMEOUTS, closeOrderDeps } from '../close/lambda';
import type { Env } from '../config';
import { asPayError, type PayError } from '../errors';
import { liveBuild, liveDependencies } from '../lambda/deps';
import { entryPoint, type EntryPoint } from '../lambda/entry';
import { createLogger, type Logger, type ServiceLogger } from '../log';
import { createRefundCalls } from '../refund/calls';
import { deadlineReply } from '../middleware/deadline';
import { dependencies, type WithDeps } from '../middleware/dependencies';
import { errorReply } from '../middleware/errorReply';
import { observability } from '../middleware/observability';
import { readReconcileOptions, type ReconcileOptions } from './options';
import { newSummary, reconcile, type ReconcileDeps, type ReconcileSummary } from './reconcile';

/** The container's dependencies (configuration, store, signed WeChat client) and the RECONCILE_* options. */
export interface ReconcileRuntime {
  deps: Omit<ReconcileDeps, 'deadline'>;
  options: ReconcileOptions;
}

/** Builds the runtime of one container around the function's logger; may be async. */
export type BuildReconcileRuntime = (logger: Logger) => ReconcileRuntime | Promise<ReconcileRuntime>;

/**
 * middy's plugin options for reconcile. The core stops by itself a margin before the deadline
 * (`deadlineMarginMs`, 10 s by default); this is the backstop for a core stuck in one call past it.
 */
export const RECONCILE_TIMING = { timeoutEarlyInMillis: 1000 } as const;

/** Builds the runtime from `env`; a configuration error names the variable. */
export function reconcileRuntime(env: Env = process.env, logger: Logger = createLogger()): ReconcileRuntime {
  // the options first: a malformed RECONCILE_* variable is reported before anything else is built
  const options = readReconcileOptions(env);
  // the same client budgets as closeOrder: one attempt 4 s, one call with its retries 7 s
  const deps = closeOrderDeps(env, logger);
  // the refund queries share closeOrder's budgets; with them a run also settles refunds still in flight
  return { deps: { ...deps, refunds: createRefundCalls({ config: deps.config, ...CLOSE_CLIENT_TIMEOUTS }) }, options };
}

/** The summary of a run that could not start or finish; its counts are zero because nothing is known. */
function stoppedSummary(reason: 'CONFIG' | 'INTERNAL_ERROR' | 'DEADLINE'): ReconcileSummary {
  return newSummary({ createdAfter: '', createdBefore: '' }, false, reason);
}

/** The summary for an error that escaped: CONFIG when the runtime could not be built, INTERNAL_ERROR otherwise. */
export function errorSummary(e: PayError): ReconcileSummary {
  return stoppedSummary(e.kind === 'CONFIG' ? 'CONFIG' : 'INTERNAL_ERROR');
}

/** The core: one reconciliation run bounded by the invocation's remaining time, when the context has it. */
export async function reconcileCore(_event: unknown, context: WithDeps<ReconcileRuntime>): Promise<ReconcileSummary> {
  const { deps, options } = context.deps;
  const remaining = context.getRemainingTimeInMillis?.bind(context);
  try {
    return await reconcile(options, { ...deps, ...(remaining ? { deadline: remaining } : {}) });
  } catch (err) {
    // reconcile reports operational failures in its summary; this guards against a bug, on the run's own logger
    deps.logger.log('error', 'reconcile', { reason: asPayError(err).reason });
    return stoppedSummary('INTERNAL_ERROR');
  }
}

/**
 * reconcile's middlewares, in `use` order: Powertools' logging and metrics, dependencies, the error
 * reply, the deadline reply (first on failure). One logger per container, the run's included.
 * Without `build`, the runtime follows the secrets (lib/lambda/deps.ts liveBuild); an injected
 * `build` runs once per container.
 */
export function reconcileMiddlewares(
  build?: BuildReconcileRuntime,
  logger: ServiceLogger = createLogger(),
): Array<MiddlewareObj<unknown, ReconcileSummary, Error, WithDeps<ReconcileRuntime>>> {
  const fields = { function: 'reconcile' };
  return [
    ...observability<unknown, ReconcileSummary, WithDeps<ReconcileRuntime>>(logger),
    build === undefined
      ? liveDependencies<ReconcileRuntime, unknown, ReconcileSummary>(liveBuild((env) => reconcileRuntime(env, logger)))
      : dependencies<ReconcileRuntime, unknown, ReconcileSummary>({ build: () => build(logger) }),
    errorReply<unknown, ReconcileSummary>({ reply: errorSummary, logger, fields }),
    deadlineReply<unknown, ReconcileSummary>({ reply: () => stoppedSummary('DEADLINE'), logger, fields }),
  ];
}

/** Builds the scheduled handler; `build` and `logger` are injectable for tests, the environment otherwise. */
export function reconcileHandler(
  build?: BuildReconcileRuntime,
  logger?: ServiceLogger,
): EntryPoint<unknown, ReconcileSummary> {
  return entryPoint(middy(reconcileCore, RECONCILE_TIMING).use(reconcileMiddlewares(build, logger)));
}
