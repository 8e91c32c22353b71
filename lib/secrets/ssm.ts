/**
 * SSM Parameter Store as a secret source, through Powertools Parameters. The SSM client and
 * Powertools are imported on the first read, not at module load, so a function that reads no
 * parameter never pays their init cost. Values are cached for at most five minutes by an injected
 * clock, so a key rotated in SSM takes effect without a deploy.
 */
import type { SSMClient } from '@aws-sdk/client-ssm';
import { configError, type PayError, unavailable } from '../errors';
import type { SecretSource } from './source';

/** Lambda's guidance and the bound: a rotated value is picked up within five minutes. */
export const MAX_CACHE_SECONDS = 300;

export interface SsmSourceOptions {
  /** An SSM client (tests give one with a stubbed transport); by default one for the function's region. */
  client?: SSMClient;
  /** Milliseconds since the epoch; the cache's clock. */
  now?: () => number;
  /** How long a value is served from memory, at most {@link MAX_CACHE_SECONDS}. */
  maxAgeSeconds?: number;
}

/** Errors that mean the deployment is wrong (a retry gives the same answer), by the SDK's error name. */
const CONFIG_FAULTS = new Set([
  'ParameterNotFound',
  'ParameterVersionNotFound',
  'InvalidKeyId',
  'AccessDeniedException',
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSInvalidStateException',
  'KMSNotFoundException',
  'ValidationException',
]);

interface Cached {
  value: string;
  expiresAt: number;
}

type Provider = { get(name: string, options: { decrypt: boolean; forceFetch: boolean }): Promise<unknown> };

/** The SSM source: SecureStrings decrypted, each path cached for `maxAgeSeconds`, concurrent reads of one path shared. */
export function ssmSource(options: SsmSourceOptions = {}): SecretSource {
  const now = options.now ?? Date.now;
  const maxAge = options.maxAgeSeconds ?? MAX_CACHE_SECONDS;
  if (!Number.isFinite(maxAge) || maxAge < 0 || maxAge > MAX_CACHE_SECONDS)
    throw configError(`the SSM cache age must be between 0 and ${MAX_CACHE_SECONDS} seconds`);
  const cache = new Map<string, Cached>();
  const inflight = new Map<string, Promise<string>>();
  let provider: Promise<Provider> | undefined;

  const load = async (): Promise<Provider> => {
    const { SSMProvider } = await import('@aws-lambda-powertools/parameters/ssm');
    return options.client ? new SSMProvider({ awsSdkV3Client: options.client }) : new SSMProvider();
  };

  const fetch = async (path: string): Promise<string> => {
    provider ??= load();
    let value: unknown;
    try {
      // our own cache decides freshness (with the injected clock); Powertools' would read Date.now
      value = await (await provider).get(path, { decrypt: true, forceFetch: true });
    } catch (err) {
      throw classify(path, err);
    }
    if (typeof value !== 'string' || value === '') throw configError(`SSM parameter ${path} does not exist`);
    cache.set(path, { value, expiresAt: now() + maxAge * 1000 });
    return value;
  };

  const fresh = (path: string): string | undefined => {
    const hit = cache.get(path);
    return hit && now() < hit.expiresAt ? hit.value : undefined;
  };
  return {
    peek: fresh,
    get(path) {
      const hit = fresh(path);
      if (hit !== undefined) return Promise.resolve(hit);
      const pending = inflight.get(path);
      if (pending) return pending;
      const read = fetch(path).finally(() => inflight.delete(path));
      inflight.set(path, read);
      return read;
    },
  };
}

/** The SDK error's name (or a network error's code), found on Powertools' wrapper or its cause. */
function errorName(err: unknown): string {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    if (e.name !== 'GetParameterError' && e.name !== 'Error') return e.name;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z_]{2,32}$/.test(code)) return code;
  }
  return 'unknown';
}

/** A deployment fault becomes CONFIG naming the path; anything else is transient (the sender retries). */
function classify(path: string, err: unknown): PayError {
  const name = errorName(err);
  if (name === 'ParameterNotFound') return configError(`SSM parameter ${path} does not exist`);
  if (CONFIG_FAULTS.has(name) || name.startsWith('KMS'))
    return configError(`SSM parameter ${path} could not be read or decrypted (${name})`);
  return unavailable(`SSM parameter ${path} is temporarily unreadable (${name})`, err);
}
