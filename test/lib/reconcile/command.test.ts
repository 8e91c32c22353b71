/**
 * The operator command (`npm run reconcile`): its arguments, and what it prints and changes for one
 * order and for all pending orders, against DynamoDB Local and the local WeChat Pay simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../../lib/errors';
import { createLogger } from '../../../lib/log';
import { parseReconcileArgs, runReconcileCommand } from '../../../lib/reconcile/command';
import type { ReconcileDeps } from '../../../lib/reconcile/reconcile';
import { createWechatPayClient, type WechatPayClient } from '../../../lib/wechatpay/client';
import { generateTestKeys } from '../../../scripts/simulator/keys';
import { startSimulator, type Simulator } from '../../../scripts/simulator/server';
import { createHarness, orderNo, type Harness } from '../../support/harness';
import type { OrderStore } from '../../../lib/orders/store';
import { WechatPayApiError, wechatRefusal } from '../../../lib/wechatpay/apiError';
import type { Transaction } from '../../../lib/wechatpay/v3/transaction';

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

/**
 * The operator command with a scripted WeChat client over DynamoDB Local: what it prints (and its exit
 * code) for the outcomes the simulator does not stage: failures with and without a reason, closes,
 * conflicts, dry-run totals, runs stopped early, and an index it cannot count.
 */
describe('with a scripted WeChat client', () => {
  const MINUTE = 60_000;
  const DAY = 86_400_000;
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });

  let windows = 0;
  const freshNow = () => Date.parse('2035-01-01T00:00:00.000Z') + windows++ * 5 * DAY;

  function deps(
    now: number,
    answers: Record<string, Transaction | Error>,
    over: Partial<ReconcileDeps> = {},
    close?: () => Promise<void>,
  ): ReconcileDeps {
    const client = {
      v3: {
        queryOrderV3: async (ref: { outTradeNo: string }) => {
          const a = answers[ref.outTradeNo];
          if (a === undefined) throw wechatRefusal(404, 'ORDER_NOT_EXIST', 'no such order', '');
          if (a instanceof Error) throw a;
          return a;
        },
        closeOrderV3: close ?? (async () => undefined),
      },
    } as unknown as WechatPayClient;
    return {
      config: h.config,
      store: h.store,
      client,
      logger: createLogger({ service: 'test', write: () => undefined }),
      now: () => now,
      sleep: async () => undefined,
      ...over,
    };
  }

  async function run(argv: string[], d: ReconcileDeps): Promise<{ code: number; out: string }> {
    const lines: string[] = [];
    const code = await runReconcileCommand(parseReconcileArgs(argv), d, (line) => lines.push(line));
    return { code, out: lines.join('\n') };
  }

  async function pending(now: number, ageMinutes = 10, amountFen = 1500): Promise<string> {
    const no = orderNo('C');
    await h.store.registerOrder({
      outTradeNo: no,
      amountFen,
      merchantId: h.keys.mchid,
      createdAt: new Date(now - ageMinutes * MINUTE).toISOString(),
    });
    return no;
  }

  const tx = (no: string, over: Partial<Transaction> = {}): Transaction => ({
    outTradeNo: no,
    transactionId: '4200000000000000000000000777',
    tradeState: 'SUCCESS',
    mchid: h.keys.mchid,
    appid: h.keys.appid,
    subMchid: undefined,
    totalFen: 1500,
    successTime: '2035-01-01T00:00:00.000Z',
    ...over,
  });
  const unpaid = (no: string, state: Transaction['tradeState'] = 'NOTPAY') =>
    tx(no, { tradeState: state, transactionId: undefined, successTime: undefined });

  describe('arguments', () => {
    it('--v3 forces APIv3', () => {
      expect(parseReconcileArgs(['ORDER1', '--v3'])).toMatchObject({ options: { protocol: 'v3' } });
    });

    it('refuses --sub-mchid with --all, naming why', () => {
      expect(() => parseReconcileArgs(['--all', '--sub-mchid', '1230000109'])).toThrow(
        '--sub-mchid names one order; --all covers every merchant',
      );
    });

    it('reports an unknown option with the usage', () => {
      let err: unknown;
      try {
        parseReconcileArgs(['--frobnicate']);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PayError);
      expect((err as PayError).kind).toBe('CONFIG');
      expect((err as PayError).reason).toMatch(/--frobnicate[\s\S]*usage: npm run reconcile/);
    });
  });

  describe('one order', () => {
    it('a failed query: ERROR with code and reason, exit 1, WeChat "no answer"', async () => {
      const now = freshNow();
      const no = await pending(now);
      const { code, out } = await run(
        [no],
        deps(now, {
          [no]: new WechatPayApiError({
            status: undefined,
            code: 'TIMEOUT',
            message: 'no answer within 4000 ms',
            retryable: true,
          }),
        }),
      );
      expect(code).toBe(1);
      expect(out).toContain('WeChat Pay:  v3 no answer');
      expect(out).toContain('action:      ERROR (TIMEOUT: no answer within 4000 ms)');
      expect(out).toMatch(/here after: {2}NOTPAY, 1500 fen, created /);
    });

    it('unknown at WeChat: "no such order", the code without a reason, exit 0', async () => {
      const now = freshNow();
      const no = await pending(now);
      const { code, out } = await run([no], deps(now, {}));
      expect(code).toBe(0);
      expect(out).toContain('WeChat Pay:  v3 no such order');
      expect(out).toContain('action:      NOT_AT_WECHAT (ORDER_NOT_EXIST)');
    });

    it('paid with another amount: CONFLICT, exit 1, nothing recorded', async () => {
      const now = freshNow();
      const no = await pending(now, 10, 1500);
      const { code, out } = await run([no], deps(now, { [no]: tx(no, { totalFen: 1 }) }));
      expect(code).toBe(1);
      expect(out).toContain('action:      CONFLICT');
      expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('NOTPAY');
    });

    it('REVOKED at WeChat: recorded closed, and the order line says why', async () => {
      const now = freshNow();
      const no = await pending(now);
      const { code, out } = await run([no], deps(now, { [no]: unpaid(no, 'REVOKED') }));
      expect(code).toBe(0);
      expect(out).toContain('action:      CLOSED');
      expect(out).toMatch(/here after: {2}CLOSED, 1500 fen, created .*, closed \(REVOKED\)/);
    });

    it('unpaid past --close-after-minutes: closed through closeOrder, printed with the close status', async () => {
      const now = freshNow();
      const no = await pending(now, 120);
      const { code, out } = await run([no, '--close-after-minutes', '60'], deps(now, { [no]: unpaid(no) }));
      expect(code).toBe(0);
      expect(out).toContain('action:      AUTO_CLOSE CLOSED');
      expect(out).toMatch(/here after: {2}CLOSED, .*closed \(CLOSED\)/);
    });

    it('an order recorded from an unregistered payment prints without a creation time', async () => {
      const no = orderNo('C');
      await h.store.applyPayment(
        {
          outTradeNo: no,
          merchantId: h.keys.mchid,
          transactionId: '4200000000000000000000000777',
          amountFen: 1500,
          paidAt: '2035-01-01T00:00:00.000Z',
          channel: 'v2',
        },
        'record',
      );
      const { out } = await run([no], deps(freshNow(), { [no]: tx(no) }));
      expect(out).toMatch(
        /here before: PAID_UNVERIFIED, 1500 fen, transaction 4200000000000000000000000777, paid via v2$/m,
      );
      expect(out).toContain('action:      ALREADY_PAID');
    });
  });

  describe('--all', () => {
    it('dry run: prints what it would change, writes nothing', async () => {
      const now = freshNow();
      const paid = await pending(now, 30);
      const closed = await pending(now, 20);
      const old = await pending(now, 120);
      const { code, out } = await run(
        ['--all', '--dry-run', '--close-after-minutes', '60'],
        deps(now, { [paid]: tx(paid), [closed]: unpaid(closed, 'CLOSED'), [old]: unpaid(old) }),
      );
      expect(code).toBe(0);
      expect(out).toContain('reconciling every pending order (dry run: nothing written)');
      expect(out).toContain('would change: 1 to paid, 2 to closed');
      for (const no of [paid, closed, old]) expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('NOTPAY');
    });

    it('dry run over an empty window: would change nothing', async () => {
      const { code, out } = await run(['--all', '--dry-run'], deps(freshNow(), {}));
      expect(code).toBe(0);
      expect(out).toContain('would change: 0 to paid, 0 to closed');
      expect(out).toContain('found 0 pending');
    });

    it('prints each order’s close status and code, and exits 1 when an order failed', async () => {
      const now = freshNow();
      const early = await pending(now, 120);
      const failing = await pending(now, 110);
      const close = async () => Promise.reject(wechatRefusal(400, 'RULE_LIMIT', 'too early', ''));
      const { code, out } = await run(
        ['--all', '--close-after-minutes', '60'],
        deps(
          now,
          {
            [early]: unpaid(early),
            [failing]: new WechatPayApiError({ status: 502, code: 'HTTP_ERROR', message: 'HTTP 502', retryable: true }),
          },
          {},
          close,
        ),
      );
      expect(code).toBe(1);
      expect(out).toMatch(new RegExp(`${early}.*v3 NOTPAY.*→ AUTO_CLOSE TOO_EARLY$`, 'm'));
      expect(out).toMatch(new RegExp(`${failing}.*v3 no answer.*→ ERROR \\(HTTP_ERROR\\)`));
      expect(out).toMatch(/errors 1; conflicts 0/);
    });

    it('a run stopped by a rate limit says so and exits 1; a budget stop exits 0', async () => {
      const now = freshNow();
      const a = await pending(now, 30);
      await pending(now, 20);
      const limited = await run(
        ['--all', '--concurrency', '1'],
        deps(now, { [a]: wechatRefusal(429, 'RATELIMIT_EXCEEDED', 'slow down', '') }),
      );
      expect(limited.code).toBe(1);
      expect(limited.out).toContain('run stopped early: RATE_LIMITED');

      const budget = await run(['--all', '--budget', '1'], deps(now, { [a]: unpaid(a) }));
      expect(budget.code).toBe(0);
      expect(budget.out).toContain('run stopped early: BUDGET');
    });

    it('says "unknown" when the orders past the horizon cannot be counted', async () => {
      const now = freshNow();
      const store: OrderStore = {
        ...h.store,
        countPendingBefore: async () => Promise.reject(new PayError('UNAVAILABLE', 'order store unavailable')),
      };
      const { code, out } = await run(['--all'], deps(now, {}, { store }));
      expect(code).toBe(0);
      expect(out).toContain('pending past the horizon: unknown; run complete');
    });
  });
});
