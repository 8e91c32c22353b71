/**
 * The Lambda adapter of the refund function: dependencies built once per cold start (configuration,
 * store, the signed refund calls), the event handed to the core, the outcome returned as the
 * invocation's result. Nothing is ever thrown: a broken configuration is a FAILED outcome too.
 */
import { CLOSE_CLIENT_TIMEOUTS } from '../close/lambda';
import type { Env } from '../config';
import { asPayError } from '../errors';
import { createLogger, type Logger } from '../log';
import { notifyDeps } from '../runtime';
import { createRefundCalls } from './calls';
import { refund, type RefundCallOutcome, type RefundDeps } from './refund';

let cached: RefundDeps | undefined;

/** The process-wide dependencies; the same object for every warm invocation. */
export function refundDeps(
  env: Env = process.env,
  logger: Logger = createLogger({ service: 'wechatpay-lambda' }),
): RefundDeps {
  if (cached) return cached;
  const base = notifyDeps(env, logger);
  const notifyUrl = env.WECHATPAY_REFUND_NOTIFY_URL?.trim();
  cached = {
    ...base,
    // the same budgets as closeOrder: one attempt 4 s, one call with its retries 7 s, within a 20 s function
    refunds: createRefundCalls({ config: base.config, ...CLOSE_CLIENT_TIMEOUTS }),
    ...(notifyUrl ? { notifyUrl } : {}),
  };
  return cached;
}

/** The outcome answered when the function is about to hit its timeout (middy's early-timeout response). */
export function refundDeadlineOutcome(): RefundCallOutcome {
  return {
    status: 'FAILED',
    code: 'TIMEOUT',
    message: 'refund ran out of time; WeChat Pay may have the request, call again with the same out_refund_no',
    retryable: true,
  };
}

/** Builds the handler; `deps` is injectable for tests, the environment otherwise. */
export function refundHandler(deps: () => RefundDeps = () => refundDeps()) {
  return async (event: unknown): Promise<RefundCallOutcome> => {
    let resolved: RefundDeps;
    try {
      resolved = deps();
    } catch (err) {
      const e = asPayError(err);
      createLogger({ service: 'wechatpay-lambda' }).log('error', 'configuration', {
        function: 'refund',
        reason: e.reason,
      });
      return {
        status: 'FAILED',
        code: e.kind === 'CONFIG' ? 'CONFIG_ERROR' : 'INTERNAL_ERROR',
        message: e.kind === 'CONFIG' ? e.reason : 'internal error',
        retryable: e.kind !== 'CONFIG',
      };
    }
    // the core never throws; this guards against a bug turning into a Lambda error for the caller
    return refund(event, resolved).catch(
      (): RefundCallOutcome => ({
        status: 'FAILED',
        code: 'INTERNAL_ERROR',
        message: 'internal error',
        retryable: true,
      }),
    );
  };
}
