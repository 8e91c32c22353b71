/**
 * Certificate validity (issue 12 item 2): a certificate outside its validity, beyond the documented
 * grace, verifies nothing; a configured one already expired is dropped at cold start with one warning;
 * a notification it signed is answered 401 through the real handler and DynamoDB Local.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../lib/config';
import { notifyRuntime } from '../../../lib/lambda/deps';
import { handleNotification } from '../../../lib/notify/handle';
import { httpHandler, wechatFormat } from '../../../lib/notify/lambda';
import { valuesSource } from '../../../lib/secrets';
import { createKeyRing, VALIDITY_GRACE_MS } from '../../../lib/wechatpay/v3/keyring';
import { headerGetter, verifyV3 } from '../../../lib/wechatpay/v3/verify';
import { selfSignedCertificate } from '../../../scripts/simulator/cert';
import type { TestKeys } from '../../../scripts/simulator/keys';
import { v3Notification, v3TransactionResource } from '../../../scripts/simulator/messages';
import { randomSerial } from '../../../scripts/simulator/random';
import { createHarness, orderNo, toEvent, type Harness } from '../../support/harness';

const DAY = 24 * 60 * 60 * 1000;

/** A platform identity whose certificate is valid from `from` to `to` (epoch ms). */
function platformValid(from: number, to: number): TestKeys['platform'] {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const serial = randomSerial();
  const certPem = selfSignedCertificate({
    privateKey,
    publicKey,
    serialHex: serial,
    commonName: 'Tenpay.com Test Platform Certificate',
    notBefore: new Date(from),
    notAfter: new Date(to),
  });
  return {
    privateKey,
    publicKey,
    privateKeyPem: String(privateKey.export({ type: 'pkcs8', format: 'pem' })),
    publicKeyPem: String(publicKey.export({ type: 'spki', format: 'pem' })),
    serial,
    certPem,
  };
}

let h: Harness;
let expired: TestKeys['platform'];
beforeAll(async () => {
  h = await createHarness();
  expired = platformValid(Date.now() - 800 * DAY, Date.now() - 30 * DAY);
});
afterEach(() => vi.restoreAllMocks());

const paymentBy = (keys: TestKeys, nowSeconds?: number) =>
  v3Notification(keys, {
    eventType: 'TRANSACTION.SUCCESS',
    originalType: 'transaction',
    resource: v3TransactionResource(keys, { outTradeNo: orderNo('V'), total: 100 }),
    ...(nowSeconds === undefined ? {} : { timestamp: nowSeconds }),
  });

describe('a configured certificate that has expired', () => {
  it('is dropped at cold start with one warning naming its serial, and what it signs is answered 401', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const config = loadConfig({ ...h.env, WECHATPAY_PLATFORM_CERTS: `${expired.certPem}${h.keys.platform.certPem}` });
    vi.restoreAllMocks();
    const warnings = lines.filter((l) => l.includes('expired platform certificate dropped'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0] ?? '{}')).toMatchObject({ level: 'warn', serial: expired.serial });
    expect(config.keyRing.serials()).not.toContain(expired.serial);
    expect(config.keyRing.serials()).toContain(h.keys.platform.serial);

    const before = h.logs.length;
    const wire = paymentBy({ ...h.keys, platform: expired });
    const reply = await handleNotification(
      { route: '/notify/payment', headers: wire.headers, body: Buffer.from(wire.body) },
      h.deps({ config }),
    );
    expect(reply.statusCode).toBe(401);
    expect(h.logs.slice(before).some((l) => l.outcome === 'UNAUTHENTIC')).toBe(true);
    // the other certificate of the same bundle still verifies
    const good = paymentBy(h.keys);
    const ok = await handleNotification(
      { route: '/notify/payment', headers: good.headers, body: Buffer.from(good.body) },
      h.deps({ config }),
    );
    expect(ok.statusCode).toBe(204);
  });

  it('through the Lambda handler chain: one warning per container, 401 for what it signs, 204 for the valid one', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    // no merchant key: the ring never downloads (the expired serial is unknown to it)
    const runtime = notifyRuntime({
      env: {
        ...h.env,
        WECHATPAY_PLATFORM_CERTS: `${expired.certPem}${h.keys.platform.certPem}`,
        WECHATPAY_MERCHANT_PRIVATE_KEY: undefined,
        WECHATPAY_MERCHANT_SERIAL_NO: undefined,
      },
      source: valuesSource({}),
      logger: h.logger,
    });
    const invoke = httpHandler('/notify/payment', runtime.pipeline(handleNotification), wechatFormat, runtime.deps);
    const refused = await invoke(toEvent(paymentBy({ ...h.keys, platform: expired })));
    const again = await invoke(toEvent(paymentBy({ ...h.keys, platform: expired })));
    const ok = await invoke(toEvent(paymentBy(h.keys)));
    vi.restoreAllMocks();
    expect([refused.statusCode, again.statusCode, ok.statusCode]).toEqual([401, 401, 204]);
    const warnings = lines.filter((l) => l.includes('expired platform certificate dropped'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(expired.serial);
  });

  it('warns through the injected reporter once per certificate, never for a valid one', () => {
    const seen: string[] = [];
    createKeyRing({
      platformCertsPem: `${expired.certPem}${h.keys.platform.certPem}`,
      onExpired: (serial) => seen.push(serial),
    });
    expect(seen).toEqual([expired.serial]);
  });
});

describe('verification checks validity with its own clock', () => {
  it('refuses a certificate past its expiry plus the grace, and one not yet valid', () => {
    const now = Date.now();
    const cert = platformValid(now - 10 * DAY, now + DAY);
    const ring = createKeyRing({ platformCertsPem: cert.certPem, now: () => now });
    const keys = { ...h.keys, platform: cert };
    const at = (ms: number) => {
      const s = Math.floor(ms / 1000);
      const wire = paymentBy(keys, s);
      return () => verifyV3(headerGetter(wire.headers), Buffer.from(wire.body), ring, s);
    };
    expect(at(now)()).toEqual({ serial: cert.serial, verifiedBy: 'platform-certificate' });
    // inside the grace: a delivery signed just before expiry still counts
    expect(at(now + DAY + VALIDITY_GRACE_MS - 60_000)().verifiedBy).toBe('platform-certificate');
    expect(at(now + DAY + VALIDITY_GRACE_MS + 60_000)).toThrow(/outside its validity/);
    expect(at(now - 10 * DAY - VALIDITY_GRACE_MS - 60_000)).toThrow(/outside its validity/);
  });

  it('names the public key as the verifier of what it signed', () => {
    const wire = v3Notification(h.keys, {
      eventType: 'TRANSACTION.SUCCESS',
      originalType: 'transaction',
      resource: v3TransactionResource(h.keys, { outTradeNo: orderNo('P'), total: 1 }),
      signer: 'publicKey',
    });
    const result = verifyV3(
      headerGetter(wire.headers),
      Buffer.from(wire.body),
      h.config.keyRing,
      Math.floor(Date.now() / 1000),
    );
    expect(result).toEqual({ serial: h.keys.publicKey.id, verifiedBy: 'public-key' });
  });
});
