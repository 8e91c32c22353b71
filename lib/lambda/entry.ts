/**
 * A middy handler as Lambda and the tests call it. middy's types carry what middlewares add to the
 * context (`deps`) into the handler's own signature, as if the caller had to supply it; Lambda passes
 * an ordinary context, and tests pass part of one or none at all.
 */
import type { Context } from 'aws-lambda';

/** The part of Lambda's context a caller may supply; middy treats a missing one as `{}`. */
export type InvocationContext = Partial<Context>;

/** A Lambda handler callable with the event alone or with an ordinary (or partial) context. */
export type EntryPoint<TEvent, TResult> = (event: TEvent, context?: InvocationContext) => Promise<TResult>;

/** The middy handler `handler` typed as Lambda calls it. */
export function entryPoint<TEvent, TResult, TContext extends Context>(
  handler: (event: TEvent, context: TContext) => Promise<TResult>,
): EntryPoint<TEvent, TResult> {
  // middy builds its request from whatever context it is given (`{}` when there is none); what the
  // caller may omit is read optionally there, and the dependencies middleware adds `deps` itself
  return (event, context = {}) => handler(event, context as TContext);
}
