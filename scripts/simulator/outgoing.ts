/**
 * TEST-ONLY: turns the simulator's orders and refunds into the notifications WeChat Pay would send.
 *
 * The wire formats come from messages.ts; this module only feeds them the simulator's state, so that a
 * notification, a later order query and a replay all carry the same transaction id, payer and times.
 */
import type { TestKeys } from './keys';
import {
  beijingCompact,
  beijingDateTime,
  rfc3339Beijing,
  v2PaymentNotification,
  v2RefundNotification,
  v3Notification,
  v3ProfitSharingResource,
  v3RefundResource,
  v3TransferResource,
  v3TransactionResource,
  type V2SignType,
  type WireRequest,
} from './messages';
import type { NotificationProtocol, OutgoingNotification } from './notifier';
import { resignV3 } from './notifier';
import { DIGITS, randomOpenid, randomString } from './random';
import type { SimOrder, SimRefund } from './state';
import type { V3Signer } from './v3auth';

/** How a notification is encoded and signed. */
export interface NotificationStyle {
  protocol: NotificationProtocol;
  /** APIv3 signer (platform certificate or WeChat Pay public key). */
  signer: V3Signer;
  /** APIv2 payment-notification signature algorithm. */
  signType: V2SignType;
}

const V2_REFUND_STATUS = { SUCCESS: 'SUCCESS', CLOSED: 'REFUNDCLOSE', ABNORMAL: 'CHANGE' } as const;

/** The payment result notification for a paid order. */
export function paymentNotification(keys: TestKeys, order: SimOrder, style: NotificationStyle): OutgoingNotification {
  if (style.protocol === 'v2') return { protocol: 'v2', wire: v2Payment(keys, order, style.signType) };
  const wire = v3Notification(keys, {
    eventType: 'TRANSACTION.SUCCESS',
    originalType: 'transaction',
    resource: transactionResource(keys, order),
    signer: style.signer,
  });
  return freshlySigned(keys, wire, style.signer);
}

/** The refund result notification for a settled refund. */
export function refundNotification(
  keys: TestKeys,
  order: SimOrder,
  refund: SimRefund,
  style: NotificationStyle,
): OutgoingNotification {
  if (style.protocol === 'v2') return { protocol: 'v2', wire: v2Refund(keys, order, refund) };
  const wire = v3Notification(keys, {
    eventType: `REFUND.${refund.status}`,
    originalType: 'refund',
    resource: v3RefundResource(keys, {
      outTradeNo: refund.outTradeNo,
      outRefundNo: refund.outRefundNo,
      refundStatus: refund.status,
      total: refund.total,
      refund: refund.amount,
      refundId: refund.refundId,
      transactionId: refund.transactionId,
      ...(refund.successTime === undefined ? {} : { successTime: rfc3339Beijing(new Date(refund.successTime)) }),
      ...(order.subMchid === undefined ? {} : { partner: { spMchid: order.mchid, subMchid: order.subMchid } }),
    }),
    signer: style.signer,
  });
  return freshlySigned(keys, wire, style.signer);
}

/** Parameters of {@link couponNotification}. */
export interface CouponSend {
  stockId?: string;
  couponCode?: string;
  openid?: string;
  transactionId?: string;
}

/** A COUPON.SEND (merchant coupon received) notification (docs/protocol.md F). */
export function couponNotification(keys: TestKeys, p: CouponSend, signer: V3Signer, now: number): OutgoingNotification {
  const resource = {
    event_type: 'EVENT_TYPE_BUSICOUPON_SEND',
    coupon_code: p.couponCode ?? randomString(DIGITS, 16),
    stock_id: p.stockId ?? `1${randomString(DIGITS, 9)}`,
    send_time: rfc3339Beijing(new Date(now)),
    openid: p.openid ?? randomOpenid(),
    send_channel: 'BUSICOUPON_SEND_CHANNEL_API',
    send_merchant: keys.mchid,
    attach_info: p.transactionId === undefined ? {} : { transaction_id: p.transactionId },
  };
  const wire = v3Notification(keys, { eventType: 'COUPON.SEND', originalType: 'coupon', resource, signer });
  return freshlySigned(keys, wire, signer);
}

/** What a transfer or profit-sharing notification says (the rest is generated). */
export interface FundsSend {
  kind: 'transfer' | 'profitsharing';
  /** out_bill_no of a transfer, out_order_no of a profit sharing; generated when absent. */
  outNo?: string;
  amount?: number;
  /** A transfer's final state. */
  state?: 'SUCCESS' | 'FAIL' | 'CANCELLED';
  /** A profit-sharing event type (PROFITSHARING.*). */
  eventType?: string;
}

/** MCHTRANSFER.BILL.FINISHED or PROFITSHARING.*, signed and encrypted as WeChat Pay sends them. */
export function fundsNotification(keys: TestKeys, p: FundsSend, signer: V3Signer): OutgoingNotification {
  const outNo = p.outNo ?? `${p.kind === 'transfer' ? 'B' : 'P'}${randomString(DIGITS, 16)}`;
  const amount = p.amount ?? 100;
  const wire =
    p.kind === 'transfer'
      ? v3Notification(keys, {
          eventType: 'MCHTRANSFER.BILL.FINISHED',
          originalType: 'mch_payment',
          resource: v3TransferResource({
            mchid: keys.mchid,
            outBillNo: outNo,
            state: p.state ?? 'SUCCESS',
            amount,
            ...(p.state === 'FAIL' ? { failReason: 'ACCOUNT_FROZEN' } : {}),
          }),
          signer,
        })
      : v3Notification(keys, {
          eventType: p.eventType ?? 'PROFITSHARING.SUCCESS',
          originalType: 'profitsharing',
          resource: v3ProfitSharingResource({ mchid: keys.mchid, outOrderNo: outNo, amount }),
          signer,
        });
  return freshlySigned(keys, wire, signer);
}

/** The APIv3 transaction JSON of an order, shared by notifications and the query API. */
export function transactionResource(keys: TestKeys, order: SimOrder): Record<string, unknown> {
  const paid = order.transactionId !== undefined;
  const resource = v3TransactionResource(keys, {
    outTradeNo: order.outTradeNo,
    total: order.amount,
    tradeState: order.state,
    attach: order.attach ?? '',
    ...(order.transactionId === undefined ? {} : { transactionId: order.transactionId }),
    ...(order.successTime === undefined ? {} : { successTime: rfc3339Beijing(new Date(order.successTime)) }),
    ...(order.subMchid === undefined
      ? {}
      : {
          partner: {
            spMchid: order.mchid,
            subMchid: order.subMchid,
            spAppid: order.appid,
            ...(order.subAppid === undefined ? {} : { subAppid: order.subAppid }),
          },
        }),
    // Unpaid orders have no transaction, payer or paid amount yet; only the order total exists.
    extra: paid
      ? { payer: payerOf(order), ...directAppid(order) }
      : {
          ...directAppid(order),
          transaction_id: undefined,
          payer: undefined,
          bank_type: undefined,
          amount: { total: order.amount, currency: 'CNY' },
        },
  });
  // Drop the keys set to undefined above so the JSON matches what WeChat omits.
  return JSON.parse(JSON.stringify(resource)) as Record<string, unknown>;
}

/** A direct order made in another of the merchant's apps names that app. */
function directAppid(order: SimOrder): Record<string, string> {
  return order.subMchid === undefined ? { appid: order.appid } : {};
}

function payerOf(order: SimOrder): Record<string, string> {
  const openid = order.openid ?? randomOpenid();
  return order.subMchid === undefined ? { openid } : { sp_openid: openid };
}

function v2Payment(keys: TestKeys, order: SimOrder, signType: V2SignType): WireRequest {
  return v2PaymentNotification(keys, {
    outTradeNo: order.outTradeNo,
    totalFee: order.amount,
    ...(order.transactionId === undefined ? {} : { transactionId: order.transactionId }),
    timeEnd: beijingCompact(new Date(order.successTime ?? Date.now())),
    signType,
    extra: {
      appid: order.appid,
      ...(order.openid === undefined ? {} : { openid: order.openid }),
      ...(order.attach === undefined ? {} : { attach: order.attach }),
      ...(order.subMchid === undefined ? {} : { sub_mch_id: order.subMchid, sub_is_subscribe: 'N' }),
      ...(order.subAppid === undefined ? {} : { sub_appid: order.subAppid }),
    },
  });
}

function v2Refund(keys: TestKeys, order: SimOrder, refund: SimRefund): WireRequest {
  return v2RefundNotification(keys, {
    outTradeNo: refund.outTradeNo,
    outRefundNo: refund.outRefundNo,
    totalFee: refund.total,
    refundFee: refund.amount,
    refundStatus: V2_REFUND_STATUS[refund.status],
    refundId: refund.refundId,
    transactionId: refund.transactionId,
    ...(refund.successTime === undefined ? {} : { successTime: beijingDateTime(new Date(refund.successTime)) }),
    ...(order.subMchid === undefined ? {} : { subMchId: order.subMchid }),
  });
}

/** An APIv3 notification that keeps its body on every attempt and is signed again with a fresh timestamp. */
export function freshlySigned(keys: TestKeys, wire: WireRequest, signer: V3Signer): OutgoingNotification {
  const key = signer === 'publicKey' ? keys.publicKey.privateKey : keys.platform.privateKey;
  // Same body (same event id) on every attempt, but a fresh timestamp so late retries stay verifiable.
  return { protocol: 'v3', wire: () => resignV3(wire, key) };
}
