/**
 * APIv2 refund apply over mutual TLS against the simulator's client-certificate port: the merchant
 * certificate from the environment (PEM pair or PKCS#12), a missing, foreign or untrusted certificate
 * refused with a typed error that changes nothing, and configuration mistakes named at cold start.
 */
import { generateKeyPairSync } from 'node:crypto';
import { request } from 'node:https';
import { describe, expect, it, vi } from 'vitest';
import { handler } from '../../../functions/refund';
import { refundDeps } from '../../../lib/refund/lambda';
import { clientCertificateFetch, neverSent } from '../../../lib/wechatpay/http';
import { readSecapiSettings, type SecapiSettings } from '../../../lib/wechatpay/v2/clientCert';
import { issuedCertificate } from '../../../scripts/simulator/cert';
import { hasOpenssl, pkcs12Bundle } from '../../support/clientCert';
import { invoker, refundWorld, secapiOf } from './support';

const world = refundWorld();
const orderOf = (no: string) => world.h.store.getOrder(world.h.config.mchid, no);
const refundOf = (no: string) => world.h.store.getRefund(world.h.config.mchid, no);
const port = () => {
  const secapi = world.sim.secapi;
  if (secapi === undefined) throw new Error('no client-certificate port');
  return secapi;
};
const pem = (key: { export(o: { type: 'pkcs8'; format: 'pem' }): string | Buffer }) =>
  String(key.export({ type: 'pkcs8', format: 'pem' }));

/** A key pair and a certificate for it that the simulator's test CA never signed. */
function foreignIdentity(): { cert: string; key: string } {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = issuedCertificate({
    publicKey: pair.publicKey,
    serialHex: '0A',
    commonName: world.h.config.mchid,
    issuer: { privateKey: pair.privateKey, commonName: 'Not WeChat' },
    ca: false,
  });
  return { cert, key: pem(pair.privateKey) };
}

/** Asks for a refund in APIv2-only mode with `secapi`; returns the outcome and what it left behind. */
async function refundWith(secapi: SecapiSettings, fen = 100) {
  const no = await world.paid(500, 'M');
  const outcome = await invoker(world.h, { mode: 'v2-only', secapi })({
    outTradeNo: no,
    outRefundNo: `${no}r`,
    refundFen: fen,
  });
  return { no, outcome, order: await orderOf(no), refund: await refundOf(`${no}r`) };
}

describe('APIv2 refund apply with the merchant client certificate', () => {
  it('is chosen when only APIv2 is configured, and goes through the certificate port', async () => {
    const served = port().served;
    const { no, outcome, order } = await refundWith(secapiOf(world.h));
    expect(outcome).toMatchObject({ status: 'ACCEPTED', wechatStatus: 'PROCESSING' });
    expect(order).toMatchObject({ reservedFen: 100 });
    expect(world.sim.refunds.listFor(no)).toHaveLength(1);
    expect(port().served).toBe(served + 1);
    // the refund's log line names APIv2 and never a key or a certificate
    const lines = world.h.logs.filter((l) => l.outRefundNo === `${no}r`);
    expect(lines.some((l) => l.protocol === 'v2')).toBe(true);
    expect(JSON.stringify(world.h.logs)).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
  });

  it('a certificate the CA never issued: CLIENT_CERT_REFUSED, not retryable, released and forgotten', async () => {
    const refused = port().refusedHandshakes;
    const secapi = { ...secapiOf(world.h), identity: foreignIdentity() };
    const { no, outcome, order, refund } = await refundWith(secapi);
    expect(outcome).toMatchObject({ status: 'FAILED', code: 'CLIENT_CERT_REFUSED', retryable: false });
    expect(port().refusedHandshakes).toBeGreaterThan(refused);
    // the handshake failed before the request was written: nothing happened anywhere
    expect(world.sim.refunds.listFor(no)).toEqual([]);
    expect(order).toMatchObject({ reservedFen: 0 });
    expect(refund).toBeUndefined();
    // with the right certificate the same number goes through
    expect(
      await invoker(world.h, { mode: 'v2-only' })({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 100 }),
    ).toMatchObject({ status: 'ACCEPTED' });
  });

  it('a server whose certificate we cannot verify: SERVER_CERT_UNTRUSTED, nothing sent, released', async () => {
    const { no, outcome, order, refund } = await refundWith({ ...secapiOf(world.h), ca: undefined });
    expect(outcome).toMatchObject({ status: 'FAILED', code: 'SERVER_CERT_UNTRUSTED', retryable: false });
    expect(world.sim.refunds.listFor(no)).toEqual([]);
    expect(order).toMatchObject({ reservedFen: 0 });
    expect(refund).toBeUndefined();
  });

  it('no certificate configured: CONFIG_ERROR before anything is written', async () => {
    const secapi = readSecapiSettings(
      { ...world.h.env, WECHATPAY_MERCHANT_CERT: undefined },
      world.h.config.mchid,
      world.h.config.apiBaseUrl,
    );
    expect(secapi.identity).toBeUndefined();
    const { no, outcome, order, refund } = await refundWith(secapi);
    expect(outcome).toMatchObject({ status: 'FAILED', code: 'CONFIG_ERROR', retryable: false });
    expect(outcome).toMatchObject({ message: expect.stringContaining('WECHATPAY_MERCHANT_CERT') });
    expect(order?.reservedFen).toBeUndefined();
    expect(refund).toBeUndefined();
    expect(world.sim.refunds.listFor(no)).toEqual([]);
    // APIv3 needs no certificate: with both configured the refund still works
    expect(await invoker(world.h, { secapi })({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 100 })).toMatchObject(
      { status: 'ACCEPTED' },
    );
  });

  it('the port refuses a client without a certificate, and the plain port refuses secapi', async () => {
    const refused = port().refusedHandshakes;
    const error = await new Promise<Error>((resolve, reject) => {
      const req = request(`${port().url}/secapi/pay/refund`, { method: 'POST', ca: port().caPem }, () =>
        reject(new Error('answered without a certificate')),
      );
      req.on('error', resolve);
      req.end('<xml></xml>');
    });
    expect(error).toBeInstanceOf(Error);
    expect(port().refusedHandshakes).toBeGreaterThan(refused);
    const plain = await fetch(`${world.sim.url}/secapi/pay/refund`, { method: 'POST', body: '<xml></xml>' });
    expect(await plain.text()).toContain('client certificate required');
    // the certificate port serves secapi only
    const other = clientCertificateFetch(
      { cert: port().merchantCertPem, key: world.h.keys.merchant.privateKeyPem },
      { ca: port().caPem },
    );
    expect((await other(`${port().url}/pay/orderquery`, { method: 'POST', body: '<xml></xml>' })).status).toBe(404);
    await expect(other(`${world.sim.url}/secapi/pay/refund`, { method: 'POST' })).rejects.toThrow('https');
    expect(neverSent('CLIENT_CERT_REFUSED') && neverSent('SERVER_CERT_UNTRUSTED') && !neverSent('TIMEOUT')).toBe(true);
  });

  it('the refund function built from the environment carries the certificate (and is blocked without one)', () => {
    expect(refundDeps(world.h.env).refunds.v2.blocked).toBeUndefined();
    expect(refundDeps({ ...world.h.env, WECHATPAY_MERCHANT_CERT: undefined }).refunds.v2.blocked).toMatch(
      /client certificate/,
    );
    // an http origin cannot carry a client certificate
    expect(refundDeps({ ...world.h.env, WECHATPAY_SECAPI_BASE_URL: undefined }).refunds.v2.blocked).toMatch(
      /https origin/,
    );
  });
});

describe('functions/refund, the deployed chain', () => {
  it('with APIv2 alone in its environment refunds through the client certificate it reads there', async () => {
    const no = await world.paid(500, 'F');
    const served = port().served;
    try {
      for (const [name, value] of Object.entries(world.h.env)) vi.stubEnv(name, value);
      // APIv2 alone: no APIv3 key and no WeChat key to verify APIv3 answers with
      for (const name of [
        'WECHATPAY_APIV3_KEY',
        'WECHATPAY_PLATFORM_CERTS',
        'WECHATPAY_PUBLIC_KEY',
        'WECHATPAY_PUBLIC_KEY_ID',
      ])
        vi.stubEnv(name, '');
      const outcome = await handler(
        { outTradeNo: no, outRefundNo: `${no}r`, refundFen: 120 },
        { getRemainingTimeInMillis: () => 20_000 },
      );
      expect(outcome).toMatchObject({ status: 'ACCEPTED', outTradeNo: no });
      expect(port().served).toBe(served + 1);
      expect(await orderOf(no)).toMatchObject({ reservedFen: 120 });
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('reading the client certificate', () => {
  const env = () => world.h.env;
  const read = (over: Record<string, string | undefined>) =>
    readSecapiSettings({ ...env(), ...over }, world.h.config.mchid, world.h.config.apiBaseUrl);

  it.each([
    [{ WECHATPAY_MERCHANT_PRIVATE_KEY: undefined }, 'WECHATPAY_MERCHANT_CERT needs WECHATPAY_MERCHANT_PRIVATE_KEY'],
    [{ WECHATPAY_MERCHANT_CERT: 'garbage' }, 'WECHATPAY_MERCHANT_CERT is not a PEM certificate'],
    [{ WECHATPAY_MERCHANT_P12: 'AAAA' }, 'not both'],
    [{ WECHATPAY_MERCHANT_CERT: undefined, WECHATPAY_MERCHANT_P12: '%%%' }, 'base64 of apiclient_cert.p12'],
    [{ WECHATPAY_MERCHANT_CERT: undefined, WECHATPAY_MERCHANT_P12: 'AAAA' }, 'does not open with the mch_id'],
    [{ WECHATPAY_SECAPI_BASE_URL: 'http://127.0.0.1:1' }, 'WECHATPAY_SECAPI_BASE_URL must be an https origin'],
    [{ WECHATPAY_SECAPI_BASE_URL: 'https://x.example/path' }, 'WECHATPAY_SECAPI_BASE_URL must be an https origin'],
    [{ WECHATPAY_SECAPI_CA: 'garbage' }, 'WECHATPAY_SECAPI_CA is not a PEM certificate'],
    [{ WECHATPAY_SECAPI_BASE_URL: 'not a url' }, 'WECHATPAY_SECAPI_BASE_URL must be an https origin'],
  ])('%j is refused: %s', (over, reason) => {
    expect(() => read(over)).toThrow(reason);
  });

  it('refuses a private key that does not belong to the certificate, without quoting either', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    let message = '';
    try {
      read({ WECHATPAY_MERCHANT_PRIVATE_KEY: pem(other.privateKey) });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe('WECHATPAY_MERCHANT_PRIVATE_KEY does not belong to WECHATPAY_MERCHANT_CERT');
  });

  it('reads escaped newlines as a Lambda environment carries them', () => {
    const escaped = (text: string) => text.replace(/\n/g, '\\n');
    const settings = read({
      WECHATPAY_MERCHANT_CERT: escaped(port().merchantCertPem),
      WECHATPAY_MERCHANT_PRIVATE_KEY: escaped(world.h.keys.merchant.privateKeyPem),
    });
    expect(settings).toMatchObject({ blocked: undefined, baseUrl: port().url });
  });

  it.skipIf(!hasOpenssl)('reads WeChat’s PKCS#12 bundle (password: the mch_id) and refunds with it', async () => {
    const bundle = (password: string) =>
      pkcs12Bundle(port().merchantCertPem, world.h.keys.merchant.privateKeyPem, password);
    const p12 = bundle(world.h.config.mchid);
    const secapi = read({ WECHATPAY_MERCHANT_CERT: undefined, WECHATPAY_MERCHANT_P12: p12 });
    expect(secapi.identity).toHaveProperty('pfx');
    expect((await refundWith(secapi)).outcome).toMatchObject({ status: 'ACCEPTED' });
    const wrong = bundle('not-the-mchid');
    expect(() => read({ WECHATPAY_MERCHANT_CERT: undefined, WECHATPAY_MERCHANT_P12: wrong })).toThrow(
      'does not open with the mch_id',
    );
  });
});
