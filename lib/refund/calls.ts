/**
 * The refund calls of both generations wired to one signed transport: the same transport, clock and
 * nonce source the other WeChat Pay calls use, so timeouts, retries and verification behave alike.
 * APIv2's refund apply (`secapi`) goes through a transport of its own whose connections carry the
 * merchant's client certificate (docs/protocol.md I); without one it is blocked before anything is written.
 */
import { randomBytes } from 'node:crypto';
import { configError } from '../errors';
import { USER_AGENT, type WechatPayClientOptions } from '../wechatpay/client';
import { clientCertificateFetch, createTransport, type ClientDeps } from '../wechatpay/http';
import type { SecapiSettings } from '../wechatpay/v2/clientCert';
import { applyRefundV2, queryRefundV2 } from '../wechatpay/v2/refunds';
import { applyRefundV3, queryRefundV3, type RefundAnswer, type RefundApply } from '../wechatpay/v3/refunds';

/** One generation's refund apply and refund query. */
export interface RefundApi {
  apply(input: RefundApply): Promise<RefundAnswer>;
  query(ref: { outRefundNo: string; subMchid?: string }): Promise<RefundAnswer>;
  /** Why `apply` cannot be called (a CONFIG reason, e.g. no client certificate), checked before any write. */
  blocked?: string;
}

/** The refund calls, by generation. */
export interface RefundCalls {
  v2: RefundApi;
  v3: RefundApi;
}

/** What the refund calls are built from: the client options and, for APIv2 apply, the `secapi` settings. */
export interface RefundCallsOptions extends WechatPayClientOptions {
  /** The client certificate and `secapi` origin (lib/wechatpay/v2/clientCert.ts); absent: APIv2 apply is blocked. */
  secapi?: SecapiSettings;
}

const NO_CERTIFICATE =
  'APIv2 refunds need the merchant API client certificate (WECHATPAY_MERCHANT_CERT or WECHATPAY_MERCHANT_P12)';

/** Builds both generations' refund calls from the client options (config, timeouts, injected fetch and clock). */
export function createRefundCalls(opts: RefundCallsOptions): RefundCalls {
  const deps: ClientDeps = {
    config: opts.config,
    transport: createTransport(opts),
    now: opts.now ?? Date.now,
    nonce: opts.nonce ?? (() => randomBytes(16).toString('hex').toUpperCase()),
    userAgent: USER_AGENT,
  };
  const secapi = opts.secapi;
  const blocked = secapi === undefined ? NO_CERTIFICATE : secapi.blocked;
  const secure: ClientDeps | undefined =
    secapi?.identity === undefined || blocked !== undefined
      ? undefined
      : {
          ...deps,
          config: { ...opts.config, apiBaseUrl: secapi.baseUrl },
          transport: createTransport({
            ...opts,
            fetch: clientCertificateFetch(secapi.identity, secapi.ca === undefined ? {} : { ca: secapi.ca }),
          }),
        };
  return {
    v2: {
      // `blocked` is checked by the caller before it writes; this guard only keeps a direct call honest
      apply: (input) =>
        secure === undefined ? Promise.reject(configError(blocked ?? NO_CERTIFICATE)) : applyRefundV2(secure, input),
      query: (ref) => queryRefundV2(deps, ref),
      ...(blocked === undefined ? {} : { blocked }),
    },
    v3: { apply: (input) => applyRefundV3(deps, input), query: (ref) => queryRefundV3(deps, ref) },
  };
}
