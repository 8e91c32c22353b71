/**
 * Instants as ISO-8601 text, written without a Date: every delivery turns three or more instants into
 * text (WeChat's payment time, the write's own time, the log line's), and Date#toISOString costs about
 * three times this arithmetic.
 */

const DAY_MS = 86_400_000;
/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the years toISOString writes with four digits. */
const MIN_MS = -62_167_219_200_000;
const MAX_MS = 253_402_300_799_999;

const two = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

/**
 * `ms` since the epoch exactly as `new Date(ms).toISOString()` writes it (`yyyy-MM-ddTHH:mm:ss.SSSZ`).
 * Whole milliseconds in years 0-9999 are written here; anything else (a fraction, a six-digit year, a
 * value Date rejects) is left to Date itself, so the text and the errors are always Date's.
 */
export function isoFromMillis(ms: number): string {
  if (!Number.isInteger(ms) || ms < MIN_MS || ms > MAX_MS) return new Date(ms).toISOString();
  const days = Math.floor(ms / DAY_MS);
  let rest = ms - days * DAY_MS;
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  const second = Math.floor(rest / 1000);
  const milli = rest - second * 1000;
  // the proleptic Gregorian date of a day number, by 400-year eras whose years start on March 1
  const shifted = days + 719_468;
  const era = Math.floor(shifted / 146_097);
  const dayOfEra = shifted - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const marchMonth = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * marchMonth + 2) / 5) + 1;
  const month = marchMonth < 10 ? marchMonth + 3 : marchMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const yyyy = year < 10 ? `000${year}` : year < 100 ? `00${year}` : year < 1000 ? `0${year}` : `${year}`;
  const fraction = milli < 10 ? `00${milli}` : milli < 100 ? `0${milli}` : `${milli}`;
  return `${yyyy}-${two(month)}-${two(day)}T${two(hour)}:${two(minute)}:${two(second)}.${fraction}Z`;
}
