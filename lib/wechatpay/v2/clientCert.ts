/**
 * The merchant API client certificate that APIv2 `secapi` calls present on the TLS connection
 * (docs/protocol.md I), read from the environment (lib/secrets fills it from SSM when deployed):
 * either the PEM pair WeChat's certificate tool writes (`apiclient_cert.pem` as WECHATPAY_MERCHANT_CERT
 * and `apiclient_key.pem` as WECHATPAY_MERCHANT_PRIVATE_KEY, the key APIv3 signs with too) or the
 * PKCS#12 bundle `apiclient_cert.p12`, base64 in WECHATPAY_MERCHANT_P12, whose password is the mch_id.
 * Checked once at cold start by building a TLS context from it; a reason never quotes a value.
 */
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { Env } from '../../config';
import { configError } from '../../errors';
import type { TlsClientIdentity } from '../http';

/** Where `secapi` calls go and with which certificate; `blocked` says why they cannot be made. */
export interface SecapiSettings {
  /** The client certificate; undefined when none is configured. */
  identity: TlsClientIdentity | undefined;
  /** The https origin of `secapi` calls: WECHATPAY_SECAPI_BASE_URL, else WECHATPAY_API_BASE_URL. */
  baseUrl: string;
  /** An extra CA trusted for that origin (WECHATPAY_SECAPI_CA): a local simulator's test CA only. */
  ca: string | undefined;
  /** Why a `secapi` call cannot be made (a CONFIG reason), or undefined when it can. */
  blocked: string | undefined;
}

const BASE64 = /^[A-Za-z0-9+/\s]+={0,2}\s*$/;

/** Reads the client certificate and the `secapi` origin; throws CONFIG naming the variable that is wrong. */
export function readSecapiSettings(env: Env, mchid: string, apiBaseUrl: string): SecapiSettings {
  const value = (name: string) => {
    const v = env[name]?.trim();
    return v ? v.replace(/\\n/g, '\n') : undefined;
  };
  const identity = readIdentity(
    value('WECHATPAY_MERCHANT_CERT'),
    value('WECHATPAY_MERCHANT_PRIVATE_KEY'),
    value('WECHATPAY_MERCHANT_P12'),
    mchid,
  );
  const baseUrl = (value('WECHATPAY_SECAPI_BASE_URL') ?? apiBaseUrl).replace(/\/$/, '');
  if (!isHttpsOrigin(baseUrl) && value('WECHATPAY_SECAPI_BASE_URL') !== undefined)
    throw configError('WECHATPAY_SECAPI_BASE_URL must be an https origin');
  const ca = value('WECHATPAY_SECAPI_CA');
  if (ca !== undefined) {
    try {
      new X509Certificate(ca);
    } catch {
      throw configError('WECHATPAY_SECAPI_CA is not a PEM certificate');
    }
  }
  const blocked =
    identity === undefined
      ? 'APIv2 refunds need the merchant API client certificate: WECHATPAY_MERCHANT_CERT with WECHATPAY_MERCHANT_PRIVATE_KEY, or WECHATPAY_MERCHANT_P12'
      : isHttpsOrigin(baseUrl)
        ? undefined
        : 'APIv2 refunds need an https origin: set WECHATPAY_SECAPI_BASE_URL';
  return { identity, baseUrl, ca, blocked };
}

function readIdentity(
  certPem: string | undefined,
  keyPem: string | undefined,
  p12: string | undefined,
  mchid: string,
): TlsClientIdentity | undefined {
  if (p12 !== undefined) {
    if (certPem !== undefined) throw configError('set WECHATPAY_MERCHANT_CERT or WECHATPAY_MERCHANT_P12, not both');
    if (!BASE64.test(p12)) throw configError('WECHATPAY_MERCHANT_P12 must be the base64 of apiclient_cert.p12');
    // WeChat protects the bundle with the merchant id as its password
    const identity = { pfx: Buffer.from(p12, 'base64'), passphrase: mchid };
    check(
      identity,
      'WECHATPAY_MERCHANT_P12 does not open with the mch_id as password, or holds no certificate and key',
    );
    return identity;
  }
  if (certPem === undefined) return undefined;
  if (keyPem === undefined)
    throw configError('WECHATPAY_MERCHANT_CERT needs WECHATPAY_MERCHANT_PRIVATE_KEY (apiclient_key.pem)');
  try {
    new X509Certificate(certPem);
  } catch {
    throw configError('WECHATPAY_MERCHANT_CERT is not a PEM certificate');
  }
  const identity = { cert: certPem, key: keyPem };
  check(identity, 'WECHATPAY_MERCHANT_PRIVATE_KEY does not belong to WECHATPAY_MERCHANT_CERT');
  return identity;
}

/** Builds a TLS context from the identity: what OpenSSL would refuse at the first call, refused now. */
function check(identity: TlsClientIdentity, reason: string): void {
  try {
    createSecureContext(identity);
  } catch {
    throw configError(reason);
  }
}

function isHttpsOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' && url.pathname === '/' && !url.search && !url.hash && !url.username;
  } catch {
    return false;
  }
}
