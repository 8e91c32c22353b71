/**
 * The refund calls of both generations wired to one signed transport: the same transport, clock and
 * nonce source the other WeChat Pay calls use, so timeouts, retries and verification behave alike.
 */
import { randomBytes } from 'node:crypto';
import { USER_AGENT, type WechatPayClientOptions } from '../wechatpay/client';
import { createTransport, type ClientDeps } from '../wechatpay/http';
import { applyRefundV2, queryRefundV2 } from '../wechatpay/v2/refunds';
import { applyRefundV3, queryRefundV3, type RefundAnswer, type RefundApply } from '../wechatpay/v3/refunds';

/** One generation's refund apply and refund query. */
export interface RefundApi {
  apply(input: RefundApply): Promise<RefundAnswer>;
  query(ref: { outRefundNo: string; subMchid?: string }): Promise<RefundAnswer>;
}

/** The refund calls, by generation. */
export interface RefundCalls {
  v2: RefundApi;
  v3: RefundApi;
}

/** Builds both generations' refund calls from the client options (config, timeouts, injected fetch and clock). */
export function createRefundCalls(opts: WechatPayClientOptions): RefundCalls {
  const deps: ClientDeps = {
    config: opts.config,
    transport: createTransport(opts),
    now: opts.now ?? Date.now,
    nonce: opts.nonce ?? (() => randomBytes(16).toString('hex').toUpperCase()),
    userAgent: USER_AGENT,
  };
  return {
    v2: { apply: (input) => applyRefundV2(deps, input), query: (ref) => queryRefundV2(deps, ref) },
    v3: { apply: (input) => applyRefundV3(deps, input), query: (ref) => queryRefundV3(deps, ref) },
  };
}
