/**
 * closeOrder, the core: close an unpaid order at WeChat Pay and record what WeChat confirms
 * (docs/protocol.md C, E, G). The local order decides whether WeChat is asked at all; the local state
 * moves to CLOSED only after WeChat confirms, with the store's conditional write that never
 * overwrites PAID. A refusal that says "paid" is settled by an order query and exactly the PAID
 * transition a notification makes. Business outcomes are results; this function never throws.
 */
import { configError, PayError } from '../errors';
import type { Config } from '../config';
import type { Logger, LogLevel } from '../log';
import { isPaid, type Order, type PaymentReport } from '../orders/model';
import type { OrderStore } from '../orders/store';
import { flagMismatch, settleClose, settlePayment } from '../settle/settle';
import { closeRefusal, WechatPayApiError } from '../wechatpay/apiError';
import type { WechatPayClient } from '../wechatpay/client';
import type { TradeState } from '../wechatpay/tradeState';
import { readV2, readV3, type QueriedOrder } from '../notify/query';
import { failureFields } from '../lambda/event';
import { readCloseRequest, type CloseOrderRequest, type CloseProtocol } from './request';

export type { CloseOrderEvent, CloseOrderRequest, CloseProtocol } from './request';

/** What closeOrder needs; everything that varies is injected. */
export interface CloseOrderDeps {
  config: Config;
  store: OrderStore;
  client: WechatPayClient;
  logger: Logger;
  /** Clock, epoch milliseconds (the five-minute rule, latency). */
  now: () => number;
}

/** The payment an order carries once PAID. */
export interface PaidTransaction {
  transactionId: string;
  /** What WeChat reported as paid, in fen. */
  amountFen: number;
  /** ISO-8601 instant of the payment. */
  paidAt: string;
}

/** Which order an outcome is about: `merchantId` is the sub-merchant in service-provider mode. */
interface OrderIds {
  outTradeNo: string;
  merchantId: string;
}

/** The result of a closeOrder call, discriminated by `status`. */
export type CloseOrderOutcome =
  /** WeChat closed the order now, and so did the table. */
  | (OrderIds & { status: 'CLOSED' })
  /** The order was closed before (locally, or WeChat says so: the table now agrees). */
  | (OrderIds & { status: 'ALREADY_CLOSED' })
  /** The order is paid (paid wins): the table holds this transaction. Fulfil or refund it. */
  | (OrderIds & { status: 'PAID'; transaction: PaidTransaction })
  /** Closing within five minutes of creation is refused: call again after `retryAfterSeconds`. */
  | (OrderIds & { status: 'TOO_EARLY'; retryAfterSeconds: number })
  /** No such order was registered here. Nothing was asked of WeChat. */
  | (OrderIds & { status: 'UNKNOWN_ORDER' })
  /** Not closed. `code` is WeChat's (SYSTEMERROR, SIGN_ERROR …) or ours (PARAM_ERROR, STORE_UNAVAILABLE …). */
  | (Partial<OrderIds> & { status: 'FAILED'; code: string; message: string; retryable: boolean });

export type CloseOrderStatus = CloseOrderOutcome['status'];

/** WeChat's rule: no close within five minutes of the order's creation. */
export const CLOSE_MIN_AGE_SECONDS = 300;

/** What a call did besides its outcome, for the one log line. */
interface Trace {
  protocol?: CloseProtocol;
  /** WeChat's (or the client's) code refusing the close. */
  wechatCode?: string;
  /** Whether the order was queried, and the code of a failed query. */
  queried?: boolean;
  queryCode?: string;
  anomaly?: string;
}

const CLOSED_STATES: ReadonlySet<TradeState> = new Set(['CLOSED', 'REVOKED']);

/** Closes one order; `event` is either request shape. Never throws: every failure is a FAILED outcome. */
export async function closeOrder(event: unknown, deps: CloseOrderDeps): Promise<CloseOrderOutcome> {
  const started = deps.now();
  const trace: Trace = {};
  let ids: OrderIds | undefined;
  let outcome: CloseOrderOutcome;
  try {
    const request = readCloseRequest(event);
    ids = { outTradeNo: request.outTradeNo, merchantId: request.subMchId ?? deps.config.mchid };
    outcome = await close(request, ids, deps, trace);
  } catch (err) {
    outcome = { ...ids, status: 'FAILED', ...failureFields(err, ids === undefined) };
    if (err instanceof PayError && err.kind === 'INCONSISTENT')
      trace.anomaly = flagMismatch(err, { ...ids }, 'close-query', deps.logger);
  }
  log(deps, outcome, trace, started);
  return outcome;
}

async function close(
  request: CloseOrderRequest,
  ids: OrderIds,
  deps: CloseOrderDeps,
  trace: Trace,
): Promise<CloseOrderOutcome> {
  const order = await deps.store.getOrder(ids.merchantId, ids.outTradeNo);
  if (order === undefined) return { ...ids, status: 'UNKNOWN_ORDER' };
  if (isPaid(order.state)) return paid(ids, order);
  if (order.state === 'CLOSED') return { ...ids, status: 'ALREADY_CLOSED' };
  const wait = secondsToWait(order, deps.now());
  if (wait > 0) return { ...ids, status: 'TOO_EARLY', retryAfterSeconds: wait };

  const protocol = chooseProtocol(deps.config, request.protocol);
  trace.protocol = protocol;
  // an order created under one of several appids is closed (and asked about) under that appid
  const asked: AppRequest = order.appid === undefined ? request : { ...request, appId: order.appid };
  try {
    if (protocol === 'v3') await deps.client.v3.closeOrderV3(v3Ref(asked));
    else await deps.client.v2.closeOrderV2(v2Ref(asked));
  } catch (err) {
    if (!(err instanceof WechatPayApiError)) throw err;
    trace.wechatCode = err.code;
    return afterRefusal(err, protocol, asked, ids, order, deps, trace);
  }
  return recordClose(ids, 'CLOSED', deps);
}

/** What a refused close means: WeChat's mapped codes first, otherwise an order query decides. */
async function afterRefusal(
  err: WechatPayApiError,
  protocol: CloseProtocol,
  request: CloseOrderRequest,
  ids: OrderIds,
  order: Order,
  deps: CloseOrderDeps,
  trace: Trace,
): Promise<CloseOrderOutcome> {
  switch (closeRefusal(err)) {
    case 'PAID': {
      const queried = await queryOrder(protocol, request, ids, deps, trace);
      if (queried.report !== undefined) return applyPaid(queried.report, ids, deps, trace);
      return {
        ...ids,
        status: 'FAILED',
        code: 'ORDERPAID',
        message: `WeChat Pay refused the close as paid, but its order query says ${queried.tradeState}`,
        retryable: true,
      };
    }
    case 'ALREADY_CLOSED':
      return recordClose(ids, 'ALREADY_CLOSED', deps);
    case 'TOO_EARLY':
      // WeChat counts from its own order creation, which may be later than the registration
      return {
        ...ids,
        status: 'TOO_EARLY',
        retryAfterSeconds: secondsToWait(order, deps.now()) || CLOSE_MIN_AGE_SECONDS,
      };
    case 'UNKNOWN_ORDER':
      // the local order stays NOTPAY: a prepay may still be created for it
      return { ...ids, status: 'FAILED', code: 'ORDERNOTEXIST', message: err.message, retryable: false };
    case undefined:
      break;
  }
  // a timeout, an exhausted SYSTEMERROR, a forged answer: the close may or may not have happened, so ask (docs/protocol.md E)
  let queried: QueriedOrder;
  try {
    queried = await queryOrder(protocol, request, ids, deps, trace);
  } catch (queryErr) {
    if (queryErr instanceof WechatPayApiError) return { ...ids, status: 'FAILED', ...failureFields(err, false) };
    throw queryErr;
  }
  if (queried.report !== undefined) return applyPaid(queried.report, ids, deps, trace);
  if (CLOSED_STATES.has(queried.tradeState)) return recordClose(ids, 'ALREADY_CLOSED', deps);
  return { ...ids, status: 'FAILED', ...failureFields(err, false) };
}

/** Records a close WeChat confirmed; a payment recorded meanwhile wins. */
async function recordClose(
  ids: OrderIds,
  status: 'CLOSED' | 'ALREADY_CLOSED',
  deps: CloseOrderDeps,
): Promise<CloseOrderOutcome> {
  const local = await settleClose(ids, undefined, 'close-query', deps);
  switch (local.status) {
    case 'CLOSED':
    case 'ALREADY_CLOSED':
      // WeChat's answer says whether this call closed it; a concurrent call may have written first
      return { ...ids, status };
    case 'PAID':
      return paid(ids, local.order);
    case 'UNKNOWN_ORDER':
      return { ...ids, status: 'UNKNOWN_ORDER' };
  }
}

/** Exactly the PAID transition a notification makes: same write, same amount check, same anomalies. */
async function applyPaid(
  report: PaymentReport,
  ids: OrderIds,
  deps: CloseOrderDeps,
  trace: Trace,
): Promise<CloseOrderOutcome> {
  const outcome = await settlePayment(report, 'close-query', deps);
  if (outcome.anomaly !== undefined) trace.anomaly = outcome.anomaly;
  switch (outcome.status) {
    case 'PAID':
      return paid(ids, outcome.order);
    case 'CONFLICT':
      return {
        ...ids,
        status: 'FAILED',
        code: outcome.reason,
        message:
          outcome.reason === 'AMOUNT_MISMATCH'
            ? 'WeChat Pay reports the order paid with another amount than registered'
            : 'the order is already paid by another transaction',
        retryable: false,
      };
    case 'UNKNOWN_ORDER':
      return { ...ids, status: 'UNKNOWN_ORDER' };
  }
}

/** Queries the order with the same generation as the close; the answer is checked against our ids. */
async function queryOrder(
  protocol: CloseProtocol,
  request: CloseOrderRequest,
  ids: OrderIds,
  deps: CloseOrderDeps,
  trace: Trace,
): Promise<QueriedOrder> {
  trace.queried = true;
  const { config } = deps;
  try {
    // the same reading as reconciliation: ids checked, a refunded order read as the payment it was
    return protocol === 'v3'
      ? readV3(await deps.client.v3.queryOrderV3(v3Ref(request)), ids, config)
      : readV2(await deps.client.v2.queryOrderV2(v2Ref(request)), ids, config);
  } catch (err) {
    if (err instanceof WechatPayApiError) trace.queryCode = err.code;
    throw err;
  }
}

/** APIv3 when the merchant key, its serial and a WeChat key are configured, APIv2 otherwise, or as asked. */
export function chooseProtocol(config: Config, asked: CloseProtocol | undefined): CloseProtocol {
  const v3 = config.merchant !== undefined && config.keyRing.serials().length > 0;
  const v2 = config.apiV2Key !== undefined;
  const needV3 =
    'APIv3 calls need WECHATPAY_MERCHANT_PRIVATE_KEY, WECHATPAY_MERCHANT_SERIAL_NO and WECHATPAY_PLATFORM_CERTS or WECHATPAY_PUBLIC_KEY';
  if (asked === 'v3' && !v3) throw configError(needV3);
  if (asked === 'v2' && !v2) throw configError('APIv2 calls need WECHATPAY_APIV2_KEY');
  if (asked !== undefined) return asked;
  if (v3) return 'v3';
  if (v2) return 'v2';
  throw configError(`${needV3}, or WECHATPAY_APIV2_KEY`);
}

/** Seconds until the order is five minutes old (0 when it is, or when its creation time is unknown). */
export function secondsToWait(order: Order, nowMs: number): number {
  const created = order.createdAt === undefined ? Number.NaN : Date.parse(order.createdAt);
  if (Number.isNaN(created)) return 0;
  const left = created + CLOSE_MIN_AGE_SECONDS * 1000 - nowMs;
  return left > 0 ? Math.ceil(left / 1000) : 0;
}

function v3Ref(request: CloseOrderRequest): { outTradeNo: string; subMchid?: string } {
  return request.subMchId === undefined
    ? { outTradeNo: request.outTradeNo }
    : { outTradeNo: request.outTradeNo, subMchid: request.subMchId };
}

/** A close request with the appid its order was registered under, when it was. */
type AppRequest = CloseOrderRequest & { appId?: string };

function v2Ref(request: AppRequest): { outTradeNo: string; appId?: string; subMchId?: string; subAppId?: string } {
  const { outTradeNo, appId, subMchId, subAppId } = request;
  return {
    outTradeNo,
    ...(appId === undefined ? {} : { appId }),
    ...(subMchId === undefined ? {} : { subMchId }),
    ...(subAppId === undefined ? {} : { subAppId }),
  };
}

function paid(ids: OrderIds, order: Order): CloseOrderOutcome {
  return {
    ...ids,
    status: 'PAID',
    transaction: {
      transactionId: order.transactionId ?? '',
      amountFen: order.paidFen ?? order.amountFen,
      paidAt: order.paidAt ?? '',
    },
  };
}

/** The one log line of a call: ids, protocol, outcome, WeChat's code, latency; never keys or bodies. */
function log(deps: CloseOrderDeps, outcome: CloseOrderOutcome, trace: Trace, started: number): void {
  const fields: Record<string, unknown> = {
    outTradeNo: outcome.outTradeNo,
    merchantId: outcome.merchantId,
    protocol: trace.protocol,
    outcome: outcome.status,
    wechatCode: trace.wechatCode,
    queried: trace.queried === true,
    queryCode: trace.queryCode,
    latencyMs: deps.now() - started,
  };
  if (outcome.status === 'FAILED')
    Object.assign(fields, { code: outcome.code, retryable: outcome.retryable, reason: outcome.message });
  if (outcome.status === 'PAID') fields.transactionId = outcome.transaction.transactionId;
  if (outcome.status === 'TOO_EARLY') fields.retryAfterSeconds = outcome.retryAfterSeconds;
  if (trace.anomaly !== undefined) fields.anomaly = trace.anomaly;
  const level: LogLevel = outcome.status !== 'FAILED' ? 'info' : outcome.retryable ? 'error' : 'warn';
  deps.logger.log(level, 'closeOrder', fields);
}
