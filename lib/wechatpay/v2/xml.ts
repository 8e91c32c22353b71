/**
 * The APIv2 XML codec. WeChat's XML is a flat map of string fields under one root. The parser is
 * hardened the way the official XXE notice asks: no DTD, no entities, nothing but elements and text.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { malformed } from '../../errors';

/** A flat APIv2 message: field name → exact text. */
export type Fields = Record<string, string>;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const DECLARATIONS = /<!(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/i;
const TAG_NAMES = /<\/?([^\s>/!?]+)/g;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
export const DEFAULT_MAX_XML_BYTES = 64 * 1024;

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true, // only the five predefined entities: every DOCTYPE is rejected before parsing
  htmlEntities: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  allowBooleanAttributes: false,
  // keep names such as toString or valueOf exactly: the default renames them to __toString, which
  // silently changes the signed field set; our output map has no prototype, so they are harmless
  onDangerousProperty: (name: string) => name,
});

/**
 * Parses `<root>…</root>` into a flat field map. Rejects declarations (XXE, entity expansion), nested
 * or repeated elements, prototype keys, a different root, and anything larger than `maxBytes`.
 */
export function parseXml(xml: string, root = 'xml', maxBytes = DEFAULT_MAX_XML_BYTES): Fields {
  if (Buffer.byteLength(xml, 'utf8') > maxBytes) throw malformed('XML body too large');
  if (DECLARATIONS.test(xml)) throw malformed('XML declarations (DOCTYPE/ENTITY) are not accepted');
  for (const m of xml.matchAll(TAG_NAMES)) {
    if (FORBIDDEN_KEYS.has(m[1] as string)) throw malformed('XML element name not accepted');
  }
  if (XMLValidator.validate(xml) !== true) throw malformed('XML is not well-formed');

  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch {
    // the parser's own limits (nesting depth, reserved names) throw plain Errors: still the sender's fault
    throw malformed('XML is not well-formed');
  }
  if (!isPlainObject(doc)) throw malformed('XML is not well-formed');
  const roots = Object.keys(doc).filter((k) => k !== '#text');
  if (roots.length !== 1 || roots[0] !== root) throw malformed(`XML root must be <${root}>`);
  const body = doc[root];
  const out: Fields = Object.create(null) as Fields;
  if (body === '' || typeof body === 'string') return out; // empty root, or whitespace only
  if (!isPlainObject(body)) throw malformed('XML is not a flat field map');
  for (const [key, value] of Object.entries(body)) {
    if (key === '#text') {
      if (typeof value === 'string' && value.trim() === '') continue;
      throw malformed('XML root holds stray text');
    }
    if (Array.isArray(value)) throw malformed(`XML field ${safeName(key)} is repeated`);
    if (typeof value !== 'string') throw malformed(`XML field ${safeName(key)} is not plain text`);
    out[key] = value;
  }
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

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function safeName(key: string): string {
  return FIELD_NAME.test(key) && key.length <= 64 ? key : '(invalid name)';
}
