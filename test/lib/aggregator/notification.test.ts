/**
 * The aggregator's notification, read against the independent sender in scripts/simulator/aggregator.ts:
 * envelope (form and JSON), every signature construction, exact text of status, ids and amounts,
 * hostile input; read through lib/notify/read.ts, so each case also checks the payment it becomes.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config';
import { PayError, type ErrorKind } from '../../../lib/errors';
import {
  AGGREGATOR_FAILURES,
  parseAggregatorBody,
  readAggregatorMessage,
  type AggregatorSettings,
} from '../../../lib/aggregator/notification';
import { AGGREGATOR_SIGN_MODES, signAggregator, type AggregatorSignMode } from '../../../lib/aggregator/sign';
import type { AggregatorNotice } from '../../../lib/notify/notice';
import { readAggregatorNotification } from '../../../lib/notify/read';
import {
  aggregatorNotification,
  aggregatorResult,
  aggregatorSign,
  type AggregatorResultFields,
} from '../../../scripts/simulator/aggregator';
import { generateTestKeys, toEnv } from '../../../scripts/simulator/keys';
import type { WireRequest } from '../../../scripts/simulator/messages';

const SECRET = 'agg-secret-0123456789abcdef';
const NOW = Date.parse('2026-11-23T04:05:06.789Z');
const settings: AggregatorSettings & { mchid: string } = {
  aggregatorSecret: SECRET,
  aggregatorSignMode: 'sorted-md5',
  mchid: '1900000109',
  maxBodyBytes: 65536,
};

const fields = (o: Partial<AggregatorResultFields> = {}): AggregatorResultFields => ({
  transactionid: '1234567890123456789',
  orderid: 'ORDER20261123001',
  amount: '19.9',
  real_amount: '19.9',
  custom: 'hello',
  ...o,
});

const read = (wire: WireRequest | string, s: AggregatorSettings & { mchid: string } = settings): AggregatorNotice =>
  readAggregatorNotification(Buffer.from(typeof wire === 'string' ? wire : wire.body, 'utf8'), s, NOW);

function kindOf(f: () => unknown): ErrorKind {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(PayError);
    return (err as PayError).kind;
  }
  throw new Error('expected a PayError, nothing was thrown');
}

/** A body signed over `result` exactly as given, in either encoding. */
const signed = (result: string, o: { status?: string; format?: 'form' | 'json'; mode?: AggregatorSignMode } = {}) =>
  aggregatorNotification({ secret: SECRET, result, ...o });

describe('a status 10000 notification', () => {
  it.each(['form', 'json'] as const)('becomes an aggregator payment report (%s body)', (format) => {
    const n = read(signed(aggregatorResult(fields()), { format }));
    expect(n).toEqual({
      kind: 'PAYMENT',
      result: {
        transactionId: '1234567890123456789',
        orderId: 'ORDER20261123001',
        amountText: '19.9',
        realAmountText: '19.9',
        custom: 'hello',
      },
      report: {
        outTradeNo: 'ORDER20261123001',
        merchantId: '1900000109',
        transactionId: 'AGG-1234567890123456789',
        amountFen: 1990,
        creditedFen: 1990,
        paidAt: '2026-11-23T04:05:06.789Z',
        channel: 'aggregator',
      },
    });
  });

  it('keeps a trade id beyond 2^53 digit for digit', () => {
    for (const tx of ['9007199254740993', '9223372036854775807', '18446744073709551615']) {
      const n = read(signed(aggregatorResult(fields({ transactionid: tx }))));
      expect(n.kind === 'PAYMENT' && n.report.transactionId).toBe(`AGG-${tx}`);
    }
    expect(String(JSON.parse('9007199254740993'))).not.toBe('9007199254740993');
  });

  it('reads status sent as a JSON number or a JSON string', () => {
    const result = aggregatorResult(fields());
    for (const statusAsString of [false, true]) {
      const wire = aggregatorNotification({ secret: SECRET, result, format: 'json', statusAsString });
      expect(read(wire).kind).toBe('PAYMENT');
    }
  });

  it.each([
    ['19.9', 1990],
    ['19.90', 1990],
    ['0.07', 7],
    ['0.1', 10],
    ['0.3', 30],
    ['1.10', 110],
    ['20.0', 2000],
    ['20', 2000],
    ['0', 0],
    ['90071992547409.91', Number.MAX_SAFE_INTEGER],
  ])('converts real_amount %s to %i fen exactly', (text, fen) => {
    const n = read(signed(aggregatorResult(fields({ real_amount: text, amount: text }))));
    expect(n.kind === 'PAYMENT' && n.report.amountFen).toBe(fen);
  });

  it('compares amount (what was submitted) and records real_amount (what was credited) beside it', () => {
    const n = read(signed(aggregatorResult(fields({ amount: '20.00', real_amount: '19.98' }))));
    expect(n.kind === 'PAYMENT' && [n.report.amountFen, n.report.creditedFen]).toEqual([2000, 1998]);
    // the submitted amount is what the registration holds: a fraction of a fen cannot be it
    expect(() => read(signed(aggregatorResult(fields({ amount: '20.0049', real_amount: '19.98' }))))).toThrow(
      /fraction of a fen/,
    );
  });

  it('accepts amounts sent as JSON strings, an absent or null custom, and any key order and spacing', () => {
    const result =
      ' { "custom" : null , "real_amount" : "5.00", "amount":"5", "orderid":"A_1-b", "transactionid":"77" } ';
    const n = read(signed(result));
    expect(n.kind === 'PAYMENT' && [n.report.amountFen, n.report.transactionId, n.result.custom]).toEqual([
      500,
      'AGG-77',
      '',
    ]);
    expect(read(signed('{"transactionid":1,"orderid":"X1","amount":1,"real_amount":1}')).kind).toBe('PAYMENT');
  });

  it('property: the fen of any decimal with at most two places comes out exact from its JSON number text', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 90_071_992_547_408n }), fc.stringMatching(/^\d{0,2}$/), (whole, frac) => {
        const text = frac === '' ? String(whole) : `${whole}.${frac}`;
        const n = read(signed(aggregatorResult(fields({ real_amount: text, amount: text }))));
        const expected = whole * 100n + BigInt(frac.padEnd(2, '0'));
        expect(n.kind === 'PAYMENT' && BigInt(n.report.amountFen)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('floating point would get these wrong; the exact text does not', () => {
    expect(Math.round(19.9 * 100) === 1990 && 19.9 * 100 !== 1990).toBe(true);
    expect(0.1 + 0.2).not.toBe(0.3);
    for (const [text, fen] of [
      ['19.9', 1990],
      ['0.29', 29],
      ['1.15', 115],
      ['4.35', 435],
    ] as const) {
      const n = read(signed(aggregatorResult(fields({ amount: text, real_amount: text }))));
      expect(n.kind === 'PAYMENT' && [n.report.amountFen, n.report.creditedFen]).toEqual([fen, fen]);
    }
  });
});

describe('the signature', () => {
  it('default construction is the APIv2 rule over exactly {result, status}', () => {
    const result = '{"a":1}';
    const expected = createHash('md5')
      .update(`result=${result}&status=10000&key=${SECRET}`, 'utf8')
      .digest('hex')
      .toUpperCase();
    expect(signAggregator('10000', result, SECRET, 'sorted-md5')).toBe(expected);
    expect(aggregatorSign('10000', result, SECRET)).toBe(expected);
  });

  it.each(AGGREGATOR_SIGN_MODES)('mode %s: the sender and the service agree, and no other mode verifies it', (mode) => {
    const wire = signed(aggregatorResult(fields()), { mode });
    expect(signAggregator('10000', aggregatorResult(fields({ transactionid: '5' })), SECRET, mode)).toBe(
      aggregatorSign('10000', aggregatorResult(fields({ transactionid: '5' })), SECRET, mode),
    );
    expect(read(wire, { ...settings, aggregatorSignMode: mode }).kind).toBe('PAYMENT');
    for (const other of AGGREGATOR_SIGN_MODES.filter((m) => m !== mode)) {
      expect(kindOf(() => read(wire, { ...settings, aggregatorSignMode: other }))).toBe('UNAUTHENTIC');
    }
  });

  it('concat-md5 is MD5(status + result + secret)', () => {
    const expected = createHash('md5').update(`10000{"x":"é"}${SECRET}`, 'utf8').digest('hex').toUpperCase();
    expect(signAggregator('10000', '{"x":"é"}', SECRET, 'concat-md5')).toBe(expected);
  });

  it('is checked over the result exactly as received: a re-serialised result does not verify', () => {
    const original = aggregatorResult(fields({ real_amount: '19.90' }));
    const reserialised = JSON.stringify(JSON.parse(original));
    expect(reserialised).not.toBe(original);
    const sign = aggregatorSign('10000', original, SECRET);
    expect(read(aggregatorNotification({ secret: SECRET, result: original, sign })).kind).toBe('PAYMENT');
    expect(kindOf(() => read(aggregatorNotification({ secret: SECRET, result: reserialised, sign })))).toBe(
      'UNAUTHENTIC',
    );
    // and signed over the re-serialised text, the exact text received is what counts
    expect(read(signed(reserialised)).kind).toBe('PAYMENT');
  });

  it('accepts lower-case hex (the same digest), and nothing that is not 32 hex digits', () => {
    const result = aggregatorResult(fields());
    const sign = aggregatorSign('10000', result, SECRET);
    expect(read(aggregatorNotification({ secret: SECRET, result, sign: sign.toLowerCase() })).kind).toBe('PAYMENT');
    for (const bad of [
      '',
      sign.slice(1),
      `${sign}0`,
      `${sign.slice(0, 31)}G`,
      `${sign.slice(0, 31)}Ł`,
      ` ${sign.slice(1)}`,
      'x'.repeat(32),
    ]) {
      expect(kindOf(() => read(aggregatorNotification({ secret: SECRET, result, sign: bad })))).toBe('UNAUTHENTIC');
    }
  });

  it('is required: a missing or non-string sign is unauthentic', () => {
    const result = aggregatorResult(fields());
    expect(kindOf(() => read(`status=10000&result=${encodeURIComponent(result)}`))).toBe('UNAUTHENTIC');
    expect(kindOf(() => read(`{"status":10000,"result":${JSON.stringify(result)}}`))).toBe('UNAUTHENTIC');
    expect(kindOf(() => read(`{"status":10000,"result":${JSON.stringify(result)},"sign":123}`))).toBe('UNAUTHENTIC');
  });

  it('a wrong secret, a changed status or a changed result does not verify', () => {
    const result = aggregatorResult(fields());
    expect(kindOf(() => read(aggregatorNotification({ secret: 'other', result })))).toBe('UNAUTHENTIC');
    const sign = aggregatorSign('30916', result, SECRET);
    expect(kindOf(() => read(aggregatorNotification({ secret: SECRET, result, status: '10000', sign })))).toBe(
      'UNAUTHENTIC',
    );
    const sign2 = aggregatorSign('10000', result, SECRET);
    const other = result.replace('"real_amount":19.9', '"real_amount":1.99');
    expect(kindOf(() => read(aggregatorNotification({ secret: SECRET, result: other, sign: sign2 })))).toBe(
      'UNAUTHENTIC',
    );
  });

  it('property: any change to the signed status or result text is unauthentic', () => {
    const result = aggregatorResult(fields());
    const sign = aggregatorSign('10000', result, SECRET);
    fc.assert(
      fc.property(
        fc.nat(result.length - 1),
        fc.string({ minLength: 1, maxLength: 3 }),
        fc.boolean(),
        (at, insert, statusSide) => {
          const status = statusSide ? `10000${insert}` : '10000';
          const changed = statusSide ? result : result.slice(0, at) + insert + result.slice(at);
          fc.pre(changed !== result || status !== '10000');
          expect(
            kindOf(() =>
              read(
                aggregatorNotification({
                  secret: SECRET,
                  result: changed,
                  status,
                  sign,
                  format: 'json',
                  statusAsString: true,
                }),
              ),
            ),
          ).toBe('UNAUTHENTIC');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('field names are case-sensitive: Status, RESULT or Sign are not the fields', () => {
    const result = aggregatorResult(fields());
    const sign = aggregatorSign('10000', result, SECRET);
    const r = encodeURIComponent(result);
    expect(kindOf(() => read(`Status=10000&result=${r}&sign=${sign}`))).toBe('MALFORMED');
    expect(kindOf(() => read(`status=10000&RESULT=${r}&sign=${sign}`))).toBe('MALFORMED');
    expect(kindOf(() => read(`status=10000&result=${r}&Sign=${sign}`))).toBe('UNAUTHENTIC');
  });
});

describe('statuses', () => {
  it.each(Object.entries(AGGREGATOR_FAILURES))(
    '%s is a failed trade (%s), read after the signature',
    (status, meaning) => {
      const n = read(signed(aggregatorResult(fields()), { status }));
      expect(n).toEqual({ kind: 'FAILED', status, meaning, orderId: 'ORDER20261123001' });
      expect(
        kindOf(() => read(aggregatorNotification({ secret: 'wrong', result: aggregatorResult(fields()), status }))),
      ).toBe('UNAUTHENTIC');
    },
  );

  it('a failure needs no payment fields, and keeps the order id only when it is one', () => {
    expect(read(signed('{}', { status: '30907' }))).toEqual({
      kind: 'FAILED',
      status: '30907',
      meaning: 'insufficient balance',
      orderId: undefined,
    });
    expect(read(signed('{"orderid":"bad id!"}', { status: '30921' }))).toMatchObject({
      kind: 'FAILED',
      orderId: undefined,
    });
  });

  it('an undocumented status is read as unknown', () => {
    expect(read(signed(aggregatorResult(fields()), { status: '20000' }))).toEqual({
      kind: 'UNKNOWN_STATUS',
      status: '20000',
      orderId: 'ORDER20261123001',
    });
    expect(read(signed('{}', { status: '-1', format: 'json' }))).toMatchObject({
      kind: 'UNKNOWN_STATUS',
      status: '-1',
    });
  });

  it.each(['010000', '10000.0', '1e4', ' 10000', '10000 ', '+10000', 'SUCCESS', '99999999999', '-0'])(
    'status %j is not an int as sent: malformed, even signed',
    (status) => {
      expect(kindOf(() => read(signed(aggregatorResult(fields()), { status })))).toBe('MALFORMED');
    },
  );

  it('status as a JSON number keeps its exact source text (1E4 is not 10000)', () => {
    const result = aggregatorResult(fields());
    const body = `{"status":1E4,"result":${JSON.stringify(result)},"sign":"${aggregatorSign('1E4', result, SECRET)}"}`;
    expect(parseAggregatorBody(Buffer.from(body)).status).toBe('1E4');
    expect(kindOf(() => read(body))).toBe('MALFORMED');
    // signed as 10000, but sent as 1E4: the signature is over what was received
    const forged = `{"status":1E4,"result":${JSON.stringify(result)},"sign":"${aggregatorSign('10000', result, SECRET)}"}`;
    expect(kindOf(() => read(forged))).toBe('UNAUTHENTIC');
  });
});

describe('the envelope', () => {
  it('form and JSON carry the same exact strings; the content decides, not a header', () => {
    const result = aggregatorResult(fields({ custom: 'a+b & c=d %20 中文 😀' }));
    const form = parseAggregatorBody(Buffer.from(signed(result).body));
    const json = parseAggregatorBody(Buffer.from(signed(result, { format: 'json' }).body));
    expect(form).toEqual(json);
    expect(form.result).toBe(result);
    expect(form.status).toBe('10000');
    const n = read(signed(result));
    expect(n.kind === 'PAYMENT' && n.result.custom).toBe('a+b & c=d %20 中文 😀');
    expect(read(`\r\n ${signed(result, { format: 'json' }).body}`).kind).toBe('PAYMENT');
  });

  it('ignores unsigned extra fields, and reads + as a space in a form', () => {
    const result = '{"transactionid":1,"orderid":"X1","amount":1,"real_amount":1,"custom":"a b"}';
    const sign = aggregatorSign('10000', result, SECRET);
    const body = `extra=1&status=10000&result=${encodeURIComponent(result).replace('%20', '+')}&sign=${sign}&`;
    expect(read(body).kind).toBe('PAYMENT');
    expect(read(`{"status":10000,"result":${JSON.stringify(result)},"sign":"${sign}","x":{"y":[1,2]}}`).kind).toBe(
      'PAYMENT',
    );
  });

  const result = aggregatorResult(fields());
  const sign = aggregatorSign('10000', result, SECRET);
  const r = encodeURIComponent(result);
  const q = JSON.stringify(result);
  it.each([
    ['a repeated form field', `status=10000&result=${r}&sign=${sign}&status=10000`],
    ['a repeated sign', `status=10000&result=${r}&sign=${sign}&sign=${sign}`],
    ['a repeated JSON key', `{"status":10000,"result":${q},"sign":"${sign}","status":10000}`],
    ['a __proto__ form field', `status=10000&result=${r}&sign=${sign}&__proto__=x`],
    ['a constructor form field', `status=10000&result=${r}&sign=${sign}&constructor=x`],
    ['a __proto__ JSON key', `{"__proto__":{"polluted":1},"status":10000,"result":${q},"sign":"${sign}"}`],
    ['a nested prototype key', `{"status":10000,"result":${q},"sign":"${sign}","x":{"prototype":1}}`],
    ['a missing status', `result=${r}&sign=${sign}`],
    ['an empty status', `status=&result=${r}&sign=${sign}`],
    ['a missing result', `status=10000&sign=${sign}`],
    ['a JSON result that is an object, not a string', `{"status":10000,"result":${result},"sign":"${sign}"}`],
    ['a JSON status that is not a number or string', `{"status":[10000],"result":${q},"sign":"${sign}"}`],
    ['a JSON array', `[${q}]`],
    ['broken JSON', `{"status":10000,"result":${q},"sign":"${sign}"`],
    ['trailing garbage after JSON', `{"status":10000,"result":${q},"sign":"${sign}"}x`],
    ['bad percent-encoding', `status=10000&result=%E4%B8&sign=${sign}`],
    ['an empty body', ''],
    ['not a form at all', 'hello'],
  ])('rejects %s as malformed', (_name, body) => {
    expect(kindOf(() => read(body))).toBe('MALFORMED');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('rejects invalid UTF-8 and a body over the limit before reading it', () => {
    expect(kindOf(() => readAggregatorNotification(Buffer.from([0x73, 0x3d, 0xff, 0xfe]), settings, NOW))).toBe(
      'MALFORMED',
    );
    const big = signed(aggregatorResult(fields({ custom: 'x'.repeat(1 << 20) })));
    expect(kindOf(() => read(big))).toBe('MALFORMED');
    expect(kindOf(() => read(signed(aggregatorResult(fields())), { ...settings, maxBodyBytes: 100 }))).toBe(
      'MALFORMED',
    );
  });

  it('without AGGREGATOR_SECRET every delivery is a configuration error (retried), whatever it holds', () => {
    for (const body of [signed(aggregatorResult(fields())).body, 'garbage']) {
      expect(kindOf(() => read(body, { ...settings, aggregatorSecret: undefined }))).toBe('CONFIG');
    }
  });
});

describe('result, read only after the signature verifies', () => {
  it('is not parsed when the signature is wrong, however hostile', () => {
    for (const bad of ['{', '{"__proto__":{}}', '['.repeat(10_000)]) {
      expect(kindOf(() => read(aggregatorNotification({ secret: 'wrong', result: bad })))).toBe('UNAUTHENTIC');
    }
  });

  it.each([
    ['invalid JSON', '{"transactionid":1,'],
    ['not an object', '[1,2]'],
    ['a JSON string', '"{}"'],
    ['a __proto__ key', '{"__proto__":{"polluted":1},"transactionid":1,"orderid":"X1","amount":1,"real_amount":1}'],
    [
      'a constructor key',
      '{"constructor":{"prototype":{"polluted":1}},"transactionid":1,"orderid":"X1","amount":1,"real_amount":1}',
    ],
    ['a repeated key', '{"transactionid":1,"orderid":"X1","amount":1,"real_amount":1,"real_amount":100}'],
    [
      'nesting 40 deep',
      `{"transactionid":1,"orderid":"X1","amount":1,"real_amount":1,"x":${'['.repeat(40)}${']'.repeat(40)}}`,
    ],
    ['a lone surrogate', '{"transactionid":1,"orderid":"X1","amount":1,"real_amount":1,"custom":"\\ud800"}'],
    ['a raw control character', '{"transactionid":1,"orderid":"X1","amount":1,"real_amount":1,"custom":"a\u0001"}'],
    ['a missing transactionid', '{"orderid":"X1","amount":1,"real_amount":1}'],
    ['a missing orderid', '{"transactionid":1,"amount":1,"real_amount":1}'],
    ['a missing amount', '{"transactionid":1,"orderid":"X1","real_amount":1}'],
    ['a missing real_amount', '{"transactionid":1,"orderid":"X1","amount":1}'],
    ['a null real_amount', '{"transactionid":1,"orderid":"X1","amount":1,"real_amount":null}'],
    ['a real_amount with 3 places', '{"transactionid":1,"orderid":"X1","amount":1,"real_amount":1.001}'],
    ['a real_amount with a fraction of a fen', '{"transactionid":1,"orderid":"X1","amount":1,"real_amount":1.005}'],
    ['an amount with 5 places', '{"transactionid":1,"orderid":"X1","amount":1.00001,"real_amount":1}'],
    ['a negative real_amount', '{"transactionid":1,"orderid":"X1","amount":1,"real_amount":-1}'],
    ['an exponent', '{"transactionid":1,"orderid":"X1","amount":1,"real_amount":1e2}'],
    ['a huge real_amount', '{"transactionid":1,"orderid":"X1","amount":1,"real_amount":1e400}'],
    ['a 30-digit real_amount', `{"transactionid":1,"orderid":"X1","amount":1,"real_amount":${'9'.repeat(30)}}`],
    [
      'a real_amount past the largest safe fen',
      '{"transactionid":1,"orderid":"X1","amount":1,"real_amount":90071992547409.92}',
    ],
    ['a 15-digit whole real_amount', `{"transactionid":1,"orderid":"X1","amount":1,"real_amount":${'9'.repeat(15)}}`],
    ['a 25-digit transactionid', `{"transactionid":${'1'.repeat(25)},"orderid":"X1","amount":1,"real_amount":1}`],
    ['a fractional transactionid', '{"transactionid":1.5,"orderid":"X1","amount":1,"real_amount":1}'],
    ['a negative transactionid', '{"transactionid":-1,"orderid":"X1","amount":1,"real_amount":1}'],
    ['an orderid of 33 characters', `{"transactionid":1,"orderid":"${'A'.repeat(33)}","amount":1,"real_amount":1}`],
    ['an orderid with a space', '{"transactionid":1,"orderid":"A B","amount":1,"real_amount":1}'],
    ['an orderid object', '{"transactionid":1,"orderid":{"a":1},"amount":1,"real_amount":1}'],
    [
      'a custom of 101 characters',
      `{"transactionid":1,"orderid":"X1","amount":1,"real_amount":1,"custom":"${'c'.repeat(101)}"}`,
    ],
    ['a custom number', '{"transactionid":1,"orderid":"X1","amount":1,"real_amount":1,"custom":5}'],
  ])('rejects %s as malformed, even when signed', (_name, result) => {
    expect(kindOf(() => read(signed(result)))).toBe('MALFORMED');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a custom of 100 characters (code points) is fine', () => {
    expect(
      read(signed(`{"transactionid":1,"orderid":"X1","amount":1,"real_amount":1,"custom":"${'中'.repeat(100)}"}`)).kind,
    ).toBe('PAYMENT');
  });
});

describe('AGGREGATOR_SIGN_MODE in the configuration', () => {
  const base = { ...toEnv(generateTestKeys()), PAYMENTS_TABLE: 't' };

  it('defaults to sorted-md5 and accepts every documented mode', () => {
    expect(loadConfig(base).aggregatorSignMode).toBe('sorted-md5');
    for (const mode of AGGREGATOR_SIGN_MODES)
      expect(loadConfig({ ...base, AGGREGATOR_SIGN_MODE: mode }).aggregatorSignMode).toBe(mode);
  });

  it('names the variable when the mode is unknown', () => {
    expect(() => loadConfig({ ...base, AGGREGATOR_SIGN_MODE: 'sha1' })).toThrow(/AGGREGATOR_SIGN_MODE/);
  });
});

// The result reader on what the independent sender does not send: a trade id given as text that is
// not digits (signed, so only the reader can refuse it), and one given as a string of digits.
const MORE_SECRET = 'agg-more-secret-0123456789';
const moreSettings = { ...settings, aggregatorSecret: MORE_SECRET };

function malformedReason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PayError);
    expect((err as PayError).kind).toBe('MALFORMED');
    return (err as PayError).reason;
  }
  throw new Error('expected a MALFORMED PayError');
}

describe('the result of a successful trade', () => {
  it.each(['12a', '', '1.5'])('refuses a transactionid given as the text %j', (id) => {
    const wire = aggregatorNotification({
      secret: MORE_SECRET,
      result: `{"transactionid":${JSON.stringify(id)},"orderid":"ORDER1","amount":1,"real_amount":1}`,
    });
    expect(malformedReason(() => readAggregatorNotification(Buffer.from(wire.body, 'utf8'), moreSettings, 0))).toBe(
      'result.transactionid missing or malformed',
    );
  });

  it('accepts a transactionid given as a string of digits, keeping it exactly', () => {
    const wire = aggregatorNotification({
      secret: MORE_SECRET,
      result: '{"transactionid":"009007199254740993","orderid":"ORDER1","amount":1,"real_amount":1}',
    });
    const notice = readAggregatorNotification(Buffer.from(wire.body, 'utf8'), moreSettings, 0);
    expect(notice.kind === 'PAYMENT' && notice.report.transactionId).toBe('AGG-009007199254740993');
  });
});

describe('readAggregatorMessage', () => {
  it("returns the aggregator's own message: the credited amount in fen, no order report, no clock", () => {
    const wire = aggregatorNotification({ secret: SECRET, result: aggregatorResult(fields({ real_amount: '19.90' })) });
    const message = readAggregatorMessage(Buffer.from(wire.body, 'utf8'), settings);
    expect(message).toMatchObject({ kind: 'PAID', realAmountFen: 1990, result: { realAmountText: '19.90' } });
    expect(message).not.toHaveProperty('report');
  });
});
