/**
 * The Lambda adapter of closeOrder, made of middy middlewares: dependencies (configuration, store and
 * the signed WeChat Pay client) built once per container, the event handed to the core, the outcome
 * returned as the invocation's result. Nothing is ever thrown: a broken configuration, a bug and the
 * deadline are FAILED outcomes too. functions/closeOrder.ts composes
 * `middy(closeOrderCore, CLOSE_TIMING).use(closeOrderMiddlewares())`; `closeOrderHandler` is the same
 * chain with injectable dependencies, for tests.
 */
import middy, { type MiddlewareObj } from '@middy/core';
import type { Env } from '../config';
import type { PayError } from '../errors';
import { liveBuild, liveDependencies, notifyDeps } from '../lambda/deps';
import { entryPoint, type EntryPoint } from '../lambda/entry';
import { createLogger, type Logger, type ServiceLogger } from '../log';
import { deadlineReply } from '../middleware/deadline';
import { dependencies, type WithDeps } from '../middleware/dependencies';
import { errorReply } from '../middleware/errorReply';
import { observability } from '../middleware/observability';
import { createWechatPayClient } from '../wechatpay/client';
import { closeOrder, type CloseOrderDeps, type CloseOrderOutcome } from './closeOrder';

/**
 * Per-call WeChat budgets: a close and at most one query must fit the function's 20 s timeout
 * with the store's own bounded calls; one attempt gets 4 s, one call (retries included) 7 s.
 */
export const CLOSE_CLIENT_TIMEOUTS = { timeoutMs: 4000, budgetMs: 7000 } as const;

/** middy's plugin options for closeOrder: a second before the Lambda timeout, answer FAILED TIMEOUT. */
export const CLOSE_TIMING = { timeoutEarlyInMillis: 1000 } as const;

/** Builds the dependencies of one container around the function's logger; may be async. */
export type BuildCloseOrderDeps = (logger: Logger) => CloseOrderDeps | Promise<CloseOrderDeps>;

/** Builds closeOrder's dependencies, the WeChat client included, from `env`; throws a CONFIG PayError when it is broken. */
export function closeOrderDeps(env: Env = process.env, logger: Logger = createLogger()): CloseOrderDeps {
  const base = notifyDeps(env, logger);
  return { ...base, client: createWechatPayClient({ config: base.config, ...CLOSE_CLIENT_TIMEOUTS }) };
}

/** The outcome answered when the function is about to hit its timeout (the deadline middleware's reply). */
export function deadlineOutcome(): CloseOrderOutcome {
  return {
    status: 'FAILED',
    code: 'TIMEOUT',
    message: 'closeOrder ran out of time; the order may have been closed at WeChat Pay, call again',
    retryable: true,
  };
}

/** The outcome for an error that escaped: a broken configuration names the variable and is not worth retrying. */
export function errorOutcome(e: PayError): CloseOrderOutcome {
  return e.kind === 'CONFIG'
    ? { status: 'FAILED', code: 'CONFIG_ERROR', message: e.reason, retryable: false }
    : { status: 'FAILED', code: 'INTERNAL_ERROR', message: 'internal error', retryable: true };
}

/** The core: the invocation's event and the container's dependencies to closeOrder (which never throws). */
export function closeOrderCore(event: unknown, context: WithDeps<CloseOrderDeps>): Promise<CloseOrderOutcome> {
  return closeOrder(event, context.deps);
}

/**
 * closeOrder's middlewares, in `use` order: Powertools' logging and metrics, dependencies, the error
 * reply, the deadline reply (first on failure). One logger per container, the core's included.
 * Without `build`, the dependencies follow the secrets (lib/lambda/deps.ts liveBuild: a rotated
 * merchant key is used without a deploy); an injected `build` runs once per container.
 */
export function closeOrderMiddlewares(
  build?: BuildCloseOrderDeps,
  logger: ServiceLogger = createLogger(),
): Array<MiddlewareObj<unknown, CloseOrderOutcome, Error, WithDeps<CloseOrderDeps>>> {
  const fields = { function: 'closeOrder' };
  return [
    ...observability<unknown, CloseOrderOutcome, WithDeps<CloseOrderDeps>>(logger),
    build === undefined
      ? liveDependencies<CloseOrderDeps, unknown, CloseOrderOutcome>(liveBuild((env) => closeOrderDeps(env, logger)))
      : dependencies<CloseOrderDeps, unknown, CloseOrderOutcome>({ build: () => build(logger) }),
    errorReply<unknown, CloseOrderOutcome>({ reply: errorOutcome, logger, fields }),
    deadlineReply<unknown, CloseOrderOutcome>({ reply: deadlineOutcome, logger, fields }),
  ];
}

/** Builds the handler; `build` and `logger` are injectable for tests, the environment otherwise. */
export function closeOrderHandler(
  build?: BuildCloseOrderDeps,
  logger?: ServiceLogger,
): EntryPoint<unknown, CloseOrderOutcome> {
  return entryPoint(middy(closeOrderCore, CLOSE_TIMING).use(closeOrderMiddlewares(build, logger)));
}
