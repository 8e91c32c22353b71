/**
 * The one reading of a delivery as the `Delivery` metric's `outcome` dimension (the alarm on
 * failed-retryable and the dashboard in serverless.yml group by it). An acknowledged delivery is
 * applied, or a duplicate when an earlier one had already recorded it; a refused one is named after
 * its error kind, grouped as lib/replies.ts answers them: a retry is asked for (UNAVAILABLE, CONFIG),
 * or the request is refused for good because it is not WeChat's (UNAUTHENTIC, MALFORMED) or
 * contradicts what we know (INCONSISTENT, UNKNOWN_ORDER).
 */
import type { ErrorKind, PayError } from '../errors';
import type { Logger } from '../log';

export type DeliveryOutcome =
  | 'applied'
  | 'duplicate'
  | 'rejected-forged'
  | 'rejected-inconsistent'
  | 'failed-retryable';

const OF_ERROR: Readonly<Record<ErrorKind, DeliveryOutcome>> = {
  UNAUTHENTIC: 'rejected-forged',
  MALFORMED: 'rejected-forged',
  INCONSISTENT: 'rejected-inconsistent',
  UNKNOWN_ORDER: 'rejected-inconsistent',
  UNAVAILABLE: 'failed-retryable',
  CONFIG: 'failed-retryable',
};

/**
 * Settled labels that mean "already recorded by an earlier delivery": ALREADY_APPLIED,
 * REFUND_ALREADY_APPLIED, COUPON_<kind>_ALREADY_RECORDED, and REFUND_STALE (an older state arriving
 * after a newer one, acknowledged without a change).
 */
const DUPLICATE = /(^|_)(ALREADY_APPLIED|ALREADY_RECORDED|STALE)$/;

/** The metric outcome of a delivery from its logged outcome label and, when it was refused, its error. */
export function deliveryOutcome(outcome: string, err?: PayError): DeliveryOutcome {
  if (err !== undefined) return OF_ERROR[err.kind];
  return DUPLICATE.test(outcome) ? 'duplicate' : 'applied';
}

/** Counts one delivery as the `Delivery` metric, by outcome; the route and protocol ride along as properties. */
export function countDelivery(logger: Logger, outcome: DeliveryOutcome, route: string, protocol: string): void {
  logger.count({ Delivery: 1 }, { outcome }, { route, protocol });
}
