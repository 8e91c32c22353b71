/**
 * The simulator changes its keys like WeChat: `GET /v3/certificates` (encrypted, signed), a certificate
 * rotation with an overlap during which either certificate signs, and the public-key ramp with rollback,
 * driven in-process and through the CLI. Checked with the simulator's own crypto: no lib/ code here.
 */
import { verify, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../scripts/simulator/cli';
import { generateTestKeys, type TestKeys } from '../../scripts/simulator/keys';
import { v3Decrypt } from '../../scripts/simulator/messages';
import { KeyRotation, PUBLIC_KEY_RAMP } from '../../scripts/simulator/rotation';
import { startSimulator, type Simulator } from '../../scripts/simulator/server';
import { merchantAuthorization } from '../../scripts/simulator/v3auth';

let keys: TestKeys;
let sim: Simulator;
beforeAll(async () => {
  keys = generateTestKeys();
  sim = await startSimulator({ keys });
});
afterAll(async () => sim.close());

async function getCertificates(authorized = true) {
  const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'rotation-test' };
  if (authorized)
    headers.Authorization = merchantAuthorization(keys, { method: 'GET', url: '/v3/certificates', body: '' });
  const res = await fetch(`${sim.url}/v3/certificates`, { headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

type Listed = { serial_no: string; expire_time: string; encrypt_certificate: Record<string, string> };

describe('GET /v3/certificates', () => {
  it('lists each certificate encrypted under the APIv3 key with associated data "certificate", signed', async () => {
    const before = sim.rotation.downloads;
    const res = await getCertificates();
    expect(res.status).toBe(200);
    const data = (JSON.parse(res.text) as { data: Listed[] }).data;
    expect(data.map((d) => d.serial_no)).toEqual([keys.platform.serial]);
    const enc = data[0]?.encrypt_certificate ?? {};
    expect(enc.associated_data).toBe('certificate');
    const pem = v3Decrypt(keys.apiV3Key, {
      ciphertext: enc.ciphertext ?? '',
      nonce: enc.nonce ?? '',
      associated_data: 'certificate',
    });
    expect(new X509Certificate(pem).serialNumber).toBe(keys.platform.serial);
    const message = `${res.headers.get('wechatpay-timestamp')}\n${res.headers.get('wechatpay-nonce')}\n${res.text}\n`;
    expect(res.headers.get('wechatpay-serial')).toBe(keys.platform.serial);
    expect(
      verify(
        'sha256',
        Buffer.from(message),
        keys.platform.publicKey,
        Buffer.from(res.headers.get('wechatpay-signature') ?? '', 'base64'),
      ),
    ).toBe(true);
    expect(sim.rotation.downloads).toBe(before + 1);
  });

  it('refuses an unsigned request with 401', async () => {
    expect((await getCertificates(false)).status).toBe(401);
  });
});

describe('CLI', () => {
  const io = (out: string[]) => ({
    env: { WECHATPAY_SIM_URL: sim.url },
    out: (t: string) => out.push(t),
    err: (t: string) => out.push(t),
  });

  it('rotate certificate, switch public-key, switch public-key --rollback, keys', async () => {
    const out: string[] = [];
    expect(await runCli(['rotate', 'certificate', '--overlap', '30'], io(out))).toBe(0);
    expect(JSON.parse(out.at(-1) ?? '{}')).toMatchObject({
      retiring: { serial: keys.platform.serial === '' ? 'x' : expect.any(String) },
    });
    expect(await runCli(['switch', 'public-key', '--week', '70'], io(out))).toBe(0);
    expect(JSON.parse(out.at(-1) ?? '{}')).toMatchObject({ publicKeyShare: PUBLIC_KEY_RAMP[0] });
    expect(await runCli(['switch', 'public-key', '--rollback'], io(out))).toBe(0);
    expect(JSON.parse(out.at(-1) ?? '{}')).toMatchObject({ publicKeyShare: 0, switch: { rolledBack: true } });
    expect(await runCli(['keys'], io(out))).toBe(0);
    const listed = JSON.parse((await getCertificates()).text) as { data: Listed[] };
    expect(listed.data).toHaveLength(2);
  });

  it('refuses what it does not know', async () => {
    const out: string[] = [];
    expect(await runCli(['rotate', 'everything'], io(out))).toBe(2);
    expect(await runCli(['switch', 'platform'], io(out))).toBe(2);
    expect(await runCli(['rotate', 'certificate', '--overlap', '-5'], io(out))).toBe(2);
  });
});

// last: its key generation blocks the event loop for seconds, long enough for the simulator to close
// idle keep-alive sockets under a fetch about to reuse them
describe('KeyRotation', () => {
  it('rotates: both certificates listed and signing during the overlap, only the new one after', () => {
    let now = Date.now();
    const k = generateTestKeys();
    const rotation = new KeyRotation(k, () => now);
    expect(rotation.pick()).toBeUndefined();
    const old = k.platform.serial;
    const status = rotation.rotateCertificate(10);
    expect(status.current).not.toBe(old);
    expect(rotation.certificates().map((c) => c.serial)).toEqual([status.current, old]);
    const signers = new Set<string>();
    for (let i = 0; i < 100; i += 1) {
      expect(rotation.pick()).toBe('platform');
      signers.add(k.platform.serial);
    }
    expect(signers).toEqual(new Set([old, status.current]));
    now += 11_000;
    expect(rotation.certificates().map((c) => c.serial)).toEqual([status.current]);
    expect(rotation.pick()).toBeUndefined();
    expect(k.platform.serial).toBe(status.current);
    expect(() => rotation.rotateCertificate(-1)).toThrow(RangeError);
  });

  it('ramps the public key day by day over a compressed week, to 100 %, and rolls back to 0', () => {
    let now = Date.now();
    const rotation = new KeyRotation(
      generateTestKeys(),
      () => now,
      () => 0.999,
    );
    expect(rotation.publicKeyShare()).toBe(0);
    rotation.switchPublicKey({ weekSeconds: 7 });
    const shares: number[] = [];
    for (let day = 0; day < 8; day += 1) {
      shares.push(rotation.publicKeyShare());
      now += 1000;
    }
    expect(shares).toEqual([...PUBLIC_KEY_RAMP, 1, 1]);
    // with the share at 100 % even the least likely draw signs with the public key
    expect(rotation.pick()).toBe('publicKey');
    rotation.switchPublicKey({ rollback: true });
    expect(rotation.publicKeyShare()).toBe(0);
    expect(rotation.pick()).toBe('platform');
    expect(rotation.status().switch?.rolledBack).toBe(true);
    expect(() => rotation.switchPublicKey({ weekSeconds: 0 })).toThrow(RangeError);
  });
});
