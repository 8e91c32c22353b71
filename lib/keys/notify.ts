/**
 * The one step a notify adapter adds to use the refreshing key ring: bring the ring up to date for the
 * serial this delivery names, then handle it with deps whose configuration verifies with that ring.
 */
import type { NotifyDeps } from '../notify/handle';
import { headerGetter } from '../wechatpay/v3/verify';
import type { KeyRing } from '../wechatpay/v3/keyring';
import type { RefreshingKeyRing } from './ring';

/** Prepares `keys` for the delivery's `Wechatpay-Serial` and returns `deps` verifying with them. */
export async function depsWithFreshKeys(
  keys: RefreshingKeyRing,
  deps: NotifyDeps,
  headers: Readonly<Record<string, string | undefined>>,
): Promise<NotifyDeps> {
  await keys.prepare(headerGetter(headers)('wechatpay-serial'));
  // the ring is a stable object, so the deps built around it are too: built once per deps, not per delivery
  const known = withRing.get(deps);
  if (known?.ring === keys.ring) return known.deps;
  const fresh = { ...deps, config: { ...deps.config, keyRing: keys.ring } };
  withRing.set(deps, { ring: keys.ring, deps: fresh });
  return fresh;
}

const withRing = new WeakMap<NotifyDeps, { ring: KeyRing; deps: NotifyDeps }>();
