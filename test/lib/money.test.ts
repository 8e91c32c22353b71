import { describe, it, expect } from 'vitest';
import { thrownPayError } from '../support/errors';
import fc from 'fast-check';
import { checkFen, fenToYuan, parseFen, yuanToFen } from '../../lib/money';

const malformedOf = (f: () => unknown) => thrownPayError(f, 'MALFORMED');

/** Exact reference conversion with BigInt: whole * 100 + the first two decimals. */
function referenceFen(whole: string, frac: string): bigint {
  return BigInt(whole) * 100n + BigInt(frac.padEnd(2, '0').slice(0, 2) || '0');
}

const NOT_NUMBERS = [
  '',
  ' ',
  '-1',
  '+1',
  '1e3',
  '1E3',
  ' 1',
  '1 ',
  '\t1',
  '1\n',
  '0x10',
  'NaN',
  'Infinity',
  '１',
  '1_000',
  '1,000',
  'abc',
];

describe('parseFen (APIv2 total_fee)', () => {
  it('reads integer fen text exactly, leading zeros included', () => {
    expect(parseFen('0', 'total_fee')).toBe(0);
    expect(parseFen('1', 'total_fee')).toBe(1);
    expect(parseFen('007', 'total_fee')).toBe(7);
    expect(parseFen('1990', 'total_fee')).toBe(1990);
    expect(parseFen('999999999999999', 'total_fee')).toBe(999_999_999_999_999);
  });

  it.each([...NOT_NUMBERS, '1.0', '9.8', '1000000000000000'])('rejects %j, naming the field', (text) => {
    expect(malformedOf(() => parseFen(text, 'total_fee')).reason).toContain('total_fee');
  });

  it('property: reads back every integer it could be sent', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999_999_999_999 }), (fen) => {
        expect(parseFen(String(fen), 'f')).toBe(fen);
      }),
    );
  });
});

describe('checkFen (APIv3 amount.total)', () => {
  it('accepts non-negative safe integers', () => {
    for (const v of [0, 1, 980, 1990, Number.MAX_SAFE_INTEGER]) expect(checkFen(v, 'amount.total')).toBe(v);
  });

  it.each([
    [-1],
    [0.5],
    [9.8],
    [1990.0000000000002],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [2 ** 53],
    ['1990'],
    [null],
    [undefined],
    [{}],
    [[1]],
    [true],
    [-0.1],
  ])('rejects %j, naming the field', (v) => {
    expect(malformedOf(() => checkFen(v, 'amount.total')).reason).toContain('amount.total');
  });
});

describe('yuanToFen (aggregator amounts)', () => {
  it.each([
    ['9.8', 980],
    ['19.9', 1990],
    ['0.12', 12],
    ['1.000', 100],
    ['1.10', 110],
    ['0.01', 1],
    ['0.1', 10],
    ['0', 0],
    ['0.00', 0],
    ['7', 700],
    ['12.30', 1230],
    ['007.50', 750],
    ['1.2000', 120],
    ['90071992547409.91', Number.MAX_SAFE_INTEGER],
  ])('%s yuan is %i fen', (text, fen) => {
    expect(yuanToFen(text, 'amount')).toBe(fen);
  });

  it('refuses a fraction of a fen instead of rounding it away', () => {
    for (const text of ['1.005', '0.001', '19.999', '1.0001', '0.125']) {
      expect(malformedOf(() => yuanToFen(text, 'real_amount')).reason).toContain('real_amount');
    }
  });

  it.each([...NOT_NUMBERS, '.5', '1.', '-0.5', '1..0', '1.2.3', '¥1'])('rejects %j, naming the field', (text) => {
    expect(malformedOf(() => yuanToFen(text, 'amount')).reason).toContain('amount');
  });

  it('rejects amounts beyond the safe integer range', () => {
    for (const text of ['90071992547409.92', '99999999999999', '100000000000000', '1'.repeat(30)]) {
      malformedOf(() => yuanToFen(text, 'amount'));
    }
  });

  it('property: decimal strings with up to two places convert exactly', () => {
    const whole = fc.stringMatching(/^\d{1,13}$/);
    const frac = fc.stringMatching(/^\d{0,2}$/);
    fc.assert(
      fc.property(whole, frac, fc.nat({ max: 3 }), (w, f, zeros) => {
        const text = f === '' && zeros === 0 ? w : `${w}.${f}${'0'.repeat(zeros)}`;
        fc.pre(!text.endsWith('.'));
        expect(BigInt(yuanToFen(text, 'amount'))).toBe(referenceFen(w, f));
      }),
      { numRuns: 1000 },
    );
  });

  it('property: two-place amounts come out exact where float arithmetic is off by one fen', () => {
    // the classic bugs: 9.8 * 100 = 980.0000000000001, intval(19.9 * 100) = 1989
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), (fen) => {
        const text = `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
        expect(yuanToFen(text, 'amount')).toBe(fen);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('fenToYuan', () => {
  it.each([
    [0, '0.00'],
    [1, '0.01'],
    [5, '0.05'],
    [50, '0.50'],
    [99, '0.99'],
    [100, '1.00'],
    [980, '9.80'],
    [1990, '19.90'],
    [123456789, '1234567.89'],
    [Number.MAX_SAFE_INTEGER, '90071992547409.91'],
  ])('%i fen is %s yuan', (fen, text) => {
    expect(fenToYuan(fen)).toBe(text);
  });

  it('rejects what is not a non-negative safe integer', () => {
    for (const v of [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])
      expect(() => fenToYuan(v)).toThrow(RangeError);
  });

  it('property: yuanToFen(fenToYuan(fen)) === fen for every safe fen amount', () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat({ max: 1_000_000 }), fc.maxSafeNat()), (fen) => {
        const text = fenToYuan(fen);
        expect(text).toMatch(/^\d+\.\d{2}$/);
        expect(yuanToFen(text, 'amount')).toBe(fen);
      }),
      { numRuns: 1000 },
    );
  });
});
