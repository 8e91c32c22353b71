/**
 * APIv2 payment-result notifications (docs/protocol.md A): verify the signature over every received
 * field, check the merchant ids, and read the result (amounts in fen, time as an instant).
 */
import { configError, inconsistent, malformed, unauthentic } from '../../errors';
import { parseFen } from '../../money';
import { isOutTradeNo } from '../../orders/model';
import { beijingToIso } from '../time';
import { verifyV2 } from './sign';
import type { Fields } from './xml';

/** Our own ids and key, which every APIv2 message is checked against. */
export interface V2Merchant {
  apiV2Key: string | undefined;
  mchid: string;
  /** Every appid the merchant serves: a message may carry any of them. */
  appids: readonly string[];
}

/** A verified APIv2 payment result: paid (`result_code` SUCCESS, every field a payment needs) or not. */
export type V2PaymentResult =
  | {
      paid: true;
      outTradeNo: string;
      /** Set in service-provider mode. */
      subMchId: string | undefined;
      transactionId: string;
      totalFen: number;
      /** `time_end` as an ISO instant. */
      paidAt: string;
    }
  | { paid: false; outTradeNo: string };

/** Verifies a parsed APIv2 payment notification and reads its result. */
export function readV2Payment(fields: Fields, merchant: V2Merchant): V2PaymentResult {
  if (fields.return_code !== 'SUCCESS') throw malformed('return_code is not SUCCESS');
  if (merchant.apiV2Key === undefined) throw configError('WECHATPAY_APIV2_KEY is not set');
  if (!verifyV2(fields, merchant.apiV2Key)) throw unauthentic('sign mismatch');
  if (fields.mch_id !== merchant.mchid) throw inconsistent('mch_id does not match', { field: 'mch_id' });
  if (!merchant.appids.includes(fields.appid ?? '')) throw inconsistent('appid does not match', { field: 'appid' });

  const outTradeNo = fields.out_trade_no;
  if (!isOutTradeNo(outTradeNo)) throw malformed('out_trade_no missing or malformed');
  if (fields.result_code !== 'SUCCESS') return { paid: false, outTradeNo };

  const transactionId = fields.transaction_id;
  if (!transactionId || transactionId.length > 64) throw malformed('transaction_id missing or malformed');
  const subMchId = fields.sub_mch_id;
  if (subMchId !== undefined && subMchId !== '' && !/^\d{1,32}$/.test(subMchId))
    throw malformed('sub_mch_id malformed');
  return {
    paid: true,
    outTradeNo,
    subMchId: subMchId ? subMchId : undefined,
    transactionId,
    totalFen: parseFen(fields.total_fee ?? '', 'total_fee'),
    paidAt: beijingToIso(fields.time_end ?? '', 'time_end'),
  };
}
