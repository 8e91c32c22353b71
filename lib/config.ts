/**
 * Configuration: the environment turned into typed, validated settings once per cold start. A
 * missing or malformed variable is named in the error; secret values never appear in it.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { configError } from './errors';
import type { UnknownOrderPolicy } from './orders/store';
import { AGGREGATOR_SIGN_MODES, type AggregatorSignMode } from './aggregator/sign';
import { createKeyRing, splitCertificates, type KeyRing } from './wechatpay/v3/keyring';

export interface Config {
  mchid: string;
  /** The default appid: WECHATPAY_APPID, else the first of WECHATPAY_APPIDS (what API calls send by default). */
  appid: string;
  /** Every appid this merchant serves (official account, mini program, app…): messages may carry any of them. */
  appids: readonly string[];
  tableName: string;
  /** Local only: DynamoDB Local or the embedded store. */
  dynamodbEndpoint: string | undefined;
  /** The APIv2 key (32 characters); undefined when APIv2 is not used. */
  apiV2Key: string | undefined;
  /** The APIv3 key's 32 bytes; undefined when APIv3 is not used. */
  apiV3Key: Buffer | undefined;
  /** Platform certificates and the WeChat Pay public key, by serial. */
  keyRing: KeyRing;
  /** The merchant API key and certificate serial, for signing APIv3 requests. */
  merchant: { privateKey: KeyObject; serialNo: string } | undefined;
  apiBaseUrl: string;
  aggregatorSecret: string | undefined;
  /** How the aggregator's `sign` is built (lib/wechatpay/aggregator.ts); default `sorted-md5`. */
  aggregatorSignMode: AggregatorSignMode;
  unknownOrderPolicy: UnknownOrderPolicy;
  /** Largest notification body accepted, in bytes. */
  maxBodyBytes: number;
}

export type Env = Readonly<Record<string, string | undefined>>;

const DIGITS = /^\d{1,32}$/;
const APPID = /^[A-Za-z0-9_]{1,32}$/;
const SERIAL = /^[0-9A-Fa-f]{1,64}$/;
export const DEFAULT_API_BASE_URL = 'https://api.mch.weixin.qq.com';

/** Reads and validates the configuration; throws a CONFIG error naming the offending variable. */
export function loadConfig(env: Env): Config {
  const required = (name: string) => {
    const v = env[name]?.trim();
    if (!v) throw configError(`${name} is not set`);
    return v;
  };
  const optional = (name: string) => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  const pem = (name: string) => optional(name)?.replace(/\\n/g, '\n');

  const mchid = required('WECHATPAY_MCHID');
  if (!DIGITS.test(mchid)) throw configError('WECHATPAY_MCHID must be digits');
  const appids = readAppids(optional('WECHATPAY_APPID'), optional('WECHATPAY_APPIDS'));
  const appid = appids[0] as string;
  const tableName = required('PAYMENTS_TABLE');

  const apiV2Key = optional('WECHATPAY_APIV2_KEY');
  if (apiV2Key !== undefined && !/^[\x21-\x7e]{32}$/.test(apiV2Key))
    throw configError('WECHATPAY_APIV2_KEY must be 32 printable ASCII characters');
  const v3 = optional('WECHATPAY_APIV3_KEY');
  if (v3 !== undefined && Buffer.byteLength(v3, 'utf8') !== 32)
    throw configError('WECHATPAY_APIV3_KEY must be exactly 32 bytes');

  let keyRing: KeyRing;
  try {
    keyRing = createKeyRing({
      platformCertsPem: pem('WECHATPAY_PLATFORM_CERTS'),
      publicKeyId: optional('WECHATPAY_PUBLIC_KEY_ID'),
      publicKeyPem: pem('WECHATPAY_PUBLIC_KEY'),
    });
  } catch (err) {
    if (err instanceof Error && err.name === 'PayError') throw err;
    throw configError('WECHATPAY_PLATFORM_CERTS or WECHATPAY_PUBLIC_KEY is not a valid PEM');
  }
  // counted on its own: a public key in the ring must not hide a platform bundle that holds no certificate
  const platformPem = pem('WECHATPAY_PLATFORM_CERTS');
  if (platformPem !== undefined && splitCertificates(platformPem).length === 0) {
    throw configError('WECHATPAY_PLATFORM_CERTS holds no PEM certificate');
  }
  if (v3 !== undefined && keyRing.serials().length === 0) {
    throw configError('WECHATPAY_APIV3_KEY is set but neither WECHATPAY_PLATFORM_CERTS nor WECHATPAY_PUBLIC_KEY is');
  }
  if (apiV2Key === undefined && v3 === undefined)
    throw configError('WECHATPAY_APIV2_KEY or WECHATPAY_APIV3_KEY must be set');

  let merchant: Config['merchant'];
  const merchantKey = pem('WECHATPAY_MERCHANT_PRIVATE_KEY');
  const serialNo = optional('WECHATPAY_MERCHANT_SERIAL_NO');
  if (merchantKey !== undefined || serialNo !== undefined) {
    if (!merchantKey) throw configError('WECHATPAY_MERCHANT_PRIVATE_KEY is required with WECHATPAY_MERCHANT_SERIAL_NO');
    if (!serialNo || !SERIAL.test(serialNo))
      throw configError('WECHATPAY_MERCHANT_SERIAL_NO must be the hex serial of the merchant API certificate');
    try {
      merchant = { privateKey: createPrivateKey(merchantKey), serialNo: serialNo.toUpperCase() };
    } catch {
      throw configError('WECHATPAY_MERCHANT_PRIVATE_KEY is not a valid PEM private key');
    }
  }

  const apiBaseUrl = optional('WECHATPAY_API_BASE_URL') ?? DEFAULT_API_BASE_URL;
  if (!isOrigin(apiBaseUrl))
    throw configError('WECHATPAY_API_BASE_URL must be an http(s) origin (no path, query, fragment or credentials)');

  const policy = optional('WECHATPAY_UNKNOWN_ORDER') ?? 'record';
  if (policy !== 'record' && policy !== 'reject') throw configError('WECHATPAY_UNKNOWN_ORDER must be record or reject');

  const maxBody = optional('WECHATPAY_MAX_BODY_BYTES') ?? '65536';
  if (!/^\d{3,8}$/.test(maxBody)) throw configError('WECHATPAY_MAX_BODY_BYTES must be a number of bytes');

  const signMode = optional('AGGREGATOR_SIGN_MODE') ?? 'sorted-md5';
  if (!(AGGREGATOR_SIGN_MODES as readonly string[]).includes(signMode))
    throw configError(`AGGREGATOR_SIGN_MODE must be one of ${AGGREGATOR_SIGN_MODES.join(', ')}`);

  const endpoint = optional('DYNAMODB_ENDPOINT');
  if (endpoint !== undefined && !/^https?:\/\/\S+$/.test(endpoint))
    throw configError('DYNAMODB_ENDPOINT must be a URL');

  return {
    mchid,
    appid,
    appids,
    tableName,
    dynamodbEndpoint: endpoint,
    apiV2Key,
    apiV3Key: v3 === undefined ? undefined : Buffer.from(v3, 'utf8'),
    keyRing,
    merchant,
    apiBaseUrl: apiBaseUrl.replace(/\/$/, ''),
    aggregatorSecret: optional('AGGREGATOR_SECRET'),
    aggregatorSignMode: signMode as AggregatorSignMode,
    unknownOrderPolicy: policy,
    maxBodyBytes: Number(maxBody),
  };
}

/**
 * The appids: WECHATPAY_APPID (one) and WECHATPAY_APPIDS (a comma-separated list), either or both;
 * the single one comes first, duplicates are dropped, and every entry must be a well-formed appid.
 */
function readAppids(single: string | undefined, list: string | undefined): string[] {
  if (single !== undefined && !APPID.test(single)) throw configError('WECHATPAY_APPID is malformed');
  const listed = list === undefined ? [] : list.split(',').map((a) => a.trim());
  if (listed.some((a) => !APPID.test(a)))
    throw configError('WECHATPAY_APPIDS must be a comma-separated list of appids');
  const all = [...new Set([...(single === undefined ? [] : [single]), ...listed])];
  if (all.length === 0) throw configError('WECHATPAY_APPID is not set (or WECHATPAY_APPIDS)');
  return all;
}

/** True when `appid` is one of the configured appids. */
export function isOurAppid(config: Pick<Config, 'appids'>, appid: string | undefined): boolean {
  return appid !== undefined && config.appids.includes(appid);
}

/** An http(s) origin, optionally with a trailing slash: what the clients prefix every path with. */
function isOrigin(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  const bare = !url.username && !url.password && !url.search && !url.hash && url.pathname === '/';
  return (url.protocol === 'https:' || url.protocol === 'http:') && bare && !/[?#@\s]/.test(text);
}
