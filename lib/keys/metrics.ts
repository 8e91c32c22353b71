/**
 * What an operator watches while WeChat changes its keys: which kind of key verified each delivery
 * (the public-key switch shows as a rising share of `public-key`) and the days left before the
 * earliest platform certificate expires (alarm below 30). Both are written through the service logger
 * (lib/log.ts), in the {service, stage} dimension set the alarms name.
 */
import type { KeyRing } from '../wechatpay/v3/keyring';

/** Count of verified deliveries, dimension `verifiedBy` (platform-certificate | public-key). */
export const VERIFIED_BY_METRIC = 'VerifiedDelivery';
/** Days until the earliest platform certificate held expires. */
export const DAYS_TO_EXPIRY_METRIC = 'PlatformCertificateDaysToExpiry';
/** The threshold the alarm on {@link DAYS_TO_EXPIRY_METRIC} uses. */
export const EXPIRY_ALARM_DAYS = 30;

const DAY_MS = 24 * 60 * 60 * 1000;

/** Days (fractional) from `nowMs` to the earliest expiry of a platform certificate in the ring, if any. */
export function daysToEarliestExpiry(ring: KeyRing, nowMs: number): number | undefined {
  let earliest: number | undefined;
  for (const serial of ring.serials()) {
    const notAfter = ring.entry(serial)?.notAfter;
    // an already expired certificate verifies nothing: it is not what the operator must renew
    if (notAfter !== undefined && notAfter > nowMs && (earliest === undefined || notAfter < earliest))
      earliest = notAfter;
  }
  return earliest === undefined ? undefined : (earliest - nowMs) / DAY_MS;
}
