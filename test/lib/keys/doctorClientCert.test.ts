/**
 * `npm run doctor` and the APIv2 refund client certificate: loaded by the reader the refund function
 * runs at cold start (lib/wechatpay/v2/clientCert.ts), each problem named by its variable, never by a
 * value. Certificates and bundles are generated here (the bundle by the openssl command line, as WeChat
 * ships it).
 */
import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkClientCertificate, checkKeys, describeClientCertificate, type Finding } from '../../../lib/keys/doctor';
import { runDoctor } from '../../../scripts/doctor';
import { selfSignedCertificate } from '../../../scripts/simulator/cert';
import { generateTestKeys, toEnv, type TestKeys } from '../../../scripts/simulator/keys';
import { hasOpenssl, pkcs12Bundle } from '../../support/clientCert';

const SECAPI = 'https://secapi.example.com';
const NOW = Date.parse('2026-11-30T00:00:00Z');
let keys: TestKeys;
let cert: string;
let env: Record<string, string | undefined>;
let foreignCert: string;
/** Every value a message must never quote. */
const secrets: string[] = [];

beforeAll(() => {
  keys = generateTestKeys();
  cert = selfSignedCertificate({
    privateKey: keys.merchant.privateKey,
    publicKey: keys.merchant.publicKey,
    serialHex: keys.merchant.serial,
    commonName: keys.mchid,
  });
  // the same serial and subject over another key pair: the certificate of someone else's key
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  foreignCert = selfSignedCertificate({ ...other, serialHex: keys.merchant.serial, commonName: keys.mchid });
  env = { ...toEnv(keys), WECHATPAY_MERCHANT_CERT: cert, WECHATPAY_SECAPI_BASE_URL: SECAPI };
  secrets.push(keys.merchant.privateKeyPem.split('\n')[1] ?? '', cert.split('\n')[1] ?? '', keys.apiV2Key);
});

/** base64 of a PKCS#12 bundle of the merchant's certificate and key under `password`. */
function bundle(password: string): string {
  const p12 = pkcs12Bundle(cert, keys.merchant.privateKeyPem, password);
  secrets.push(p12.slice(0, 40));
  return p12;
}

function findings(patch: Record<string, string | undefined>): Finding[] {
  const found = checkKeys({ ...env, ...patch }, NOW);
  for (const f of found) for (const s of secrets) expect(f.message).not.toContain(s);
  for (const f of found) expect(f.message).not.toContain('-----BEGIN');
  return found;
}

describe('doctor: the APIv2 refund client certificate', () => {
  it('passes a generated PEM pair and says where secapi calls go', async () => {
    expect(findings({})).toEqual([]);
    const lines: string[] = [];
    const code = await runDoctor([], { env, out: (l) => lines.push(l), now: () => NOW });
    expect(code).toBe(0);
    expect(lines).toContain(
      `APIv2 refunds: the merchant client certificate (PEM WECHATPAY_MERCHANT_CERT) loads; secapi calls go to ${SECAPI}.`,
    );
  });

  it('names the private key, once, when the certificate is of another key pair', () => {
    // the reader the refund function runs refuses the pair on its own…
    expect(checkClientCertificate({ ...env, WECHATPAY_MERCHANT_CERT: foreignCert })).toEqual([
      {
        variable: 'WECHATPAY_MERCHANT_PRIVATE_KEY',
        message: 'WECHATPAY_MERCHANT_PRIVATE_KEY does not belong to WECHATPAY_MERCHANT_CERT.',
      },
    ]);
    // …and the whole doctor says it in one sentence, not twice
    const found = findings({ WECHATPAY_MERCHANT_CERT: foreignCert });
    expect(found).toHaveLength(1);
    expect(found[0]?.variable).toBe('WECHATPAY_MERCHANT_PRIVATE_KEY');
    expect(describeClientCertificate({ ...env, WECHATPAY_MERCHANT_CERT: foreignCert })).toBeUndefined();
  });

  it.each([
    [{ WECHATPAY_MERCHANT_PRIVATE_KEY: undefined }, 'WECHATPAY_MERCHANT_CERT', /needs WECHATPAY_MERCHANT_PRIVATE_KEY/],
    [{ WECHATPAY_MERCHANT_P12: 'AAAA' }, 'WECHATPAY_MERCHANT_CERT', /not both/],
    [{ WECHATPAY_MERCHANT_CERT: undefined, WECHATPAY_MERCHANT_P12: '%%%' }, 'WECHATPAY_MERCHANT_P12', /base64/],
    [{ WECHATPAY_MERCHANT_CERT: undefined, WECHATPAY_MERCHANT_P12: 'AAAA' }, 'WECHATPAY_MERCHANT_P12', /does not open/],
    [{ WECHATPAY_SECAPI_BASE_URL: 'http://secapi.example.com' }, 'WECHATPAY_SECAPI_BASE_URL', /https origin/],
    [{ WECHATPAY_SECAPI_BASE_URL: `${SECAPI}/pay?x=1` }, 'WECHATPAY_SECAPI_BASE_URL', /https origin/],
    [{ WECHATPAY_SECAPI_CA: 'not a certificate' }, 'WECHATPAY_SECAPI_CA', /not a PEM certificate/],
    // secapi configured without a certificate at all: every APIv2 refund would answer CONFIG_ERROR
    [{ WECHATPAY_MERCHANT_CERT: undefined }, 'WECHATPAY_MERCHANT_CERT', /need the merchant API client certificate/],
    // the certificate, but secapi would go to the plain-http API origin (a local simulator's)
    [
      { WECHATPAY_SECAPI_BASE_URL: undefined, WECHATPAY_SECAPI_CA: 'x', WECHATPAY_API_BASE_URL: 'http://127.0.0.1:1' },
      'WECHATPAY_SECAPI_CA',
      /not a PEM certificate/,
    ],
  ])('names %j by its variable, exit code 1', async (patch, variable, pattern) => {
    const found = findings(patch);
    expect(found).toHaveLength(1);
    expect(found[0]?.variable).toBe(variable);
    expect(found[0]?.message).toMatch(pattern);
    const lines: string[] = [];
    expect(await runDoctor([], { env: { ...env, ...patch }, out: (l) => lines.push(l), now: () => NOW })).toBe(1);
    expect(lines.filter((l) => l.startsWith('problem: '))).toEqual([`problem: ${found[0]?.message}`]);
  });

  it('asks for an https secapi origin when the API origin is plain http', () => {
    const patch = { WECHATPAY_SECAPI_BASE_URL: undefined, WECHATPAY_API_BASE_URL: 'http://127.0.0.1:1' };
    // nothing says APIv2 refunds are meant: the certificate alone is the serial check's, no finding
    expect(findings(patch)).toEqual([]);
    expect(findings({ ...patch, WECHATPAY_SECAPI_CA: keys.platform.certPem })).toEqual([
      {
        variable: 'WECHATPAY_SECAPI_BASE_URL',
        message: 'APIv2 refunds need an https origin: set WECHATPAY_SECAPI_BASE_URL.',
      },
    ]);
  });

  it('leaves a deployment that does not use secapi alone', () => {
    expect(findings({ WECHATPAY_MERCHANT_CERT: undefined, WECHATPAY_SECAPI_BASE_URL: undefined })).toEqual([]);
    expect(describeClientCertificate({ ...env, WECHATPAY_MERCHANT_CERT: undefined })).toBeUndefined();
  });

  it.skipIf(!hasOpenssl)(
    'loads the PKCS#12 bundle with the mch_id as password, and names a bundle that does not open',
    () => {
      const good = { WECHATPAY_MERCHANT_CERT: undefined, WECHATPAY_MERCHANT_P12: bundle(keys.mchid) };
      expect(findings(good)).toEqual([]);
      expect(describeClientCertificate({ ...env, ...good })).toBe(
        `APIv2 refunds: the merchant client certificate (PKCS#12 WECHATPAY_MERCHANT_P12) loads; secapi calls go to ${SECAPI}.`,
      );
      const wrong = findings({ WECHATPAY_MERCHANT_CERT: undefined, WECHATPAY_MERCHANT_P12: bundle('not-the-mchid') });
      expect(wrong).toHaveLength(1);
      expect(wrong[0]).toMatchObject({ variable: 'WECHATPAY_MERCHANT_P12', message: expect.stringMatching(/mch_id/) });
    },
  );
});
