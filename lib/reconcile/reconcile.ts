/**
 * Reconciliation, the core: find the orders still unpaid after a grace period (the sparse pending
 * index, oldest first, page by page; never a scan), ask WeChat Pay about each one with the order
 * query, and apply exactly what a notification would have applied: the same checks and the same one
 * conditional write. A payment whose notification never arrived is recovered; an order WeChat closed
 * is recorded closed; an unpaid one is left for the next run.
 *
 * Bounded and polite: a page size, a per-run budget of queries, a small pool of concurrent queries,
 * a pause after failures, an early stop on a rate limit or a run of failures, and a clean stop before
 * the Lambda deadline. Nothing needs resuming: the index holds only orders still pending, so the next
 * run starts over from what is left. Overlapping runs (or a run racing a notification) are safe
 * because the conditional write lets only one of them apply a transition.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { chooseProtocol, closeOrder } from '../close/closeOrder';
import type { Config } from '../config';
import { PayError } from '../errors';
import type { Logger, LogLevel } from '../log';
import type { CloseReason, Order, PendingOrder } from '../orders/model';
import { flagMismatch, settleClose, settlePayment } from '../settle/settle';
import type { OrderStore } from '../orders/store';
import { backoffMs } from '../wechatpay/http';
import type { WechatPayClient } from '../wechatpay/client';
import { WechatPayApiError } from '../wechatpay/apiError';
import type { TradeState } from '../wechatpay/tradeState';
import { reconcileOptions, type ReconcileOptions } from './options';
import { queryOrder, type QueryProtocol } from '../notify/query';
import type { RefundCalls } from '../refund/calls';
import { reconcileRefunds, type RefundSweep } from './refunds';

export type { ReconcileOptions } from './options';

/** What reconcile needs; everything that varies is injected. */
export interface ReconcileDeps {
  config: Config;
  store: OrderStore;
  client: WechatPayClient;
  logger: Logger;
  /** Clock, epoch milliseconds: the window of orders considered, order ages, latency. */
  now: () => number;
  /** Milliseconds left before the invocation's deadline (Lambda's getRemainingTimeInMillis); none: no deadline. */
  deadline?: () => number;
  /** The pause after failed queries (default a real timer). */
  sleep?: (ms: number) => Promise<void>;
  /** Called with every order's result as it happens (the operator command prints them). */
  onResult?: (result: OrderResult) => void;
  /** The refund queries; given, a run also settles refunds still REQUESTED or ABNORMAL (lib/reconcile/refunds.ts). */
  refunds?: RefundCalls;
}

/** What a query led to, for one order. */
export type ReconcileAction =
  /** paid at WeChat and recorded now: a notification that never arrived */
  | 'RECOVERED'
  /** paid, and a notification (or another run) recorded it first */
  | 'ALREADY_PAID'
  /** paid at WeChat, but not as registered (another amount or transaction): anomaly, left pending */
  | 'CONFLICT'
  /** CLOSED / REVOKED / PAYERROR at WeChat, recorded now */
  | 'CLOSED'
  | 'ALREADY_CLOSED'
  /** NOTPAY or USERPAYING at WeChat: asked again next run */
  | 'LEFT_PENDING'
  /** WeChat does not know the order (no prepay was ever created): asked again next run */
  | 'NOT_AT_WECHAT'
  /** unpaid past the payment timeout: closeOrder's outcome (CLOSED, PAID, TOO_EARLY …) follows in `closeStatus` */
  | 'AUTO_CLOSE'
  /** dry run: what would have been written */
  | 'WOULD_RECORD_PAYMENT'
  | 'WOULD_CLOSE'
  | 'WOULD_AUTO_CLOSE'
  /** the order is not registered here (operator command only): nothing recorded */
  | 'NOT_REGISTERED'
  /** the query or the write failed: left pending for the next run */
  | 'ERROR';

/** The result for one order, as logged. */
export interface OrderResult {
  outTradeNo: string;
  merchantId: string;
  protocol: QueryProtocol;
  /** WeChat's trade_state, when the query answered. */
  tradeState?: TradeState;
  action: ReconcileAction;
  transactionId?: string;
  /** closeOrder's status, for AUTO_CLOSE. */
  closeStatus?: string;
  /** WeChat's (or the client's) code, or our error kind, for ERROR and a failed auto-close. */
  code?: string;
  reason?: string;
  anomaly?: string;
  latencyMs: number;
}

/** Why a run ended. */
export type StopReason =
  /** every pending order in the window was queried */
  | 'COMPLETE'
  /** the per-run budget of queries was used up; more orders may be pending */
  | 'BUDGET'
  /** too little time was left before the invocation's deadline */
  | 'DEADLINE'
  /** WeChat still answered "rate limited" after the client's own retries */
  | 'RATE_LIMITED'
  /** options.maxConsecutiveFailures orders in a row failed */
  | 'TOO_MANY_ERRORS'
  /** the pending index could not be read */
  | 'STORE_UNAVAILABLE'
  /** the configuration cannot make order queries */
  | 'CONFIG'
  /** a bug: reported by the Lambda adapter, never by the core */
  | 'INTERNAL_ERROR';

/** What a run did. */
export interface ReconcileSummary {
  /** Orders read from the pending index. */
  scanned: number;
  /** Orders queried at WeChat. */
  queried: number;
  /** Payments recorded by this run (their notification never arrived): the ReconcileRecovered metric. */
  recovered: number;
  /** Orders this run recorded as closed (as WeChat reported, or closed by the auto-close). */
  closed: number;
  /** Orders queried and still unpaid (left for the next run). */
  stillPending: number;
  /** Orders whose query or write failed (left for the next run). */
  errors: number;
  /** Orders paid at WeChat in a way that contradicts the registration (anomalies). */
  conflicts: number;
  /** Orders still pending past the horizon (the PendingPastHorizon metric); null when it could not be counted. */
  pastHorizon: number | null;
  stoppedEarly: boolean;
  reason: StopReason;
  /** Orders per action. */
  actions: Partial<Record<ReconcileAction, number>>;
  /** The creation window considered (ISO instants, inclusive). */
  window: { createdAfter: string; createdBefore: string };
  dryRun: boolean;
  /** The refund part of the run, when the run had refund queries. */
  refunds?: RefundSweep;
}

/** Counting stops here: a number this large already says "look". */
const PAST_HORIZON_MAX = 10_000;
const RATE_LIMIT_CODES: ReadonlySet<string> = new Set(['RATELIMIT_EXCEEDED', 'FREQUENCY_LIMITED']);
const NOT_FOUND_CODES: ReadonlySet<string> = new Set(['ORDERNOTEXIST', 'ORDER_NOT_EXIST']);
const CLOSE_REASONS: Readonly<Partial<Record<TradeState, CloseReason>>> = {
  CLOSED: 'CLOSED',
  REVOKED: 'REVOKED',
  PAYERROR: 'PAYERROR',
};
// the pause between queries while failures last: full jitter over 0.5 s · 2^(streak−1), at most 8 s
const PAUSE_BASE_MS = 500;
const PAUSE_CAP_MS = 8000;

/** How a failed order weighs on the run. */
type Failure = 'RATE_LIMITED' | 'TRANSIENT' | 'CONFIG' | 'OTHER';

/** A summary with nothing done yet: the start of every run, and the answer of one that could not start. */
export function newSummary(
  window: ReconcileSummary['window'],
  dryRun: boolean,
  reason: StopReason = 'COMPLETE',
): ReconcileSummary {
  return {
    scanned: 0,
    queried: 0,
    recovered: 0,
    closed: 0,
    stillPending: 0,
    errors: 0,
    conflicts: 0,
    pastHorizon: null,
    stoppedEarly: reason !== 'COMPLETE',
    reason,
    actions: {},
    window,
    dryRun,
  };
}

/** Reconciles the pending orders of the window; never throws for operational failures (the summary says). */
export async function reconcile(options: Partial<ReconcileOptions>, deps: ReconcileDeps): Promise<ReconcileSummary> {
  const o = reconcileOptions(options);
  const now = deps.now();
  const window = {
    createdAfter: new Date(now - o.horizonHours * 3_600_000).toISOString(),
    createdBefore: new Date(now - o.graceSeconds * 1000).toISOString(),
  };
  const summary = newSummary(window, o.dryRun);
  const sleep = deps.sleep ?? ((ms: number) => delay(ms));
  let stop: StopReason | undefined;
  const halt = (reason: StopReason) => {
    stop ??= reason;
  };
  const timeLeft = () => (deps.deadline === undefined ? Number.POSITIVE_INFINITY : deps.deadline());

  summary.pastHorizon = await countPastHorizon(window.createdAfter, deps);

  let protocol: QueryProtocol | undefined;
  try {
    protocol = chooseProtocol(deps.config, o.protocol);
  } catch (err) {
    halt('CONFIG');
    deps.logger.log('error', 'configuration', {
      function: 'reconcile',
      reason: err instanceof PayError ? err.reason : 'cannot query orders',
    });
  }

  // the budget caps what is listed, so a run never reads more of the index than it may query
  async function* pending(): AsyncGenerator<PendingOrder> {
    let cursor: string | undefined;
    do {
      if (summary.scanned >= o.budget) return halt('BUDGET');
      if (timeLeft() < o.deadlineMarginMs) return halt('DEADLINE');
      let page: Awaited<ReturnType<OrderStore['listPending']>>;
      try {
        page = await deps.store.listPending({
          ...window,
          limit: Math.min(o.pageSize, o.budget - summary.scanned),
          ...(cursor === undefined ? {} : { cursor }),
        });
      } catch (err) {
        summary.errors += 1;
        deps.logger.log('error', 'reconcile.list', {
          reason: err instanceof PayError ? err.reason : 'pending index unavailable',
        });
        return halt('STORE_UNAVAILABLE');
      }
      for (const order of page.orders) {
        if (stop !== undefined) return;
        summary.scanned += 1;
        yield order;
      }
      cursor = page.cursor;
    } while (cursor !== undefined && stop === undefined);
  }

  let streak = 0;
  const source = pending();
  const worker = async (): Promise<void> => {
    while (stop === undefined && protocol !== undefined) {
      // an async generator serves concurrent next() calls one after another: each order goes to one worker
      const next = await source.next();
      if (next.done === true || stop !== undefined) return;
      if (streak > 0) await sleep(backoffMs(streak, Math.random, PAUSE_BASE_MS, PAUSE_CAP_MS));
      if (timeLeft() < o.deadlineMarginMs) return halt('DEADLINE');
      if (stop !== undefined) return;
      summary.queried += 1;
      const { result, failure } = await reconcileOrder(next.value, o, protocol, deps);
      tally(summary, result);
      deps.onResult?.(result);
      if (failure === undefined) {
        streak = 0;
        continue;
      }
      streak += 1;
      if (failure === 'RATE_LIMITED') halt('RATE_LIMITED');
      else if (failure === 'CONFIG') halt('CONFIG');
      else if (streak >= o.maxConsecutiveFailures) halt('TOO_MANY_ERRORS');
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, () => worker()));
  await source.return(undefined);

  // refunds share the run's budget and deadline; a run stopped by WeChat or its configuration leaves them be
  const refunds = deps.refunds;
  if (refunds !== undefined && protocol !== undefined && (stop === undefined || stop === 'BUDGET')) {
    summary.refunds = await reconcileRefunds(o, protocol, Math.max(0, o.budget - summary.queried), timeLeft, {
      ...deps,
      refunds,
    });
  }

  summary.reason = stop ?? 'COMPLETE';
  summary.stoppedEarly = summary.reason !== 'COMPLETE';
  logSummary(summary, deps);
  return summary;
}

/**
 * Reconciles one order now, whatever its age (the operator command): the local order before and
 * after, and the result. An order not registered here is only queried: nothing is recorded for it.
 */
export async function reconcileOne(
  ref: { merchantId: string; outTradeNo: string },
  options: Partial<ReconcileOptions>,
  deps: ReconcileDeps,
): Promise<{ before: Order | undefined; result: OrderResult; after: Order | undefined }> {
  const o = reconcileOptions(options);
  const protocol = chooseProtocol(deps.config, o.protocol);
  const before = await deps.store.getOrder(ref.merchantId, ref.outTradeNo);
  if (before === undefined) {
    const started = deps.now();
    const result: OrderResult = { ...ref, protocol, action: 'NOT_REGISTERED', latencyMs: 0 };
    try {
      const queried = await queryOrder(ref, protocol, deps);
      result.tradeState = queried.tradeState;
      if (queried.report !== undefined) result.transactionId = queried.report.transactionId;
    } catch (err) {
      if (err instanceof WechatPayApiError && err.kind !== 'UNAUTHENTIC' && NOT_FOUND_CODES.has(err.code))
        result.code = err.code;
      else describeFailure(err, result, deps);
    }
    result.latencyMs = deps.now() - started;
    logResult(result, o.dryRun, deps);
    return { before, result, after: undefined };
  }
  const pending: PendingOrder = {
    ...ref,
    createdAt: before.createdAt ?? '',
    ...(before.appid === undefined ? {} : { appid: before.appid }),
    ...(before.combineOutTradeNo === undefined ? {} : { combineOutTradeNo: before.combineOutTradeNo }),
  };
  const { result } = await reconcileOrder(pending, o, protocol, deps);
  return { before, result, after: o.dryRun ? before : await deps.store.getOrder(ref.merchantId, ref.outTradeNo) };
}

/**
 * Queries one order and applies what WeChat reports, as a notification would. Never throws: a
 * failure is an ERROR result, with how it weighs on the run.
 */
export async function reconcileOrder(
  order: PendingOrder,
  options: ReconcileOptions,
  protocol: QueryProtocol,
  deps: ReconcileDeps,
): Promise<{ result: OrderResult; failure?: Failure }> {
  const started = deps.now();
  const result: OrderResult = {
    outTradeNo: order.outTradeNo,
    merchantId: order.merchantId,
    protocol,
    action: 'ERROR',
    latencyMs: 0,
  };
  let failure: Failure | undefined;
  try {
    const queried = await queryOrder(order, protocol, deps);
    result.tradeState = queried.tradeState;
    if (queried.report !== undefined) {
      result.transactionId = queried.report.transactionId;
      if (options.dryRun) {
        result.action = 'WOULD_RECORD_PAYMENT';
      } else {
        const outcome = await settlePayment(queried.report, 'reconcile', deps);
        if (outcome.anomaly !== undefined) result.anomaly = outcome.anomaly;
        result.action =
          outcome.status === 'PAID'
            ? outcome.recorded
              ? 'RECOVERED'
              : 'ALREADY_PAID'
            : outcome.status === 'CONFLICT'
              ? 'CONFLICT'
              : 'NOT_REGISTERED';
      }
    } else {
      const reason = CLOSE_REASONS[queried.tradeState];
      if (reason !== undefined) {
        result.action = options.dryRun ? 'WOULD_CLOSE' : await recordClose(order, reason, deps);
      } else if (queried.tradeState === 'NOTPAY' && pastPaymentTimeout(order, options, deps.now())) {
        failure = await autoClose(order, options, protocol, deps, result);
      } else {
        result.action = 'LEFT_PENDING';
      }
    }
  } catch (err) {
    if (err instanceof WechatPayApiError && err.kind !== 'UNAUTHENTIC' && NOT_FOUND_CODES.has(err.code)) {
      result.action = 'NOT_AT_WECHAT';
      result.code = err.code;
    } else {
      failure = describeFailure(err, result, deps);
    }
  }
  result.latencyMs = deps.now() - started;
  logResult(result, options.dryRun, deps);
  return failure === undefined ? { result } : { result, failure };
}

async function recordClose(order: PendingOrder, reason: CloseReason, deps: ReconcileDeps): Promise<ReconcileAction> {
  const outcome = await settleClose(order, reason, 'reconcile', deps);
  switch (outcome.status) {
    case 'CLOSED':
      return 'CLOSED';
    case 'ALREADY_CLOSED':
      return 'ALREADY_CLOSED';
    case 'PAID':
      return 'ALREADY_PAID';
    case 'UNKNOWN_ORDER':
      return 'NOT_REGISTERED';
  }
}

/** Whether an unpaid order is past the configured payment timeout (never, when auto-close is off). */
function pastPaymentTimeout(order: PendingOrder, options: ReconcileOptions, nowMs: number): boolean {
  if (options.closeAfterMinutes === undefined) return false;
  const created = Date.parse(order.createdAt);
  return !Number.isNaN(created) && nowMs - created >= options.closeAfterMinutes * 60_000;
}

/** Closes an order nobody paid through the closeOrder core (which re-reads it, closes at WeChat, then here). */
async function autoClose(
  order: PendingOrder,
  options: ReconcileOptions,
  protocol: QueryProtocol,
  deps: ReconcileDeps,
  result: OrderResult,
): Promise<Failure | undefined> {
  if (options.dryRun) {
    result.action = 'WOULD_AUTO_CLOSE';
    return undefined;
  }
  const sub = order.merchantId === deps.config.mchid ? {} : { subMchId: order.merchantId };
  const outcome = await closeOrder({ outTradeNo: order.outTradeNo, ...sub, protocol }, deps);
  result.closeStatus = outcome.status;
  if (outcome.status === 'FAILED') {
    result.action = 'ERROR';
    result.code = outcome.code;
    result.reason = outcome.message;
    return outcome.retryable ? 'TRANSIENT' : 'OTHER';
  }
  result.action = 'AUTO_CLOSE';
  return undefined;
}

/** Fills an ERROR result from a failure and says how it weighs on the run. */
function describeFailure(err: unknown, result: OrderResult, deps: ReconcileDeps): Failure {
  result.action = 'ERROR';
  if (err instanceof WechatPayApiError) {
    result.code = err.code;
    result.reason = err.message;
    if (err.kind !== 'UNAUTHENTIC' && (RATE_LIMIT_CODES.has(err.code) || err.status === 429)) return 'RATE_LIMITED';
    return err.retryable ? 'TRANSIENT' : 'OTHER';
  }
  if (err instanceof PayError) {
    result.code = err.kind;
    result.reason = err.reason;
    if (err.kind === 'INCONSISTENT') {
      // an authentic answer about another merchant or order: never applied, worth a look
      result.anomaly = flagMismatch(
        err,
        { outTradeNo: result.outTradeNo, merchantId: result.merchantId },
        'reconcile',
        deps.logger,
      );
    }
    if (err.kind === 'CONFIG') return 'CONFIG';
    return err.kind === 'UNAVAILABLE' ? 'TRANSIENT' : 'OTHER';
  }
  result.code = 'INTERNAL_ERROR';
  result.reason = 'internal error';
  return 'OTHER';
}

function tally(summary: ReconcileSummary, result: OrderResult): void {
  summary.actions[result.action] = (summary.actions[result.action] ?? 0) + 1;
  switch (result.action) {
    case 'RECOVERED':
      summary.recovered += 1;
      return;
    case 'CLOSED':
      summary.closed += 1;
      return;
    case 'AUTO_CLOSE':
      if (result.closeStatus === 'CLOSED' || result.closeStatus === 'ALREADY_CLOSED') summary.closed += 1;
      else if (result.closeStatus === 'TOO_EARLY') summary.stillPending += 1;
      return;
    case 'LEFT_PENDING':
    case 'NOT_AT_WECHAT':
    case 'WOULD_RECORD_PAYMENT':
    case 'WOULD_CLOSE':
    case 'WOULD_AUTO_CLOSE':
      summary.stillPending += 1;
      return;
    case 'CONFLICT':
      summary.conflicts += 1;
      return;
    case 'ERROR':
      summary.errors += 1;
      return;
    case 'ALREADY_PAID':
    case 'ALREADY_CLOSED':
    case 'NOT_REGISTERED':
      return;
  }
}

async function countPastHorizon(createdBefore: string, deps: ReconcileDeps): Promise<number | null> {
  try {
    return await deps.store.countPendingBefore(createdBefore, PAST_HORIZON_MAX);
  } catch (err) {
    deps.logger.log('error', 'reconcile.count', {
      reason: err instanceof PayError ? err.reason : 'pending index unavailable',
    });
    return null;
  }
}

/** The one line per query: ids, protocol, WeChat's trade_state, the action, latency; never keys or bodies. */
function logResult(result: OrderResult, dryRun: boolean, deps: ReconcileDeps): void {
  const level: LogLevel = result.action === 'ERROR' || result.action === 'CONFLICT' ? 'warn' : 'info';
  deps.logger.log(level, 'reconcile.query', { ...result, ...(dryRun ? { dryRun } : {}) });
}

/** The run's ReconcileRecovered and PendingPastHorizon metrics (one embedded-metric record), then its summary line. */
function logSummary(summary: ReconcileSummary, deps: ReconcileDeps): void {
  const metrics: Record<string, number> = { ReconcileRecovered: summary.recovered };
  if (summary.pastHorizon !== null) metrics.PendingPastHorizon = summary.pastHorizon;
  const level: LogLevel =
    summary.reason === 'COMPLETE' || summary.reason === 'BUDGET' || summary.reason === 'DEADLINE' ? 'info' : 'warn';
  deps.logger.count(metrics);
  deps.logger.log(level, 'reconcile', { ...summary });
}
