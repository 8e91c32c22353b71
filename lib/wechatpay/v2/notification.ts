/**
 * APIv2 payment-result notifications: verify the signature over every received field, check the
 * merchant ids, and turn the message into a payment report (amounts in fen, time as an instant).
 */
import { configError, inconsistent, malformed, unauthentic } from '../../errors';
import { parseFen } from '../../money';
import { isOutTradeNo } from '../../orders/model';
import type { Notice } from '../../notify/notice';
import { beijingToIso } from '../time';
import { verifyV2 } from './sign';
import type { Fields } from './xml';

export interface V2Merchant {
  apiV2Key: string | undefined;
  mchid: string;
  appid: string;
}

/** Verifies a parsed APIv2 payment notification and reads it as a notice. */
export function readV2Payment(fields: Fields, merchant: V2Merchant): Notice {
  if (fields.return_code !== 'SUCCESS') throw malformed('return_code is not SUCCESS');
  if (merchant.apiV2Key === undefined) throw configError('WECHATPAY_APIV2_KEY is not set');
  if (!verifyV2(fields, merchant.apiV2Key)) throw unauthentic('sign mismatch');
  if (fields.mch_id !== merchant.mchid) throw inconsistent('mch_id does not match', { field: 'mch_id' });
  if (fields.appid !== merchant.appid) throw inconsistent('appid does not match', { field: 'appid' });

  const outTradeNo = fields.out_trade_no;
  if (!isOutTradeNo(outTradeNo)) throw malformed('out_trade_no missing or malformed');
  if (fields.result_code !== 'SUCCESS') return { kind: 'IGNORED', reason: 'result_code is not SUCCESS', outTradeNo };

  const transactionId = fields.transaction_id;
  if (!transactionId || transactionId.length > 64) throw malformed('transaction_id missing or malformed');
  const subMchId = fields.sub_mch_id;
  if (subMchId !== undefined && subMchId !== '' && !/^\d{1,32}$/.test(subMchId))
    throw malformed('sub_mch_id malformed');
  return {
    kind: 'PAYMENT',
    report: {
      outTradeNo,
      merchantId: subMchId ? subMchId : merchant.mchid,
      transactionId,
      amountFen: parseFen(fields.total_fee ?? '', 'total_fee'),
      paidAt: beijingToIso(fields.time_end ?? '', 'time_end'),
      channel: 'v2',
    },
  };
}
