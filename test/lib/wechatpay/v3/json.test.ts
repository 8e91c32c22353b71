import { describe, it, expect } from 'vitest';
import { thrownPayError } from '../../../support/errors';
import fc from 'fast-check';
import { PayError } from '../../../../lib/errors';
import { isRecord, keyCheck, keyTokenBound, optStr, parseUntrustedJson, str } from '../../../../lib/wechatpay/v3/json';

const malformedOf = (f: () => unknown) => thrownPayError(f, 'MALFORMED');

const nestedArrays = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const nestedObjects = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

describe('parseUntrustedJson', () => {
  it('parses ordinary JSON exactly as JSON.parse does', () => {
    const safeJson = fc
      .jsonValue({ maxDepth: 6 })
      .filter((v) => !JSON.stringify(v).match(/"(__proto__|constructor|prototype)"\s*:/));
    fc.assert(
      fc.property(safeJson, (value) => {
        const text = JSON.stringify(value);
        expect(parseUntrustedJson(text, 'doc')).toEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps prototype words as values, only refusing them as keys', () => {
    expect(parseUntrustedJson('{"a":"__proto__","b":["constructor","prototype"]}', 'doc')).toEqual({
      a: '__proto__',
      b: ['constructor', 'prototype'],
    });
  });

  it.each([
    ['top-level __proto__', '{"__proto__":{"polluted":"yes"}}'],
    ['nested __proto__', '{"resource":{"amount":{"__proto__":{"polluted":"yes"}}}}'],
    ['__proto__ inside an array', '[{"__proto__":{"polluted":"yes"}}]'],
    ['constructor', '{"constructor":{"prototype":{"polluted":"yes"}}}'],
    ['prototype', '{"a":{"prototype":1}}'],
    ['escaped __proto__', '{"\\u005f_proto__":{"polluted":"yes"}}'],
  ])('rejects a %s key as MALFORMED without polluting Object.prototype', (_label, text) => {
    malformedOf(() => parseUntrustedJson(text, 'notification'));
    const probe: Record<string, unknown> = {};
    expect(probe.polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
  });

  it('accepts ordinary nesting and rejects deep nesting', () => {
    expect(parseUntrustedJson(nestedObjects(10), 'doc')).toBeTruthy();
    expect(parseUntrustedJson(nestedArrays(20), 'doc')).toBeTruthy();
    for (const text of [
      nestedArrays(40),
      nestedObjects(40),
      nestedArrays(1000),
      nestedObjects(5000),
      nestedArrays(200_000),
    ]) {
      malformedOf(() => parseUntrustedJson(text, 'doc'));
    }
  });

  it('names what it was parsing in the error', () => {
    expect(malformedOf(() => parseUntrustedJson('{', 'resource')).reason).toBe('resource is not valid JSON');
    expect(malformedOf(() => parseUntrustedJson(nestedArrays(40), 'notification')).reason).toMatch(/^notification /);
  });

  it.each([
    '',
    ' ',
    '{',
    '{"a":1,}',
    "{'a':1}",
    'NaN',
    'undefined',
    '{"a":01}',
    '[1,]',
    '\u0000',
    '{"a":1}}',
    '<xml/>',
  ])('rejects invalid JSON %j', (text) => {
    malformedOf(() => parseUntrustedJson(text, 'doc'));
  });

  it('property: arbitrary text is parsed or rejected as MALFORMED, nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        try {
          parseUntrustedJson(text, 'doc');
        } catch (err) {
          expect(err).toBeInstanceOf(PayError);
          expect((err as PayError).kind).toBe('MALFORMED');
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('keyTokenBound', () => {
  it('counts the colons right after a quote: every key of compact JSON, and a quote-colon in a string', () => {
    expect(keyTokenBound('{"a":1,"b":{"c":[{"d":"e"}]}}')).toBe(4);
    expect(keyTokenBound('{"a":1,"a":2}')).toBe(2);
    expect(keyTokenBound('{"t":"10:00:00","u":"x"}')).toBe(2);
    // over-counts only: a string that starts with a colon, an escaped quote before a colon
    expect(keyTokenBound('{"a":":"}')).toBe(2);
    expect(keyTokenBound('{"a":"\\":"}')).toBe(2);
    expect(keyTokenBound('[]')).toBe(0);
    expect(keyTokenBound(':')).toBe(0);
    // a colon at the very start counts for nothing, and the walk goes on past it; one right after a
    // quote at the very start counts
    expect(keyTokenBound(':"a":1,"b":2')).toBe(2);
    expect(keyTokenBound('":')).toBe(1);
    expect(keyTokenBound('')).toBe(0);
  });

  it('gives no bound (-1) when JSON white space stands right before any colon, in a string or not', () => {
    for (const ws of [' ', '\n', '\r', '\t']) {
      expect(keyTokenBound(`{"a"${ws}:1}`), JSON.stringify(ws)).toBe(-1);
      expect(keyTokenBound(`{"a":1,"b":"x${ws}:y"}`), JSON.stringify(ws)).toBe(-1);
    }
    // other characters before a colon are neither counted nor a reason to give up
    expect(keyTokenBound('{"a":"x\u00a0:y","b":"1:2"}')).toBe(2);
  });
});

describe('keyCheck', () => {
  it('settles compact JSON by the colon bound alone, anything else by the exact count', () => {
    expect(keyCheck('{"a":1,"b":{"c":"10:00"}}', 3)).toBe('bound');
    expect(keyCheck('{}', 0)).toBe('bound');
    // white space before a colon, or a string opening with a colon: the bound cannot vouch
    expect(keyCheck('{"a" :1}', 1)).toBe('exact');
    expect(keyCheck('{"a":":"}', 1)).toBe('exact');
    expect(keyCheck('{"a":1,"a":2}', 1)).toBe('repeat');
    expect(keyCheck('{"a" :1,"a":2}', 1)).toBe('repeat');
  });
});

describe('field helpers', () => {
  const doc = { id: 'EV-1', empty: '', long: 'x'.repeat(300), num: 1, nil: null };

  it('isRecord accepts plain objects only', () => {
    expect(isRecord({})).toBe(true);
    expect(isRecord(Object.create(null))).toBe(true);
    for (const v of [null, undefined, [], 'x', 1, true]) expect(isRecord(v)).toBe(false);
  });

  it('str returns a present string and names a missing or malformed one', () => {
    expect(str(doc, 'id', 'notification')).toBe('EV-1');
    for (const key of ['missing', 'empty', 'num', 'nil', 'long']) {
      expect(malformedOf(() => str(doc, key, 'notification')).reason).toBe(`notification.${key} missing or malformed`);
    }
    expect(str(doc, 'long', 'notification', 300)).toHaveLength(300);
  });

  it('optStr treats absent and empty as undefined but still rejects the wrong type', () => {
    expect(optStr(doc, 'missing', 'r')).toBeUndefined();
    expect(optStr(doc, 'empty', 'r')).toBeUndefined();
    expect(optStr(doc, 'id', 'r')).toBe('EV-1');
    malformedOf(() => optStr(doc, 'num', 'r'));
    malformedOf(() => optStr(doc, 'long', 'r'));
  });
});

// Added from mutation testing (npm run mutation): the structural pass must see every key of every
// object, wherever it sits, and nothing but keys.
describe('parseUntrustedJson key scan (mutation-tested)', () => {
  it.each([
    ['adjacent', '{"a":1,"a":2}'],
    ['with white space around the comma and colon', '{ "a" : 1 , "a" : 2 }'],
    ['after an array value', '{"a":[1,2],"a":3}'],
    ['after a nested object', '{"a":{"b":1},"c":2,"a":3}'],
    ['inside a nested object', '{"x":{"a":1,"a":2}}'],
    ['inside an object in an array', '[1,{"a":1,"a":2}]'],
    ['spelled with an escape', '{"a":1,"\\u0061":2}'],
    // white space before one colon only: the colon bound cannot vouch, the exact count must catch it
    ['white space before the first colon only', '{"a" :1,"a":2}'],
    ['a line feed before the second colon only', '{"a":1,"a"\n:2}'],
    ['a carriage return before one colon', '{"a"\r:1,"a":2}'],
    ['a tab before one colon', '{"a":1,"a"\t:2}'],
    // a quote-colon inside a string makes up for a key the bound misses, and still the repeat is seen
    ['a string value starting with a colon', '{"a" :1,"a":":"}'],
  ])('rejects a repeated key (%s), which JSON.parse would silently collapse', (_label, text) => {
    expect(malformedOf(() => parseUntrustedJson(text, 'resource')).reason).toBe('resource repeats a key');
  });

  it('rejects a forbidden key in any position, not only the first', () => {
    for (const text of [
      '{"a":1,"__proto__":{"polluted":"yes"}}',
      '{"a":[{}],"constructor":1}',
      '{"a":{"b":1} , "prototype":1}',
    ]) {
      expect(malformedOf(() => parseUntrustedJson(text, 'resource')).reason).toBe('resource holds a forbidden key');
    }
  });

  it('counts a key however much JSON white space stands before its colon, and only JSON white space', () => {
    // the repeat check compares the text's key tokens with the value's keys: a key token missed for
    // the white space before its colon would make a valid document look like one with a repeat
    for (const ws of [' ', '\n', '\r', '\t', ' \t\r\n ']) {
      const text = `{"a"${ws}:1,"b"${ws}:{"c"${ws}:[{"d"${ws}:"e"}]}}`;
      expect(parseUntrustedJson(text, 'doc'), JSON.stringify(ws)).toEqual(JSON.parse(text));
      expect(malformedOf(() => parseUntrustedJson(`{"a"${ws}:1,"a"${ws}:2}`, 'doc')).reason).toBe('doc repeats a key');
    }
    // a string value followed by white space and a comma or a brace is not a key
    expect(parseUntrustedJson('{"a":"x" ,"b":["y" ,"z"\n]\t}', 'doc')).toEqual({ a: 'x', b: ['y', 'z'] });
  });

  it('treats strings in arrays as values: repeats and prototype words are fine there', () => {
    expect(parseUntrustedJson('["a","a"]', 'doc')).toEqual(['a', 'a']);
    expect(parseUntrustedJson('{"list":["x","x",["x","x"]],"y":["constructor","constructor"]}', 'doc')).toEqual({
      list: ['x', 'x', ['x', 'x']],
      y: ['constructor', 'constructor'],
    });
    // keys equal to earlier values, and the same key in sibling objects
    expect(parseUntrustedJson('{"a":"b","b":"a"}', 'doc')).toEqual({ a: 'b', b: 'a' });
    expect(parseUntrustedJson('[{"a":1},{"a":2}]', 'doc')).toEqual([{ a: 1 }, { a: 2 }]);
    // quotes and backslashes inside keys and values do not derail the scan
    expect(parseUntrustedJson('{"a\\"":1,"a\\\\":2,"a":"\\"{[","b":3}', 'doc')).toEqual({
      'a"': 1,
      'a\\': 2,
      a: '"{[',
      b: 3,
    });
  });

  it('limits depth at exactly 32 open containers, counting closed ones out', () => {
    expect(parseUntrustedJson(nestedArrays(32), 'doc')).toBeTruthy();
    expect(parseUntrustedJson(nestedObjects(32), 'doc')).toBeTruthy();
    malformedOf(() => parseUntrustedJson(nestedArrays(33), 'doc'));
    malformedOf(() => parseUntrustedJson(nestedObjects(33), 'doc'));
    // a scalar or null inside the deepest container is not one more level
    expect(parseUntrustedJson(`${'['.repeat(32)}null${']'.repeat(32)}`, 'doc')).toBeTruthy();
    expect(parseUntrustedJson(`${'{"a":'.repeat(31)}{"a":null}${'}'.repeat(31)}`, 'doc')).toBeTruthy();
    expect(parseUntrustedJson(`${'['.repeat(32)}1,"x",true${']'.repeat(32)}`, 'doc')).toBeTruthy();
    // many siblings are not depth
    expect(parseUntrustedJson(`[${Array(100).fill('[]').join(',')}]`, 'doc')).toHaveLength(100);
    expect(
      Object.keys(
        parseUntrustedJson(`{${Array.from({ length: 100 }, (_, i) => `"k${i}":{}`).join(',')}}`, 'doc') as object,
      ),
    ).toHaveLength(100);
  });
});
