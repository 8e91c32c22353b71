/**
 * The reconciler's settings: how far back it looks, how much it may ask of WeChat Pay per run, and
 * whether it closes orders nobody paid. Read from the environment once per cold start; a malformed
 * value is a CONFIG error that names the variable.
 */
import type { Env } from '../config';
import { configError } from '../errors';

export interface ReconcileOptions {
  /** Orders younger than this are left alone: their notification may still be on its way. */
  graceSeconds: number;
  /** Orders older than this are no longer queried (they are counted as PendingPastHorizon). */
  horizonHours: number;
  /** Orders read from the pending index per page. */
  pageSize: number;
  /** At most this many order queries per run. */
  budget: number;
  /** At most this many order queries in flight at once. */
  concurrency: number;
  /** Close orders still unpaid this long after creation through closeOrder; undefined: never (default). */
  closeAfterMinutes: number | undefined;
  /** No query is started with less than this left before the deadline. */
  deadlineMarginMs: number;
  /** A run stops after this many failed orders in a row (WeChat or the store is down: the next run retries). */
  maxConsecutiveFailures: number;
  /** Query and report, change nothing (the operator command's --dry-run). */
  dryRun: boolean;
  /** Forces an API generation; by default APIv3 when the merchant key is configured, else APIv2. */
  protocol: 'v2' | 'v3' | undefined;
}

/** WeChat's rule: no close within five minutes of creation (docs/protocol.md C). */
const MIN_CLOSE_AFTER_MINUTES = 5;

/** The settings when nothing is configured. */
export const DEFAULT_RECONCILE_OPTIONS: Readonly<ReconcileOptions> = {
  graceSeconds: 300,
  horizonHours: 48,
  pageSize: 50,
  budget: 500,
  concurrency: 4,
  closeAfterMinutes: undefined,
  // one query may take the client's whole per-call budget (7 s) plus a store write
  deadlineMarginMs: 10_000,
  maxConsecutiveFailures: 5,
  dryRun: false,
  protocol: undefined,
};

const LIMITS = {
  graceSeconds: [0, 86_400],
  horizonHours: [1, 720],
  pageSize: [1, 1000],
  budget: [1, 100_000],
  concurrency: [1, 32],
  closeAfterMinutes: [MIN_CLOSE_AFTER_MINUTES, 43_200],
  deadlineMarginMs: [0, 900_000],
  maxConsecutiveFailures: [1, 1000],
} as const;

const ENV_NAMES = {
  graceSeconds: 'RECONCILE_GRACE_SECONDS',
  horizonHours: 'RECONCILE_HORIZON_HOURS',
  pageSize: 'RECONCILE_PAGE_SIZE',
  budget: 'RECONCILE_BUDGET',
  concurrency: 'RECONCILE_CONCURRENCY',
  closeAfterMinutes: 'RECONCILE_CLOSE_AFTER_MINUTES',
} as const;

/** Reads the RECONCILE_* variables over the defaults; throws a CONFIG error naming the bad one. */
export function readReconcileOptions(env: Env): ReconcileOptions {
  const read = (key: keyof typeof ENV_NAMES): number | undefined => {
    const name = ENV_NAMES[key];
    const text = env[name]?.trim();
    if (!text) return undefined;
    const [min, max] = LIMITS[key];
    if (!/^\d{1,9}$/.test(text) || Number(text) < min || Number(text) > max)
      throw configError(`${name} must be a whole number from ${min} to ${max}`);
    return Number(text);
  };
  const o: ReconcileOptions = { ...DEFAULT_RECONCILE_OPTIONS };
  for (const key of Object.keys(ENV_NAMES) as Array<keyof typeof ENV_NAMES>) {
    const value = read(key);
    if (value !== undefined) o[key] = value;
  }
  return checkReconcileOptions(o, ENV_NAMES);
}

/** Defaults under `partial`, validated (for callers that build options in code). */
export function reconcileOptions(partial: Partial<ReconcileOptions> = {}): ReconcileOptions {
  const defined = Object.fromEntries(
    Object.entries(partial).filter(([, v]) => v !== undefined),
  ) as Partial<ReconcileOptions>;
  return checkReconcileOptions({ ...DEFAULT_RECONCILE_OPTIONS, ...defined });
}

function checkReconcileOptions(
  o: ReconcileOptions,
  names: Partial<Record<keyof ReconcileOptions, string>> = {},
): ReconcileOptions {
  const name = (key: keyof ReconcileOptions) => names[key] ?? key;
  for (const key of Object.keys(LIMITS) as Array<keyof typeof LIMITS>) {
    const value = o[key];
    if (value === undefined && key === 'closeAfterMinutes') continue;
    const [min, max] = LIMITS[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      throw configError(`${name(key)} must be a whole number from ${min} to ${max}`);
    }
  }
  if (o.graceSeconds >= o.horizonHours * 3600)
    throw configError(`${name('graceSeconds')} must be shorter than ${name('horizonHours')}`);
  if (o.closeAfterMinutes !== undefined && o.closeAfterMinutes * 60 >= o.horizonHours * 3600) {
    // an order past the horizon is never listed again, so it could never be closed
    throw configError(`${name('closeAfterMinutes')} must be shorter than ${name('horizonHours')}`);
  }
  if (o.protocol !== undefined && o.protocol !== 'v2' && o.protocol !== 'v3')
    throw configError('protocol must be v2 or v3');
  return o;
}
