/**
 * The WeChat Pay API client: both generations wired onto one transport. The only module that knows
 * both v2/ and v3/, so the generation folders never need each other.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config';
import { createTransport, type ClientDeps, type TransportOptions } from './http';
import { createV2Client, type V2Client } from './v2/client';
import { createV3Client, type V3Client } from './v3/client';

/** Everything the client reads from outside: configuration plus the injectable dependencies. */
export interface WechatPayClientOptions extends TransportOptions {
  config: Config;
  /** Nonce source for `nonce_str` and the Authorization nonce (default 32 random hex characters). */
  nonce?: () => string;
}

/** The APIv2 and APIv3 calls this service makes. */
export interface WechatPayClient {
  v2: V2Client;
  v3: V3Client;
}

/** The User-Agent WeChat requires on APIv3 calls (and that helps its support read our traffic). */
export const USER_AGENT = `wechatpay-lambda/0.1.0 (node ${process.version})`;

/** Wires both generations to one transport; configuration gaps surface as CONFIG errors at call time. */
export function createWechatPayClient(opts: WechatPayClientOptions): WechatPayClient {
  const transport = createTransport(opts);
  const now = opts.now ?? Date.now;
  const nonce = opts.nonce ?? (() => randomBytes(16).toString('hex').toUpperCase());
  const deps: ClientDeps = { config: opts.config, transport, now, nonce, userAgent: USER_AGENT };
  return { v2: createV2Client(deps), v3: createV3Client(deps) };
}
