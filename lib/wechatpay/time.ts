/** WeChat's timestamps, converted to ISO-8601 instants. Beijing time is UTC+8 with no daylight saving. */
import { malformed } from '../errors';
import { isoFromMillis } from '../time';

const BEIJING_OFFSET_MS = 8 * 3600 * 1000;
const COMPACT = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/;
const SPACED = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

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
  return isoFromMillis(utc - BEIJING_OFFSET_MS);
}

/**
 * Converts an APIv3 RFC 3339 time with its offset (`…+08:00`) to an instant; the offset is honoured.
 * Read field by field rather than by Date.parse, which would roll 2026-02-30 over to March and read
 * hour 24 as the next midnight, and which costs several times more on every notification.
 */
export function rfc3339ToIso(text: string, field: string): string {
  const ms = rfc3339Millis(text);
  if (ms === undefined) throw malformed(`${field} is not an RFC 3339 time`);
  return isoFromMillis(ms);
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/**
 * `yyyy-MM-ddTHH:mm:ss[.f{1,9}](Z|±HH:mm)` as epoch milliseconds (fractions past the millisecond are
 * dropped), or undefined for anything else, including dates not in the calendar, hour 24, minute or
 * second 60 and offsets of 24 hours or more.
 */
function rfc3339Millis(t: string): number | undefined {
  if (t.length < 20 || t.length > 35) return undefined;
  if (t[4] !== '-' || t[7] !== '-' || t[10] !== 'T' || t[13] !== ':' || t[16] !== ':') return undefined;
  const y = digitsAt(t, 0, 4);
  const mo = digitsAt(t, 5, 2);
  const d = digitsAt(t, 8, 2);
  const h = digitsAt(t, 11, 2);
  const mi = digitsAt(t, 14, 2);
  const s = digitsAt(t, 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return undefined;
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) return undefined;
  let i = 19;
  let ms = 0;
  if (t[i] === '.') {
    const from = i + 1;
    for (i = from; i < t.length && isDigit(t.charCodeAt(i)); i++);
    const n = i - from;
    if (n < 1 || n > 9) return undefined;
    ms = n >= 3 ? digitsAt(t, from, 3) : digitsAt(t, from, n) * (n === 1 ? 100 : 10);
  }
  let offsetMinutes: number;
  if (t[i] === 'Z' && i + 1 === t.length) offsetMinutes = 0;
  else if ((t[i] === '+' || t[i] === '-') && i + 6 === t.length && t[i + 3] === ':') {
    const oh = digitsAt(t, i + 1, 2);
    const om = digitsAt(t, i + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return undefined;
    offsetMinutes = t[i] === '-' ? -(oh * 60 + om) : oh * 60 + om;
  } else return undefined;
  return daysFromCivil(y, mo, d) * DAY_MS + (h * 60 + mi - offsetMinutes) * MINUTE_MS + s * 1000 + ms;
}

/** The decimal number written by the `n` characters of `t` from `from`; -1 when one is not a digit. */
function digitsAt(t: string, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const c = t.charCodeAt(i);
    if (!isDigit(c)) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function daysInMonth(y: number, mo: number): number {
  if (mo === 2) return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28;
  return mo === 4 || mo === 6 || mo === 9 || mo === 11 ? 30 : 31;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (years 0-9999; Date.UTC would read 0-99 as 19xx). */
function daysFromCivil(y: number, mo: number, d: number): number {
  const year = mo <= 2 ? y - 1 : y;
  const era = Math.floor(year / 400);
  const yearOfEra = year - era * 400;
  const dayOfYear = Math.floor((153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5) + d - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}
