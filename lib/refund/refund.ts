/**
 * The refund function, the core: ask WeChat Pay for a refund at most once per out_refund_no and
 * never for more than the order can still give (docs/protocol.md I). Before WeChat is called, the
 * refund is recorded REQUESTED with one conditional write and its amount reserved on the order with
 * another, admitted only while the order is PAID and paid − refunded − reserved ≥ the amount. A
 * refusal that proves WeChat made no refund releases the reservation; an unknown result (a timeout,
 * a SYSTEMERROR) keeps it, and the refund's result or reconciliation's refund query settles it.
 * Business outcomes are results; this function never throws.
 */
import { chooseProtocol } from '../close/closeOrder';
import type { Config } from '../config';
import { configError } from '../errors';
import { failureFields } from '../lambda/event';
import type { Logger, LogLevel } from '../log';
import type { Order, RefundRequest, RefundState } from '../orders/model';
import type { OrderStore } from '../orders/store';
import { settleRefund } from '../settle/settle';
import { WechatPayApiError } from '../wechatpay/apiError';
import { neverSent } from '../wechatpay/http';
import type { RefundAnswer } from '../wechatpay/v3/refunds';
import type { RefundCalls } from './calls';
import { readRefundRequest, type RefundCallRequest, type RefundProtocol } from './request';
import { reportOf } from './report';

export type { RefundCallRequest, RefundEvent, RefundProtocol } from './request';

/** What the refund function needs; everything that varies is injected. */
export interface RefundDeps {
  config: Config;
  store: OrderStore;
  refunds: RefundCalls;
  logger: Logger;
  /** Clock, epoch milliseconds (latency). */
  now: () => number;
  /** Where WeChat sends the refund's result (WECHATPAY_REFUND_NOTIFY_URL); none: the merchant platform's setting. */
  notifyUrl?: string;
}

/** Which refund an outcome is about: `merchantId` is the sub-merchant in service-provider mode. */
interface RefundIds {
  outTradeNo: string;
  outRefundNo: string;
  merchantId: string;
}

/** The result of a refund call, discriminated by `status`. */
export type RefundCallOutcome =
  /** WeChat accepted the refund and is processing it (or reported it ABNORMAL: see `wechatStatus`). */
  | (RefundIds & { status: 'ACCEPTED'; refundId: string; wechatStatus: 'PROCESSING' | 'ABNORMAL' })
  /** WeChat refunded at once; the order's refunded total counts it. */
  | (RefundIds & { status: 'SUCCESS'; refundId: string })
  /** This out_refund_no was requested before with the same order and amount; `state` is where it stands. */
  | (RefundIds & { status: 'ALREADY_REQUESTED'; state: RefundState; refundId?: string })
  /** paid − refunded − reserved is less than asked; nothing was asked of WeChat. */
  | (RefundIds & { status: 'EXCEEDS_REFUNDABLE'; refundableFen: number })
  /** The order is not PAID here (NOTPAY, CLOSED, or not registered: UNKNOWN); nothing was asked of WeChat. */
  | (RefundIds & { status: 'ORDER_NOT_PAID'; orderState: 'NOTPAY' | 'CLOSED' | 'UNKNOWN' })
  /** No refund made (or none known yet). `code` is WeChat's (NOT_ENOUGH, SYSTEMERROR …) or ours. */
  | (Partial<RefundIds> & { status: 'FAILED'; code: string; message: string; retryable: boolean });

export type RefundCallStatus = RefundCallOutcome['status'];

// our client's own codes: none of them is WeChat saying "no refund was made"
const UNKNOWN_RESULT_CODES: ReadonlySet<string> = new Set([
  'NETWORK_ERROR',
  'TIMEOUT',
  'HTTP_ERROR',
  'RETURN_FAIL',
  'UNAUTHENTIC_RESPONSE',
  'MALFORMED_RESPONSE',
  'SYSTEMERROR',
  'SYSTEM_ERROR',
]);

/** What a call did besides its outcome, for the one log line. */
interface Trace {
  protocol?: RefundProtocol;
  wechatCode?: string;
  /** Whether the reservation was released (a refusal that proves no refund was made). */
  released?: boolean;
  anomaly?: string;
}

/** Requests one refund; `event` is either key style. Never throws: every failure is a FAILED outcome. */
export async function refund(event: unknown, deps: RefundDeps): Promise<RefundCallOutcome> {
  const started = deps.now();
  const trace: Trace = {};
  let ids: RefundIds | undefined;
  let outcome: RefundCallOutcome;
  try {
    const request = readRefundRequest(event);
    ids = {
      outTradeNo: request.outTradeNo,
      outRefundNo: request.outRefundNo,
      merchantId: request.subMchId ?? deps.config.mchid,
    };
    outcome = await requestRefund(request, ids, deps, trace);
  } catch (err) {
    outcome = { ...ids, status: 'FAILED', ...failureFields(err, ids === undefined) };
  }
  log(deps, outcome, trace, started);
  return outcome;
}

async function requestRefund(
  request: RefundCallRequest,
  ids: RefundIds,
  deps: RefundDeps,
  trace: Trace,
): Promise<RefundCallOutcome> {
  const protocol = chooseProtocol(deps.config, request.protocol);
  // a call that cannot be made (APIv2 without a client certificate) is refused before anything is written
  const blocked = deps.refunds[protocol].blocked;
  if (blocked !== undefined) throw configError(blocked);
  const asked: RefundRequest = { ...ids, refundFen: request.refundFen };
  const recorded = await deps.store.requestRefund(asked);
  if (recorded.kind === 'CONFLICT') {
    return {
      ...ids,
      status: 'FAILED',
      code: 'OUT_REFUND_NO_USED',
      message: 'this out_refund_no was requested for another order or amount',
      retryable: false,
    };
  }
  const fresh = recorded.kind === 'RECORDED';
  const known = recorded.refund;
  // a repeat whose request WeChat already answered (or whose result arrived) has nothing left to do
  if (!fresh && (known.state !== 'REQUESTED' || known.refundId !== '')) {
    return {
      ...ids,
      status: 'ALREADY_REQUESTED',
      state: known.state,
      ...(known.refundId === '' ? {} : { refundId: known.refundId }),
    };
  }
  // a repeat of a request with no answer yet goes on from here: each step below is idempotent
  const reserved = await deps.store.reserveRefund(asked);
  switch (reserved.kind) {
    case 'UNKNOWN_ORDER':
    case 'ORDER_NOT_PAID':
    case 'EXCEEDS_REFUNDABLE':
      // nothing was reserved and WeChat was not asked: forget the request so the number may be used again
      await deps.store.abandonRefund(asked);
      if (reserved.kind === 'EXCEEDS_REFUNDABLE')
        return { ...ids, status: 'EXCEEDS_REFUNDABLE', refundableFen: reserved.refundableFen };
      return {
        ...ids,
        status: 'ORDER_NOT_PAID',
        orderState: reserved.kind === 'UNKNOWN_ORDER' ? 'UNKNOWN' : (reserved.order.state as 'NOTPAY' | 'CLOSED'),
      };
    case 'RESERVED':
    case 'ALREADY_RESERVED':
      break;
  }
  trace.protocol = protocol;
  let answer: RefundAnswer;
  try {
    answer = await deps.refunds[protocol].apply(applyInput(request, reserved.order, deps));
  } catch (err) {
    if (!(err instanceof WechatPayApiError)) throw err;
    trace.wechatCode = err.code;
    if (!provesNoRefund(err)) {
      // WeChat may have made the refund: keep the reservation; the result or the refund query settles it
      return { ...ids, status: 'FAILED', code: err.code, message: err.message, retryable: true };
    }
    await deps.store.abandonRefund(asked);
    trace.released = true;
    return { ...ids, status: 'FAILED', code: err.code, message: err.message, retryable: false };
  }
  return afterAnswer(answer, asked, ids, fresh, deps, trace);
}

/** Reads WeChat's answer: PROCESSING notes the refund id; a result is settled as a notification would be. */
async function afterAnswer(
  answer: RefundAnswer,
  asked: RefundRequest,
  ids: RefundIds,
  fresh: boolean,
  deps: RefundDeps,
  trace: Trace,
): Promise<RefundCallOutcome> {
  if (
    answer.outRefundNo !== asked.outRefundNo ||
    answer.outTradeNo !== asked.outTradeNo ||
    answer.refundFen !== asked.refundFen
  ) {
    // an authentic answer about another refund: never applied; the reservation stays for the query to settle
    deps.logger.anomaly('REFUND_CONFLICT', { source: 'refund-call', ...ids });
    trace.anomaly = 'REFUND_CONFLICT';
    return {
      ...ids,
      status: 'FAILED',
      code: 'INCONSISTENT_ANSWER',
      message: 'WeChat Pay answered about another refund or amount',
      retryable: false,
    };
  }
  const report = reportOf(answer, asked.merchantId);
  if (report === undefined) {
    await deps.store.recordRefundId(asked.merchantId, asked.outRefundNo, answer.refundId);
    return fresh
      ? { ...ids, status: 'ACCEPTED', refundId: answer.refundId, wechatStatus: 'PROCESSING' }
      : { ...ids, status: 'ALREADY_REQUESTED', state: 'REQUESTED', refundId: answer.refundId };
  }
  const settled = await settleRefund(report, 'refund-call', deps);
  if (settled.anomaly !== undefined) trace.anomaly = settled.anomaly;
  if (settled.status === 'CONFLICT') {
    return {
      ...ids,
      status: 'FAILED',
      code: 'REFUND_CONFLICT',
      message: `WeChat Pay's answer contradicts the recorded refund (${settled.refund.state})`,
      retryable: false,
    };
  }
  if (!fresh) return { ...ids, status: 'ALREADY_REQUESTED', state: settled.refund.state, refundId: answer.refundId };
  switch (report.state) {
    case 'SUCCESS':
      return { ...ids, status: 'SUCCESS', refundId: answer.refundId };
    case 'ABNORMAL':
      return { ...ids, status: 'ACCEPTED', refundId: answer.refundId, wechatStatus: 'ABNORMAL' };
    case 'CLOSED':
      return {
        ...ids,
        status: 'FAILED',
        code: 'REFUND_CLOSED',
        message: 'WeChat Pay closed the refund',
        retryable: false,
      };
  }
}

/**
 * Whether WeChat's refusal proves that no refund was made: only its own signed, final business codes
 * do (NOTENOUGH, INVALID_REQUEST, PARAM_ERROR …), because WeChat answers a repeated out_refund_no
 * with the refund it already made. A timeout, a SYSTEMERROR, an answer we cannot trust, or a rate
 * limit proves nothing: the client retries those, and an earlier attempt of the same call may have
 * reached WeChat. A refused TLS handshake proves it too: the request was never written.
 */
export function provesNoRefund(err: WechatPayApiError): boolean {
  // a TLS handshake that failed (our client certificate refused) never carried the request
  if (neverSent(err.code)) return true;
  return (
    err.kind !== 'UNAUTHENTIC' && err.status !== undefined && !err.retryable && !UNKNOWN_RESULT_CODES.has(err.code)
  );
}

function applyInput(request: RefundCallRequest, order: Order, deps: RefundDeps) {
  return {
    outTradeNo: request.outTradeNo,
    outRefundNo: request.outRefundNo,
    refundFen: request.refundFen,
    totalFen: order.paidFen ?? order.amountFen,
    ...(request.reason === undefined ? {} : { reason: request.reason }),
    ...(deps.notifyUrl === undefined ? {} : { notifyUrl: deps.notifyUrl }),
    ...(request.subMchId === undefined ? {} : { subMchid: request.subMchId }),
  };
}

/** The one log line of a call: ids, protocol, outcome, WeChat's code, latency; never keys or bodies. */
function log(deps: RefundDeps, outcome: RefundCallOutcome, trace: Trace, started: number): void {
  const fields: Record<string, unknown> = {
    outTradeNo: outcome.outTradeNo,
    outRefundNo: outcome.outRefundNo,
    merchantId: outcome.merchantId,
    protocol: trace.protocol,
    outcome: outcome.status,
    wechatCode: trace.wechatCode,
    released: trace.released === true,
    latencyMs: deps.now() - started,
  };
  if (outcome.status === 'FAILED')
    Object.assign(fields, { code: outcome.code, retryable: outcome.retryable, reason: outcome.message });
  if (outcome.status === 'EXCEEDS_REFUNDABLE') fields.refundableFen = outcome.refundableFen;
  if (trace.anomaly !== undefined) fields.anomaly = trace.anomaly;
  const level: LogLevel = outcome.status !== 'FAILED' ? 'info' : outcome.retryable ? 'error' : 'warn';
  deps.logger.log(level, 'refund', fields);
}
