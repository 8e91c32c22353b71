/**
 * The Lambda adapter of reconcile: dependencies and options built once per cold start, the deadline
 * taken from the invocation's context, the summary logged (by the core) and returned. Nothing is
 * thrown for business or operational failures: a scheduled run that threw would only be retried
 * by Lambda with the same outcome, while the next scheduled run retries anyway.
 */
import type { Env } from '../config';
import { CLOSE_CLIENT_TIMEOUTS, closeOrderDeps } from '../close/lambda';
import { asPayError } from '../errors';
import { createLogger, type Logger } from '../log';
import { createRefundCalls } from '../refund/calls';
import { readReconcileOptions, type ReconcileOptions } from './options';
import { newSummary, reconcile, type ReconcileDeps, type ReconcileSummary } from './reconcile';

/** The process-wide dependencies (configuration, store, signed WeChat client) and the RECONCILE_* options. */
export interface ReconcileRuntime {
  deps: Omit<ReconcileDeps, 'deadline'>;
  options: ReconcileOptions;
}

let cached: ReconcileRuntime | undefined;

/** Built on the first invocation and reused while warm; a configuration error names the variable. */
export function reconcileRuntime(
  env: Env = process.env,
  logger: Logger = createLogger({ service: 'wechatpay-lambda' }),
): ReconcileRuntime {
  if (cached) return cached;
  // the options first: a malformed RECONCILE_* variable must not be hidden by a cached client
  const options = readReconcileOptions(env);
  // the same client budgets as closeOrder: one attempt 4 s, one call with its retries 7 s
  const deps = closeOrderDeps(env, logger);
  cached = {
    deps: { ...deps, refunds: createRefundCalls({ config: deps.config, ...CLOSE_CLIENT_TIMEOUTS }) },
    options,
  };
  return cached;
}

/** The part of Lambda's context the handler reads. */
export interface DeadlineContext {
  getRemainingTimeInMillis?: () => number;
}

/** Builds the scheduled handler; `runtime` is injectable for tests, the environment otherwise. */
export function reconcileHandler(runtime: () => ReconcileRuntime = () => reconcileRuntime()) {
  return async (_event: unknown, context?: DeadlineContext): Promise<ReconcileSummary> => {
    let resolved: ReconcileRuntime;
    try {
      resolved = runtime();
    } catch (err) {
      const e = asPayError(err);
      createLogger({ service: 'wechatpay-lambda' }).log('error', 'configuration', {
        function: 'reconcile',
        reason: e.reason,
      });
      return newSummary({ createdAfter: '', createdBefore: '' }, false, 'CONFIG');
    }
    const remaining = context?.getRemainingTimeInMillis?.bind(context);
    try {
      return await reconcile(resolved.options, { ...resolved.deps, ...(remaining ? { deadline: remaining } : {}) });
    } catch (err) {
      // reconcile reports operational failures in its summary; this guards against a bug
      resolved.deps.logger.log('error', 'reconcile', { reason: asPayError(err).reason });
      return newSummary({ createdAfter: '', createdBefore: '' }, false, 'INTERNAL_ERROR');
    }
  };
}
