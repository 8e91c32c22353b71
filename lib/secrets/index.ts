/** Secrets at run time: the sources and the resolution of `<NAME>_PARAM` variables. */
import type { Env } from '../config';
import { keysFileSource, type SecretSource } from './source';
import { ssmSource } from './ssm';

export { keysFileSource, valuesSource, type SecretSource } from './source';
export { MAX_CACHE_SECONDS, ssmSource, type SsmSourceOptions } from './ssm';
export {
  PARAM_SUFFIX,
  PARAMETER_VARIABLES,
  planSecrets,
  RESOLVABLE_VARIABLES,
  resolveSecrets,
  samePlannedValues,
  SECRET_VARIABLES,
  type SecretPlan,
} from './resolve';

/**
 * The source a function reads at cold start: the keys file named by WECHATPAY_SECRETS_FILE (local
 * runs that mimic production paths), SSM otherwise. Create it once per container: it holds the cache.
 */
export function secretSourceFor(env: Env): SecretSource {
  const file = env.WECHATPAY_SECRETS_FILE?.trim();
  return file ? keysFileSource(file) : ssmSource();
}
