/**
 * The aggregator's strict JSON scanner (lib/aggregator/json.ts): numbers kept as their source text,
 * objects as Maps, hostile keys, repeated keys, lone surrogates and broken escapes refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PayError } from '../../../lib/errors';
import { scanJson, type JsonValue } from '../../../lib/aggregator/json';

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PayError);
    expect((err as PayError).kind).toBe('MALFORMED');
    return (err as PayError).reason;
  }
  throw new Error('expected a MALFORMED PayError');
}

describe('scanJson', () => {
  /** What JSON.parse would make of a scanned value (numbers as doubles), for comparison. */
  function plain(v: JsonValue): unknown {
    switch (v.type) {
      case 'string':
        return v.value;
      case 'number':
        return Number(v.text);
      case 'literal':
        return v.value;
      case 'array':
        return v.items.map(plain);
      case 'object':
        return Object.fromEntries([...v.fields].map(([k, x]) => [k, plain(x)]));
    }
  }

  it('property: agrees with JSON.parse on every JSON text it accepts, and refuses only what we refuse on purpose', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.constantFrom(0, 2), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        try {
          expect(plain(scanJson(text, 'x'))).toEqual(JSON.parse(text));
        } catch (err) {
          expect(err).toBeInstanceOf(PayError);
          expect((err as PayError).reason).toMatch(/forbidden key|unpaired surrogate/);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('property: any text either scans or is MALFORMED, never another error', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json().map((j) => j.slice(0, Math.max(0, j.length - 1))),
        ),
        (text) => {
          let ok = true;
          try {
            scanJson(text, 'x');
          } catch (err) {
            ok = false;
            expect(err).toBeInstanceOf(PayError);
            expect((err as PayError).kind).toBe('MALFORMED');
          }
          if (ok) expect(() => JSON.parse(text)).not.toThrow();
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('keeps number text exactly and refuses what JSON.parse refuses', () => {
    expect(scanJson('[19.90, 9007199254740993, -0, 1E+2]', 'x')).toEqual({
      type: 'array',
      items: ['19.90', '9007199254740993', '-0', '1E+2'].map((text) => ({ type: 'number', text })),
    });
    for (const bad of [
      '01',
      '1.',
      '.5',
      '+1',
      '0x1',
      'NaN',
      'Infinity',
      "'a'",
      '{a:1}',
      '[1,]',
      '{"a":1,}',
      '"\\x"',
      '"\\u12"',
      'tru',
      '',
      ' ',
    ]) {
      expect(() => JSON.parse(bad)).toThrow();
      expect(() => scanJson(bad, 'x')).toThrow(PayError);
    }
  });

  it('decodes escapes and keeps paired surrogates', () => {
    expect(scanJson('"a\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"', 'x')).toEqual({
      type: 'string',
      value: 'a"\\/\b\f\n\r\té😀',
    });
  });

  it('refuses an object key not followed by a colon', () => {
    expect(reason(() => scanJson('{"a" 1}', 'result'))).toBe('result is not valid JSON');
    expect(reason(() => scanJson('{"a"', 'result'))).toBe('result is not valid JSON');
  });

  it('refuses a lone low surrogate, escaped or literal (it would sign as U+FFFD)', () => {
    expect(reason(() => scanJson('"\\udc00"', 'result'))).toBe('result holds an unpaired surrogate');
    expect(reason(() => scanJson('"a\udc00b"', 'result'))).toBe('result holds an unpaired surrogate');
    // a proper pair is fine
    expect(scanJson('"\\ud83d\\ude00"', 'result')).toEqual({ type: 'string', value: '😀' });
  });

  it('refuses a string whose escape is cut off at the end of the text', () => {
    expect(reason(() => scanJson('"abc\\', 'result'))).toBe('result is not valid JSON');
  });
});
