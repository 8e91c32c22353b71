/**
 * The refund function's event: camelCase (`outTradeNo`, `outRefundNo`, `refundFen`, `reason`,
 * `subMchId`, `protocol`) or snake_case (`out_trade_no`, `out_refund_no`, `refund_fen`, `sub_mch_id`),
 * read into one validated request. Pure; a bad event is a MALFORMED error whose reason names the field.
 */
import { malformed } from '../errors';
import { eventObject } from '../lambda/event';
import { isMerchantId, isOutTradeNo } from '../orders/model';

/** Which API generation a refund uses. */
export type RefundProtocol = 'v2' | 'v3';

/** The event as callers send it. */
export interface RefundEvent {
  outTradeNo: string;
  outRefundNo: string;
  /** The amount to refund, in fen (a positive integer). */
  refundFen: number;
  reason?: string;
  subMchId?: string;
  protocol?: RefundProtocol;
}

/** A validated refund request. `subMchId` selects the service-provider path. */
export interface RefundCallRequest {
  outTradeNo: string;
  outRefundNo: string;
  refundFen: number;
  reason?: string;
  subMchId?: string;
  protocol?: RefundProtocol;
}

const NAMES = {
  outTradeNo: ['out_trade_no', 'outTradeNo'],
  outRefundNo: ['out_refund_no', 'outRefundNo'],
  refundFen: ['refund_fen', 'refundFen'],
  reason: ['reason'],
  subMchId: ['sub_mch_id', 'subMchId', 'subMchid', 'sub_mchid'],
  protocol: ['protocol'],
} as const;

// WeChat's own limits: a refund reason of at most 80 characters; amounts far below 2^53
const MAX_REASON = 80;
const MAX_FEN = 100_000_000_000;

/** Reads and validates an event; throws MALFORMED naming the offending field. */
export function readRefundRequest(event: unknown): RefundCallRequest {
  const body = eventObject(event);
  const outTradeNo = pickString(body, NAMES.outTradeNo);
  if (outTradeNo === undefined) throw malformed('out_trade_no is required');
  if (!isOutTradeNo(outTradeNo)) throw malformed('out_trade_no must be 1-32 characters of 0-9 A-Z a-z _ - | * @');
  const outRefundNo = pickString(body, NAMES.outRefundNo);
  if (outRefundNo === undefined) throw malformed('out_refund_no is required');
  if (!isOutTradeNo(outRefundNo)) throw malformed('out_refund_no must be 1-32 characters of 0-9 A-Z a-z _ - | * @');
  const refundFen = pickFen(body, NAMES.refundFen);
  const reason = pickString(body, NAMES.reason);
  if (reason !== undefined && ([...reason].length > MAX_REASON || /[\u0000-\u001f\u007f]/.test(reason)))
    throw malformed(`reason must be at most ${MAX_REASON} printable characters`);
  const subMchId = pickString(body, NAMES.subMchId);
  if (subMchId !== undefined && !isMerchantId(subMchId)) throw malformed('sub_mch_id must be digits');
  const protocol = pickString(body, NAMES.protocol);
  if (protocol !== undefined && protocol !== 'v2' && protocol !== 'v3') throw malformed('protocol must be v2 or v3');
  return {
    outTradeNo,
    outRefundNo,
    refundFen,
    ...(reason === undefined ? {} : { reason }),
    ...(subMchId === undefined ? {} : { subMchId }),
    ...(protocol === undefined ? {} : { protocol }),
  };
}

/** The one value the spellings carry (empty counts as absent); disagreeing spellings are refused. */
function pick(body: Record<string, unknown>, names: readonly string[]): unknown {
  let found: unknown;
  for (const name of names) {
    if (!Object.hasOwn(body, name)) continue;
    const value = body[name];
    if (value === undefined || value === null || value === '') continue;
    if (found !== undefined && found !== value) throw malformed(`${names[0]} is given twice with different values`);
    found = value;
  }
  return found;
}

function pickString(body: Record<string, unknown>, names: readonly string[]): string | undefined {
  const value = pick(body, names);
  if (value !== undefined && typeof value !== 'string') throw malformed(`${names[0]} must be a string`);
  return value;
}

/** A positive integer of fen; a decimal string of digits is accepted too (never yuan, never a fraction). */
function pickFen(body: Record<string, unknown>, names: readonly string[]): number {
  const value = pick(body, names);
  if (value === undefined) throw malformed(`${names[0]} is required`);
  const fen = typeof value === 'string' && /^[0-9]{1,12}$/.test(value) ? Number(value) : value;
  if (typeof fen !== 'number' || !Number.isSafeInteger(fen) || fen <= 0 || fen > MAX_FEN)
    throw malformed(`${names[0]} must be a positive integer of fen`);
  return fen;
}
