/**
 * `npm run doctor`: one test per misconfiguration (its own sentence, exit code 1), a correct
 * configuration (exit 0), and the online call against the real simulator.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor } from '../../../scripts/doctor';
import { selfSignedCertificate } from '../../../scripts/simulator/cert';
import { generateTestKeys, toEnv, type TestKeys } from '../../../scripts/simulator/keys';
import { randomSerial } from '../../../scripts/simulator/random';
import { startSimulator, type Simulator } from '../../../scripts/simulator/server';

const DAY = 86_400_000;
let keys: TestKeys;
let env: Record<string, string | undefined>;
let sim: Simulator;

beforeAll(async () => {
  keys = generateTestKeys();
  sim = await startSimulator({ keys });
  const merchantCert = selfSignedCertificate({
    privateKey: keys.merchant.privateKey,
    publicKey: keys.merchant.publicKey,
    serialHex: keys.merchant.serial,
    commonName: keys.mchid,
  });
  env = { ...toEnv(keys), PAYMENTS_TABLE: 'payments', WECHATPAY_MERCHANT_CERT: merchantCert };
});
afterAll(async () => sim.close());

async function doctor(patch: Record<string, string | undefined>, argv: string[] = []) {
  const lines: string[] = [];
  const code = await runDoctor(argv, { env: { ...env, ...patch }, out: (l) => lines.push(l) });
  return { code, problems: lines.filter((l) => l.startsWith('problem: ')), lines };
}

function certificate(opts: { from?: number; to?: number; serial?: string } = {}): string {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return selfSignedCertificate({
    privateKey,
    publicKey,
    serialHex: opts.serial ?? randomSerial(),
    commonName: 'Tenpay.com Test Platform Certificate',
    ...(opts.from === undefined ? {} : { notBefore: new Date(opts.from) }),
    ...(opts.to === undefined ? {} : { notAfter: new Date(opts.to) }),
  });
}

/** Exactly one problem, exit code 1, and the sentence matching `pattern`. */
async function expectOne(patch: Record<string, string | undefined>, pattern: RegExp) {
  const r = await doctor(patch);
  expect(r.code).toBe(1);
  expect(r.problems).toHaveLength(1);
  expect(r.problems[0]).toMatch(pattern);
}

describe('doctor offline', () => {
  it('passes a correct configuration', async () => {
    const r = await doctor({});
    expect(r).toMatchObject({ code: 0, problems: [] });
  });

  it('names a merchant certificate given as a platform certificate', async () => {
    await expectOne(
      { WECHATPAY_PLATFORM_CERTS: `${keys.platform.certPem}${env.WECHATPAY_MERCHANT_CERT}` },
      /holds the merchant API certificate .* not a WeChat Pay platform certificate/,
    );
  });

  it('names a merchant serial that does not match its certificate', async () => {
    await expectOne(
      { WECHATPAY_MERCHANT_SERIAL_NO: randomSerial() },
      /does not match the serial .* of WECHATPAY_MERCHANT_CERT/,
    );
  });

  it('names a public-key id without its key, and a key without its id', async () => {
    await expectOne({ WECHATPAY_PUBLIC_KEY: undefined }, /PUB_KEY_ID_.* is set without its key WECHATPAY_PUBLIC_KEY/);
    await expectOne({ WECHATPAY_PUBLIC_KEY_ID: undefined }, /WECHATPAY_PUBLIC_KEY is set without its id/);
    await expectOne({ WECHATPAY_PUBLIC_KEY_ID: 'PUB_KEY_ID' }, /does not look like PUB_KEY_ID_/);
  });

  it('names an expired and a not-yet-valid platform certificate', async () => {
    const now = Date.now();
    await expectOne({ WECHATPAY_PLATFORM_CERTS: certificate({ from: now - 900 * DAY, to: now - DAY }) }, /expired on/);
    await expectOne(
      { WECHATPAY_PLATFORM_CERTS: certificate({ from: now + 10 * DAY, to: now + 900 * DAY }) },
      /is not valid before/,
    );
  });

  it('names an APIv3 key that is not 32 bytes and an APIv2 key that is not 32 characters', async () => {
    // 31 characters but 33 bytes: the byte count is what AES-256 needs
    await expectOne({ WECHATPAY_APIV3_KEY: `${'a'.repeat(31)}é` }, /WECHATPAY_APIV3_KEY is 33 bytes/);
    await expectOne({ WECHATPAY_APIV3_KEY: 'short' }, /WECHATPAY_APIV3_KEY is 5 bytes; the APIv3 key is exactly 32/);
    await expectOne({ WECHATPAY_APIV2_KEY: 'x'.repeat(33) }, /WECHATPAY_APIV2_KEY has 33 characters/);
  });

  it('names a merchant private key that does not match the merchant certificate', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await expectOne(
      { WECHATPAY_MERCHANT_PRIVATE_KEY: String(other.export({ type: 'pkcs8', format: 'pem' })) },
      /WECHATPAY_MERCHANT_PRIVATE_KEY does not belong to the merchant certificate/,
    );
  });

  it('names an unparsable PEM in each variable', async () => {
    const broken = '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n';
    await expectOne({ WECHATPAY_PLATFORM_CERTS: broken }, /certificate 1 of WECHATPAY_PLATFORM_CERTS is not a PEM/);
    await expectOne(
      { WECHATPAY_PLATFORM_CERTS: `${keys.platform.certPem}-----BEGIN CERTIFICATE-----\nMIIB` },
      /cannot be parsed/,
    );
    await expectOne({ WECHATPAY_PUBLIC_KEY: 'garbage' }, /WECHATPAY_PUBLIC_KEY is not a PEM/);
    await expectOne({ WECHATPAY_MERCHANT_PRIVATE_KEY: 'garbage' }, /WECHATPAY_MERCHANT_PRIVATE_KEY is not a PEM/);
    await expectOne({ WECHATPAY_MERCHANT_CERT: 'garbage' }, /WECHATPAY_MERCHANT_CERT is not a PEM/);
  });

  it('names a serial that is not hex, the merchant key given as the WeChat Pay key, and APIv3 with no key', async () => {
    await expectOne({ WECHATPAY_MERCHANT_SERIAL_NO: 'not-a-serial' }, /not a hexadecimal certificate serial/);
    await expectOne({ WECHATPAY_PUBLIC_KEY: keys.merchant.publicKeyPem }, /merchant's own public key/);
    await expectOne(
      { WECHATPAY_PLATFORM_CERTS: undefined, WECHATPAY_PUBLIC_KEY: undefined, WECHATPAY_PUBLIC_KEY_ID: undefined },
      /neither WECHATPAY_PLATFORM_CERTS nor WECHATPAY_PUBLIC_KEY/,
    );
  });

  it('refuses unknown arguments', async () => {
    expect((await doctor({}, ['--bogus'])).code).toBe(2);
  });
});

describe('doctor online (the simulator)', () => {
  it('makes one signed call, verifies it, and prints the keys WeChat signs with', async () => {
    const r = await doctor({ WECHATPAY_API_BASE_URL: sim.url }, ['--online']);
    expect(r.problems).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.lines.join('\n')).toContain(`WeChat signs with platform certificate ${keys.platform.serial}`);
    expect(r.lines.join('\n')).toContain(`WeChat signs with the public key ${keys.publicKey.id}`);
  });

  it('reports a call WeChat refuses (a merchant serial it does not know) with exit code 1', async () => {
    const serial = randomSerial();
    const r = await doctor(
      { WECHATPAY_API_BASE_URL: sim.url, WECHATPAY_MERCHANT_SERIAL_NO: serial, WECHATPAY_MERCHANT_CERT: undefined },
      ['--online'],
    );
    expect(r.code).toBe(1);
    expect(r.problems[0]).toMatch(/the signed call failed/);
  });
});
