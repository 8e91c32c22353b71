/**
 * Coupon callbacks: COUPON.SEND of a merchant coupon (商家券, `EVENT_TYPE_BUSICOUPON_SEND`) and
 * COUPON.USE of a cash coupon (代金券 核销). Both are verified and decrypted like every APIv3
 * notification; this reads the decrypted resource.
 */
import { malformed } from '../../errors';
import { checkFen } from '../../money';
import type { CouponEvent } from '../../orders/model';
import { rfc3339ToIso } from '../time';
import { isRecord, optStr, str } from './json';

const CODE = /^[0-9A-Za-z_-]{1,64}$/;

/** Reads a decrypted coupon resource of the given event type as a coupon event. */
export function readCouponEvent(
  resource: Record<string, unknown>,
  eventType: 'COUPON.SEND' | 'COUPON.USE',
  fallbackMchid: string,
): CouponEvent {
  return eventType === 'COUPON.SEND' ? readSend(resource, fallbackMchid) : readUse(resource, fallbackMchid);
}

function code(v: string, field: string): string {
  if (!CODE.test(v)) throw malformed(`${field} malformed`);
  return v;
}

function readSend(r: Record<string, unknown>, fallbackMchid: string): CouponEvent {
  const what = 'coupon';
  if (r.event_type !== undefined && r.event_type !== 'EVENT_TYPE_BUSICOUPON_SEND')
    throw malformed('coupon.event_type is not EVENT_TYPE_BUSICOUPON_SEND');
  const attach = isRecord(r.attach_info) ? r.attach_info : {};
  return {
    kind: 'SENT',
    couponCode: code(str(r, 'coupon_code', what, 64), 'coupon.coupon_code'),
    stockId: code(str(r, 'stock_id', what, 64), 'coupon.stock_id'),
    merchantId: optStr(r, 'send_merchant', what, 32) ?? fallbackMchid,
    at: rfc3339ToIso(str(r, 'send_time', what, 64), 'coupon.send_time'),
    openid: optStr(r, 'openid', what, 128),
    channel: optStr(r, 'send_channel', what, 64),
    transactionId: optStr(attach, 'transaction_id', 'coupon.attach_info', 64),
    amountFen: undefined,
  };
}

function readUse(r: Record<string, unknown>, fallbackMchid: string): CouponEvent {
  const what = 'coupon';
  const consume = r.consume_information;
  if (!isRecord(consume)) throw malformed('coupon.consume_information missing');
  const normal = isRecord(r.normal_coupon_information) ? r.normal_coupon_information : undefined;
  return {
    kind: 'USED',
    couponCode: code(str(r, 'coupon_id', what, 64), 'coupon.coupon_id'),
    stockId: code(str(r, 'stock_id', what, 64), 'coupon.stock_id'),
    merchantId: optStr(consume, 'consume_mchid', 'coupon.consume_information', 32) ?? fallbackMchid,
    at: rfc3339ToIso(
      str(consume, 'consume_time', 'coupon.consume_information', 64),
      'coupon.consume_information.consume_time',
    ),
    openid: undefined,
    channel: undefined,
    transactionId: optStr(consume, 'transaction_id', 'coupon.consume_information', 64),
    amountFen:
      normal?.coupon_amount === undefined
        ? undefined
        : checkFen(normal.coupon_amount, 'coupon.normal_coupon_information.coupon_amount'),
  };
}
