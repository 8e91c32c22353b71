/**
 * TEST-ONLY: fresh WeChat Pay key material (merchant ids, API keys, RSA identities, platform certificate).
 *
 * Every call generates new keys so that no test can pass by accident against a fixed secret.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { selfSignedCertificate } from './cert';
import { ALPHANUMERIC, DIGITS, LOWER_HEX, randomSerial, randomString } from './random';

/** An RSA key pair together with its PEM forms (PKCS#8 private, SPKI public). */
export interface RsaIdentity {
  privateKey: KeyObject;
  publicKey: KeyObject;
  privateKeyPem: string;
  publicKeyPem: string;
}

/** All secrets and identities one simulated merchant + WeChat Pay pair needs. */
export interface TestKeys {
  mchid: string;
  appid: string;
  apiV2Key: string;
  apiV3Key: string;
  platform: RsaIdentity & { serial: string; certPem: string };
  publicKey: RsaIdentity & { id: string };
  merchant: RsaIdentity & { serial: string };
}

/** Generates a complete, fresh set of test keys (three RSA-2048 key pairs; takes a moment). */
export function generateTestKeys(): TestKeys {
  const mchid = `19${randomString(DIGITS, 8)}`;
  const platformIdentity = rsaIdentity();
  const platformSerial = randomSerial();
  const certPem = selfSignedCertificate({
    privateKey: platformIdentity.privateKey,
    publicKey: platformIdentity.publicKey,
    serialHex: platformSerial,
    commonName: 'Tenpay.com Test Platform Certificate',
  });
  return {
    mchid,
    appid: `wx${randomString(LOWER_HEX, 16)}`,
    apiV2Key: randomString(ALPHANUMERIC, 32),
    apiV3Key: randomString(ALPHANUMERIC, 32),
    platform: { ...platformIdentity, serial: platformSerial, certPem },
    publicKey: { ...rsaIdentity(), id: `PUB_KEY_ID_01${mchid}${randomString(DIGITS, 22)}` },
    merchant: { ...rsaIdentity(), serial: randomSerial() },
  };
}

/** The service's configuration variables for these keys. */
export function toEnv(keys: TestKeys): Record<string, string> {
  return {
    WECHATPAY_MCHID: keys.mchid,
    WECHATPAY_APPID: keys.appid,
    WECHATPAY_APIV2_KEY: keys.apiV2Key,
    WECHATPAY_APIV3_KEY: keys.apiV3Key,
    WECHATPAY_PUBLIC_KEY_ID: keys.publicKey.id,
    WECHATPAY_PUBLIC_KEY: keys.publicKey.publicKeyPem,
    WECHATPAY_PLATFORM_CERTS: keys.platform.certPem,
    WECHATPAY_MERCHANT_PRIVATE_KEY: keys.merchant.privateKeyPem,
    WECHATPAY_MERCHANT_SERIAL_NO: keys.merchant.serial,
  };
}

function rsaIdentity(): RsaIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey,
    publicKey,
    privateKeyPem: String(privateKey.export({ type: 'pkcs8', format: 'pem' })),
    publicKeyPem: String(publicKey.export({ type: 'spki', format: 'pem' })),
  };
}
