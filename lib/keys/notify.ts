/**
 * The one step a notify adapter adds to use the refreshing key ring: bring the ring up to date for the
 * serial this delivery names, then handle it with deps whose configuration verifies with that ring.
 */
import type { NotifyDeps } from '../notify/handle';
import { headerGetter } from '../wechatpay/v3/verify';
import type { RefreshingKeyRing } from './ring';

/** Prepares `keys` for the delivery's `Wechatpay-Serial` and returns `deps` verifying with them. */
export async function depsWithFreshKeys(
  keys: RefreshingKeyRing,
  deps: NotifyDeps,
  headers: Readonly<Record<string, string | undefined>>,
): Promise<NotifyDeps> {
  await keys.prepare(headerGetter(headers)('wechatpay-serial'));
  return { ...deps, config: { ...deps.config, keyRing: keys.ring } };
}
