/**
 * The refreshing key ring wired the way a notify function will be (prepare, then the real handler on
 * DynamoDB Local), fed by the real simulator: a certificate rollover and a public-key switch with
 * rollback over 500 notifications each with no authentic delivery refused, a flood of 1,000 forged
 * serials costing at most one download, and a second container learning certificates from the table.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../../lib/config';
import { configuredDownloader } from '../../../lib/keys/download';
import { depsWithFreshKeys } from '../../../lib/keys/notify';
import { daysToEarliestExpiry } from '../../../lib/keys/metrics';
import { createRefreshingKeyRing, type RefreshingKeyRing } from '../../../lib/keys/ring';
import { createCertificateStore, type CertificateStore } from '../../../lib/keys/store';
import { handleNotification } from '../../../lib/notify/handle';
import { createTransport } from '../../../lib/wechatpay/http';
import { v3Notification, v3TransactionResource } from '../../../scripts/simulator/messages';
import { newPlatformIdentity } from '../../../scripts/simulator/rotation';
import { randomSerial } from '../../../scripts/simulator/random';
import { startSimulator, type Simulator } from '../../../scripts/simulator/server';
import { createHarness, orderNo, type Harness } from '../../support/harness';

const MINUTE = 60_000;
let h: Harness;
let sim: Simulator;
let store: CertificateStore;
let receiver: Server;
let skew = 0;
/** The Wechatpay-Serial of every notification the receiver got, in order. */
const seen: string[] = [];
const now = () => Date.now() + skew;
/** The ring the receiver verifies with; each test builds its own, as a fresh container would. */
let current: { ring: RefreshingKeyRing; config: Config };

function ringFor(config: Config): RefreshingKeyRing {
  return createRefreshingKeyRing({
    configured: config.keyRing,
    store,
    download: configuredDownloader(config, createTransport({ maxAttempts: 1 })),
    now,
    logger: h.logger,
  });
}

/** What the notify adapter will do once wired: bring the ring up to date, then the unchanged handler. */
async function deliver(
  ring: RefreshingKeyRing,
  config: Config,
  headers: Record<string, string | undefined>,
  body: Buffer,
) {
  const deps = await depsWithFreshKeys(ring, h.deps({ config }), headers);
  return handleNotification({ route: '/notify/payment', headers, body }, deps);
}

beforeAll(async () => {
  h = await createHarness();
  store = createCertificateStore({ client: h.client, tableName: h.tableName });
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      seen.push(headers['wechatpay-serial'] ?? '');
      void deliver(current.ring, current.config, headers, Buffer.concat(chunks)).then((reply) => {
        res.writeHead(reply.statusCode, reply.headers).end(reply.body);
      });
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as AddressInfo).port;
  sim = await startSimulator({ keys: h.keys, notifyUrl: `http://127.0.0.1:${port}/notify/payment` });
});
afterAll(async () => {
  await sim.close();
  await new Promise((resolve) => receiver.close(resolve));
});

/** Pays `n` orders through the simulator; returns the first-attempt statuses that were refusals. */
async function payMany(n: number, during?: (i: number) => void): Promise<number[]> {
  const refused: number[] = [];
  for (let i = 0; i < n; i += 1) {
    during?.(i);
    const { delivery } = await sim.control.pay({ outTradeNo: orderNo('R'), amount: 100, wait: 'first' });
    const first = delivery.attempts[0];
    if (first === undefined || !first.accepted) refused.push(first?.status ?? -1);
  }
  return refused;
}

describe('certificate rollover', () => {
  it('500 notifications across a rotation: none refused, one download, no restart', async () => {
    const config = loadConfig({
      ...h.env,
      WECHATPAY_API_BASE_URL: sim.url,
      WECHATPAY_PUBLIC_KEY: undefined,
      WECHATPAY_PUBLIC_KEY_ID: undefined,
    });
    current = { ring: ringFor(config), config };
    const before = sim.rotation.downloads;
    const oldSerial = h.keys.platform.serial;
    const first = seen.length;
    const refused = await payMany(500, (i) => {
      if (i === 100) sim.rotation.rotateCertificate(3600);
    });
    expect(refused).toEqual([]);
    expect(sim.rotation.downloads - before).toBe(1);
    const newSerial = sim.rotation.status().current;
    expect(newSerial === oldSerial).toBe(false);
    expect(current.ring.ring.serials()).toContain(newSerial);
    // during the overlap both certificates signed
    const overlap = seen.slice(first + 101);
    expect(overlap.filter((s) => s === oldSerial).length).toBeGreaterThan(50);
    expect(overlap.filter((s) => s === newSerial).length).toBeGreaterThan(50);
  }, 180_000);
});

describe('public-key switch and rollback', { timeout: 180_000 }, () => {
  it('500 notifications while the public key takes over, then a rollback: none refused', async () => {
    const config = loadConfig({ ...h.env, WECHATPAY_API_BASE_URL: sim.url });
    current = { ring: ringFor(config), config };
    const first = seen.length;
    const refused = await payMany(500, (i) => {
      // the ramp's first days, then (whatever this machine's speed) the rest of the week compressed to
      // nothing: every notification from 225 on is signed by the public key until the rollback
      if (i === 0) sim.rotation.switchPublicKey({ weekSeconds: 7 });
      if (i === 225) sim.rotation.switchPublicKey({ weekSeconds: 0.001 });
      if (i === 450) sim.rotation.switchPublicKey({ rollback: true });
    });
    expect(refused).toEqual([]);
    expect(sim.rotation.publicKeyShare()).toBe(0);
    const serials = seen.slice(first);
    expect(serials).toHaveLength(500);
    const byPublicKey = serials.filter((s) => s === h.keys.publicKey.id).length;
    // the ramp reached the public key, the certificate still signed some, and the rollback ended it
    expect(byPublicKey).toBeGreaterThan(50);
    expect(byPublicKey).toBeLessThan(450);
    expect(serials.slice(451).every((s) => s !== h.keys.publicKey.id)).toBe(true);
  });
});

describe('forged serials', () => {
  it('a flood of 1,000 unknown serials causes at most one download per five minutes', async () => {
    const config = loadConfig({ ...h.env, WECHATPAY_API_BASE_URL: sim.url });
    const ring = ringFor(config);
    const stranger = newPlatformIdentity(Date.now());
    const before = sim.rotation.downloads;
    const flood = async () => {
      const replies = await Promise.all(
        Array.from({ length: 1000 }, async () => {
          const wire = v3Notification(
            { ...h.keys, platform: { ...stranger, serial: randomSerial() } },
            {
              eventType: 'TRANSACTION.SUCCESS',
              originalType: 'transaction',
              resource: v3TransactionResource(h.keys, { outTradeNo: orderNo('F'), total: 1 }),
            },
          );
          return deliver(ring, config, wire.headers, Buffer.from(wire.body));
        }),
      );
      return replies.filter((r) => r.statusCode !== 401).length;
    };
    expect(await flood()).toBe(0);
    expect(sim.rotation.downloads - before).toBe(1);
    expect(ring.downloads()).toBe(1);
    skew += 4 * MINUTE;
    expect(await flood()).toBe(0);
    expect(sim.rotation.downloads - before).toBe(1);
    skew += MINUTE;
    expect(await flood()).toBe(0);
    expect(sim.rotation.downloads - before).toBe(2);
  });

  it('a failing download is logged, never thrown, and trusts nothing', async () => {
    const config = loadConfig({ ...h.env, WECHATPAY_API_BASE_URL: sim.url });
    const ring = ringFor(config);
    sim.faults.next('v3.certificates', 'forged-signature');
    const serial = randomSerial();
    await ring.prepare(serial);
    expect(ring.ring.entry(serial)).toBeUndefined();
    expect(h.logs.at(-1)).toMatchObject({ level: 'warn', message: 'platform certificate download failed' });
  });
});

describe('a second container', () => {
  it('learns the stored certificates on its periodic reload, without downloading', async () => {
    const config = loadConfig({
      ...h.env,
      WECHATPAY_API_BASE_URL: sim.url,
      WECHATPAY_PLATFORM_CERTS: undefined,
    });
    const ring = createRefreshingKeyRing({ configured: config.keyRing, store, now });
    await ring.prepare(undefined);
    const stored = await store.list();
    expect(stored.length).toBeGreaterThan(0);
    for (const c of stored) expect(ring.ring.entry(c.serial)?.kind).toBe('platform-certificate');
    expect(ring.downloads()).toBe(0);
  });
});

describe('key metrics', () => {
  it('days to the earliest unexpired certificate', async () => {
    const at = Date.now();
    const soon = newPlatformIdentity(at);
    const { createKeyRing } = await import('../../../lib/wechatpay/v3/keyring');
    const ring = createKeyRing({ platformCertsPem: h.keys.platform.certPem });
    const days = daysToEarliestExpiry(ring, at) ?? 0;
    expect(days).toBeGreaterThan(365);
    expect(
      daysToEarliestExpiry(
        createKeyRing({ publicKeyId: h.keys.publicKey.id, publicKeyPem: h.keys.publicKey.publicKeyPem }),
        at,
      ),
    ).toBeUndefined();
    expect(
      daysToEarliestExpiry(createKeyRing({ platformCertsPem: soon.certPem }), at + 6 * 365 * 86_400_000),
    ).toBeUndefined();
  });
});

describe('depsWithFreshKeys', () => {
  it('the deps around a ring are built once per deps: the same object on each delivery, the given deps untouched', async () => {
    const config = loadConfig(h.env);
    const ring = ringFor(config);
    const deps = h.deps({ config });
    const headers = { 'wechatpay-serial': h.keys.platform.serial };
    // the first delivery reads the stored certificates: a promise; the next ones find nothing to do
    const pending = depsWithFreshKeys(ring, deps, headers);
    expect(pending).toBeInstanceOf(Promise);
    const first = await pending;
    expect(first.config.keyRing).toBe(ring.ring);
    expect(first.config.mchid).toBe(config.mchid);
    expect(deps.config.keyRing).toBe(config.keyRing);
    expect(ring.prepare(h.keys.platform.serial)).toBeUndefined();
    expect(depsWithFreshKeys(ring, deps, headers)).toBe(first);
    // other deps (a rebuilt container configuration): their own object
    const other = await depsWithFreshKeys(ring, h.deps({ config }), headers);
    expect(other).not.toBe(first);
    expect(other.config.keyRing).toBe(ring.ring);
  });
});
