/**
 * The scheduled certificate refresh (functions/refreshCertificates.ts, daily): download WeChat's
 * platform certificates with a signed request, verify and store them where every notify function reads
 * them, then report the days left before the earliest certificate held expires as the
 * PlatformCertificateDaysToExpiry metric (alarm below 30 days).
 */
import type { Config } from '../config';
import { asPayError } from '../errors';
import type { Logger } from '../log';
import { certificateRing, type CertificateDownload } from '../wechatpay/v3/certificates';
import type { KeyRing } from '../wechatpay/v3/keyring';
import { DAYS_TO_EXPIRY_METRIC, daysToEarliestExpiry } from './metrics';
import type { CertificateStore } from './store';

/** What one refresh run needs. */
export interface RefreshDeps {
  config: Pick<Config, 'keyRing'>;
  store: CertificateStore;
  download: (trusted: KeyRing) => Promise<CertificateDownload>;
  logger: Logger;
  now: () => number;
}

/** What a run did; also the function's result. */
export interface RefreshSummary {
  downloaded: boolean;
  /** Serials stored by this run. */
  stored: string[];
  /** Days to the earliest expiry of a certificate held after the run (configured or stored); absent when none is. */
  daysToExpiry?: number;
  /** Why the download failed (never a secret). */
  reason?: string;
}

/** One run: download, store, report the days to expiry; a failed download is logged, never thrown. */
export async function refreshCertificates(deps: RefreshDeps): Promise<RefreshSummary> {
  const summary: RefreshSummary = { downloaded: false, stored: [] };
  // a response signed by a certificate learned earlier (stored, not configured) is verified too
  let held = unionRing(deps.config.keyRing, certificateRing(await deps.store.list()));
  try {
    const result = await deps.download(held);
    await deps.store.put(result.certificates);
    summary.downloaded = true;
    summary.stored = result.certificates.map((c) => c.serial);
    held = unionRing(held, certificateRing(result.certificates));
  } catch (err) {
    summary.reason = asPayError(err).reason;
  }
  const now = deps.now();
  const days = daysToEarliestExpiry(held, now);
  if (days !== undefined) {
    summary.daysToExpiry = Math.floor(days * 100) / 100;
    // the alarm's metric, in the logger's {service, stage} dimension set (serverless.yml names the same)
    deps.logger.gauge(DAYS_TO_EXPIRY_METRIC, summary.daysToExpiry);
  }
  deps.logger.log(summary.downloaded ? 'info' : 'error', 'certificate refresh', { ...summary });
  return summary;
}

/** `first`'s keys, then `second`'s for serials `first` does not hold. */
export function unionRing(first: KeyRing, second: KeyRing): KeyRing {
  const ring: KeyRing = {
    entry: (serial) => first.entry(serial) ?? second.entry(serial),
    get: (serial) => ring.entry(serial)?.key,
    serials: () => [...new Set([...first.serials(), ...second.serials()])],
  };
  return ring;
}
