/**
 * Registering where WeChat Pay sends merchant-coupon (商家券) callbacks: validate the URL the way
 * WeChat will, call the signed API, and explain the documented errors in words an operator can act on.
 */
import { malformed } from '../../errors';
import { WechatPayApiError } from '../apiError';
import type { V3Client } from './client';

const HINTS: Record<string, string> = {
  PARAM_ERROR: 'WeChat rejected a parameter: the URL must be HTTPS, publicly reachable, without a query string',
  INVALID_REQUEST: 'the request does not fit the API (check the merchant id and the URL)',
  NOAUTH: 'this merchant has no merchant-coupon (商家券) permission: enable the product in the merchant platform',
  NO_AUTH: 'this merchant has no merchant-coupon (商家券) permission: enable the product in the merchant platform',
  MCH_NOT_EXISTS: 'the merchant id does not exist at WeChat Pay: check WECHATPAY_MCHID',
  FREQUENCY_LIMITED: 'called too often: wait a minute and try again',
  RATELIMIT_EXCEEDED: 'called too often: wait a minute and try again',
  SYSTEM_ERROR: 'WeChat Pay had a transient error (retried already): try again later',
  SIGN_ERROR:
    'WeChat could not verify our signature: check WECHATPAY_MERCHANT_PRIVATE_KEY and WECHATPAY_MERCHANT_SERIAL_NO',
  RESOURCE_NOT_EXISTS: 'no callback URL is set yet',
  UNAUTHENTIC_RESPONSE:
    'the answer was not signed by WeChat Pay: check WECHATPAY_PLATFORM_CERTS / WECHATPAY_PUBLIC_KEY and the API base URL',
};

/** A sentence for an operator about a failed callback call. */
export function couponCallbackErrorHint(err: unknown): string {
  if (err instanceof WechatPayApiError) return `${err.code}: ${HINTS[err.code] ?? err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** Checks a callback URL as WeChat requires it (HTTPS, no query); plain HTTP only on loopback, for the simulator. */
export function checkCallbackUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw malformed('callback URL is not a URL');
  }
  const loopback = parsed.hostname === '127.0.0.1' || parsed.hostname === 'localhost' || parsed.hostname === '[::1]';
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback))
    throw malformed('callback URL must be HTTPS');
  if (parsed.search || parsed.hash) throw malformed('callback URL must not have a query string or fragment');
  return parsed.toString();
}

/** Sets the merchant-coupon callback URL and reads it back to confirm. */
export async function registerCouponCallback(
  client: { v3: Pick<V3Client, 'setCouponCallback' | 'getCouponCallback'> },
  notifyUrl: string,
  mchid?: string,
): Promise<{ notifyUrl: string; mchid: string; updateTime: string }> {
  const url = checkCallbackUrl(notifyUrl);
  const set = await client.v3.setCouponCallback({ notifyUrl: url, ...(mchid ? { mchid } : {}) });
  const read = await client.v3.getCouponCallback(mchid ? { mchid } : {});
  if (read.notifyUrl !== set.notifyUrl)
    throw malformed('WeChat Pay reports another callback URL than the one just set');
  return set;
}
