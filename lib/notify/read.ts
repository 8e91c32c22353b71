/**
 * Reading a notification: choose the protocol by content, verify it, decrypt it and turn it into a
 * notice. Pure (no I/O): the clock and keys come in, a notice or a PayError comes out.
 */
import type { Config } from '../config';
import { configError } from '../errors';
import { decodeUtf8 } from '../text';
import { readV2Payment } from '../wechatpay/v2/notification';
import { readV2Refund } from '../wechatpay/v2/refund';
import { parseXml } from '../wechatpay/v2/xml';
import { openResource, parseEnvelope } from '../wechatpay/v3/notification';
import { readCouponEvent } from '../wechatpay/v3/coupon';
import { readV3Refund, REFUND_EVENTS } from '../wechatpay/v3/refund';
import { readTransaction, transactionNotice } from '../wechatpay/v3/transaction';
import { verifyV3, type HeaderGetter } from '../wechatpay/v3/verify';
import type { Notice } from './notice';

export type Protocol = 'v2' | 'v3';

/** APIv3 when any Wechatpay-* header or a JSON body is present; APIv2 (XML) otherwise. */
export function detectProtocol(header: HeaderGetter, body: Buffer): Protocol {
  if (header('wechatpay-signature') !== undefined || header('wechatpay-serial') !== undefined) return 'v3';
  for (const byte of body) {
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;
    return byte === 0x7b /* { */ ? 'v3' : 'v2';
  }
  return 'v2';
}

/** Verifies and reads one notification of the given protocol; `nowMs` is the injected clock. */
export function readNotice(
  protocol: Protocol,
  header: HeaderGetter,
  body: Buffer,
  config: Config,
  nowMs: number,
): { notice: Notice; eventId?: string } {
  return protocol === 'v3' ? readV3(header, body, config, nowMs) : { notice: readV2(body, config) };
}

function readV2(body: Buffer, config: Config): Notice {
  const fields = parseXml(decodeUtf8(body), 'xml', config.maxBodyBytes);
  // merchants often give one URL for both: a refund result is the message that carries req_info
  if (fields.req_info !== undefined)
    return { kind: 'REFUND', report: readV2Refund(fields, config, config.maxBodyBytes) };
  return readV2Payment(fields, config);
}

function readV3(
  header: HeaderGetter,
  body: Buffer,
  config: Config,
  nowMs: number,
): { notice: Notice; eventId: string } {
  verifyV3(header, body, config.keyRing, Math.floor(nowMs / 1000));
  const envelope = parseEnvelope(body);
  if (config.apiV3Key === undefined) throw configError('WECHATPAY_APIV3_KEY is not set');
  const type = envelope.event_type;
  if (type === 'TRANSACTION.SUCCESS') {
    return {
      notice: transactionNotice(readTransaction(openResource(envelope, config.apiV3Key)), config, 'v3'),
      eventId: envelope.id,
    };
  }
  if (REFUND_EVENTS[type] !== undefined) {
    return {
      notice: { kind: 'REFUND', report: readV3Refund(openResource(envelope, config.apiV3Key), config, type) },
      eventId: envelope.id,
    };
  }
  if (type === 'COUPON.SEND' || type === 'COUPON.USE') {
    const event = readCouponEvent(openResource(envelope, config.apiV3Key), type, config.mchid);
    return { notice: { kind: 'COUPON', event, eventId: envelope.id }, eventId: envelope.id };
  }
  return { notice: { kind: 'IGNORED', reason: `event type ${type.slice(0, 64)} not handled` }, eventId: envelope.id };
}
