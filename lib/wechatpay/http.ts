/**
 * The transport under both API generations. One fetch per attempt with its own timeout; a retry loop
 * with full-jitter exponential backoff that repeats only what an error marks retryable, inside a
 * total time budget, because a Lambda invocation has a hard deadline. Everything that varies (fetch,
 * clock, randomness, sleep) is injected. The client factory that wires v2 and v3 onto it is client.ts.
 */
import { Agent, request as httpsRequest } from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import type { TLSSocket } from 'node:tls';
import type { Config } from '../config';
import { WechatPayApiError } from './apiError';

/** One request as the transport sends it; `url` is absolute. */
export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** One answer with its body read as exact bytes (signatures cover bytes, not parsed text). */
export interface HttpResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** The fetch function the transport calls (global fetch by default). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** Transport settings; every field has a default suitable for a Lambda. */
export interface TransportOptions {
  fetch?: FetchLike;
  /** Clock in ms; also the budget's clock. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Uniform in [0, 1), for the jitter. */
  random?: () => number;
  /** Per-attempt timeout (default 5000 ms). */
  timeoutMs?: number;
  /** Attempts per call, the first included (default 3). */
  maxAttempts?: number;
  /** Total time for all attempts and backoff of one call (default 15000 ms). */
  budgetMs?: number;
  /** Backoff base and cap (defaults 200 ms and 2000 ms). */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** What one attempt gets to work with. */
export interface AttemptContext {
  /** 1-based attempt number. */
  attempt: number;
  /** This attempt's timeout: the per-call timeout, cut to what is left of the budget. */
  timeoutMs: number;
}

/** Sends requests and repeats calls that failed transiently. */
export interface Transport {
  /** Sends one request; a network failure or timeout becomes a retryable {@link WechatPayApiError}. */
  send(req: HttpRequest, timeoutMs: number): Promise<HttpResponse>;
  /** Runs `attempt` (send + verify + interpret) until it succeeds, fails for good, or runs out of attempts or time. */
  run<T>(attempt: (ctx: AttemptContext) => Promise<T>): Promise<T>;
}

export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_BUDGET_MS = 15_000;
const MAX_BODY_BYTES = 1024 * 1024;
// an attempt with less time than this left could not get an answer anyway
const MIN_ATTEMPT_MS = 50;

/** Builds a transport from options (defaults: global fetch, real clock, Math.random, real sleep). */
export function createTransport(opts: TransportOptions = {}): Transport {
  const fetchImpl: FetchLike = opts.fetch ?? ((input, init) => fetch(input, init));
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => delay(ms));
  const random = opts.random ?? Math.random;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxAttempts = Math.max(1, opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  const budgetMs = opts.budgetMs ?? DEFAULT_BUDGET_MS;
  const base = opts.baseDelayMs ?? 200;
  const cap = opts.maxDelayMs ?? 2000;

  return {
    send: (req, ms) => sendOnce(fetchImpl, req, ms),
    async run(attempt) {
      const deadline = now() + budgetMs;
      for (let n = 1; ; n += 1) {
        try {
          return await attempt({ attempt: n, timeoutMs: Math.max(1, Math.min(timeoutMs, deadline - now())) });
        } catch (err) {
          if (!(err instanceof WechatPayApiError) || !err.retryable || n >= maxAttempts) throw err;
          const wait = backoffMs(n, random, base, cap);
          if (now() + wait + MIN_ATTEMPT_MS > deadline) throw err;
          await sleep(wait);
        }
      }
    },
  };
}

/** Full jitter: uniform in [0, min(cap, base·2^(attempt−1))), so concurrent callers spread out. */
export function backoffMs(attempt: number, random: () => number, base: number, cap: number): number {
  return Math.floor(random() * Math.min(cap, base * 2 ** (attempt - 1)));
}

async function sendOnce(fetchImpl: FetchLike, req: HttpRequest, timeoutMs: number): Promise<HttpResponse> {
  // one signal for the whole exchange: a server that stalls mid-body times out like one that never answers
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetchImpl(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal,
      redirect: 'manual',
    });
    const body = Buffer.from(await res.arrayBuffer());
    if (body.length > MAX_BODY_BYTES) {
      throw new WechatPayApiError({
        status: res.status,
        code: 'MALFORMED_RESPONSE',
        message: 'answer too large',
        retryable: false,
      });
    }
    return { status: res.status, headers: res.headers, body };
  } catch (err) {
    if (err instanceof WechatPayApiError) throw err;
    const timedOut =
      signal.aborted || (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'));
    throw new WechatPayApiError({
      status: undefined,
      code: timedOut ? 'TIMEOUT' : 'NETWORK_ERROR',
      message: timedOut ? `no answer within ${timeoutMs} ms` : 'network error',
      retryable: true,
      cause: err,
    });
  }
}

/** What the v2 and v3 clients are built from. */
export interface ClientDeps {
  config: Config;
  transport: Transport;
  /** Clock in ms (signature timestamps, response verification window). */
  now: () => number;
  nonce: () => string;
  userAgent: string;
}

/** The merchant's API client certificate for mutual TLS: PEM certificate and key, or WeChat's PKCS#12 bundle. */
export type TlsClientIdentity = { cert: string; key: string } | { pfx: Buffer; passphrase: string };

/** Options of {@link clientCertificateFetch}. */
export interface ClientCertificateFetchOptions {
  /** Extra CA certificates (PEM) trusted for the server besides the system's: a local simulator's test CA only. */
  ca?: string;
}

/**
 * Codes of a call that provably never reached the server: the TLS handshake failed, so not one byte
 * of the request was written. Neither is retryable: the same certificate meets the same refusal.
 */
export const TLS_REFUSAL_CODES = {
  /** the server refused our client certificate (missing, not issued by WeChat, or expired) */
  clientCertificate: 'CLIENT_CERT_REFUSED',
  /** the server's certificate did not verify: we refused to talk to it */
  serverCertificate: 'SERVER_CERT_UNTRUSTED',
} as const;

/** Whether an API error's code says the request never left (a failed TLS handshake). */
export function neverSent(code: string): boolean {
  return code === TLS_REFUSAL_CODES.clientCertificate || code === TLS_REFUSAL_CODES.serverCertificate;
}

// OpenSSL's verdicts on a server certificate (Node puts them in `code`)
const SERVER_VERIFY_CODES: ReadonlySet<string> = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * A fetch for the calls that need the merchant's client certificate on the TLS connection (APIv2
 * `secapi`, docs/protocol.md I), over node:https because global fetch takes no client certificate.
 * TLS 1.2 is the ceiling on purpose: there the server judges the client certificate inside the
 * handshake, so a refusal always arrives before the request is written, and is reported as
 * CLIENT_CERT_REFUSED, a call that provably did nothing. (Under TLS 1.3 the client may already have
 * sent the request when the refusal comes.) Only https URLs are accepted. One agent per fetch, no
 * keep-alive: every call starts its own handshake, so a refusal is seen on the call that caused it.
 */
export function clientCertificateFetch(
  identity: TlsClientIdentity,
  opts: ClientCertificateFetchOptions = {},
): FetchLike {
  const agent = new Agent({
    ...identity,
    ...(opts.ca === undefined ? {} : { ca: opts.ca }),
    maxVersion: 'TLSv1.2',
    keepAlive: false,
  });
  return (input, init) => mtlsRequest(agent, input, init);
}

function mtlsRequest(agent: Agent, input: string, init: RequestInit): Promise<Response> {
  const url = new URL(input);
  if (url.protocol !== 'https:') return Promise.reject(new TypeError('a client certificate is only sent over https'));
  return new Promise((resolve, reject) => {
    let secured = false;
    const req = httpsRequest(
      url,
      {
        agent,
        method: init.method ?? 'GET',
        headers: init.headers as Record<string, string>,
        ...(init.signal ? { signal: init.signal } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          // past the transport's limit there is nothing worth reading: stop downloading
          if (size > MAX_BODY_BYTES) res.destroy(new Error('answer too large'));
          else chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('end', () => {
          // the raw name/value pairs keep a header sent twice as two values
          const headers = new Headers();
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
            headers.append(String(res.rawHeaders[i]), String(res.rawHeaders[i + 1]));
          // a client-side response always has its status code
          resolve(new Response(Buffer.concat(chunks), { status: Number(res.statusCode), headers }));
        });
      },
    );
    req.on('socket', (socket) => (socket as TLSSocket).once('secureConnect', () => (secured = true)));
    req.on('error', (err: Error & { code?: string }) => reject(secured ? err : handshakeError(err)));
    req.end(init.body as string | undefined);
  });
}

/** A failure before the TLS session existed: the server's certificate, or the server refusing ours. */
function handshakeError(err: Error & { code?: string }): Error {
  const code = err.code ?? '';
  // not connected at all (refused, unreachable, DNS, our own timeout): an ordinary network failure
  if (err.name === 'AbortError' || /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT)$/.test(code))
    return err;
  if (SERVER_VERIFY_CODES.has(code)) {
    return new WechatPayApiError({
      status: undefined,
      code: TLS_REFUSAL_CODES.serverCertificate,
      message: `the server's TLS certificate did not verify (${code}); nothing was sent`,
      retryable: false,
      cause: err,
    });
  }
  return new WechatPayApiError({
    status: undefined,
    code: TLS_REFUSAL_CODES.clientCertificate,
    message:
      'WeChat Pay refused the TLS handshake: the merchant API client certificate is missing, wrong or not trusted; nothing was sent',
    retryable: false,
    cause: err,
  });
}
