/**
 * The verification key ring: every key WeChat Pay may sign with, by the serial it names in
 * `Wechatpay-Serial`. Platform certificates and the WeChat Pay public key live side by side, because
 * during a switch WeChat signs with either. Key objects are built once, at cold start.
 */
import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import { configError } from '../../errors';

export interface KeyRing {
  /** The key for a serial or public-key id, or undefined when we do not hold it. */
  get(serial: string): KeyObject | undefined;
  /** The serials held, for logs and diagnostics. */
  serials(): string[];
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
export const PUBLIC_KEY_ID = /^PUB_KEY_ID_[0-9A-Za-z_]{1,64}$/;

/** Builds a key ring from PEM certificates (serials read from each) and an optional public key. */
export function createKeyRing(opts: {
  platformCertsPem?: string;
  publicKeyId?: string;
  publicKeyPem?: string;
}): KeyRing {
  const keys = new Map<string, KeyObject>();
  for (const pem of splitCertificates(opts.platformCertsPem ?? '')) {
    const cert = new X509Certificate(pem);
    keys.set(normaliseSerial(cert.serialNumber), cert.publicKey);
  }
  if (opts.publicKeyId !== undefined || opts.publicKeyPem !== undefined) {
    if (!opts.publicKeyId || !PUBLIC_KEY_ID.test(opts.publicKeyId)) {
      throw configError('WECHATPAY_PUBLIC_KEY_ID must look like PUB_KEY_ID_… and go with WECHATPAY_PUBLIC_KEY');
    }
    if (!opts.publicKeyPem) throw configError('WECHATPAY_PUBLIC_KEY is required with WECHATPAY_PUBLIC_KEY_ID');
    keys.set(opts.publicKeyId, createPublicKey(opts.publicKeyPem));
  }
  return {
    get: (serial) => keys.get(PUBLIC_KEY_ID.test(serial) ? serial : normaliseSerial(serial)),
    serials: () => [...keys.keys()],
  };
}

/** Splits a bundle of concatenated PEM certificates. */
export function splitCertificates(bundle: string): string[] {
  return bundle.match(PEM_CERT) ?? [];
}

/** Serials compare as upper-case hex without leading zeros (WeChat prints 40 digits, Node may drop zeros). */
function normaliseSerial(serial: string): string {
  return serial.toUpperCase().replace(/^0+(?=.)/, '');
}
