/**
 * The operator command (`npm run reconcile`): its arguments, and what it prints and changes for one
 * order and for all pending orders, against DynamoDB Local and the local WeChat Pay simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../../lib/errors';
import { createLogger } from '../../../lib/log';
import { parseReconcileArgs, runReconcileCommand } from '../../../lib/reconcile/command';
import type { ReconcileDeps } from '../../../lib/reconcile/reconcile';
import { createWechatPayClient } from '../../../lib/wechatpay/client';
import { generateTestKeys } from '../../../scripts/simulator/keys';
import { startSimulator, type Simulator } from '../../../scripts/simulator/server';
import { createHarness, orderNo, type Harness } from '../../support/harness';

const SUB = '1230000109';
let h: Harness;
let sim: Simulator;

beforeAll(async () => {
  const keys = generateTestKeys();
  sim = await startSimulator({ keys, port: 0, closeMinAgeSeconds: 0 });
  h = await createHarness({ keys, env: { WECHATPAY_API_BASE_URL: sim.url } });
});

afterAll(async () => {
  await sim?.close();
});

function deps(): ReconcileDeps {
  return {
    config: h.config,
    store: h.store,
    client: createWechatPayClient({ config: h.config, sleep: async () => undefined }),
    logger: createLogger({ service: 'test', write: () => undefined }),
    now: Date.now,
  };
}

async function run(argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await runReconcileCommand(parseReconcileArgs(argv), deps(), (line) => lines.push(line));
  return { code, out: lines.join('\n') };
}

async function order(o: { sub?: string; ageMinutes?: number } = {}) {
  const no = orderNo('K');
  const merchantId = o.sub ?? h.keys.mchid;
  const createdAt = new Date(Date.now() - (o.ageMinutes ?? 10) * 60_000).toISOString();
  await h.store.registerOrder({ outTradeNo: no, amountFen: 1500, merchantId, createdAt });
  sim.control.createOrder({ outTradeNo: no, amount: 1500, ...(o.sub ? { subMchid: o.sub } : {}) });
  return { no, merchantId };
}

describe('arguments', () => {
  it('one order, or --all, with options', () => {
    expect(parseReconcileArgs(['ORDER1'])).toMatchObject({
      kind: 'one',
      outTradeNo: 'ORDER1',
      subMchId: undefined,
      options: { dryRun: false, graceSeconds: 0 },
    });
    expect(parseReconcileArgs(['ORDER1', '--sub-mchid', SUB, '--dry-run', '--v2'])).toMatchObject({
      kind: 'one',
      subMchId: SUB,
      options: { dryRun: true, protocol: 'v2' },
    });
    expect(
      parseReconcileArgs(['--all', '--budget', '20', '--concurrency', '2', '--grace-seconds', '300']),
    ).toMatchObject({
      kind: 'all',
      options: { budget: 20, concurrency: 2, graceSeconds: 300 },
    });
  });

  it.each([
    [[]],
    [['A', 'B']],
    [['--all', 'A']],
    [['--bogus']],
    [['A', '--sub-mchid', 'x1']],
    [['bad no!']],
    [['--all', '--budget', 'many']],
    [['--all', '--concurrency', '0']],
    [['A', '--v2', '--v3']],
  ])('%j is a usage error', (argv) => {
    expect(() => parseReconcileArgs(argv)).toThrow(PayError);
  });
});

describe('one order', () => {
  it('paid at WeChat, notification lost: prints what it found and the change, and records it', async () => {
    const { no } = await order();
    const paid = sim.state.pay(h.keys.mchid, no);
    const { code, out } = await run([no]);
    expect(code).toBe(0);
    expect(out).toContain(`order ${no} of merchant ${h.keys.mchid}`);
    expect(out).toMatch(/here before: NOTPAY, 1500 fen/);
    expect(out).toContain(`WeChat Pay:  v3 SUCCESS ${paid.transactionId}`);
    expect(out).toContain('action:      RECOVERED');
    expect(out).toMatch(/here after: {2}PAID, 1500 fen, .*paid via query/);
    expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('PAID');
  });

  it('a sub-merchant order over APIv2, dry run: reports, changes nothing', async () => {
    const { no } = await order({ sub: SUB });
    sim.state.close(SUB, no, 0);
    const { code, out } = await run([no, '--sub-mchid', SUB, '--v2', '--dry-run']);
    expect(code).toBe(0);
    expect(out).toContain('dry run');
    expect(out).toContain('v2 CLOSED');
    expect(out).toContain('action:      WOULD_CLOSE');
    expect((await h.store.getOrder(SUB, no))?.state).toBe('NOTPAY');
  });

  it('an order not registered here: only queried', async () => {
    const no = orderNo('K');
    sim.control.createOrder({ outTradeNo: no, amount: 300 });
    const { out } = await run([no]);
    expect(out).toContain('here before: not registered');
    expect(out).toContain('v3 NOTPAY');
    expect(out).toContain('action:      NOT_REGISTERED');
    expect(await h.store.getOrder(h.keys.mchid, no)).toBeUndefined();
  });
});

describe('--all', () => {
  it('reconciles every pending order and prints one line each and the totals', async () => {
    const a = await order({ ageMinutes: 3 });
    const b = await order({ ageMinutes: 30 });
    sim.state.pay(h.keys.mchid, a.no);
    const { code, out } = await run(['--all']);
    expect(code).toBe(0);
    expect(out).toMatch(new RegExp(`${a.no}.*v3 SUCCESS.*→ RECOVERED`));
    expect(out).toMatch(new RegExp(`${b.no}.*v3 NOTPAY.*→ LEFT_PENDING`));
    expect(out).toMatch(/changed: \d+ recorded paid, \d+ recorded closed; still pending \d+; errors 0; conflicts 0/);
    expect(out).toContain('run complete');
    expect((await h.store.getOrder(h.keys.mchid, a.no))?.state).toBe('PAID');
  });
});
