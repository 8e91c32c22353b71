/**
 * What an operator watches while WeChat changes its keys: which kind of key verified each delivery
 * (the public-key switch shows as a rising share of `public-key`) and the days left before the
 * earliest platform certificate expires (alarm below 30). Both as CloudWatch embedded-metric lines.
 */
import { METRIC_NAMESPACE } from '../log';
import type { KeyKind, KeyRing } from '../wechatpay/v3/keyring';

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

/** One embedded-metric record counting a verified delivery by the kind of key. */
export function verifiedByRecord(kind: KeyKind, nowMs: number): Record<string, unknown> {
  return emf(VERIFIED_BY_METRIC, 'Count', 1, { verifiedBy: kind }, nowMs);
}

/**
 * One embedded-metric record of the days to the earliest certificate expiry; `dimensions` are the
 * ones its alarm names (serverless.yml: service and stage).
 */
export function daysToExpiryRecord(
  days: number,
  nowMs: number,
  dimensions: Readonly<Record<string, string>> = {},
): Record<string, unknown> {
  return emf(DAYS_TO_EXPIRY_METRIC, 'None', Math.floor(days * 100) / 100, dimensions, nowMs);
}

function emf(
  name: string,
  unit: string,
  value: number,
  dimensions: Record<string, string>,
  nowMs: number,
): Record<string, unknown> {
  return {
    _aws: {
      Timestamp: nowMs,
      CloudWatchMetrics: [
        { Namespace: METRIC_NAMESPACE, Dimensions: [Object.keys(dimensions)], Metrics: [{ Name: name, Unit: unit }] },
      ],
    },
    ...dimensions,
    [name]: value,
  };
}
