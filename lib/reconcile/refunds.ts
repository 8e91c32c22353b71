/**
 * Refund reconciliation: the refunds still REQUESTED (no result yet) or ABNORMAL after the grace
 * period, read from the pending index under the refund key, are queried at WeChat Pay (APIv3
 * `GET /v3/refund/domestic/refunds/{out_refund_no}`, APIv2 `refundquery`; docs/protocol.md I), and
 * what WeChat reports is settled exactly as a refund notification would settle it: the same
 * conditional writes, so a result that arrives twice (notification and query) counts once.
 */
import type { Config } from '../config';
import { PayError } from '../errors';
import type { Logger, LogLevel } from '../log';
import type { PendingRefund } from '../orders/model';
import type { OrderStore } from '../orders/store';
import type { RefundCalls } from '../refund/calls';
import { reportOf } from '../refund/report';
import { settleRefund } from '../settle/settle';
import { WechatPayApiError } from '../wechatpay/apiError';
import type { ReconcileOptions } from './options';

/** What a refund query led to. */
export type RefundAction =
  /** WeChat reports a result, recorded now (its notification never arrived) */
  | 'SETTLED'
  /** the result was recorded before (a notification or another run) */
  | 'ALREADY_SETTLED'
  /** still PROCESSING (or ABNORMAL again) at WeChat: asked again next run */
  | 'LEFT_PENDING'
  /** WeChat knows no such refund: the request never reached it; left for an operator (the README's "Refunds") */
  | 'NOT_AT_WECHAT'
  /** WeChat's answer contradicts the recorded refund: anomaly */
  | 'CONFLICT'
  /** dry run: what would have been written */
  | 'WOULD_SETTLE'
  | 'ERROR';

/** What the refund part of a run did. */
export interface RefundSweep {
  scanned: number;
  queried: number;
  /** Results recorded by this run. */
  settled: number;
  stillPending: number;
  errors: number;
  actions: Partial<Record<RefundAction, number>>;
}

/** What the refund part needs. */
export interface RefundSweepDeps {
  config: Config;
  store: OrderStore;
  refunds: RefundCalls;
  logger: Logger;
  now: () => number;
}

const NOT_FOUND_CODES: ReadonlySet<string> = new Set(['RESOURCE_NOT_EXISTS', 'REFUNDNOTEXIST']);

/** Queries the refunds pending since before the grace period, up to `budget`, while `timeLeft` allows. */
export async function reconcileRefunds(
  options: ReconcileOptions,
  protocol: 'v2' | 'v3',
  budget: number,
  timeLeft: () => number,
  deps: RefundSweepDeps,
): Promise<RefundSweep> {
  const sweep: RefundSweep = { scanned: 0, queried: 0, settled: 0, stillPending: 0, errors: 0, actions: {} };
  const createdBefore = new Date(deps.now() - options.graceSeconds * 1000).toISOString();
  let cursor: string | undefined;
  do {
    if (sweep.scanned >= budget || timeLeft() < options.deadlineMarginMs) break;
    let page: { refunds: PendingRefund[]; cursor?: string };
    try {
      page = await deps.store.listPendingRefunds({
        createdBefore,
        limit: Math.min(options.pageSize, budget - sweep.scanned),
        ...(cursor === undefined ? {} : { cursor }),
      });
    } catch (err) {
      sweep.errors += 1;
      deps.logger.log('error', 'reconcile.refunds.list', {
        reason: err instanceof PayError ? err.reason : 'pending index unavailable',
      });
      break;
    }
    for (const refund of page.refunds) {
      if (timeLeft() < options.deadlineMarginMs) return sweep;
      sweep.scanned += 1;
      sweep.queried += 1;
      const action = await reconcileRefund(refund, options, protocol, deps);
      sweep.actions[action] = (sweep.actions[action] ?? 0) + 1;
      if (action === 'SETTLED') sweep.settled += 1;
      else if (action === 'LEFT_PENDING' || action === 'NOT_AT_WECHAT' || action === 'WOULD_SETTLE')
        sweep.stillPending += 1;
      else if (action === 'ERROR') sweep.errors += 1;
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  return sweep;
}

/** Queries one refund and settles what WeChat reports. Never throws: a failure is an ERROR action. */
export async function reconcileRefund(
  refund: PendingRefund,
  options: ReconcileOptions,
  protocol: 'v2' | 'v3',
  deps: RefundSweepDeps,
): Promise<RefundAction> {
  const started = deps.now();
  const line: Record<string, unknown> = { ...refund, protocol };
  let action: RefundAction = 'ERROR';
  try {
    const sub = refund.merchantId === deps.config.mchid ? {} : { subMchid: refund.merchantId };
    const answer = await deps.refunds[protocol].query({ outRefundNo: refund.outRefundNo, ...sub });
    line.wechatStatus = answer.status;
    if (answer.outRefundNo !== refund.outRefundNo || answer.outTradeNo !== refund.outTradeNo) {
      deps.logger.anomaly('REFUND_CONFLICT', { source: 'reconcile', ...refund });
      action = 'CONFLICT';
    } else {
      const report = reportOf(answer, refund.merchantId);
      if (report === undefined) action = 'LEFT_PENDING';
      else if (options.dryRun) action = 'WOULD_SETTLE';
      else {
        const settled = await settleRefund(report, 'reconcile', deps);
        if (settled.anomaly !== undefined) line.anomaly = settled.anomaly;
        action =
          settled.status === 'APPLIED'
            ? report.state === 'ABNORMAL' && settled.refund.previousState === 'ABNORMAL'
              ? 'LEFT_PENDING'
              : 'SETTLED'
            : settled.status === 'CONFLICT'
              ? 'CONFLICT'
              : report.state === 'ABNORMAL'
                ? 'LEFT_PENDING'
                : 'ALREADY_SETTLED';
      }
    }
  } catch (err) {
    if (err instanceof WechatPayApiError && err.kind !== 'UNAUTHENTIC' && NOT_FOUND_CODES.has(err.code)) {
      action = 'NOT_AT_WECHAT';
      line.code = err.code;
    } else if (err instanceof PayError) {
      line.code = err instanceof WechatPayApiError ? err.code : err.kind;
      line.reason = err.reason;
    } else {
      line.code = 'INTERNAL_ERROR';
    }
  }
  const level: LogLevel = action === 'ERROR' || action === 'CONFLICT' ? 'warn' : 'info';
  deps.logger.log(level, 'reconcile.refund', {
    ...line,
    action,
    latencyMs: deps.now() - started,
    ...(options.dryRun ? { dryRun: true } : {}),
  });
  return action;
}
