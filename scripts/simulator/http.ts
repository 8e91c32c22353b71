/**
 * TEST-ONLY: small node:http helpers shared by the simulator's endpoint modules.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A fully formed HTTP answer. */
export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A request with its body read, as handlers see it. */
export interface SimRequest {
  method: string;
  /** Path plus query exactly as sent (what APIv3 signatures cover). */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
  /** Set when the body exceeded the size limit (the body is then empty). */
  tooLarge: boolean;
}

/** Largest request body the simulator reads (WeChat's own limits are far lower for these APIs). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Reads the request body as UTF-8, stopping at {@link MAX_BODY_BYTES}. */
export async function readRequest(req: IncomingMessage): Promise<SimRequest> {
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    // Keep draining (discarding) past the limit: breaking off would destroy the socket, and the
    // client would get a reset instead of the simulator's "too large" answer.
    if (size > MAX_BODY_BYTES) tooLarge = true;
    else chunks.push(buffer);
  }
  return {
    method: req.method ?? 'GET',
    url,
    path: queryAt === -1 ? url : url.slice(0, queryAt),
    query: new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1)),
    headers: req.headers,
    body: tooLarge ? '' : Buffer.concat(chunks).toString('utf8'),
    tooLarge,
  };
}

/** A single header value (the first when repeated). */
export function header(req: SimRequest, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** A JSON reply with the given status. */
export function jsonReply(status: number, value: unknown, headers: Record<string, string> = {}): HttpReply {
  return {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(value),
  };
}

/** Writes the reply unless the client has already gone away. */
export function send(res: ServerResponse, reply: HttpReply): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(reply.status, { ...reply.headers, 'Content-Length': String(Buffer.byteLength(reply.body)) });
  res.end(reply.body);
}

/** Decodes one path segment; undefined when it is not valid percent-encoding. */
export function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
