/**
 * The key ring a notify function verifies with: the configured keys plus the platform certificates
 * stored in the table, re-read at most every few minutes, so WeChat's new certificate is trusted
 * without a redeploy. A delivery naming a serial we do not hold may trigger one reload and, failing
 * that, one verified download; the download is rate-limited per container so that a flood of forged
 * serials costs WeChat (and us) at most one call per interval (docs/protocol.md H8: refresh-on-unknown
 * can loop). Nothing is ever trusted that did not pass lib/wechatpay/v3/certificates.ts.
 */
import type { Logger } from '../log';
import { certificateRing, type CertificateDownload, type PlatformCertificate } from '../wechatpay/v3/certificates';
import type { KeyRing } from '../wechatpay/v3/keyring';
import type { CertificateStore } from './store';

/** Re-read the stored certificates at most this often (ms). */
export const DEFAULT_RELOAD_MS = 5 * 60 * 1000;
/** At most one store re-read for unknown serials per this interval (ms). */
export const DEFAULT_UNKNOWN_RELOAD_MS = 30 * 1000;
/** At most one outbound download per container per this interval (ms). */
export const DEFAULT_DOWNLOAD_INTERVAL_MS = 5 * 60 * 1000;

const CERTIFICATE_SERIAL = /^[0-9A-Fa-f]{1,64}$/;

/** What the refreshing ring is built from. */
export interface RefreshingKeyRingOptions {
  /** The keys of the deployment's configuration (lib/config.ts). */
  configured: KeyRing;
  store: CertificateStore;
  /** A verified download given the keys trusted now; absent where the merchant key is not available. */
  download?: (trusted: KeyRing) => Promise<CertificateDownload>;
  now: () => number;
  logger?: Logger;
  reloadMs?: number;
  unknownReloadMs?: number;
  downloadIntervalMs?: number;
}

/** A key ring that learns certificates at run time. */
export interface RefreshingKeyRing {
  /** The ring to verify with: a stable object that always answers from the latest keys. */
  ring: KeyRing;
  /**
   * Brings the ring up to date before a delivery naming `serial` is verified: a periodic reload, and
   * for an unknown certificate serial a rate-limited reload and download. Never throws: a failure
   * is logged and the delivery is verified with the keys held. Nothing to do (the keys read recently,
   * the serial known): undefined at once, no promise.
   */
  prepare(serial: string | undefined): Promise<void> | undefined;
  /** Outbound downloads started by this ring so far. */
  downloads(): number;
}

/** Builds a refreshing key ring; nothing is read until the first `prepare`. */
export function createRefreshingKeyRing(opts: RefreshingKeyRingOptions): RefreshingKeyRing {
  const reloadMs = opts.reloadMs ?? DEFAULT_RELOAD_MS;
  const unknownReloadMs = opts.unknownReloadMs ?? DEFAULT_UNKNOWN_RELOAD_MS;
  const downloadIntervalMs = opts.downloadIntervalMs ?? DEFAULT_DOWNLOAD_INTERVAL_MS;
  let storedCerts: PlatformCertificate[] = [];
  let stored: KeyRing = certificateRing([]);
  const hold = (certs: PlatformCertificate[]) => {
    storedCerts = certs;
    stored = certificateRing(certs);
  };
  let loadedAt: number | undefined;
  let downloadedAt: number | undefined;
  let downloadCount = 0;
  let inFlight: Promise<void> | undefined;

  const ring: KeyRing = {
    // a configured key wins: it is what the operator chose, and it carries its own validity
    entry: (serial) => opts.configured.entry(serial) ?? stored.entry(serial),
    get: (serial) => ring.entry(serial)?.key,
    serials: () => [...new Set([...opts.configured.serials(), ...stored.serials()])],
  };

  const warn = (message: string, err: unknown) =>
    opts.logger?.log('warn', message, { error: err instanceof Error ? err.message : String(err) });

  async function reload(): Promise<void> {
    loadedAt = opts.now();
    try {
      hold(await opts.store.list());
    } catch (err) {
      warn('stored certificates not read', err);
    }
  }

  async function download(): Promise<void> {
    if (opts.download === undefined) return;
    downloadedAt = opts.now();
    downloadCount += 1;
    try {
      const result = await opts.download(ring);
      await opts.store.put(result.certificates);
      hold(mergeBySerial(storedCerts, result.certificates));
      opts.logger?.log('info', 'platform certificates downloaded', {
        serials: result.certificates.map((c) => c.serial),
        signedBy: result.answer.serial,
        keySource: result.answer.keySource,
      });
    } catch (err) {
      warn('platform certificate download failed', err);
    }
  }

  async function update(serial: string | undefined): Promise<void> {
    const now = opts.now();
    if (loadedAt === undefined || now - loadedAt >= reloadMs) await reload();
    if (serial === undefined || !CERTIFICATE_SERIAL.test(serial) || ring.entry(serial) !== undefined) return;
    if (loadedAt !== undefined && opts.now() - loadedAt >= unknownReloadMs) await reload();
    if (ring.entry(serial) !== undefined) return;
    if (downloadedAt === undefined || opts.now() - downloadedAt >= downloadIntervalMs) await download();
  }

  /** Whether update(serial) would do nothing: the store read recently, the serial known or not a certificate's. */
  const upToDate = (serial: string | undefined): boolean =>
    loadedAt !== undefined &&
    opts.now() - loadedAt < reloadMs &&
    (serial === undefined || !CERTIFICATE_SERIAL.test(serial) || ring.entry(serial) !== undefined);

  async function refresh(serial: string | undefined): Promise<void> {
    // one update at a time: a burst of deliveries shares it instead of stampeding the store or WeChat
    while (inFlight !== undefined) await inFlight;
    inFlight = update(serial).finally(() => {
      inFlight = undefined;
    });
    await inFlight;
  }

  return {
    ring,
    prepare(serial) {
      // the common case, settled at once: no update, no promise per delivery
      if (inFlight === undefined && upToDate(serial)) return undefined;
      return refresh(serial);
    },
    downloads: () => downloadCount,
  };
}

/** The held certificates plus the downloaded ones, one per serial (the fresh copy wins). */
function mergeBySerial(held: PlatformCertificate[], fresh: PlatformCertificate[]): PlatformCertificate[] {
  const out = new Map(held.map((c) => [c.serial, c]));
  for (const c of fresh) out.set(c.serial, c);
  return [...out.values()];
}
