/**
 * isoFromMillis against the reference it replaces: Date#toISOString, over the whole four-digit-year
 * range, its two ends, and what it leaves to Date (fractions, six-digit years, values Date rejects).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoFromMillis } from '../../lib/time';

const FIRST = Date.parse('0000-01-01T00:00:00.000Z');
const LAST = Date.parse('9999-12-31T23:59:59.999Z');

describe('isoFromMillis', () => {
  it('property: the text Date#toISOString writes, for every whole millisecond of years 0-9999', () => {
    fc.assert(
      fc.property(fc.integer({ min: FIRST, max: LAST }), (ms) => {
        expect(isoFromMillis(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 20_000 },
    );
  });

  it('property: near the instants where a written field rolls over (days, months, leap days, centuries, year widths)', () => {
    const boundary = fc.constantFrom(
      '1970-01-01T00:00:00.000Z',
      '2000-02-29T23:59:59.999Z',
      '1900-03-01T00:00:00.000Z',
      '2026-12-31T23:59:59.999Z',
      '0000-03-01T00:00:00.000Z',
      '0400-02-29T12:00:00.000Z',
      '9999-12-31T23:59:59.999Z',
      '0000-01-01T00:00:00.000Z',
      // where the year's zero padding changes width: 0009 → 0010, 0099 → 0100, 0999 → 1000
      '0010-01-01T00:00:00.000Z',
      '0100-01-01T00:00:00.000Z',
      '1000-01-01T00:00:00.000Z',
    );
    fc.assert(
      fc.property(boundary, fc.integer({ min: -3 * 86_400_000, max: 3 * 86_400_000 }), (at, delta) => {
        const ms = Date.parse(at) + delta;
        if (ms < FIRST || ms > LAST) return;
        expect(isoFromMillis(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 20_000 },
    );
  });

  it("outside what it writes itself, Date's own text and Date's own error", () => {
    for (const ms of [FIRST - 1, LAST + 1, 8.64e15, -8.64e15, 1.5, -0.5, -0]) {
      expect(isoFromMillis(ms)).toBe(new Date(ms).toISOString());
    }
    expect(isoFromMillis(FIRST - 1)).toBe('-000001-12-31T23:59:59.999Z');
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 8.64e15 + 1]) {
      expect(() => isoFromMillis(bad)).toThrow(RangeError);
    }
  });
});
