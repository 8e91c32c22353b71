/**
 * TEST-ONLY: the flat `<xml>` reader the simulator uses for APIv2 requests and replies.
 *
 * Deliberately tiny and strict: one root, flat children, text or CDATA values. Any `<!` other than
 * CDATA (DOCTYPE, ENTITY: the XXE vectors of docs/protocol.md A) makes the document malformed, so the
 * simulator never resolves entities, exactly like a hardened WeChat endpoint would refuse them.
 */

const XML_DECLARATION = /^<\?xml[^?]*\?>/;
const CHILD = /\s*<([A-Za-z_][\w.-]*)>((?:<!\[CDATA\[[\s\S]*?\]\]>|[^<])*)<\/\1>/y;
const EMPTY_CHILD = /\s*<([A-Za-z_][\w.-]*)\s*\/>/y;
const NAMED_ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Fields of a flat `<root>…</root>` document, or undefined when it is not one. */
export function parseFlatXml(text: string, root = 'xml'): Record<string, string> | undefined {
  const trimmed = text.trim().replace(XML_DECLARATION, '').trim();
  const open = `<${root}>`;
  const close = `</${root}>`;
  if (!trimmed.startsWith(open) || !trimmed.endsWith(close)) return undefined;
  try {
    return readChildren(trimmed.slice(open.length, trimmed.length - close.length));
  } catch {
    return undefined;
  }
}

function readChildren(inner: string): Record<string, string> {
  // A null-prototype record: field names such as __proto__ are plain data here.
  const fields = Object.create(null) as Record<string, string>;
  let position = 0;
  while (position < inner.length) {
    const match = matchAt(CHILD, inner, position) ?? matchAt(EMPTY_CHILD, inner, position);
    if (match === undefined) {
      if (inner.slice(position).trim() === '') break;
      throw new Error('not a flat XML element');
    }
    const [whole, name = '', content = ''] = match;
    if (name in fields) throw new Error(`duplicate element ${name}`);
    fields[name] = readValue(content);
    position += whole.length;
  }
  return fields;
}

function matchAt(pattern: RegExp, text: string, position: number): RegExpExecArray | undefined {
  pattern.lastIndex = position;
  return pattern.exec(text) ?? undefined;
}

function readValue(content: string): string {
  return content.replace(
    /<!\[CDATA\[([\s\S]*?)\]\]>|([^<]+)/g,
    (_whole, cdata: string | undefined, text: string | undefined) => cdata ?? decodeEntities(text ?? ''),
  );
}

function decodeEntities(text: string): string {
  return text.replace(/&([^;]*);|&/g, (whole: string, body: string | undefined) => {
    if (body === undefined) throw new Error('bare ampersand');
    const named = NAMED_ENTITIES[body];
    if (named !== undefined) return named;
    const code = /^#x([0-9A-Fa-f]{1,6})$/.exec(body)?.[1] ?? /^#([0-9]{1,7})$/.exec(body)?.[1];
    if (code === undefined) throw new Error(`unknown entity ${whole}`);
    return String.fromCodePoint(Number.parseInt(code, body.startsWith('#x') ? 16 : 10));
  });
}
