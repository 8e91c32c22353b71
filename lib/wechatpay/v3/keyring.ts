/**
 * The verification key ring: every key WeChat Pay may sign with, by the serial it names in
 * `Wechatpay-Serial`. Platform certificates and the WeChat Pay public key live side by side, because
 * during a switch WeChat signs with either. Key objects are built once, at cold start.
 */
import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import { configError } from '../../errors';

/** Which kind of key verified a delivery (the switch to the public key is watched through it). */
export type KeyKind = 'platform-certificate' | 'public-key';

/** One verification key with what is known about it. */
export interface KeyEntry {
  key: KeyObject;
  kind: KeyKind;
  /** Certificate validity in epoch ms; absent for the public key, which does not expire. */
  notBefore?: number;
  notAfter?: number;
}

export interface KeyRing {
  /** The key for a serial or public-key id, or undefined when we do not hold it. */
  get(serial: string): KeyObject | undefined;
  /** The key with its kind and validity, or undefined when we do not hold it. */
  entry(serial: string): KeyEntry | undefined;
  /** The serials held, for logs and diagnostics. */
  serials(): string[];
}

/**
 * Clock skew tolerated at either end of a certificate's validity: WeChat's clock and ours may disagree
 * by minutes, and a delivery signed a moment before expiry may arrive (or be retried) a moment after.
 */
export const VALIDITY_GRACE_MS = 60 * 60 * 1000;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
export const PUBLIC_KEY_ID = /^PUB_KEY_ID_[0-9A-Za-z_]{1,64}$/;

/** Says which certificate was dropped at cold start; one call per certificate. */
export type ExpiredCertificateWarning = (serial: string, notAfter: string) => void;

/** Builds a key ring from PEM certificates (serials read from each) and an optional public key. */
export function createKeyRing(opts: {
  platformCertsPem?: string;
  publicKeyId?: string;
  publicKeyPem?: string;
  /** Clock for dropping certificates already expired (beyond the grace) at build time. */
  now?: () => number;
  /** Where the drop is reported (default: one JSON warning line on stderr). */
  onExpired?: ExpiredCertificateWarning;
}): KeyRing {
  const now = opts.now ?? Date.now;
  const onExpired = opts.onExpired ?? warnExpired;
  const keys = new Map<string, KeyEntry>();
  for (const pem of splitCertificates(opts.platformCertsPem ?? '')) {
    const cert = new X509Certificate(pem);
    const serial = normaliseSerial(cert.serialNumber);
    const notAfter = Date.parse(cert.validTo);
    if (notAfter + VALIDITY_GRACE_MS < now()) {
      onExpired(serial, new Date(notAfter).toISOString());
      continue;
    }
    keys.set(serial, {
      key: cert.publicKey,
      kind: 'platform-certificate',
      notBefore: Date.parse(cert.validFrom),
      notAfter,
    });
  }
  if (opts.publicKeyId !== undefined || opts.publicKeyPem !== undefined) {
    if (!opts.publicKeyId || !PUBLIC_KEY_ID.test(opts.publicKeyId)) {
      throw configError('WECHATPAY_PUBLIC_KEY_ID must look like PUB_KEY_ID_… and go with WECHATPAY_PUBLIC_KEY');
    }
    if (!opts.publicKeyPem) throw configError('WECHATPAY_PUBLIC_KEY is required with WECHATPAY_PUBLIC_KEY_ID');
    keys.set(opts.publicKeyId, { key: createPublicKey(opts.publicKeyPem), kind: 'public-key' });
  }
  // the serial as sent is normally already the stored form (one Map lookup); only a miss is normalised
  const entry = (serial: string) =>
    keys.get(serial) ?? (PUBLIC_KEY_ID.test(serial) ? undefined : keys.get(normaliseSerial(serial)));
  return {
    get: (serial) => entry(serial)?.key,
    entry,
    serials: () => [...keys.keys()],
  };
}

/** True when `nowMs` lies within the entry's validity widened by {@link VALIDITY_GRACE_MS}. */
export function isWithinValidity(entry: KeyEntry, nowMs: number): boolean {
  if (entry.notBefore !== undefined && nowMs < entry.notBefore - VALIDITY_GRACE_MS) return false;
  if (entry.notAfter !== undefined && nowMs > entry.notAfter + VALIDITY_GRACE_MS) return false;
  return true;
}

/** Splits a bundle of concatenated PEM certificates. */
export function splitCertificates(bundle: string): string[] {
  return bundle.match(PEM_CERT) ?? [];
}

/** Serials compare as upper-case hex without leading zeros (WeChat prints 40 digits, Node may drop zeros). */
export function normaliseSerial(serial: string): string {
  return serial.toUpperCase().replace(/^0+(?=.)/, '');
}

function warnExpired(serial: string, notAfter: string): void {
  // config is read before any logger exists; this line has the logger's shape so log queries find it
  process.stderr.write(
    `${JSON.stringify({ level: 'warn', time: new Date().toISOString(), message: 'expired platform certificate dropped', serial, notAfter })}\n`,
  );
}
