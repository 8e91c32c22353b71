/**
 * The one step a notify adapter adds to use the refreshing key ring: bring the ring up to date for the
 * serial this delivery names, then handle it with deps whose configuration verifies with that ring.
 */
import type { NotifyDeps } from '../notify/handle';
import { headerGetter } from '../wechatpay/v3/verify';
import type { KeyRing } from '../wechatpay/v3/keyring';
import type { RefreshingKeyRing } from './ring';

/**
 * Prepares `keys` for the delivery's `Wechatpay-Serial` and returns `deps` verifying with them: at once
 * when the ring has nothing to do (nearly every delivery), else once the ring is up to date.
 */
export function depsWithFreshKeys(
  keys: RefreshingKeyRing,
  deps: NotifyDeps,
  headers: Readonly<Record<string, string | undefined>>,
): NotifyDeps | Promise<NotifyDeps> {
  const pending = keys.prepare(headerGetter(headers)('wechatpay-serial'));
  return pending === undefined ? verifyingWith(keys, deps) : pending.then(() => verifyingWith(keys, deps));
}

function verifyingWith(keys: RefreshingKeyRing, deps: NotifyDeps): NotifyDeps {
  // the ring is a stable object, so the deps built around it are too: built once per deps, not per delivery
  const known = withRing.get(deps);
  if (known?.ring === keys.ring) return known.deps;
  const fresh = { ...deps, config: { ...deps.config, keyRing: keys.ring } };
  withRing.set(deps, { ring: keys.ring, deps: fresh });
  return fresh;
}

const withRing = new WeakMap<NotifyDeps, { ring: KeyRing; deps: NotifyDeps }>();
