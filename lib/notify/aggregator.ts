/**
 * The aggregator's notification pipeline (docs/protocol.md G), the sibling of handle.ts: verify, read,
 * apply a payment with the same one conditional write, answer exactly `success` only when the change
 * is durable (or was already), and log one line per delivery.
 */
import { asPayError } from '../errors';
import { failureReply, successReply, type HttpReply } from '../replies';
import type { AggregatorNotice } from './notice';
import { readAggregatorNotification } from './read';
import { settlePayment } from '../settle/settle';
import { log, settled, type Delivery, type NotifyDeps, type NotifyRequest } from './handle';
import { httpHandler } from './lambda';

/** The log line's fields: a failure status and its meaning besides the common ones. */
interface AggregatorDelivery extends Delivery {
  status?: string;
  meaning?: string;
  realAmountFen?: number;
}

/** Handles one delivery; never throws: every failure becomes the reply `fail`, so the aggregator resends. */
export async function handleAggregatorNotification(req: NotifyRequest, deps: NotifyDeps): Promise<HttpReply> {
  const started = deps.now();
  const delivery: AggregatorDelivery = { outcome: 'pending' };
  try {
    const notice = readAggregatorNotification(req.body, deps.config, deps.now());
    await applyAggregatorNotice(notice, deps, delivery);
    log(deps, req, 'aggregator', delivery, started);
    return successReply('aggregator');
  } catch (err) {
    const e = asPayError(err);
    delivery.outcome = e.kind;
    log(deps, req, 'aggregator', delivery, started, e);
    return failureReply('aggregator', e);
  }
}

async function applyAggregatorNotice(
  notice: AggregatorNotice,
  deps: NotifyDeps,
  delivery: AggregatorDelivery,
): Promise<void> {
  switch (notice.kind) {
    case 'FAILED':
      // the trade failed at the aggregator: nothing changes here (the order stays NOTPAY), the line is the record
      delivery.outcome = 'TRADE_FAILED';
      delivery.status = notice.status;
      delivery.meaning = notice.meaning;
      if (notice.orderId !== undefined) delivery.outTradeNo = notice.orderId;
      return;
    case 'UNKNOWN_STATUS':
      // authentic but undocumented: acknowledged (a resend would say the same), flagged for an operator
      delivery.outcome = 'UNKNOWN_STATUS';
      delivery.status = notice.status.slice(0, 16);
      if (notice.orderId !== undefined) delivery.outTradeNo = notice.orderId;
      return;
    case 'PAYMENT': {
      const { report } = notice;
      delivery.outTradeNo = report.outTradeNo;
      delivery.transactionId = report.transactionId;
      if (report.creditedFen !== undefined) delivery.realAmountFen = report.creditedFen;
      settled(await settlePayment(report, 'aggregator', deps), delivery);
      return;
    }
  }
}

/** The Lambda handler for the aggregator route; `deps` is injectable for tests, the environment otherwise. */
export function aggregatorHandler(route: string, deps?: () => NotifyDeps) {
  return httpHandler(route, handleAggregatorNotification, () => 'aggregator', deps);
}
