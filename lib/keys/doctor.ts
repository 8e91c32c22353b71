/**
 * `npm run doctor`'s offline checks: each misconfiguration of the keys named in one sentence, before
 * WeChat answers a deployment with 401s. Pure: the environment and the clock come in, findings go out.
 * It reads the variables lib/config.ts reads, plus the optional WECHATPAY_MERCHANT_CERT (the merchant
 * API certificate, checked here against the serial and the private key) and the APIv2 refund client
 * certificate variables, checked by the same reader the refund function runs at cold start.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { DEFAULT_API_BASE_URL } from '../config';
import { PayError } from '../errors';
import { readSecapiSettings, type SecapiSettings } from '../wechatpay/v2/clientCert';
import { normaliseSerial, PUBLIC_KEY_ID, splitCertificates, VALIDITY_GRACE_MS } from '../wechatpay/v3/keyring';

/** One problem, with the variable it is about. */
export interface Finding {
  variable: string;
  message: string;
}

type Env = Readonly<Record<string, string | undefined>>;

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?(?:-----END CERTIFICATE-----|$)/g;
const HEX_SERIAL = /^[0-9A-Fa-f]{1,64}$/;

/** Every key misconfiguration found in `env` at `nowMs`; empty when the keys look right. */
export function checkKeys(env: Env, nowMs: number): Finding[] {
  const findings: Finding[] = [];
  const add = (variable: string, message: string) => findings.push({ variable, message });
  const value = (name: string) => {
    const v = env[name]?.trim();
    return v ? v.replace(/\\n/g, '\n') : undefined;
  };

  const v2 = value('WECHATPAY_APIV2_KEY');
  if (v2 !== undefined && !/^[\x21-\x7e]{32}$/.test(v2))
    add('WECHATPAY_APIV2_KEY', `WECHATPAY_APIV2_KEY has ${[...v2].length} characters; the APIv2 key is exactly 32.`);
  const v3 = value('WECHATPAY_APIV3_KEY');
  if (v3 !== undefined && Buffer.byteLength(v3, 'utf8') !== 32)
    add(
      'WECHATPAY_APIV3_KEY',
      `WECHATPAY_APIV3_KEY is ${Buffer.byteLength(v3, 'utf8')} bytes; the APIv3 key is exactly 32.`,
    );

  // the merchant side first: the platform checks compare against it
  const serialNo = value('WECHATPAY_MERCHANT_SERIAL_NO');
  if (serialNo !== undefined && !HEX_SERIAL.test(serialNo))
    add('WECHATPAY_MERCHANT_SERIAL_NO', 'WECHATPAY_MERCHANT_SERIAL_NO is not a hexadecimal certificate serial.');
  const merchantKey = parse(
    'WECHATPAY_MERCHANT_PRIVATE_KEY',
    value('WECHATPAY_MERCHANT_PRIVATE_KEY'),
    createPrivateKey,
    add,
  );
  const merchantPublic = merchantKey === undefined ? undefined : spki(createPublicKey(merchantKey));
  const merchantCertPem = value('WECHATPAY_MERCHANT_CERT');
  const merchantCert = parse('WECHATPAY_MERCHANT_CERT', merchantCertPem, (pem) => new X509Certificate(pem), add);
  if (merchantCert !== undefined) {
    if (
      serialNo !== undefined &&
      HEX_SERIAL.test(serialNo) &&
      normaliseSerial(serialNo) !== normaliseSerial(merchantCert.serialNumber)
    )
      add(
        'WECHATPAY_MERCHANT_SERIAL_NO',
        `WECHATPAY_MERCHANT_SERIAL_NO ${serialNo} does not match the serial ${merchantCert.serialNumber} of WECHATPAY_MERCHANT_CERT.`,
      );
    if (merchantPublic !== undefined && spki(merchantCert.publicKey) !== merchantPublic)
      add(
        'WECHATPAY_MERCHANT_PRIVATE_KEY',
        'WECHATPAY_MERCHANT_PRIVATE_KEY does not belong to the merchant certificate WECHATPAY_MERCHANT_CERT (serial WECHATPAY_MERCHANT_SERIAL_NO).',
      );
  }

  const bundle = value('WECHATPAY_PLATFORM_CERTS');
  if (bundle !== undefined) {
    const blocks = bundle.match(CERT_BLOCK) ?? [];
    if (blocks.length === 0 || blocks.length !== splitCertificates(bundle).length)
      add(
        'WECHATPAY_PLATFORM_CERTS',
        'WECHATPAY_PLATFORM_CERTS holds a PEM certificate that cannot be parsed (or none at all).',
      );
    // a truncated block was named above; each complete one is checked on its own
    for (const [i, pem] of splitCertificates(bundle).entries()) {
      const cert = parse(
        `WECHATPAY_PLATFORM_CERTS`,
        pem,
        (p) => new X509Certificate(p),
        add,
        `certificate ${i + 1} of`,
      );
      if (cert === undefined) continue;
      const serial = normaliseSerial(cert.serialNumber);
      const isMerchant =
        (serialNo !== undefined && HEX_SERIAL.test(serialNo) && normaliseSerial(serialNo) === serial) ||
        (merchantPublic !== undefined && spki(cert.publicKey) === merchantPublic) ||
        (merchantCert !== undefined && normaliseSerial(merchantCert.serialNumber) === serial);
      if (isMerchant) {
        add(
          'WECHATPAY_PLATFORM_CERTS',
          `WECHATPAY_PLATFORM_CERTS holds the merchant API certificate ${serial}, not a WeChat Pay platform certificate.`,
        );
        continue;
      }
      if (Date.parse(cert.validTo) + VALIDITY_GRACE_MS < nowMs)
        add(
          'WECHATPAY_PLATFORM_CERTS',
          `Platform certificate ${serial} expired on ${new Date(cert.validTo).toISOString()}.`,
        );
      if (Date.parse(cert.validFrom) - VALIDITY_GRACE_MS > nowMs)
        add(
          'WECHATPAY_PLATFORM_CERTS',
          `Platform certificate ${serial} is not valid before ${new Date(cert.validFrom).toISOString()}.`,
        );
    }
  }
  const keyId = value('WECHATPAY_PUBLIC_KEY_ID');
  const publicKeyPem = value('WECHATPAY_PUBLIC_KEY');
  if (keyId !== undefined && publicKeyPem === undefined)
    add('WECHATPAY_PUBLIC_KEY', `WECHATPAY_PUBLIC_KEY_ID ${keyId} is set without its key WECHATPAY_PUBLIC_KEY.`);
  if (keyId === undefined && publicKeyPem !== undefined)
    add(
      'WECHATPAY_PUBLIC_KEY_ID',
      'WECHATPAY_PUBLIC_KEY is set without its id WECHATPAY_PUBLIC_KEY_ID (PUB_KEY_ID_…).',
    );
  if (keyId !== undefined && !PUBLIC_KEY_ID.test(keyId))
    add('WECHATPAY_PUBLIC_KEY_ID', 'WECHATPAY_PUBLIC_KEY_ID does not look like PUB_KEY_ID_… as WeChat Pay issues it.');
  const wechatKey = parse('WECHATPAY_PUBLIC_KEY', publicKeyPem, createPublicKey, add);
  if (wechatKey !== undefined && merchantPublic !== undefined && spki(wechatKey) === merchantPublic)
    add(
      'WECHATPAY_PUBLIC_KEY',
      "WECHATPAY_PUBLIC_KEY is the merchant's own public key, not the WeChat Pay public key.",
    );
  if (v3 !== undefined && bundle === undefined && publicKeyPem === undefined)
    add(
      'WECHATPAY_PLATFORM_CERTS',
      'APIv3 is configured but neither WECHATPAY_PLATFORM_CERTS nor WECHATPAY_PUBLIC_KEY is set (certificates can be fetched: npm run certificates -- fetch).',
    );
  for (const f of checkClientCertificate(env)) {
    // a variable already named above (an unparsable PEM, a key of another certificate) is not named twice
    if (!findings.some((known) => f.message.includes(known.variable))) findings.push(f);
  }
  return findings;
}

/** Variables whose presence says APIv2 refunds are meant to go through `secapi` with a client certificate. */
const SECAPI_VARIABLES = ['WECHATPAY_MERCHANT_P12', 'WECHATPAY_SECAPI_BASE_URL', 'WECHATPAY_SECAPI_CA'];
const VARIABLE = /WECHATPAY_[A-Z0-9_]+/;

/**
 * The APIv2 refund client certificate, read as the refund function reads it at cold start: what would
 * stop that cold start, and, once `secapi` is configured, what would block an APIv2 refund.
 */
export function checkClientCertificate(env: Env): Finding[] {
  const read = readSecapi(env);
  if ('error' in read) {
    const [variable = 'WECHATPAY_MERCHANT_CERT'] = read.error.match(VARIABLE) ?? [];
    return [{ variable, message: `${read.error}.` }];
  }
  const configured = SECAPI_VARIABLES.some((name) => env[name]?.trim());
  if (!configured || read.settings.blocked === undefined) return [];
  const [variable = 'WECHATPAY_MERCHANT_P12'] = read.settings.blocked.match(VARIABLE) ?? [];
  return [{ variable, message: `${read.settings.blocked}.` }];
}

/** One line on the APIv2 refund client certificate when `secapi` is configured and usable; else undefined. */
export function describeClientCertificate(env: Env): string | undefined {
  const read = readSecapi(env);
  if ('error' in read || read.settings.identity === undefined || read.settings.blocked !== undefined) return undefined;
  const form = 'pfx' in read.settings.identity ? 'PKCS#12 WECHATPAY_MERCHANT_P12' : 'PEM WECHATPAY_MERCHANT_CERT';
  return `APIv2 refunds: the merchant client certificate (${form}) loads; secapi calls go to ${read.settings.baseUrl}.`;
}

function readSecapi(env: Env): { settings: SecapiSettings } | { error: string } {
  const mchid = env.WECHATPAY_MCHID?.trim() ?? '';
  const apiBaseUrl = env.WECHATPAY_API_BASE_URL?.trim() || DEFAULT_API_BASE_URL;
  try {
    return { settings: readSecapiSettings(env, mchid, apiBaseUrl) };
  } catch (err) {
    // readSecapiSettings reports only CONFIG PayErrors whose reason names a variable, never a value
    if (!(err instanceof PayError)) throw err;
    return { error: err.reason };
  }
}

/** Parses one PEM, adding the one-sentence finding when it does not parse. */
function parse<T>(
  variable: string,
  pem: string | undefined,
  read: (pem: string) => T,
  add: (variable: string, message: string) => void,
  which = '',
): T | undefined {
  if (pem === undefined) return undefined;
  try {
    return read(pem);
  } catch {
    add(variable, `${which ? `${which} ` : ''}${variable} is not a PEM that can be parsed.`);
    return undefined;
  }
}

function spki(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'der' }).toString('base64');
}
