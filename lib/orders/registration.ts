/**
 * Orders checked where they enter: the one function that decides whether a registration may be
 * written. A bad amount, order number, merchant id, time or expiry is refused with a MALFORMED error
 * naming the field, before any request reaches the table. Pure.
 */
import { malformed } from '../errors';
import { isMerchantId, isOutTradeNo, type OrderRegistration } from './model';

/** A registration that passed the checks, with `createdAt` as a UTC ISO-8601 instant (…Z). */
export type CheckedRegistration = OrderRegistration & { createdAt: string };

// a full date and time with an explicit offset: a time without one means a different instant on
// every machine, and a date alone is no creation time
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:?\d{2})$/;

/**
 * Checks a registration and normalises its time; `now` is the ISO instant used when none is given.
 * Fields this function does not know are passed through unchanged.
 */
export function checkRegistration(input: OrderRegistration, now: () => string): CheckedRegistration {
  if (typeof input !== 'object' || input === null) throw malformed('the registration must be an object');
  const { amountFen, outTradeNo, merchantId, createdAt, expiresAt } = input as unknown as Partial<
    Record<string, unknown>
  >;
  if (typeof amountFen !== 'number' || !Number.isSafeInteger(amountFen) || amountFen <= 0) {
    // 9.8 * 100 is 980.0000000000001: stored, it would make the authentic 980-fen payment a mismatch
    throw malformed('amountFen must be a whole, positive number of fen (a safe integer)', { field: 'amountFen' });
  }
  if (!isOutTradeNo(outTradeNo)) {
    throw malformed('outTradeNo must be 1-32 characters of 0-9 A-Z a-z _ - | * @', { field: 'outTradeNo' });
  }
  if (!isMerchantId(merchantId)) throw malformed('merchantId must be 1-32 digits', { field: 'merchantId' });
  if (
    expiresAt !== undefined &&
    (typeof expiresAt !== 'number' || !Number.isSafeInteger(expiresAt) || expiresAt <= 0)
  ) {
    throw malformed('expiresAt must be whole epoch seconds', { field: 'expiresAt' });
  }
  const { appid, combineOutTradeNo, channel } = input as unknown as Partial<Record<string, unknown>>;
  if (channel !== undefined && channel !== 'wechatpay' && channel !== 'aggregator') {
    throw malformed('channel must be wechatpay or aggregator', { field: 'channel' });
  }
  if (appid !== undefined && (typeof appid !== 'string' || !/^[A-Za-z0-9_]{1,32}$/.test(appid))) {
    throw malformed('appid must be 1-32 characters of 0-9 A-Z a-z _', { field: 'appid' });
  }
  if (combineOutTradeNo !== undefined && !isOutTradeNo(combineOutTradeNo)) {
    throw malformed('combineOutTradeNo must be 1-32 characters of 0-9 A-Z a-z _ - | * @', {
      field: 'combineOutTradeNo',
    });
  }
  const at = createdAt === undefined ? now() : utcInstant(createdAt);
  return { ...input, createdAt: at };
}

/** An ISO-8601 date-time with an offset, as the UTC instant `toISOString` writes; MALFORMED otherwise. */
export function utcInstant(text: unknown): string {
  const refuse = () =>
    malformed('createdAt must be an ISO-8601 date and time with an offset (e.g. 2026-11-23T10:00:00+08:00)', {
      field: 'createdAt',
    });
  if (typeof text !== 'string') throw refuse();
  const m = ISO_INSTANT.exec(text);
  if (!m) throw refuse();
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  // Date.UTC rolls 31 February over into March: a date that does not round-trip does not exist
  const civil = new Date(Date.UTC(year, month - 1, day));
  const real =
    civil.getUTCFullYear() === year &&
    civil.getUTCMonth() === month - 1 &&
    civil.getUTCDate() === day &&
    hour < 24 &&
    minute < 60 &&
    second < 60 &&
    year >= 1970;
  const ms = Date.parse(text.replace(' ', 'T'));
  if (!real || Number.isNaN(ms)) throw refuse();
  return new Date(ms).toISOString();
}
