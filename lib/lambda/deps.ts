/**
 * What a function needs, built from the environment: configuration, key objects, the DynamoDB client
 * and the store. A deployed environment names SSM parameter paths (`<NAME>_PARAM`, lib/secrets); they
 * are resolved through one secret source per container (it holds the cache) on EVERY invocation,
 * which costs nothing while the cache is warm, and the dependencies are rebuilt only when a resolved
 * value changed: a key rotated in SSM takes effect within the cache's age, without a deploy.
 */
import type { MiddlewareObj, Request } from '@middy/core';
import { loadConfig, type Env } from '../config';
import { depsWithFreshKeys } from '../keys/notify';
import { configuredDownloader } from '../keys/download';
import { createRefreshingKeyRing, type RefreshingKeyRing } from '../keys/ring';
import { createCertificateStore } from '../keys/store';
import { createLogger, type Logger } from '../log';
import type { WithDeps } from '../middleware/dependencies';
import type { NotifyDeps, NotifyRequest } from '../notify/handle';
import { createDynamoClient } from '../orders/client';
import { createDynamoOrderStore } from '../orders/dynamodb';
import type { HttpReply } from '../replies';
import {
  planSecrets,
  RESOLVABLE_VARIABLES,
  resolveSecrets,
  samePlannedValues,
  secretSourceFor,
  type SecretPlan,
  type SecretSource,
} from '../secrets';
import { createTransport } from '../wechatpay/http';
import { pendingShardsFromEnv } from '../orders/table';

/** Builds the notify dependencies from a resolved `env`; throws a CONFIG PayError naming a missing or malformed variable. */
export function notifyDeps(
  env: Env = process.env,
  logger: Logger = createLogger({ service: 'wechatpay-lambda' }),
): NotifyDeps {
  const config = loadConfig(env);
  const client = createDynamoClient({ endpoint: config.dynamodbEndpoint });
  const pendingShards = pendingShardsFromEnv(env);
  const store = createDynamoOrderStore({ client, tableName: config.tableName, pendingShards });
  return { config, store, logger, now: Date.now };
}

/** Where the secrets come from and which environment names them; both default to the container's. */
export interface LiveOptions {
  /** Read as given on every invocation; absent, a copy of process.env taken at the first invocation. */
  env?: Env;
  /** Created once per container when absent (secretSourceFor: the keys file locally, SSM deployed). */
  source?: SecretSource;
}

/** {@link liveBuild}'s result: call it for the current value; `ready()` answers without waiting when it can. */
export type LiveBuild<T> = (() => Promise<T>) & {
  /**
   * The current value when it is known to stand with no I/O at all (the container's own environment,
   * built, every value fresh in the source's cache and unchanged), else undefined: then call it.
   */
  ready(): T | undefined;
};

/**
 * `build` kept up to date with the secrets: each call re-resolves them (a cache hit while warm) and
 * calls `build` again only when a resolved value differs from the one the current result was built
 * from. A failed build is not kept, so the next call tries again.
 */
export function liveBuild<T>(build: (env: Env) => T, opts: LiveOptions = {}): LiveBuild<T> {
  let env = opts.env;
  let source = opts.source;
  let built: { resolved: Env; value: T } | undefined;
  // only ever set for the container's own environment (below)
  let plan: SecretPlan | undefined;
  const ready = (): T | undefined =>
    plan !== undefined && source !== undefined && built !== undefined && samePlannedValues(plan, source, built.resolved)
      ? built.value
      : undefined;
  const current = async (): Promise<T> => {
    // Lambda fixes a container's environment for its life, so process.env is copied once, at the first
    // invocation: each read of it is a lookup in the C environment that copies the value (PEM keys of
    // several KB), and equal copies compare character by character. SSM values still re-resolve below.
    env ??= { ...process.env };
    source ??= secretSourceFor(env);
    if (opts.env === undefined) {
      // that copy never changes, so which paths it names is worked out once; while every value is
      // fresh in the source's cache and the same as last time, the current result stands as it is
      plan ??= planSecrets(env);
      const standing = ready();
      if (standing !== undefined) return standing;
    }
    const resolved = await resolveSecrets(env, source, plan);
    // compared in memory only, never logged: the values themselves are the exact fingerprint, compared
    // one by one with those the current result was built from (no joined copy of every key)
    if (built === undefined || RESOLVABLE_VARIABLES.some((name) => resolved[name] !== built?.resolved[name]))
      built = { resolved, value: build(resolved) };
    return built.value;
  };
  return Object.assign(current, { ready });
}

/**
 * A middleware putting `current()` on `context.deps` on every invocation. With a {@link liveBuild}
 * that is the same object while the secrets are unchanged, and a fresh one once they change.
 */
export function liveDependencies<T, TEvent, TResult>(
  current: () => Promise<T>,
): MiddlewareObj<TEvent, TResult, Error, WithDeps<T>> {
  return {
    name: 'liveDependencies',
    before: async (request: Request<TEvent, TResult, Error, WithDeps<T>>) => {
      request.context.deps = await current();
    },
  };
}

/**
 * How long an on-demand certificate download may take: it runs while WeChat waits (about 5 s) for
 * the delivery that named the unknown serial, so one attempt of 2 s, no retry.
 */
export const NOTIFY_DOWNLOAD_TIMEOUTS = { timeoutMs: 2000, maxAttempts: 1, budgetMs: 2000 } as const;

/** A notify container's dependencies with its refreshing key ring (configured keys plus stored certificates). */
export interface KeyedNotifyDeps {
  deps: NotifyDeps;
  keys: RefreshingKeyRing;
}

/**
 * Builds a notify container's dependencies and key ring from a resolved `env`. The ring reads the
 * certificates stored by the daily refresh (functions/refreshCertificates.ts) and, when this function
 * holds the merchant key and the APIv3 key, downloads once (rate-limited per container) on an unknown
 * serial (the README's "Production key guide", "Certificates at run time").
 */
export function keyedNotifyDeps(env: Env, logger: Logger, now: () => number = Date.now): KeyedNotifyDeps {
  const base = notifyDeps(env, logger);
  const { config } = base;
  const client = createDynamoClient({ endpoint: config.dynamodbEndpoint });
  const keys = createRefreshingKeyRing({
    configured: config.keyRing,
    store: createCertificateStore({ client, tableName: config.tableName, now }),
    ...(config.merchant !== undefined && config.apiV3Key !== undefined
      ? { download: configuredDownloader(config, createTransport({ ...NOTIFY_DOWNLOAD_TIMEOUTS, now }), now) }
      : {}),
    now,
    logger,
  });
  return { deps: { ...base, now }, keys };
}

/** A notify container's runtime: its live dependencies, and a pipeline wrapper verifying with fresh keys. */
export interface NotifyRuntime {
  /** The current dependencies (for the dependencies middleware: a broken configuration fails the first invocation). */
  deps(): Promise<NotifyDeps>;
  /** `pipeline` run with the current dependencies, its key ring brought up to date for the delivery's serial. */
  pipeline(
    pipeline: (req: NotifyRequest, deps: NotifyDeps) => Promise<HttpReply>,
  ): (req: NotifyRequest, deps: NotifyDeps) => Promise<HttpReply>;
}

/**
 * The runtime of one notify container; create it once, at module scope. `verifiesWechatPay: false`
 * (the aggregator's function) keeps no key ring: its messages are not signed by WeChat Pay.
 */
export function notifyRuntime(
  opts: LiveOptions & { logger?: Logger; now?: () => number; verifiesWechatPay?: boolean } = {},
): NotifyRuntime {
  const logger = opts.logger ?? createLogger({ service: 'wechatpay-lambda' });
  const now = opts.now ?? Date.now;
  const keyed = opts.verifiesWechatPay !== false;
  const current = liveBuild(
    (env): { deps: NotifyDeps; keys?: RefreshingKeyRing } =>
      keyed ? keyedNotifyDeps(env, logger, now) : { deps: { ...notifyDeps(env, logger), now } },
    opts,
  );
  return {
    deps: async () => (await current()).deps,
    pipeline: (pipeline) => async (req) => {
      // the middleware's dependencies are the first build; this call sees a rotated secret too. Nearly
      // every delivery finds both the secrets and the key ring current: then nothing here waits
      const { deps, keys } = current.ready() ?? (await current());
      if (keys === undefined) return pipeline(req, deps);
      const fresh = depsWithFreshKeys(keys, deps, req.headers);
      return pipeline(req, fresh instanceof Promise ? await fresh : fresh);
    },
  };
}
