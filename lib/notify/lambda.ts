/**
 * The Lambda adapter shared by the HTTP notify functions, made of middy middlewares: the dependencies
 * built once per container, the core handed the exact request bytes, and every failure (a broken
 * configuration, a bug, the deadline) answered in the sender's own protocol, so nothing is ever thrown.
 * functions/*Notify.ts compose `middy(httpCore(...), HTTP_TIMING).use(httpMiddlewares(...))`;
 * `notifyHandler` is the same chain with injectable dependencies, for tests.
 */
import middy, { type MiddlewareObj } from '@middy/core';
import { unavailable, type PayError } from '../errors';
import { createLogger, type Logger, type ServiceLogger } from '../log';
import { notifyDeps } from '../lambda/deps';
import { headersOf, rawBody, toResult, type HttpEvent, type HttpResult } from '../lambda/http';
import { entryPoint, type EntryPoint } from '../lambda/entry';
import { deadlineReply } from '../middleware/deadline';
import { dependencies, type WithDeps } from '../middleware/dependencies';
import { errorReply } from '../middleware/errorReply';
import { observability } from '../middleware/observability';
import { failureReply, type HttpReply, type ReplyFormat } from '../replies';
import { handleNotification, type NotifyDeps, type NotifyRequest } from './handle';
import { countDelivery, deliveryOutcome } from './outcome';

/** A notification pipeline: one request in, its protocol's reply out (it never throws). */
export type Pipeline = (req: NotifyRequest, deps: NotifyDeps) => Promise<HttpReply>;

/** How a failure reply's format is told from the event alone (the body may be unreadable). */
export type FailureFormat = (event: HttpEvent) => ReplyFormat;

/** Builds the dependencies of one container around the function's logger; may be async. */
export type BuildNotifyDeps = (logger: Logger) => NotifyDeps | Promise<NotifyDeps>;

/**
 * middy's plugin options for the HTTP functions: answer half a second before the Lambda timeout, time
 * enough to log and hand API Gateway the failure reply even with the event loop busy.
 */
export const HTTP_TIMING = { timeoutEarlyInMillis: 500 } as const;

/** The core of an HTTP route: API Gateway's event decoded to the exact bytes, the pipeline's reply encoded. */
export function httpCore(route: string, pipeline: Pipeline) {
  return async (event: HttpEvent, context: WithDeps<NotifyDeps>): Promise<HttpResult> =>
    toResult(await pipeline({ route, headers: headersOf(event), body: rawBody(event) }, context.deps));
}

/**
 * The middlewares of an HTTP route, in `use` order: Powertools' logging and metrics first (the
 * request id on every line), the dependencies (before the core), then the error reply, then the
 * deadline reply, which therefore runs first when the invocation fails. One logger per container:
 * the pipeline's (given to `build`) and the middlewares'. A failure answered here is a delivery too,
 * counted like the pipeline's own.
 */
export function httpMiddlewares(
  route: string,
  format: FailureFormat,
  build: BuildNotifyDeps = (logger) => notifyDeps(process.env, logger),
  logger: ServiceLogger = createLogger(),
): Array<MiddlewareObj<HttpEvent, HttpResult, Error, WithDeps<NotifyDeps>>> {
  const fields = { route };
  const fail = (event: HttpEvent, err: PayError): HttpResult => {
    const protocol = format(event);
    countDelivery(logger, deliveryOutcome('', err), route, protocol);
    return toResult(failureReply(protocol, err));
  };
  return [
    ...observability<HttpEvent, HttpResult, WithDeps<NotifyDeps>>(logger),
    dependencies<NotifyDeps, HttpEvent, HttpResult>({ build: () => build(logger) }),
    errorReply<HttpEvent, HttpResult>({ reply: (err, request) => fail(request.event, err), logger, fields }),
    deadlineReply<HttpEvent, HttpResult>({
      // a retryable failure: WeChat keeps the message and delivers it again; the write, if it lands, dedupes
      reply: (request) => fail(request.event, unavailable('out of time')),
      logger,
      fields,
    }),
  ];
}

/** Builds the handler for one route around a pipeline; `build` is injectable for tests, the environment otherwise. */
export function httpHandler(
  route: string,
  pipeline: Pipeline,
  format: FailureFormat,
  build?: BuildNotifyDeps,
  logger?: ServiceLogger,
): EntryPoint<HttpEvent, HttpResult> {
  return entryPoint(middy(httpCore(route, pipeline), HTTP_TIMING).use(httpMiddlewares(route, format, build, logger)));
}

/** WeChat's generation, as far as it can be told without parsing: APIv3 requests carry Wechatpay-* headers. */
export function wechatFormat(event: HttpEvent): ReplyFormat {
  return Object.keys(headersOf(event)).some((h) => h.toLowerCase().startsWith('wechatpay-')) ? 'v3' : 'v2';
}

/** The aggregator answers in its own plain text whatever the request looked like. */
export const aggregatorFormat: FailureFormat = () => 'aggregator';

/** The handler of a WeChat Pay notification route; `build` and `logger` are injectable for tests, the environment otherwise. */
export function notifyHandler(
  route: string,
  build?: BuildNotifyDeps,
  logger?: ServiceLogger,
): EntryPoint<HttpEvent, HttpResult> {
  return httpHandler(route, handleNotification, wechatFormat, build, logger);
}
