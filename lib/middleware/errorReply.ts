/**
 * The last word on an invocation that threw: the error becomes the protocol's own failure reply, so
 * nothing escapes to Lambda (API Gateway would answer a bare 500, or a 200 under serverless-offline,
 * and an invoking function would get an error instead of a typed outcome). A configuration error is
 * the expected case (the dependencies could not be built); anything else is a bug and is treated as
 * transient, as lib/errors.ts `asPayError` says. What the reply says is the caller's `reply`, which
 * for HTTP routes is lib/replies.ts: this module decides when, never what.
 */
import type { MiddlewareObj, Request } from '@middy/core';
import { asPayError, type PayError } from '../errors';
import { createLogger, type LogFields, type Logger } from '../log';
import { isRecord } from './options';

export interface ErrorReplyOptions<TEvent, TResult> {
  /** The protocol's failure for this error: never throws, never shows internal detail. */
  reply: (error: PayError, request: Request<TEvent, TResult>) => TResult;
  /** Where the operator's line goes: the service logger by default (the dependencies may not exist). */
  logger?: Logger;
  /** Fields added to the log line, such as the route or the function name. */
  fields?: LogFields;
}

/** The middleware that answers an unhandled error with `reply(asPayError(error))` and logs it once. */
export function errorReply<TEvent, TResult>(
  options: ErrorReplyOptions<TEvent, TResult>,
): MiddlewareObj<TEvent, TResult, Error> {
  if (typeof options?.reply !== 'function') throw new TypeError('errorReply: options.reply must be a function');
  if (options.fields !== undefined && !isRecord(options.fields))
    throw new TypeError('errorReply: options.fields must be an object');
  const { reply, fields = {} } = options;
  const logger = options.logger ?? createLogger();
  const onError = (request: Request<TEvent, TResult>): void => {
    // another middleware (the deadline) already answered
    if (request.response !== undefined) return;
    const e = asPayError(request.error);
    if (e.kind === 'CONFIG') logger.log('error', 'configuration', { ...fields, reason: e.reason });
    else
      logger.log('error', 'unhandled error', {
        ...fields,
        kind: e.kind,
        reason: e.reason,
        cause: causeName(request.error),
      });
    request.response = reply(e, request);
  };
  return { name: 'errorReply', onError };
}

/** The error's class name for the log: its message may hold anything, so it is not logged. */
function causeName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}
