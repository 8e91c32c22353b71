/**
 * Dependencies built once per container (configuration, clients, the store) and handed to the core
 * on `context.deps`. Built on the first invocation rather than at import, so that a configuration
 * error reaches the error middlewares and becomes the protocol's reply instead of a crashed init; a
 * failed build is not cached, so a fixed configuration (or a secret that is readable again) is picked
 * up by the next invocation without a cold start.
 */
import type { MiddlewareObj, Request } from '@middy/core';
import type { Context } from 'aws-lambda';

/** The invocation context once the dependencies middleware has run. */
export type WithDeps<T> = Context & { deps: T };

export interface DependenciesOptions<T, TEvent> {
  /** Builds the dependencies; may be async (secrets read at run time). Its errors are the invocation's errors. */
  build: (request: Request<TEvent>) => T | Promise<T>;
}

/** The middleware that builds `build()` once per container and puts it on `context.deps` before the core runs. */
export function dependencies<T, TEvent = unknown, TResult = unknown>(
  options: DependenciesOptions<T, TEvent>,
): MiddlewareObj<TEvent, TResult, Error, WithDeps<T>> {
  if (typeof options?.build !== 'function') throw new TypeError('dependencies: options.build must be a function');
  const { build } = options;
  // the promise, not the value: two invocations racing on a cold container (tests do) share one build
  let built: Promise<T> | undefined;
  const before = async (request: Request<TEvent, TResult, Error, WithDeps<T>>): Promise<void> => {
    const current = built ?? Promise.resolve().then(() => build(request));
    built = current;
    try {
      request.context.deps = await current;
    } catch (err) {
      // forget the failure so the next invocation builds again; only if nobody replaced it meanwhile
      if (built === current) built = undefined;
      throw err;
    }
  };
  return { name: 'dependencies', before };
}
