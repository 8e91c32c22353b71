/**
 * Coupon callbacks: COUPON.SEND of a merchant coupon (商家券, `EVENT_TYPE_BUSICOUPON_SEND`) and
 * COUPON.USE of a cash coupon (代金券 核销). Both are verified and decrypted like every APIv3
 * notification; this reads the decrypted resource.
 */
import { malformed } from '../../errors';
import { checkFen } from '../../money';
import { rfc3339ToIso } from '../time';
import { isRecord, optStr, str } from './json';

const CODE = /^[0-9A-Za-z_-]{1,64}$/;

/** A merchant coupon received (COUPON.SEND, docs/protocol.md F); times as ISO instants. */
export interface CouponSent {
  kind: 'SENT';
  couponCode: string;
  stockId: string;
  /** `send_merchant`, when WeChat names it. */
  sendMerchant: string | undefined;
  sendTime: string;
  openid: string | undefined;
  sendChannel: string | undefined;
  /** `attach_info.transaction_id`: the payment that earned the coupon, if any. */
  transactionId: string | undefined;
}

/** A cash coupon used (COUPON.USE); amounts in fen, times as ISO instants. */
export interface CouponUsed {
  kind: 'USED';
  couponId: string;
  stockId: string;
  /** `consume_information.consume_mchid`, when WeChat names it. */
  consumeMchid: string | undefined;
  consumeTime: string;
  transactionId: string | undefined;
  couponAmountFen: number | undefined;
}

/** Reads a decrypted coupon resource of the given event type. */
export function readCouponResource(
  resource: Record<string, unknown>,
  eventType: 'COUPON.SEND' | 'COUPON.USE',
): CouponSent | CouponUsed {
  return eventType === 'COUPON.SEND' ? readSend(resource) : readUse(resource);
}

function code(v: string, field: string): string {
  if (!CODE.test(v)) throw malformed(`${field} malformed`);
  return v;
}

function readSend(r: Record<string, unknown>): CouponSent {
  const what = 'coupon';
  if (r.event_type !== undefined && r.event_type !== 'EVENT_TYPE_BUSICOUPON_SEND')
    throw malformed('coupon.event_type is not EVENT_TYPE_BUSICOUPON_SEND');
  const attach = isRecord(r.attach_info) ? r.attach_info : {};
  return {
    kind: 'SENT',
    couponCode: code(str(r, 'coupon_code', what, 64), 'coupon.coupon_code'),
    stockId: code(str(r, 'stock_id', what, 64), 'coupon.stock_id'),
    sendMerchant: optStr(r, 'send_merchant', what, 32),
    sendTime: rfc3339ToIso(str(r, 'send_time', what, 64), 'coupon.send_time'),
    openid: optStr(r, 'openid', what, 128),
    sendChannel: optStr(r, 'send_channel', what, 64),
    transactionId: optStr(attach, 'transaction_id', 'coupon.attach_info', 64),
  };
}

function readUse(r: Record<string, unknown>): CouponUsed {
  const what = 'coupon';
  const consume = r.consume_information;
  if (!isRecord(consume)) throw malformed('coupon.consume_information missing');
  const normal = isRecord(r.normal_coupon_information) ? r.normal_coupon_information : undefined;
  return {
    kind: 'USED',
    couponId: code(str(r, 'coupon_id', what, 64), 'coupon.coupon_id'),
    stockId: code(str(r, 'stock_id', what, 64), 'coupon.stock_id'),
    consumeMchid: optStr(consume, 'consume_mchid', 'coupon.consume_information', 32),
    consumeTime: rfc3339ToIso(
      str(consume, 'consume_time', 'coupon.consume_information', 64),
      'coupon.consume_information.consume_time',
    ),
    transactionId: optStr(consume, 'transaction_id', 'coupon.consume_information', 64),
    couponAmountFen:
      normal?.coupon_amount === undefined
        ? undefined
        : checkFen(normal.coupon_amount, 'coupon.normal_coupon_information.coupon_amount'),
  };
}
