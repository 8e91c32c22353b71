/**
 * The deployed environment names parameter paths (`<NAME>_PARAM`), never secret values: this fills
 * each `<NAME>` from its source so that `loadConfig(await resolveSecrets(env, source))` sees the
 * same variables as a local run that sets them directly.
 */
import type { Env } from '../config';
import { configError } from '../errors';
import type { SecretSource } from './source';

/** Values kept as SecureStrings (KMS-encrypted): keys and shared secrets. */
export const SECRET_VARIABLES = [
  'WECHATPAY_APIV2_KEY',
  'WECHATPAY_APIV3_KEY',
  'WECHATPAY_MERCHANT_PRIVATE_KEY',
  // the merchant API certificate as WeChat ships it (apiclient_cert.p12, base64): it holds the private key
  'WECHATPAY_MERCHANT_P12',
  'AGGREGATOR_SECRET',
] as const;

/**
 * Values kept in SSM beside the secrets although they are not secret: identities that change with
 * a key (a serial with its private key, a public key id with its key) and PEMs too large for the
 * 4 KB Lambda environment.
 */
export const PARAMETER_VARIABLES = [
  'WECHATPAY_MCHID',
  'WECHATPAY_APPID',
  'WECHATPAY_MERCHANT_SERIAL_NO',
  // apiclient_cert.pem, presented on APIv2 secapi connections with WECHATPAY_MERCHANT_PRIVATE_KEY
  'WECHATPAY_MERCHANT_CERT',
  'WECHATPAY_PLATFORM_CERTS',
  'WECHATPAY_PUBLIC_KEY',
  'WECHATPAY_PUBLIC_KEY_ID',
] as const;

/** Every variable that may be given as `<NAME>_PARAM`. */
export const RESOLVABLE_VARIABLES: readonly string[] = [...SECRET_VARIABLES, ...PARAMETER_VARIABLES];

/** The suffix of the variable that names a parameter path. */
export const PARAM_SUFFIX = '_PARAM';

/** `<NAME>_PARAM` for each resolvable name, in the same order (spelled once, not on each invocation). */
const PARAMETER_NAMES: readonly string[] = RESOLVABLE_VARIABLES.map((name) => name + PARAM_SUFFIX);

// SSM's own rule for a fully qualified name: slash-separated, letters, digits and . _ - only
const SSM_PATH = /^(\/[A-Za-z0-9_.-]+){1,15}$/;

/** Which variables an environment resolves from which SSM paths: `[name, path]` pairs. */
export type SecretPlan = ReadonlyArray<readonly [name: string, path: string]>;

/**
 * The `<NAME>_PARAM` variables of `env` as `[name, path]` pairs; a CONFIG PayError for a variable set
 * both ways or a path SSM would refuse.
 */
export function planSecrets(env: Env): SecretPlan {
  const wanted: Array<[name: string, path: string]> = [];
  for (let i = 0; i < RESOLVABLE_VARIABLES.length; i++) {
    const name = RESOLVABLE_VARIABLES[i] as string;
    const path = env[PARAMETER_NAMES[i] as string]?.trim();
    if (!path) continue;
    if (env[name]?.trim()) throw configError(`set ${name} or ${name}${PARAM_SUFFIX}, not both`);
    if (path.length > 1011 || !SSM_PATH.test(path))
      throw configError(
        `${name}${PARAM_SUFFIX} must be an SSM parameter path (/a/b/c: letters, digits, . _ - between slashes)`,
      );
    wanted.push([name, path]);
  }
  return wanted;
}

/** Whether every planned value is fresh in `source` and the same as in `resolved` (no I/O, no copy). */
export function samePlannedValues(plan: SecretPlan, source: SecretSource, resolved: Env): boolean {
  for (const [name, path] of plan) {
    const value = source.peek?.(path);
    if (value === undefined || value !== resolved[name]) return false;
  }
  return true;
}

/** Returns the environment with every `<NAME>_PARAM` resolved into `<NAME>`; reads in parallel. */
export async function resolveSecrets(
  env: Env,
  source: SecretSource,
  plan: SecretPlan = planSecrets(env),
): Promise<Env> {
  if (plan.length === 0) return env;
  const resolved: Record<string, string | undefined> = { ...env };
  // while the source's cache is warm the values are taken from it as they are, without a promise per
  // parameter; one that is not cached sends every read through get()
  let missing = false;
  for (const [name, path] of plan) {
    const cached = source.peek?.(path);
    if (cached === undefined) {
      missing = true;
      break;
    }
    resolved[name] = cached;
  }
  if (!missing) return resolved;
  const values = await Promise.all(plan.map(([, path]) => source.get(path)));
  plan.forEach(([name], i) => {
    resolved[name] = values[i];
  });
  return resolved;
}
