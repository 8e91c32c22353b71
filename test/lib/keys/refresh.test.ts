/**
 * The daily certificate refresh against the real simulator and DynamoDB Local: it stores what WeChat
 * lists, trusts a response signed by a certificate learned earlier, reports the days to the earliest
 * expiry as an embedded metric with the alarm's dimensions, and logs (never throws) a failed download.
 */
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config';
import { configuredDownloader } from '../../../lib/keys/download';
import { refreshCertificates, unionRing } from '../../../lib/keys/refresh';
import { createCertificateStore } from '../../../lib/keys/store';
import { createTransport } from '../../../lib/wechatpay/http';
import { certificateRing } from '../../../lib/wechatpay/v3/certificates';
import { createKeyRing } from '../../../lib/wechatpay/v3/keyring';
import { startSimulator, type Simulator } from '../../../scripts/simulator/server';
import { createHarness, type Harness } from '../../support/harness';

let h: Harness;
let sim: Simulator;
beforeAll(async () => {
  h = await createHarness();
  sim = await startSimulator({ keys: h.keys, notifyUrl: 'http://127.0.0.1:9/unused' });
});
afterAll(async () => {
  await sim.close();
});

function deps(env: Record<string, string | undefined> = {}) {
  const config = loadConfig({ ...h.env, WECHATPAY_API_BASE_URL: sim.url, ...env });
  return {
    config,
    store: createCertificateStore({ client: h.client, tableName: h.tableName }),
    download: configuredDownloader(config, createTransport({ maxAttempts: 1 })),
    logger: h.logger,
    now: Date.now,
  };
}

describe('refreshCertificates', () => {
  it('stores the listed certificates and reports the days to expiry with the alarm dimensions', async () => {
    const summary = await refreshCertificates(deps());
    expect(summary.downloaded).toBe(true);
    expect(summary.stored).toEqual([h.keys.platform.serial]);
    expect(summary.daysToExpiry).toBeGreaterThan(365);
    const line = h.logs.filter((l) => l.message === 'certificate refresh').at(-1);
    expect(line).toMatchObject({ level: 'info', daysToExpiry: summary.daysToExpiry });
    // the alarm's metric: one embedded-metric record in the {service, stage} set serverless.yml's alarm names
    const record = h.logs.filter((l) => 'PlatformCertificateDaysToExpiry' in l).at(-1);
    expect(record).toMatchObject({ service: 'test', PlatformCertificateDaysToExpiry: summary.daysToExpiry });
    expect(record).toHaveProperty('stage');
    const directive = JSON.stringify(record?._aws);
    expect(directive).toContain('"Dimensions":[["service","stage"]]');
    expect(directive).toContain('{"Name":"PlatformCertificateDaysToExpiry","Unit":"None"}');
  });

  it('after a rotation, a response signed by the new certificate verifies through the stored one', async () => {
    // the configuration knows only the public key: the stored certificate is what vouches for the answer
    sim.rotation.rotateCertificate(0);
    const first = await refreshCertificates(deps({ WECHATPAY_PLATFORM_CERTS: undefined }));
    expect(first.downloaded, first.reason).toBe(true);
    expect(first.stored).toEqual([sim.rotation.status().current]);
    const listed = await createCertificateStore({ client: h.client, tableName: h.tableName }).list();
    expect(listed.map((c) => c.serial)).toContain(sim.rotation.status().current);
  });

  it('a forged answer is logged as an error with its reason, stores nothing, and never throws', async () => {
    const before = await createCertificateStore({ client: h.client, tableName: h.tableName }).list();
    sim.faults.next('v3.certificates', 'forged-signature');
    const summary = await refreshCertificates(deps());
    expect(summary.downloaded).toBe(false);
    expect(summary.reason).toBeTruthy();
    expect(h.logs.at(-1)).toMatchObject({ level: 'error', message: 'certificate refresh', downloaded: false });
    const after = await createCertificateStore({ client: h.client, tableName: h.tableName }).list();
    expect(after.map((c) => c.serial).sort()).toEqual(before.map((c) => c.serial).sort());
  });

  it('with no certificate held at all (public key only, nothing stored), no metric is emitted', async () => {
    const empty = { list: async () => [], put: async () => {} };
    const summary = await refreshCertificates({
      ...deps({ WECHATPAY_PLATFORM_CERTS: undefined }),
      store: empty,
      download: async () => {
        throw new Error('offline');
      },
    });
    expect(summary).toEqual({ downloaded: false, stored: [], reason: expect.any(String) });
    expect(h.logs.at(-1)).not.toHaveProperty('_aws');
  });
});

describe('unionRing', () => {
  it('answers from the first ring first, lists every serial once', () => {
    const configured = createKeyRing({ platformCertsPem: h.keys.platform.certPem });
    const union = unionRing(configured, certificateRing([]));
    expect(union.serials()).toEqual(configured.serials());
    expect(union.get(h.keys.platform.serial)).toBe(configured.get(h.keys.platform.serial));
    expect(union.get('00')).toBeUndefined();
  });
});
