/** WeChat's timestamps, converted to ISO-8601 instants. Beijing time is UTC+8 with no daylight saving. */
import { malformed } from '../errors';

const BEIJING_OFFSET_MS = 8 * 3600 * 1000;
const COMPACT = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/;
const SPACED = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/** Converts APIv2 Beijing wall-clock time (`yyyyMMddHHmmss` or `yyyy-MM-dd HH:mm:ss`) to an instant. */
export function beijingToIso(text: string, field: string): string {
  const m = COMPACT.exec(text) ?? SPACED.exec(text);
  if (!m) throw malformed(`${field} is not a Beijing time`);
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const utc = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(utc);
  // Date.UTC reads years 0-99 as 1900-1999, so the year is checked too
  if (
    back.getUTCFullYear() !== y ||
    back.getUTCMonth() !== mo - 1 ||
    back.getUTCDate() !== d ||
    h > 23 ||
    mi > 59 ||
    s > 59
  ) {
    throw malformed(`${field} is not a valid date`);
  }
  return new Date(utc - BEIJING_OFFSET_MS).toISOString();
}

/** Converts an APIv3 RFC 3339 time with its offset (`…+08:00`) to an instant; the offset is honoured. */
export function rfc3339ToIso(text: string, field: string): string {
  const m = RFC3339.exec(text);
  // Date.parse rolls 2026-02-30 over to March and reads hour 24 as the next midnight: reject both
  const t =
    m && isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3])) && Number(m[4]) <= 23 ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(t)) throw malformed(`${field} is not an RFC 3339 time`);
  return new Date(t).toISOString();
}

function isCalendarDate(y: number, mo: number, d: number): boolean {
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}
