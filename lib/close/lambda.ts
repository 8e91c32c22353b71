/**
 * The Lambda adapter of closeOrder: dependencies built once per cold start (configuration, store
 * and the signed WeChat Pay client), the event handed to the core, the outcome returned as the
 * invocation's result. Nothing is ever thrown: a broken configuration is a FAILED outcome too.
 */
import type { Env } from '../config';
import { asPayError } from '../errors';
import { createLogger, type Logger } from '../log';
import { notifyDeps } from '../runtime';
import { createWechatPayClient } from '../wechatpay/client';
import { closeOrder, type CloseOrderDeps, type CloseOrderOutcome } from './closeOrder';

/**
 * Per-call WeChat budgets: a close and at most one query must fit the function's 20 s timeout
 * with the store's own bounded calls; one attempt gets 4 s, one call (retries included) 7 s.
 */
export const CLOSE_CLIENT_TIMEOUTS = { timeoutMs: 4000, budgetMs: 7000 } as const;

let cached: CloseOrderDeps | undefined;

/** The process-wide dependencies, the WeChat client included; the same object for every warm invocation. */
export function closeOrderDeps(
  env: Env = process.env,
  logger: Logger = createLogger({ service: 'wechatpay-lambda' }),
): CloseOrderDeps {
  if (cached) return cached;
  const base = notifyDeps(env, logger);
  cached = { ...base, client: createWechatPayClient({ config: base.config, ...CLOSE_CLIENT_TIMEOUTS }) };
  return cached;
}

/** The outcome answered when the function is about to hit its timeout (middy's early-timeout response). */
export function deadlineOutcome(): CloseOrderOutcome {
  return {
    status: 'FAILED',
    code: 'TIMEOUT',
    message: 'closeOrder ran out of time; the order may have been closed at WeChat Pay, call again',
    retryable: true,
  };
}

/** Builds the handler; `deps` is injectable for tests, the environment otherwise. */
export function closeOrderHandler(deps: () => CloseOrderDeps = () => closeOrderDeps()) {
  return async (event: unknown): Promise<CloseOrderOutcome> => {
    let resolved: CloseOrderDeps;
    try {
      resolved = deps();
    } catch (err) {
      const e = asPayError(err);
      createLogger({ service: 'wechatpay-lambda' }).log('error', 'configuration', {
        function: 'closeOrder',
        reason: e.reason,
      });
      return {
        status: 'FAILED',
        code: e.kind === 'CONFIG' ? 'CONFIG_ERROR' : 'INTERNAL_ERROR',
        message: e.kind === 'CONFIG' ? e.reason : 'internal error',
        retryable: e.kind !== 'CONFIG',
      };
    }
    // closeOrder never throws; this guards against a bug turning into a Lambda error for the caller
    return closeOrder(event, resolved).catch(
      (): CloseOrderOutcome => ({
        status: 'FAILED',
        code: 'INTERNAL_ERROR',
        message: 'internal error',
        retryable: true,
      }),
    );
  };
}
