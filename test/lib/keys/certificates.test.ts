/**
 * Certificates learned at run time, against the real simulator and DynamoDB Local: the verified
 * download, the table items, and the refreshing key ring (periodic reload, one rate-limited download
 * on an unknown serial, a flood of forged serials costing at most one download).
 */
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../../lib/config';
import { configuredDownloader, refreshStoredCertificates } from '../../../lib/keys/download';
import { CERTIFICATE_DIRECTORY_KEY, certificateKey, createCertificateStore } from '../../../lib/keys/store';
import { createTransport } from '../../../lib/wechatpay/http';
import { readCertificates } from '../../../lib/wechatpay/v3/certificates';
import { createKeyRing } from '../../../lib/wechatpay/v3/keyring';
import { v3Encrypt } from '../../../scripts/simulator/messages';
import { newPlatformIdentity } from '../../../scripts/simulator/rotation';
import { startSimulator, type Simulator } from '../../../scripts/simulator/server';
import { PayError } from '../../../lib/errors';
import { createHarness, type Harness } from '../../support/harness';

let h: Harness;
let sim: Simulator;
let config: Config;
const transport = createTransport({ maxAttempts: 1 });
const empty = createKeyRing({});

beforeAll(async () => {
  h = await createHarness();
  sim = await startSimulator({ keys: h.keys });
  config = loadConfig({ ...h.env, WECHATPAY_API_BASE_URL: sim.url });
});
afterAll(async () => sim.close());

async function rejection(p: Promise<unknown>): Promise<PayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PayError);
  return err as PayError;
}

const body = (data: unknown) => ({ body: Buffer.from(JSON.stringify({ data })) });

describe('downloadCertificates', () => {
  it('first download: the certificate authenticated by its tag vouches for the answer', async () => {
    const result = await configuredDownloader(config, transport)(empty);
    expect(result.certificates.map((c) => c.serial)).toEqual([h.keys.platform.serial]);
    expect(result.answer).toEqual({
      serial: h.keys.platform.serial,
      verifiedBy: 'platform-certificate',
      keySource: 'downloaded',
    });
  });

  it('asks for a public-key signature when the public key is trusted, and verifies it with that key', async () => {
    const result = await configuredDownloader(config, transport)(config.keyRing);
    expect(result.answer).toEqual({ serial: h.keys.publicKey.id, verifiedBy: 'public-key', keySource: 'trusted' });
  });

  it('refuses a forged answer signature and a wrong APIv3 key', async () => {
    sim.faults.next('v3.certificates', 'forged-signature');
    expect((await rejection(configuredDownloader(config, transport)(config.keyRing))).reason).toMatch(/signature/);
    const wrongKey = { ...config, apiV3Key: Buffer.from('W'.repeat(32)) };
    expect((await rejection(configuredDownloader(wrongKey, transport)(empty))).reason).toBe(
      'resource decryption failed',
    );
  });

  it('needs the merchant key and the APIv3 key', () => {
    expect(() => configuredDownloader({ ...config, merchant: undefined }, transport)).toThrow(/MERCHANT/);
    expect(() => configuredDownloader({ ...config, apiV3Key: undefined }, transport)).toThrow(/APIV3/);
  });

  it('refuses hostile lists: another serial, another associated data, no PEM, nothing listed, too many', () => {
    const key = Buffer.from(h.keys.apiV3Key);
    const now = Date.now();
    const entry = (serial: string, pem: string, aad = 'certificate') => ({
      serial_no: serial,
      effective_time: '2026-01-01T00:00:00+08:00',
      expire_time: '2031-01-01T00:00:00+08:00',
      encrypt_certificate: v3Encrypt(h.keys.apiV3Key, pem, aad),
    });
    const other = newPlatformIdentity(now);
    const reason = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as PayError).reason;
      }
      return 'accepted';
    };
    expect(reason(() => readCertificates(body([entry(other.serial, h.keys.platform.certPem)]), key, now))).toMatch(
      /does not carry the serial/,
    );
    expect(
      reason(() =>
        readCertificates(body([entry(h.keys.platform.serial, h.keys.platform.certPem, 'transaction')]), key, now),
      ),
    ).toMatch(/associated_data/);
    expect(reason(() => readCertificates(body([entry(other.serial, 'not a pem')]), key, now))).toMatch(/not a PEM/);
    expect(reason(() => readCertificates(body([]), key, now))).toMatch(/no certificate/);
    expect(reason(() => readCertificates({ body: Buffer.from('{"data":{}}') }, key, now))).toMatch(/no data array/);
    expect(reason(() => readCertificates(body(['x']), key, now))).toMatch(/not an object/);
    const many = Array.from({ length: 17 }, () => entry(other.serial, other.certPem));
    expect(reason(() => readCertificates(body(many), key, now))).toMatch(/too many/);
    // an expired certificate is left out and named, not trusted
    const later = now + 6 * 365 * 24 * 3600 * 1000;
    expect(readCertificates(body([entry(other.serial, other.certPem)]), key, later)).toEqual({
      certificates: [],
      expired: [other.serial],
    });
  });
});

describe('the certificate store', () => {
  it('keeps one item per serial under KEYS#, with a TTL after expiry, and lists them back', async () => {
    const store = createCertificateStore({ client: h.client, tableName: h.tableName });
    expect(await store.list()).toEqual([]);
    await store.put([]);
    const result = await refreshStoredCertificates({
      download: configuredDownloader(config, transport),
      trusted: config.keyRing,
      store,
    });
    const listed = await store.list();
    expect(listed).toEqual(result.certificates);
    const item = await h.client.send(
      new GetItemCommand({ TableName: h.tableName, Key: { pk: { S: certificateKey(h.keys.platform.serial) } } }),
    );
    const c = listed[0];
    expect(Number(item.Item?.ttl?.N)).toBeGreaterThan(Math.floor((c?.notAfter ?? 0) / 1000));
    expect(item.Item?.pk?.S?.startsWith('KEYS#')).toBe(true);
  });

  it('leaves out a damaged item and one whose PEM names another serial', async () => {
    const store = createCertificateStore({ client: h.client, tableName: h.tableName });
    const other = newPlatformIdentity(Date.now());
    const put = (serial: string, pem: string) =>
      h.client.send(
        new PutItemCommand({
          TableName: h.tableName,
          Item: { pk: { S: certificateKey(serial) }, serial: { S: serial }, pem: { S: pem } },
        }),
      );
    const fake = 'ABCDEF0123456789ABCDEF0123456789ABCDEF01';
    await put(fake, h.keys.platform.certPem);
    const garbage = 'BBCDEF0123456789ABCDEF0123456789ABCDEF01';
    await put(garbage, 'garbage');
    await store.put([{ serial: other.serial, pem: other.certPem, notBefore: 0, notAfter: Date.now() + 1e9 }]);
    // the directory lists them all; the store returns only the intact ones
    await h.client.send(
      new PutItemCommand({
        TableName: h.tableName,
        Item: {
          pk: { S: CERTIFICATE_DIRECTORY_KEY },
          serials: { SS: [fake, garbage, other.serial, h.keys.platform.serial, 'CCCC'] },
        },
      }),
    );
    const serials = (await store.list()).map((c) => c.serial).sort();
    expect(serials).toEqual([h.keys.platform.serial, other.serial].sort());
  });

  it('reports an unreachable table as UNAVAILABLE', async () => {
    // a real client against a port nobody listens on: the network failure a table outage produces
    const client = new DynamoDBClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    const store = createCertificateStore({ client, tableName: h.tableName });
    expect((await rejection(store.list())).kind).toBe('UNAVAILABLE');
  });
});
