/**
 * Loopback helpers for the simulator tests: a scriptable notification receiver and a raw HTTP client
 * that sends exactly the headers it is given (fetch would add Accept and User-Agent on its own).
 */
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the receiver got. */
export interface Received {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the receiver answers to the request with 0-based `index`. */
export interface ReceiverReply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Wait this long before answering (to play a slow merchant). */
  delayMs?: number;
}

/** A running receiver. */
export interface Receiver {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

/** Starts a receiver on 127.0.0.1 that answers with `respond`. */
export async function startReceiver(respond: (index: number, req: Received) => ReceiverReply): Promise<Receiver> {
  const received: Received[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const entry: Received = {
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      const reply = respond(received.length, entry);
      received.push(entry);
      const answer = (): void => {
        if (res.destroyed) return;
        res.writeHead(reply.status, reply.headers ?? {});
        res.end(reply.body ?? '');
      };
      if (reply.delayMs === undefined) return answer();
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer();
      }, reply.delayMs);
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/notify`,
    received,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** A raw HTTP answer. */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Sends one request with exactly these headers; rejects on `timeoutMs` like an impatient client. */
export function rawRequest(
  base: string,
  opts: { method: string; path: string; headers?: Record<string, string>; body?: string; timeoutMs?: number },
): Promise<RawResponse> {
  const url = new URL(base);
  const body = opts.body ?? '';
  // An explicit length, so that even a GET carries its body (node would otherwise send it unframed).
  const headers = { ...(body === '' ? {} : { 'Content-Length': String(Buffer.byteLength(body)) }), ...opts.headers };
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: opts.method, path: opts.path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (opts.timeoutMs !== undefined) req.setTimeout(opts.timeoutMs, () => req.destroy(new Error('client timeout')));
    req.end(body);
  });
}

/** Fields of a flat `<xml>` document (test-side reader, independent of the simulator's). */
export function xmlFields(xml: string): Record<string, string> {
  const fields: Record<string, string> = {};
  const inner = /^\s*<xml>([\s\S]*)<\/xml>\s*$/.exec(xml)?.[1] ?? '';
  for (const match of inner.matchAll(/<([A-Za-z_][\w.-]*)>((?:(?!<\/\1>)[\s\S])*)<\/\1>/g)) {
    const [, name = '', raw = ''] = match;
    fields[name] = raw.replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, '$1');
  }
  return fields;
}
