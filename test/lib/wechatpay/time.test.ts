import { describe, it, expect } from 'vitest';
import { thrownPayError } from '../../support/errors';
import fc from 'fast-check';
import { beijingToIso, rfc3339ToIso } from '../../../lib/wechatpay/time';
import { beijingCompact, beijingDateTime, rfc3339Beijing } from '../../../scripts/simulator/messages';

const malformedOf = (f: () => unknown) => thrownPayError(f, 'MALFORMED');

/** Whole-second instants between 1971 and 2099. */
const instant = fc.integer({ min: 31_536_000, max: 4_102_444_799 }).map((s) => new Date(s * 1000));

describe('beijingToIso (APIv2 time_end, success_time)', () => {
  it.each([
    ['20261123080000', '2026-11-23T00:00:00.000Z'],
    ['2026-11-23 08:00:00', '2026-11-23T00:00:00.000Z'],
    ['20261123100000', '2026-11-23T02:00:00.000Z'],
    ['20260101000000', '2025-12-31T16:00:00.000Z'],
    ['20260101075959', '2025-12-31T23:59:59.000Z'],
    ['20240229235959', '2024-02-29T15:59:59.000Z'],
    ['20000229120000', '2000-02-29T04:00:00.000Z'],
    ['19700101080000', '1970-01-01T00:00:00.000Z'],
  ])('reads %s as Beijing time (UTC+8): %s', (text, iso) => {
    expect(beijingToIso(text, 'time_end')).toBe(iso);
  });

  it.each([
    '20260230120000', // 30 February
    '20260229120000', // 2026 is not a leap year
    '21000229120000', // nor is 2100
    '20260431120000', // 31 April
    '20261301120000', // month 13
    '20260001120000', // month 0
    '20260100120000', // day 0
    '20261123240000', // hour 24
    '20261123126000', // minute 60
    '20261123120060', // second 60
    '00990101120000', // a two-digit year Date.UTC would read as 1999
    '2026112308000', // 13 digits
    '202611230800000', // 15 digits
    '2026-11-23T08:00:00', // ISO form
    '2026-11-23 08:00:00+08:00', // with an offset
    '2026/11/23 08:00:00',
    '2026-11-23  08:00:00',
    ' 20261123080000',
    '20261123080000 ',
    '２０２６１１２３０８００００',
    '',
  ])('rejects %j, naming the field', (text) => {
    expect(malformedOf(() => beijingToIso(text, 'time_end')).reason).toContain('time_end');
  });

  it('property: reads back the simulator compact and spaced forms of any instant', () => {
    fc.assert(
      fc.property(instant, (date) => {
        expect(beijingToIso(beijingCompact(date), 'time_end')).toBe(date.toISOString());
        expect(beijingToIso(beijingDateTime(date), 'success_time')).toBe(date.toISOString());
      }),
      { numRuns: 500 },
    );
  });
});

describe('rfc3339ToIso (APIv3 success_time, create_time)', () => {
  it.each([
    ['2015-05-20T13:29:35+08:00', '2015-05-20T05:29:35.000Z'],
    ['2026-11-23T08:00:00+08:00', '2026-11-23T00:00:00.000Z'],
    ['2026-11-23T00:00:00Z', '2026-11-23T00:00:00.000Z'],
    ['2026-11-23T00:00:00+00:00', '2026-11-23T00:00:00.000Z'],
    ['2026-11-22T19:00:00-05:00', '2026-11-23T00:00:00.000Z'],
    ['2026-11-23T05:30:00+05:30', '2026-11-23T00:00:00.000Z'],
    ['2026-01-01T07:59:59+08:00', '2025-12-31T23:59:59.000Z'],
    ['2026-11-23T08:00:00.123+08:00', '2026-11-23T00:00:00.123Z'],
    ['2026-11-23T08:00:00.5+08:00', '2026-11-23T00:00:00.500Z'],
    ['2024-02-29T08:00:00+08:00', '2024-02-29T00:00:00.000Z'],
  ])('honours the offset of %s', (text, iso) => {
    expect(rfc3339ToIso(text, 'success_time')).toBe(iso);
  });

  it.each([
    '2026-11-23T08:00:00', // no offset: ambiguous
    '2026-11-23 08:00:00+08:00',
    '2026-11-23T08:00+08:00',
    '2026-11-23T08:00:00+0800',
    '2026-11-23T08:00:00+8:00',
    '20261123080000',
    '2026-02-30T08:00:00+08:00', // Date.parse would roll this over to March
    '2026-02-29T08:00:00+08:00',
    '2026-04-31T08:00:00+08:00',
    '2026-13-01T08:00:00+08:00',
    '2026-11-23T24:00:00+08:00', // Date.parse would read this as the next midnight
    '2026-11-23T08:60:00+08:00',
    '2026-11-23T08:00:60+08:00',
    '2026-11-23T08:00:00+24:00',
    'not a time',
    '',
  ])('rejects %j, naming the field', (text) => {
    expect(malformedOf(() => rfc3339ToIso(text, 'success_time')).reason).toContain('success_time');
  });

  it('property: reads back the simulator +08:00 form of any instant', () => {
    fc.assert(
      fc.property(instant, (date) => {
        expect(rfc3339ToIso(rfc3339Beijing(date), 'success_time')).toBe(date.toISOString());
      }),
      { numRuns: 500 },
    );
  });

  it('property: any offset is honoured, not dropped (ruoyi-vue-pro#913)', () => {
    const offsetMinutes = fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 });
    fc.assert(
      fc.property(instant, offsetMinutes, (date, offset) => {
        const local = new Date(date.getTime() + offset * 60_000).toISOString().slice(0, 19);
        const abs = Math.abs(offset);
        const text = `${local}${offset < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
        expect(rfc3339ToIso(text, 't')).toBe(date.toISOString());
      }),
      { numRuns: 500 },
    );
  });
});
