/**
 * TEST-ONLY: TestKeys to and from a JSON file (PEM strings), so the simulator and a local service
 * started separately can share one set of keys.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { RsaIdentity, TestKeys } from './keys';

/** The JSON form of {@link TestKeys}: every key as PEM. */
export interface TestKeysJson {
  mchid: string;
  appid: string;
  apiV2Key: string;
  apiV3Key: string;
  platform: { serial: string; certPem: string; privateKeyPem: string };
  publicKey: { id: string; privateKeyPem: string };
  merchant: { serial: string; privateKeyPem: string };
}

/** The JSON form of the keys (secrets included: keep the file private). */
export function keysToJson(keys: TestKeys): TestKeysJson {
  return {
    mchid: keys.mchid,
    appid: keys.appid,
    apiV2Key: keys.apiV2Key,
    apiV3Key: keys.apiV3Key,
    platform: {
      serial: keys.platform.serial,
      certPem: keys.platform.certPem,
      privateKeyPem: keys.platform.privateKeyPem,
    },
    publicKey: { id: keys.publicKey.id, privateKeyPem: keys.publicKey.privateKeyPem },
    merchant: { serial: keys.merchant.serial, privateKeyPem: keys.merchant.privateKeyPem },
  };
}

/** Rebuilds key objects from the JSON form (public keys are derived from the private ones). */
export function keysFromJson(json: TestKeysJson): TestKeys {
  return {
    mchid: json.mchid,
    appid: json.appid,
    apiV2Key: json.apiV2Key,
    apiV3Key: json.apiV3Key,
    platform: {
      ...identity(json.platform.privateKeyPem),
      serial: json.platform.serial,
      certPem: json.platform.certPem,
    },
    publicKey: { ...identity(json.publicKey.privateKeyPem), id: json.publicKey.id },
    merchant: { ...identity(json.merchant.privateKeyPem), serial: json.merchant.serial },
  };
}

/** Reads a keys file written by {@link writeKeysFile}. */
export function readKeysFile(path: string): TestKeys {
  return keysFromJson(JSON.parse(readFileSync(path, 'utf8')) as TestKeysJson);
}

/** Writes the keys as JSON, readable by the owner only. */
export function writeKeysFile(path: string, keys: TestKeys): void {
  writeFileSync(path, `${JSON.stringify(keysToJson(keys), null, 2)}\n`, { mode: 0o600 });
}

function identity(privateKeyPem: string): RsaIdentity {
  const privateKey = createPrivateKey(privateKeyPem);
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    privateKeyPem,
    publicKeyPem: String(publicKey.export({ type: 'spki', format: 'pem' })),
  };
}
