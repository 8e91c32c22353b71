/**
 * The APIv2 XML codec. WeChat's XML is a flat map of string fields under one root. The parser is
 * hardened the way the official XXE notice asks: no DTD, no entities, nothing but elements and text.
 * The gate reads markup only: what a CDATA section or escaped text holds is data (a merchant's
 * `attach` may well say `<!DOCTYPE x>`), never a declaration or an element.
 */
import { XMLValidator } from 'fast-xml-parser';
import { malformed } from '../../errors';
import { isPrototypeKey } from '../../text';

/** A flat APIv2 message: field name → exact text. */
export type Fields = Record<string, string>;

const DECLARATIONS = /<!(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/i;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
export const DEFAULT_MAX_XML_BYTES = 64 * 1024;

/**
 * Parses `<root>…</root>` into a flat field map. Rejects declarations (XXE, entity expansion), nested
 * or repeated elements, prototype keys, a different root, and anything larger than `maxBytes`.
 * fast-xml-parser's validator is the well-formedness gate; the fields are then read by a strict
 * reader of the one shape WeChat sends (a flat map), several times faster than building a generic
 * document tree, and refusing anything that is not that shape.
 */
export function parseXml(xml: string, root = 'xml', maxBytes = DEFAULT_MAX_XML_BYTES): Fields {
  if (Buffer.byteLength(xml, 'utf8') > maxBytes) throw malformed('XML body too large');
  checkMarkup(xml);
  if (FORBIDDEN_CHARS.test(xml)) throw malformed('XML holds characters XML 1.0 forbids');
  if (XMLValidator.validate(xml) !== true) throw malformed('XML is not well-formed');
  // XML 1.0 normalises every line end to LF before anything reads the document, CDATA included
  return readFlat(xml.includes('\r') ? xml.replace(/\r\n?/g, '\n') : xml, root);
}

/**
 * Walks the document's markup, stepping over CDATA sections whole (their text is data), and refuses
 * any declaration (`<!DOCTYPE`, `<!ENTITY`…). Comments and processing instructions are markup too: a
 * declaration in them is refused as well (WeChat sends neither). A tag is read to its `>` past quoted
 * values; a `<` inside a tag is refused, so no attribute value can open a pretend CDATA section that
 * would hide markup from this walk. Element names are judged once, by the reader: the only elements
 * it accepts are the root and its fields, and it refuses a field named like a prototype key.
 */
function checkMarkup(xml: string): void {
  let i = 0;
  for (;;) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) return;
    if (xml.startsWith('<![CDATA[', lt)) {
      i = endOf(xml, ']]>', lt + 9, 'CDATA section');
    } else if (xml.startsWith('<!--', lt)) {
      i = endOf(xml, '-->', lt + 4, 'comment');
      refuseDeclarations(xml.slice(lt, i));
    } else if (xml.startsWith('<?', lt)) {
      i = endOf(xml, '?>', lt + 2, 'processing instruction');
      refuseDeclarations(xml.slice(lt, i));
    } else if (xml.startsWith('<!', lt)) {
      throw malformed('XML declarations (DOCTYPE/ENTITY) are not accepted');
    } else {
      i = tagEnd(xml, lt + 1) + 1;
    }
  }
}

/** Index just past `marker`, searched from `from`; an unterminated construct is not well-formed. */
function endOf(xml: string, marker: string, from: number, what: string): number {
  const end = xml.indexOf(marker, from);
  if (end < 0) throw malformed(`XML holds an unterminated ${what}`);
  return end + marker.length;
}

function refuseDeclarations(markup: string): void {
  if (DECLARATIONS.test(markup)) throw malformed('XML declarations (DOCTYPE/ENTITY) are not accepted');
}

/** Index of the `>` that ends a tag begun before `from`, past quoted values; a `<` before it is refused. */
function tagEnd(xml: string, from: number): number {
  let quote = 0; // the open quote's character code, 0 outside quotes
  for (let i = from; i < xml.length; i++) {
    const c = xml.charCodeAt(i);
    if (c === LT) throw malformed('XML tag holds a "<"');
    if (quote) {
      if (c === quote) quote = 0;
    } else if (c === DQUOTE || c === SQUOTE) {
      quote = c;
    } else if (c === GT) {
      return i;
    }
  }
  throw malformed('XML is not well-formed');
}

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const DQUOTE = 0x22;
const SQUOTE = 0x27;

// XML 1.0 Char excludes these controls (and lone surrogates, which a JS string from valid UTF-8 cannot hold)
const NAME_AT = /[A-Za-z_][A-Za-z0-9_.-]*/y;
const FORBIDDEN_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
const PREDEFINED: Record<string, string> = { '&lt;': '<', '&gt;': '>', '&amp;': '&', '&quot;': '"', '&apos;': "'" };

/** Reads a validated document as `<root><name>text or CDATA</name>…</root>`. */
function readFlat(xml: string, root: string): Fields {
  const out: Fields = Object.create(null) as Fields;
  let i = skipProlog(xml, 0);
  const open = `<${root}`;
  if (!xml.startsWith(open, i) || !/[\s>/]/.test(xml[i + open.length] ?? ''))
    throw malformed(`XML root must be <${root}>`);
  i = tagEnd(xml, i + 1) + 1;
  if (xml.charCodeAt(i - 2) === SLASH) return endOfDocument(xml, i, out); // <root/>
  const close = `</${root}`;
  for (;;) {
    i = skipMisc(xml, i, true);
    if (xml.startsWith(close, i)) return endOfDocument(xml, xml.indexOf('>', i) + 1, out);
    if (xml.charCodeAt(i) !== LT) throw malformed('XML root holds stray text');
    // test(), not exec(): the sticky match's end is all that is needed, and test() builds no match array
    NAME_AT.lastIndex = i + 1;
    if (!NAME_AT.test(xml)) throw malformed('XML is not a flat field map');
    const nameEnd = NAME_AT.lastIndex;
    const name = xml.slice(i + 1, nameEnd);
    if (isPrototypeKey(name)) throw malformed('XML element name not accepted');
    const end = tagEnd(xml, nameEnd);
    if (name in out) throw malformed(`XML field ${safeName(name)} is repeated`);
    if (xml.charCodeAt(end - 1) === SLASH) {
      out[name] = '';
      i = end + 1;
      continue;
    }
    i = readValue(xml, end + 1, name, out);
  }
}

/**
 * Reads text and CDATA up to `</name>` into `out[name]` and returns the index past the end tag; any
 * other markup means the field is not plain text.
 */
function readValue(xml: string, from: number, name: string, out: Fields): number {
  let value = '';
  let i = from;
  for (;;) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) throw malformed('XML is not well-formed');
    value += decodeText(xml.slice(i, lt));
    if (xml.startsWith('<![CDATA[', lt)) {
      const end = xml.indexOf(']]>', lt + 9);
      value += xml.slice(lt + 9, end);
      i = end + 3;
    } else if (
      xml.charCodeAt(lt + 1) === SLASH &&
      xml.startsWith(name, lt + 2) &&
      END_TAG_NAME_END.test(xml[lt + name.length + 2] ?? '')
    ) {
      out[name] = value;
      return xml.indexOf('>', lt) + 1;
    } else {
      throw malformed(`XML field ${safeName(name)} is not plain text`);
    }
  }
}

const END_TAG_NAME_END = /[\s>]/;

function decodeText(text: string): string {
  if (text.includes(']]>')) throw malformed('XML text holds a CDATA end marker');
  return text.includes('&') ? text.replace(/&(?:lt|gt|amp|quot|apos);/g, (e) => PREDEFINED[e] as string) : text;
}

/** Skips an XML declaration, processing instructions, comments and white space before the root. */
function skipProlog(xml: string, i: number): number {
  return skipMisc(xml, xml.charCodeAt(0) === 0xfeff ? 1 : i, false);
}

/** Skips white space, comments and processing instructions (and, inside the root, nothing else). */
function skipMisc(xml: string, from: number, insideRoot: boolean): number {
  let i = from;
  for (;;) {
    while (i < xml.length && (xml[i] === ' ' || xml[i] === '\n' || xml[i] === '\r' || xml[i] === '\t')) i++;
    if (xml.startsWith('<!--', i)) i = xml.indexOf('-->', i + 4) + 3;
    else if (xml.startsWith('<?', i) && !insideRoot) i = xml.indexOf('?>', i + 2) + 2;
    else if (xml.startsWith('<?', i)) throw malformed('XML root holds a processing instruction');
    else return i;
  }
}

/** After the root closes, only white space, comments and processing instructions may follow. */
function endOfDocument(xml: string, from: number, out: Fields): Fields {
  if (skipMisc(xml, from, false) !== xml.length) throw malformed('XML is not well-formed');
  return out;
}

/** Serialises a flat field map as `<root>` with every value in CDATA. */
export function buildXml(fields: Readonly<Record<string, string>>, root = 'xml'): string {
  let xml = `<${root}>`;
  for (const [key, value] of Object.entries(fields)) {
    if (!FIELD_NAME.test(key)) throw new TypeError(`invalid XML field name ${key}`);
    xml += `<${key}><![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]></${key}>`;
  }
  return `${xml}</${root}>`;
}

function safeName(key: string): string {
  return FIELD_NAME.test(key) && key.length <= 64 ? key : '(invalid name)';
}
