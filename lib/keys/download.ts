/**
 * The certificate download bound to a deployment's configuration, and the scheduled refresh (daily, and
 * `npm run certificates -- fetch`): download, verify, store.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config';
import { configError } from '../errors';
import type { Transport } from '../wechatpay/http';
import { downloadCertificates, type CertificateDownload } from '../wechatpay/v3/certificates';
import type { KeyRing } from '../wechatpay/v3/keyring';
import type { CertificateStore } from './store';

/** The User-Agent of certificate downloads (WeChat requires one on APIv3 calls). */
export const KEYS_USER_AGENT = `wechatpay-lambda/0.1.0 certificates (node ${process.version})`;

/** A download function for the refreshing ring; CONFIG error when APIv3 or the merchant key is missing. */
export function configuredDownloader(
  config: Pick<Config, 'mchid' | 'merchant' | 'apiBaseUrl' | 'apiV3Key'>,
  transport: Transport,
  now: () => number = Date.now,
): (trusted: KeyRing) => Promise<CertificateDownload> {
  const { merchant, apiV3Key } = config;
  if (merchant === undefined)
    throw configError(
      'WECHATPAY_MERCHANT_PRIVATE_KEY and WECHATPAY_MERCHANT_SERIAL_NO are required to download certificates',
    );
  if (apiV3Key === undefined) throw configError('WECHATPAY_APIV3_KEY is required to download certificates');
  return (trusted) =>
    downloadCertificates({
      transport,
      mchid: config.mchid,
      merchant,
      apiBaseUrl: config.apiBaseUrl,
      apiV3Key,
      trusted,
      now,
      nonce: () => randomBytes(16).toString('hex').toUpperCase(),
      userAgent: KEYS_USER_AGENT,
    });
}

/** Downloads the certificates WeChat lists and stores them; returns what was stored. */
export async function refreshStoredCertificates(deps: {
  download: (trusted: KeyRing) => Promise<CertificateDownload>;
  trusted: KeyRing;
  store: CertificateStore;
}): Promise<CertificateDownload> {
  const result = await deps.download(deps.trusted);
  await deps.store.put(result.certificates);
  return result;
}
