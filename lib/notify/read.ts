/**
 * Reading a notification: choose the protocol by content, verify it, decrypt it and turn it into a
 * notice. Pure (no I/O): the clock and keys come in, a notice or a PayError comes out. The protocol
 * readers in lib/wechatpay/ and lib/aggregator/ return what the message says in its own terms; this
 * module is where those become the service's reports (payment, refund, coupon event).
 */
import { readAggregatorMessage, type AggregatorSettings } from '../aggregator/notification';
import type { Config } from '../config';
import { configError, inconsistent, malformed, PayError } from '../errors';
import type { WechatEvent } from '../orders/funds';
import type { Channel, CouponEvent, RefundReport } from '../orders/model';
import { yuanToFen } from '../money';
import { bodyText, type ReceivedBody } from '../text';
import { readV2Payment, type V2PaymentResult } from '../wechatpay/v2/notification';
import { readV2Refund, type V2RefundResult, type V2RefundStatus } from '../wechatpay/v2/refund';
import { parseXml } from '../wechatpay/v2/xml';
import { isCombineResource, readCombine, type CombinePayment } from '../wechatpay/v3/combine';
import { readCouponResource, type CouponSent, type CouponUsed } from '../wechatpay/v3/coupon';
import { decryptResource } from '../wechatpay/v3/aead';
import { openResource, parseEnvelope } from '../wechatpay/v3/notification';
import { readV3Refund, REFUND_EVENTS, type V3Refund } from '../wechatpay/v3/refund';
import { readTransaction, type Transaction } from '../wechatpay/v3/transaction';
import type { KeyKind } from '../wechatpay/v3/keyring';
import { verifyV3, type HeaderGetter } from '../wechatpay/v3/verify';
import {
  isProfitSharingEvent,
  isProfitSharingResource,
  readProfitSharingResource,
  readTransferResource,
  TRANSFER_EVENT,
} from './funds';
import type { AggregatorNotice, CombinePart, Notice, PaymentNotice } from './notice';
import { isoFromMillis } from '../time';

export type Protocol = 'v2' | 'v3';

/** APIv3 when any Wechatpay-* header or a JSON body is present; APIv2 (XML) otherwise. */
export function detectProtocol(header: HeaderGetter, body: ReceivedBody): Protocol {
  if (header('wechatpay-signature') !== undefined || header('wechatpay-serial') !== undefined) return 'v3';
  const text = typeof body === 'string';
  for (let i = 0; i < body.length; i++) {
    const c = text ? body.charCodeAt(i) : (body[i] as number);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    return c === 0x7b /* { */ ? 'v3' : 'v2';
  }
  return 'v2';
}

/** Verifies and reads one notification of the given protocol; `nowMs` is the injected clock. */
export function readNotice(
  protocol: Protocol,
  header: HeaderGetter,
  body: ReceivedBody,
  config: Config,
  nowMs: number,
): { notice: Notice; eventId?: string; verifiedBy?: KeyKind } {
  return protocol === 'v3' ? readV3(header, body, config, nowMs) : { notice: readV2(body, config) };
}

function readV2(body: ReceivedBody, config: Config): Notice {
  const fields = parseXml(bodyText(body), 'xml', config.maxBodyBytes);
  // merchants often give one URL for both: a refund result is the message that carries req_info
  if (fields.req_info !== undefined)
    return { kind: 'REFUND', report: v2RefundReport(readV2Refund(fields, config, config.maxBodyBytes), config.mchid) };
  return v2PaymentNotice(readV2Payment(fields, config), config.mchid);
}

function readV3(
  header: HeaderGetter,
  body: ReceivedBody,
  config: Config,
  nowMs: number,
): { notice: Notice; eventId: string; verifiedBy: KeyKind } {
  // which kind of key verified it goes on the delivery's log line: the public-key switch made visible
  const { verifiedBy } = verifyV3(header, body, config.keyRing, Math.floor(nowMs / 1000));
  const { notice, eventId } = readVerifiedV3(body, config);
  // built field by field: spreading the reader's result into a new object costs about a microsecond per call
  return { notice, eventId, verifiedBy };
}

function readVerifiedV3(body: ReceivedBody, config: Config): { notice: Notice; eventId: string } {
  const envelope = parseEnvelope(body);
  if (config.apiV3Key === undefined) throw configError('WECHATPAY_APIV3_KEY is not set');
  const type = envelope.event_type;
  if (type === 'TRANSACTION.SUCCESS') {
    const resource = openResource(envelope, config.apiV3Key);
    if (isProfitSharingResource(resource)) {
      // the label cannot tell a split from its return, so each notification is its own movement
      const report = readProfitSharingResource(resource, type, config.mchid);
      return {
        notice: { kind: 'PROFIT_SHARING', report: { ...report, notificationId: envelope.id } },
        eventId: envelope.id,
      };
    }
    // a combine payment has no top-level out_trade_no: its sub-orders carry one each
    if (isCombineResource(resource))
      return { notice: combineNotice(readCombine(resource), config), eventId: envelope.id };
    return { notice: transactionNotice(readTransaction(resource), config, 'v3'), eventId: envelope.id };
  }
  if (REFUND_EVENTS[type] !== undefined) {
    return {
      notice: {
        kind: 'REFUND',
        report: v3RefundReport(readV3Refund(openResource(envelope, config.apiV3Key), config, type)),
      },
      eventId: envelope.id,
    };
  }
  if (type === 'COUPON.SEND' || type === 'COUPON.USE') {
    const event = couponEvent(readCouponResource(openResource(envelope, config.apiV3Key), type), config.mchid);
    return { notice: { kind: 'COUPON', event, eventId: envelope.id }, eventId: envelope.id };
  }
  if (type === TRANSFER_EVENT) {
    const report = readTransferResource(openResource(envelope, config.apiV3Key), config.mchid);
    return { notice: { kind: 'TRANSFER', report }, eventId: envelope.id };
  }
  if (isProfitSharingEvent(type)) {
    const report = readProfitSharingResource(openResource(envelope, config.apiV3Key), type, config.mchid);
    return { notice: { kind: 'PROFIT_SHARING', report }, eventId: envelope.id };
  }
  // no event is dropped: whatever the type, it is decrypted (which also proves the key) and kept whole
  const event: WechatEvent = {
    eventId: envelope.id,
    eventType: type,
    resourceType: envelope.resource_type,
    summary: envelope.summary,
    createTime: envelope.create_time,
    resource: decryptResource(envelope.resource, config.apiV3Key),
  };
  return { notice: { kind: 'EVENT', event }, eventId: envelope.id };
}

/** An APIv2 payment result as a notice; a payment without `sub_mch_id` is our own merchant's. */
export function v2PaymentNotice(result: V2PaymentResult, mchid: string): Notice {
  if (!result.paid) return { kind: 'IGNORED', reason: 'result_code is not SUCCESS', outTradeNo: result.outTradeNo };
  return {
    kind: 'PAYMENT',
    report: {
      outTradeNo: result.outTradeNo,
      merchantId: result.subMchId ?? mchid,
      transactionId: result.transactionId,
      amountFen: result.totalFen,
      paidAt: result.paidAt,
      channel: 'v2',
    },
  };
}

/** A v3 transaction (notified, or answered by an order query) checked against our ids and read as a notice. */
export function transactionNotice(
  tx: Transaction,
  merchant: { mchid: string; appids: readonly string[] },
  channel: Extract<Channel, 'v3' | 'query'>,
): PaymentNotice {
  if (tx.mchid !== merchant.mchid) throw inconsistent('mchid does not match', { field: 'mchid' });
  if (tx.appid !== undefined && !merchant.appids.includes(tx.appid))
    throw inconsistent('appid does not match', { field: 'appid' });
  if (tx.tradeState !== 'SUCCESS')
    return { kind: 'IGNORED', reason: `trade_state ${tx.tradeState}`, outTradeNo: tx.outTradeNo };
  if (!tx.transactionId) throw malformed('transaction.transaction_id missing');
  if (tx.totalFen === undefined) throw malformed('transaction.amount.total missing');
  if (!tx.successTime) throw malformed('transaction.success_time missing');
  return {
    kind: 'PAYMENT',
    report: {
      outTradeNo: tx.outTradeNo,
      merchantId: tx.subMchid ?? tx.mchid,
      transactionId: tx.transactionId,
      amountFen: tx.totalFen,
      paidAt: tx.successTime,
      channel,
    },
  };
}

/**
 * A combine payment checked against our ids: the initiator must be us (else the whole message is
 * INCONSISTENT); each sub-order then goes through the single payment's checks on its own, so a
 * sub-order for another merchant or app is a mismatch of that part only and the others stand.
 */
export function combineNotice(combine: CombinePayment, merchant: { mchid: string; appids: readonly string[] }): Notice {
  if (combine.combineMchid !== merchant.mchid)
    throw inconsistent('combine_mchid does not match', { field: 'combine_mchid' });
  if (combine.combineAppid !== undefined && !merchant.appids.includes(combine.combineAppid))
    throw inconsistent('combine_appid does not match', { field: 'combine_appid' });
  const parts = combine.subOrders.map((tx): CombinePart => {
    const ref = { outTradeNo: tx.outTradeNo, merchantId: tx.subMchid ?? tx.mchid };
    try {
      return { ...ref, notice: transactionNotice(tx, merchant, 'v3') };
    } catch (err) {
      if (err instanceof PayError && err.kind === 'INCONSISTENT') return { ...ref, mismatch: err };
      throw err;
    }
  });
  return { kind: 'COMBINE', combineOutTradeNo: combine.combineOutTradeNo, parts };
}

/** APIv2's refund statuses in the service's terms. */
const V2_REFUND_STATES: Readonly<Record<V2RefundStatus, RefundReport['state']>> = {
  SUCCESS: 'SUCCESS',
  CHANGE: 'ABNORMAL',
  REFUNDCLOSE: 'CLOSED',
};

/** An APIv2 refund result as a refund report. */
export function v2RefundReport(refund: V2RefundResult, mchid: string): RefundReport {
  return {
    outRefundNo: refund.outRefundNo,
    outTradeNo: refund.outTradeNo,
    merchantId: refund.subMchId ?? mchid,
    refundId: refund.refundId,
    transactionId: refund.transactionId,
    state: V2_REFUND_STATES[refund.refundStatus],
    refundFen: refund.refundFen,
    totalFen: refund.totalFen,
    successAt: refund.successAt,
    channel: 'v2',
    // the outer sub_mch_id is neither signed nor encrypted: see docs/protocol.md B
    ...(refund.subMchId === undefined ? {} : { merchantUnsigned: true }),
  };
}

/** An APIv3 refund as a refund report (its statuses already are the service's). */
export function v3RefundReport(refund: V3Refund): RefundReport {
  return {
    outRefundNo: refund.outRefundNo,
    outTradeNo: refund.outTradeNo,
    merchantId: refund.subMchid ?? refund.mchid,
    refundId: refund.refundId,
    transactionId: refund.transactionId,
    state: refund.refundStatus,
    refundFen: refund.refundFen,
    totalFen: refund.totalFen,
    successAt: refund.successAt,
    channel: 'v3',
  };
}

/** A coupon resource as a coupon event; a coupon that names no merchant is our own merchant's. */
export function couponEvent(coupon: CouponSent | CouponUsed, mchid: string): CouponEvent {
  if (coupon.kind === 'SENT') {
    return {
      kind: 'SENT',
      couponCode: coupon.couponCode,
      stockId: coupon.stockId,
      merchantId: coupon.sendMerchant ?? mchid,
      at: coupon.sendTime,
      openid: coupon.openid,
      channel: coupon.sendChannel,
      transactionId: coupon.transactionId,
      amountFen: undefined,
    };
  }
  return {
    kind: 'USED',
    couponCode: coupon.couponId,
    stockId: coupon.stockId,
    merchantId: coupon.consumeMchid ?? mchid,
    at: coupon.consumeTime,
    openid: undefined,
    channel: undefined,
    transactionId: coupon.transactionId,
    amountFen: coupon.couponAmountFen,
  };
}

/** Namespace of aggregator trade ids in `transactionId`: WeChat's ids are digits only, so they never collide. */
export const AGGREGATOR_TRANSACTION_PREFIX = 'AGG-';

/**
 * Verifies and reads one aggregator notification; `nowMs` is the injected clock (the aggregator sends
 * no payment time, so the payment is stamped with the time it was received) and its payments are
 * recorded under our own merchant id.
 */
export function readAggregatorNotification(
  body: ReceivedBody,
  settings: AggregatorSettings & { mchid: string },
  nowMs: number,
): AggregatorNotice {
  const message = readAggregatorMessage(body, settings);
  if (message.kind !== 'PAID') return message;
  const { result } = message;
  return {
    kind: 'PAYMENT',
    result,
    report: {
      outTradeNo: result.orderId,
      merchantId: settings.mchid,
      transactionId: AGGREGATOR_TRANSACTION_PREFIX + result.transactionId,
      // `amount` is what the merchant asked for, so it is what the registration is compared with;
      // `real_amount` is what was credited after the aggregator's deductions (docs/protocol.md G)
      amountFen: yuanToFen(result.amountText, 'result.amount'),
      creditedFen: message.realAmountFen,
      paidAt: isoFromMillis(nowMs),
      channel: 'aggregator',
    },
  };
}
