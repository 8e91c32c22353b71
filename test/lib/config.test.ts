import { describe, it, expect } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { DEFAULT_API_BASE_URL, isOurAppid, loadConfig, type Env } from '../../lib/config';
import { PayError } from '../../lib/errors';
import { headerGetter, verifyV3 } from '../../lib/wechatpay/v3/verify';
import { selfSignedCertificate } from '../../scripts/simulator/cert';
import { generateTestKeys, toEnv } from '../../scripts/simulator/keys';
import { v3Notification } from '../../scripts/simulator/messages';

const keys = generateTestKeys();
const BASE: Record<string, string> = { ...toEnv(keys), PAYMENTS_TABLE: 'payments-test' };
const SECRET_NAMES = [
  'WECHATPAY_APIV2_KEY',
  'WECHATPAY_APIV3_KEY',
  'WECHATPAY_MERCHANT_PRIVATE_KEY',
  'AGGREGATOR_SECRET',
];

function configErrorOf(env: Env): PayError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(PayError);
    expect((err as PayError).kind).toBe('CONFIG');
    return err as PayError;
  }
  throw new Error('expected a CONFIG PayError, the configuration loaded');
}

/** The error must say which variable is wrong and must not echo any secret (or the bad value). */
function expectNamedAndClean(err: PayError, name: string, env: Env, badValue?: string): void {
  expect(err.message).toContain(name);
  expect(err.reason).toBe(err.message);
  const text = `${err.message} ${err.stack ?? ''} ${JSON.stringify(err.detail ?? {})}`;
  for (const secret of SECRET_NAMES) {
    const value = env[secret];
    if (value) expect(text).not.toContain(value.trim().slice(0, 24));
  }
  const privateKeyBody = keys.merchant.privateKeyPem.split('\n')[5] ?? '';
  expect(text).not.toContain(privateKeyBody);
  if (badValue !== undefined && badValue.length >= 4) expect(err.message).not.toContain(badValue);
}

describe('loadConfig', () => {
  it('loads the full simulator environment', () => {
    const config = loadConfig(BASE);
    expect(config.mchid).toBe(keys.mchid);
    expect(config.appid).toBe(keys.appid);
    expect(config.tableName).toBe('payments-test');
    expect(config.apiV2Key).toBe(keys.apiV2Key);
    expect(config.apiV3Key).toEqual(Buffer.from(keys.apiV3Key, 'utf8'));
    expect(config.apiV3Key).toHaveLength(32);
    expect(config.keyRing.serials().sort()).toEqual([keys.platform.serial, keys.publicKey.id].sort());
    expect(config.merchant?.serialNo).toBe(keys.merchant.serial);
    expect(config.merchant?.privateKey.asymmetricKeyType).toBe('rsa');
    expect(config.apiBaseUrl).toBe(DEFAULT_API_BASE_URL);
    expect(config.unknownOrderPolicy).toBe('record');
    expect(config.maxBodyBytes).toBe(65536);
    expect(config.dynamodbEndpoint).toBeUndefined();
    expect(config.aggregatorSecret).toBeUndefined();
  });

  it('builds a key ring that verifies real notifications by certificate and by public key', () => {
    const config = loadConfig(BASE);
    for (const signer of ['platform', 'publicKey'] as const) {
      const wire = v3Notification(keys, {
        eventType: 'TRANSACTION.SUCCESS',
        originalType: 'transaction',
        resource: { a: 1 },
        signer,
        timestamp: 1_800_000_000,
      });
      expect(() =>
        verifyV3(headerGetter(wire.headers), Buffer.from(wire.body), config.keyRing, 1_800_000_000),
      ).not.toThrow();
    }
  });

  it('accepts PEMs whose newlines are escaped as \\n (one-line environment variables)', () => {
    const escaped = { ...BASE };
    for (const name of ['WECHATPAY_PUBLIC_KEY', 'WECHATPAY_PLATFORM_CERTS', 'WECHATPAY_MERCHANT_PRIVATE_KEY']) {
      escaped[name] = (BASE[name] ?? '').replaceAll('\n', '\\n');
      expect(escaped[name]).not.toContain('\n');
    }
    const config = loadConfig(escaped);
    expect(config.keyRing.serials()).toHaveLength(2);
    expect(config.merchant?.privateKey.asymmetricKeyType).toBe('rsa');
  });

  it('reads a bundle of several platform certificates', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const serial = '6157F09EFDC096DE15EBE81A47057A7232F1B8E1';
    const bundle = `${keys.platform.certPem}${selfSignedCertificate({ ...other, serialHex: serial, commonName: 'rotated' })}`;
    const config = loadConfig({ ...BASE, WECHATPAY_PLATFORM_CERTS: bundle });
    expect(config.keyRing.serials()).toEqual(expect.arrayContaining([keys.platform.serial, serial, keys.publicKey.id]));
  });

  it('runs APIv2-only with nothing but the ids, the table and the APIv2 key', () => {
    const config = loadConfig({
      WECHATPAY_MCHID: keys.mchid,
      WECHATPAY_APPID: keys.appid,
      PAYMENTS_TABLE: 't',
      WECHATPAY_APIV2_KEY: keys.apiV2Key,
    });
    expect(config.apiV2Key).toBe(keys.apiV2Key);
    expect(config.apiV3Key).toBeUndefined();
    expect(config.merchant).toBeUndefined();
    expect(config.keyRing.serials()).toEqual([]);
  });

  it('runs APIv3-only with the public key alone', () => {
    const env: Env = {
      ...BASE,
      WECHATPAY_APIV2_KEY: undefined,
      WECHATPAY_PLATFORM_CERTS: undefined,
      WECHATPAY_MERCHANT_PRIVATE_KEY: undefined,
      WECHATPAY_MERCHANT_SERIAL_NO: undefined,
    };
    const config = loadConfig(env);
    expect(config.apiV2Key).toBeUndefined();
    expect(config.keyRing.serials()).toEqual([keys.publicKey.id]);
  });

  it('reads the optional settings', () => {
    const config = loadConfig({
      ...BASE,
      WECHATPAY_API_BASE_URL: 'http://localhost:4010/',
      WECHATPAY_UNKNOWN_ORDER: 'reject',
      WECHATPAY_MAX_BODY_BYTES: '1048576',
      DYNAMODB_ENDPOINT: 'http://localhost:8000',
      AGGREGATOR_SECRET: 'aggregator-secret-value',
      WECHATPAY_MERCHANT_SERIAL_NO: keys.merchant.serial.toLowerCase(),
    });
    expect(config.apiBaseUrl).toBe('http://localhost:4010');
    expect(config.unknownOrderPolicy).toBe('reject');
    expect(config.maxBodyBytes).toBe(1_048_576);
    expect(config.dynamodbEndpoint).toBe('http://localhost:8000');
    expect(config.aggregatorSecret).toBe('aggregator-secret-value');
    expect(config.merchant?.serialNo).toBe(keys.merchant.serial);
  });

  it('reads several appids: WECHATPAY_APPID first, then WECHATPAY_APPIDS, without duplicates', () => {
    expect(loadConfig(BASE).appids).toEqual([keys.appid]);
    const both = loadConfig({ ...BASE, WECHATPAY_APPIDS: ` wx00000000000000a2,${keys.appid} , wx_a3` });
    expect(both.appids).toEqual([keys.appid, 'wx00000000000000a2', 'wx_a3']);
    expect(both.appid).toBe(keys.appid);
    const listOnly = loadConfig({ ...BASE, WECHATPAY_APPID: undefined, WECHATPAY_APPIDS: 'wx_b1,wx_b2' });
    expect(listOnly.appids).toEqual(['wx_b1', 'wx_b2']);
    expect(listOnly.appid).toBe('wx_b1');
    expect(isOurAppid(listOnly, 'wx_b2')).toBe(true);
    expect(isOurAppid(listOnly, keys.appid)).toBe(false);
    expect(isOurAppid(listOnly, undefined)).toBe(false);
  });

  it.each(['wx1,,wx2', 'wx1,wx-2', ',', `wx1,${'a'.repeat(33)}`])('refuses WECHATPAY_APPIDS %j by name', (list) => {
    expectNamedAndClean(configErrorOf({ ...BASE, WECHATPAY_APPIDS: list }), 'WECHATPAY_APPIDS', BASE);
  });

  it('trims surrounding whitespace from ids', () => {
    expect(loadConfig({ ...BASE, WECHATPAY_MCHID: ` ${keys.mchid}\n` }).mchid).toBe(keys.mchid);
  });

  it.each(['WECHATPAY_MCHID', 'WECHATPAY_APPID', 'PAYMENTS_TABLE'])('names %s when it is missing or blank', (name) => {
    for (const value of [undefined, '', '   ']) {
      expectNamedAndClean(configErrorOf({ ...BASE, [name]: value }), name, BASE);
    }
  });

  const malformed: [string, string][] = [
    ['WECHATPAY_MCHID', 'abc123'],
    ['WECHATPAY_MCHID', '1'.repeat(33)],
    ['WECHATPAY_APPID', 'wx-not/valid'],
    ['WECHATPAY_APIV2_KEY', 'too-short-secret-value'],
    ['WECHATPAY_APIV2_KEY', `${'s'.repeat(31)}中`],
    ['WECHATPAY_APIV2_KEY', `${'s'.repeat(16)} ${'s'.repeat(15)}`],
    ['WECHATPAY_APIV3_KEY', 'v3-secret-but-only-29-bytes!!'],
    ['WECHATPAY_APIV3_KEY', `${'k'.repeat(30)}中`],
    ['WECHATPAY_PLATFORM_CERTS', 'not a certificate at all'],
    ['WECHATPAY_PLATFORM_CERTS', '-----BEGIN CERTIFICATE-----\nQUJDRA==\n-----END CERTIFICATE-----'],
    ['WECHATPAY_PUBLIC_KEY', 'not a public key'],
    ['WECHATPAY_PUBLIC_KEY', '-----BEGIN PUBLIC KEY-----\nQUJDRA==\n-----END PUBLIC KEY-----'],
    ['WECHATPAY_PUBLIC_KEY_ID', 'KEY_ID_0123'],
    ['WECHATPAY_MERCHANT_PRIVATE_KEY', 'secret-but-not-a-private-key'],
    ['WECHATPAY_MERCHANT_PRIVATE_KEY', keys.merchant.privateKeyPem.slice(0, 400)],
    ['WECHATPAY_MERCHANT_SERIAL_NO', 'NOT-HEX-SERIAL'],
    ['WECHATPAY_API_BASE_URL', 'ftp://api.mch.weixin.qq.com'],
    ['WECHATPAY_API_BASE_URL', 'https://api.mch.weixin.qq.com/v3/path'],
    ['WECHATPAY_API_BASE_URL', 'https://api.mch.weixin.qq.com?x=1'],
    ['WECHATPAY_API_BASE_URL', 'https://api.mch.weixin.qq.com#f'],
    ['WECHATPAY_API_BASE_URL', 'https://user:pw@api.mch.weixin.qq.com'],
    ['WECHATPAY_UNKNOWN_ORDER', 'sometimes'],
    ['WECHATPAY_MAX_BODY_BYTES', '12'],
    ['WECHATPAY_MAX_BODY_BYTES', '1e6'],
    ['WECHATPAY_MAX_BODY_BYTES', '123456789'],
    ['DYNAMODB_ENDPOINT', 'localhost:8000'],
  ];

  it.each(malformed)('names %s when it is malformed, without echoing secrets', (name, value) => {
    const env = { ...BASE, [name]: value };
    expectNamedAndClean(configErrorOf(env), name, env, SECRET_NAMES.includes(name) ? value : undefined);
  });

  it('rejects a platform bundle without certificates even when the public key fills the ring', () => {
    const env = { ...BASE, WECHATPAY_PLATFORM_CERTS: 'garbage' };
    expectNamedAndClean(configErrorOf(env), 'WECHATPAY_PLATFORM_CERTS', env);
  });

  it.each([
    ['WECHATPAY_PUBLIC_KEY', { WECHATPAY_PUBLIC_KEY: undefined }],
    ['WECHATPAY_PUBLIC_KEY_ID', { WECHATPAY_PUBLIC_KEY_ID: undefined }],
    ['WECHATPAY_MERCHANT_PRIVATE_KEY', { WECHATPAY_MERCHANT_PRIVATE_KEY: undefined }],
    ['WECHATPAY_MERCHANT_SERIAL_NO', { WECHATPAY_MERCHANT_SERIAL_NO: undefined }],
    [
      'WECHATPAY_APIV3_KEY',
      { WECHATPAY_PLATFORM_CERTS: undefined, WECHATPAY_PUBLIC_KEY: undefined, WECHATPAY_PUBLIC_KEY_ID: undefined },
    ],
    ['WECHATPAY_APIV2_KEY', { WECHATPAY_APIV2_KEY: undefined, WECHATPAY_APIV3_KEY: undefined }],
  ])('names %s when a variable it goes with is set without it', (name, change) => {
    const env: Env = { ...BASE, ...change };
    expectNamedAndClean(configErrorOf(env), name, env);
  });

  it('rejects an empty environment, naming the first variable it needs', () => {
    expectNamedAndClean(configErrorOf({}), 'WECHATPAY_MCHID', {});
  });
});
