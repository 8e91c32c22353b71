/**
 * The Lambda adapter of the refund function, made of middy middlewares (closeOrder's shape):
 * dependencies (configuration, store and the signed refund calls) built once per container, the
 * event handed to the core, the outcome returned as the invocation's result. Nothing is ever thrown:
 * a broken configuration, a bug and the deadline are FAILED outcomes too. functions/refund.ts composes
 * `middy(refundCore, REFUND_TIMING).use(refundMiddlewares())`; `refundHandler` is the same chain with
 * injectable dependencies, for tests.
 */
import middy, { type MiddlewareObj } from '@middy/core';
import { CLOSE_CLIENT_TIMEOUTS } from '../close/lambda';
import type { Env } from '../config';
import type { PayError } from '../errors';
import { liveBuild, liveDependencies, notifyDeps } from '../lambda/deps';
import { entryPoint, type EntryPoint } from '../lambda/entry';
import { createLogger, type Logger } from '../log';
import { deadlineReply } from '../middleware/deadline';
import { dependencies, type WithDeps } from '../middleware/dependencies';
import { errorReply } from '../middleware/errorReply';
import { readSecapiSettings } from '../wechatpay/v2/clientCert';
import { createRefundCalls } from './calls';
import { refund, type RefundCallOutcome, type RefundDeps } from './refund';

/** middy's plugin options for refund: a second before the Lambda timeout, answer FAILED TIMEOUT. */
export const REFUND_TIMING = { timeoutEarlyInMillis: 1000 } as const;

/** Builds the dependencies of one container; may be async. */
export type BuildRefundDeps = () => RefundDeps | Promise<RefundDeps>;

/** Builds the refund function's dependencies from `env`; throws a CONFIG PayError when it is broken. */
export function refundDeps(
  env: Env = process.env,
  logger: Logger = createLogger({ service: 'wechatpay-lambda' }),
): RefundDeps {
  const base = notifyDeps(env, logger);
  const notifyUrl = env.WECHATPAY_REFUND_NOTIFY_URL?.trim();
  return {
    ...base,
    // closeOrder's budgets: one attempt 4 s, one call with its retries 7 s, within a 20 s function
    refunds: createRefundCalls({
      config: base.config,
      ...CLOSE_CLIENT_TIMEOUTS,
      secapi: readSecapiSettings(env, base.config.mchid, base.config.apiBaseUrl),
    }),
    ...(notifyUrl ? { notifyUrl } : {}),
  };
}

/** The outcome answered when the function is about to hit its timeout (the deadline middleware's reply). */
export function refundDeadlineOutcome(): RefundCallOutcome {
  return {
    status: 'FAILED',
    code: 'TIMEOUT',
    message: 'refund ran out of time; WeChat Pay may have the request, call again with the same out_refund_no',
    retryable: true,
  };
}

/** The outcome for an error that escaped: a broken configuration names the variable and is not worth retrying. */
export function refundErrorOutcome(e: PayError): RefundCallOutcome {
  return e.kind === 'CONFIG'
    ? { status: 'FAILED', code: 'CONFIG_ERROR', message: e.reason, retryable: false }
    : { status: 'FAILED', code: 'INTERNAL_ERROR', message: 'internal error', retryable: true };
}

/** The core: the invocation's event and the container's dependencies to the refund core (which never throws). */
export function refundCore(event: unknown, context: WithDeps<RefundDeps>): Promise<RefundCallOutcome> {
  return refund(event, context.deps);
}

/** The refund function's middlewares, in `use` order: dependencies, the error reply, the deadline reply. */
export function refundMiddlewares(
  build?: BuildRefundDeps,
): Array<MiddlewareObj<unknown, RefundCallOutcome, Error, WithDeps<RefundDeps>>> {
  const logger = createLogger({ service: 'wechatpay-lambda' });
  const fields = { function: 'refund' };
  return [
    // without `build`, the dependencies follow the secrets in SSM (lib/lambda/deps.ts liveBuild)
    build === undefined
      ? liveDependencies<RefundDeps, unknown, RefundCallOutcome>(liveBuild((env) => refundDeps(env, logger)))
      : dependencies<RefundDeps, unknown, RefundCallOutcome>({ build }),
    errorReply<unknown, RefundCallOutcome>({ reply: refundErrorOutcome, logger, fields }),
    deadlineReply<unknown, RefundCallOutcome>({ reply: refundDeadlineOutcome, logger, fields }),
  ];
}

/** Builds the handler; `build` is injectable for tests, the environment otherwise. */
export function refundHandler(build?: BuildRefundDeps): EntryPoint<unknown, RefundCallOutcome> {
  return entryPoint(middy(refundCore, REFUND_TIMING).use(refundMiddlewares(build)));
}
