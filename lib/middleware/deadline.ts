/**
 * A reply in the protocol's own form before Lambda's deadline. middy races the core against a timer
 * set `timeoutEarlyInMillis` before the end of the invocation (`middy(core, { timeoutEarlyInMillis })`)
 * and, by default, rejects with its TimeoutError when the timer wins; unhandled, that is a Lambda
 * error and API Gateway's generic 500. This middleware answers that error with the caller's `reply`
 * instead: WeChat's failure reply (so it keeps the message and retries) or closeOrder's FAILED TIMEOUT.
 * It must run before errorReply in the onError stack (middy runs onError in reverse order of `use`),
 * so that a timeout is answered as a timeout rather than as an unexpected error.
 */
import type { MiddlewareObj, Request } from '@middy/core';
import { createLogger, type LogFields, type Logger } from '../log';
import { isRecord } from './options';

export interface DeadlineReplyOptions<TEvent, TResult> {
  /** The answer given when the core is still running at the early timeout. */
  reply: (request: Request<TEvent, TResult>) => TResult;
  /** Where the operator's line goes: the service logger by default. */
  logger?: Logger;
  /** Fields added to the log line, such as the route or the function name. */
  fields?: LogFields;
}

/** True for the error @middy/core raises when its early timeout fires (and for nothing else). */
export function isEarlyTimeout(err: unknown): boolean {
  if (!(err instanceof Error) || err.name !== 'TimeoutError') return false;
  const cause: unknown = err.cause;
  return isRecord(cause) && cause.package === '@middy/core';
}

/** The middleware that turns middy's early timeout into `reply(request)` and logs it. */
export function deadlineReply<TEvent, TResult>(
  options: DeadlineReplyOptions<TEvent, TResult>,
): MiddlewareObj<TEvent, TResult, Error> {
  if (typeof options?.reply !== 'function') throw new TypeError('deadlineReply: options.reply must be a function');
  if (options.fields !== undefined && !isRecord(options.fields))
    throw new TypeError('deadlineReply: options.fields must be an object');
  const { reply, fields = {} } = options;
  const logger = options.logger ?? createLogger();
  const onError = (request: Request<TEvent, TResult>): void => {
    if (request.response !== undefined || !isEarlyTimeout(request.error)) return;
    logger.log('error', 'deadline', { ...fields, outcome: 'TIMEOUT' });
    request.response = reply(request);
  };
  return { name: 'deadlineReply', onError };
}
