/**
 * WeChat Pay changing its keys, end to end through the real local stack (serverless-offline, its
 * worker "containers", DynamoDB Local and the simulator), started once and never restarted: a
 * certificate rollover, then a public-key switch with a rollback, each over 500 notifications paid
 * by the simulator. The notify functions learn the new certificate at run time (one verified,
 * rate-limited download per container, stored for the others); no authentic delivery is refused.
 * Schedules are time-compressed and concurrency modest, to stay quick on a two-core machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateStore } from '../../lib/keys/store';
import type { TestKeys } from '../../scripts/simulator/keys';
import { v3Notification, v3TransactionResource } from '../../scripts/simulator/messages';
import { randomSerial } from '../../scripts/simulator/random';
import { newPlatformIdentity } from '../../scripts/simulator/rotation';
import type { Simulator } from '../../scripts/simulator/server';
import { startE2eStack, type E2eStack } from '../support/e2e';
import { orderNo } from '../support/harness';

const NOTIFICATIONS = 500;
const CONCURRENCY = 3;

let stack: E2eStack;
let sim: Simulator;
let keys: TestKeys;

beforeAll(async () => {
  stack = await startE2eStack({ simulator: { timeScale: 0.001 }, keepOutput: 200_000 });
  ({ keys, sim } = stack);
  // start the worker "containers" before anything is measured (a cold worker bundles and loads first)
  await payMany(CONCURRENCY * 2, () => undefined);
}, 240_000);

afterAll(async () => {
  await stack?.stop();
});

/**
 * Pays `n` orders through the simulator, `CONCURRENCY` at a time, each delivered until accepted (WeChat's
 * retry schedule, compressed); `at(i)` runs before payment i. A rejection is an attempt the service
 * refused (4xx: 401 is what an unknown key gets); an attempt the loaded local stack did not answer in
 * time or answered 5xx ("try again") is no verdict on the keys and is counted apart: its delivery must
 * still end accepted.
 */
async function payMany(
  n: number,
  at: (i: number) => void,
): Promise<{ rejected: string[]; neverAccepted: number; unanswered: number }> {
  const rejected: string[] = [];
  let neverAccepted = 0;
  let unanswered = 0;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      at(i);
      const { delivery } = await sim.control.pay({ outTradeNo: orderNo('K'), amount: 100, wait: 'all' });
      if (!delivery.accepted) neverAccepted += 1;
      for (const attempt of delivery.attempts) {
        // 401 (unknown serial, bad signature) or any 4xx is a verdict; 5xx and silence are "try again"
        if (attempt.status !== null && attempt.status >= 400 && attempt.status < 500)
          rejected.push(JSON.stringify(attempt).slice(0, 300));
        else if (!attempt.accepted) unanswered += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { rejected, neverAccepted, unanswered };
}

describe('keys changing under the running stack', () => {
  it('certificate rollover: 500 notifications, none refused, the new certificate stored', async () => {
    const oldSerial = keys.platform.serial;
    const before = sim.rotation.downloads;
    const { rejected, neverAccepted, unanswered } = await payMany(NOTIFICATIONS, (i) => {
      // WeChat issues the successor and signs with either during the (compressed) overlap
      if (i === 50) sim.rotation.rotateCertificate(20);
    });
    expect(rejected, stack.output.slice(-3000)).toEqual([]);
    expect(neverAccepted, `${unanswered} attempts unanswered`).toBe(0);
    const newSerial = sim.rotation.status().current;
    expect(newSerial).not.toBe(oldSerial);
    // each worker container downloads at most once; never one per delivery
    const downloads = sim.rotation.downloads - before;
    expect(downloads).toBeGreaterThanOrEqual(1);
    expect(downloads).toBeLessThanOrEqual(CONCURRENCY + 1);
    const stored = await createCertificateStore({ client: stack.dynamo, tableName: stack.tableName }).list();
    expect(stored.map((c) => c.serial)).toContain(newSerial);
    // the delivery log lines name the kind of key that verified each one
    expect(stack.output).toContain('"verifiedBy":"platform-certificate"');
  }, 300_000);

  it('public-key switch with rollback: 500 notifications, none refused', async () => {
    const { rejected, neverAccepted, unanswered } = await payMany(NOTIFICATIONS, (i) => {
      // a compressed week: the public key's share rises day by day to all of them, then a rollback
      if (i === 0) sim.rotation.switchPublicKey({ weekSeconds: 14 });
      // the rest of the week at once, whatever this machine's speed: the public key signs them all
      if (i === 300) sim.rotation.switchPublicKey({ weekSeconds: 0.001 });
      if (i === 450) sim.rotation.switchPublicKey({ rollback: true });
    });
    expect(rejected, stack.output.slice(-3000)).toEqual([]);
    expect(neverAccepted, `${unanswered} attempts unanswered`).toBe(0);
    expect(sim.rotation.publicKeyShare()).toBe(0);
    expect(stack.output).toContain('"verifiedBy":"public-key"');
  }, 300_000);

  it('a flood of 1,000 forged unknown serials: all refused, at most one download per container', async () => {
    const stranger = newPlatformIdentity(Date.now());
    const before = sim.rotation.downloads;
    const statuses: number[] = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < 1000; i = next++) {
        const wire = v3Notification(
          { ...keys, platform: { ...stranger, serial: randomSerial() } },
          {
            eventType: 'TRANSACTION.SUCCESS',
            originalType: 'transaction',
            resource: v3TransactionResource(keys, { outTradeNo: orderNo('F'), total: 1 }),
          },
        );
        const res = await fetch(`${stack.httpUrl}/notify/payment`, {
          method: 'POST',
          headers: wire.headers,
          body: wire.body,
        });
        await res.arrayBuffer();
        statuses.push(res.status);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(statuses.filter((s) => s !== 401)).toEqual([]);
    // the containers that downloaded during the rollover are still inside their five minutes
    expect(sim.rotation.downloads - before).toBeLessThanOrEqual(CONCURRENCY);
  }, 300_000);
});
