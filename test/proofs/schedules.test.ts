/**
 * Schedule exploration of the real store: fast-check's scheduler decides, request by request, when
 * each DynamoDB request of each concurrent operation reaches the store and when its reply returns,
 * and every finished schedule is checked against the model (support.ts: checkSchedule, checkDurable).
 *
 * Counts: SCHEDULES (default 10,000) against dynalite in-process, which takes the store's
 * read-after-refusal path (no ALL_OLD there); SCHEDULES_LOCAL (default 300) against the run's
 * DynamoDB Local, which returns the old item on a refusal. `npm run test:schedules` raises both.
 * SCHEDULE_SEED (with SCHEDULE_PATH) replays a reported failure.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import {
  clearSubject,
  explore,
  freshTable,
  loseConditions,
  opName,
  Quiet,
  rawClient,
  scanAll,
  startLocalDynamo,
  type LocalDynamo,
  type Op,
} from './support';

const SCHEDULES = Number(process.env.SCHEDULES ?? 10_000);
const SCHEDULES_LOCAL = Number(process.env.SCHEDULES_LOCAL ?? 300);
const LANES = Number(process.env.SCHEDULE_LANES ?? 4);
const replay =
  process.env.SCHEDULE_SEED === undefined
    ? {}
    : { seed: Number(process.env.SCHEDULE_SEED), path: process.env.SCHEDULE_PATH };

/** The store the test run started (DynamoDB Local, or dynalite where TEST_DYNAMO_ENGINE says so). */
const runStore = () => (inject('dynamoEngine') === 'dynalite' ? "the run's dynalite" : 'DynamoDB Local');

// a crash is the rarer event; duplicates of the same transaction the common one (WeChat resends)
const crash = fc.integer({ min: 0, max: 5 }).map((n) => n === 0);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('pay' as const),
      channel: fc.constantFrom('v2' as const, 'v3' as const, 'query' as const),
      tx: fc.constantFrom('T1' as const, 'T1' as const, 'T2' as const),
      wrongAmount: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
      crash,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('close' as const), crash }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('refund' as const),
      no: fc.constantFrom('R1' as const, 'R2' as const),
      state: fc.constantFrom('SUCCESS' as const, 'CLOSED' as const, 'ABNORMAL' as const),
      crash,
    }),
  },
);

let dynalite: LocalDynamo;
beforeAll(async () => {
  dynalite = await startLocalDynamo({ engine: 'dynalite' });
});
afterAll(async () => {
  await dynalite.stop();
});

/**
 * The property: a random set of operations on a fresh order, run under the scheduler's choices,
 * leaves the table and the replies as the model allows. The failure message lists the operations,
 * their outcomes and every broken invariant; fast-check adds the seed, the path and the shrunk
 * schedule (the scheduler's report of which request was released when).
 */
function scheduleProperty(
  real: ReturnType<typeof rawClient>,
  tableName: string,
  onRun: () => void,
  tamper?: (name: string, input: Record<string, unknown>) => void,
) {
  return fc.asyncProperty(fc.array(opArb, { minLength: 2, maxLength: 5 }), fc.scheduler(), async (ops, s) => {
    onRun();
    const r = await explore({
      real,
      tableName,
      ops,
      gate: { wait: (label) => s.schedule(Promise.resolve(label), label).then(() => undefined) },
      gateReplies: true,
      quiet: new Quiet(),
      release: async () => {
        if (s.count() === 0) return false;
        await s.waitOne();
        return true;
      },
      tamper,
    });
    await clearSubject(real, tableName, r.subject);
    if (r.violations.length > 0) {
      throw new Error(
        [
          `operations: ${ops.map(opName).join(' | ')}`,
          `outcomes: ${r.observed.map((o) => `${o.label}=${o.outcome === 'CRASHED' ? 'CRASHED' : o.outcome.kind}`).join(', ')}`,
          ...r.violations.map((v) => `  ✗ ${v}`),
        ].join('\n'),
      );
    }
  });
}

/**
 * Explores `numRuns` schedules on the store at `endpoint`; fails with the seed and the shrunk
 * schedule. The schedules run in LANES independent fast-check runs at once (each schedule has its
 * own order, and within a schedule requests still run one at a time), so the store's process and
 * this one both work; a replay (SCHEDULE_SEED) runs one lane.
 */
async function exploreSchedules(endpoint: string, numRuns: number): Promise<number> {
  const real = rawClient(endpoint);
  const tableName = await freshTable(endpoint);
  let runs = 0;
  const lanes = replay.seed === undefined ? LANES : 1;
  const lane = (n: number) =>
    fc.assert(
      scheduleProperty(real, tableName, () => runs++),
      { numRuns: n, includeErrorInReport: true, ...replay },
    );
  try {
    await Promise.all(Array.from({ length: lanes }, () => lane(Math.ceil(numRuns / lanes))));
    // every schedule deleted exactly the items the model expected: anything left is unexplained
    const left = await scanAll(real, tableName);
    expect(left.map((i) => i.pk?.S)).toEqual([]);
  } finally {
    real.destroy();
  }
  return runs;
}

describe('schedules of concurrent payments, closes, refunds and crashes on one order', () => {
  it('a store without its write conditions is caught, and the report names the seed and the schedule', async () => {
    const real = rawClient(dynalite.endpoint);
    const tableName = await freshTable(dynalite.endpoint);
    try {
      const details = await fc.check(
        scheduleProperty(real, tableName, () => undefined, loseConditions),
        {
          numRuns: 200,
          includeErrorInReport: true,
        },
      );
      expect(details.failed).toBe(true);
      const report = fc.defaultReportMessage(details) ?? '';
      expect(report).toMatch(/seed/);
      expect(report).toMatch(/scheduler|Scheduler/);
      expect(report).toMatch(/✗/);
    } finally {
      real.destroy();
    }
  }, 300_000);

  it(`${SCHEDULES} schedules against dynalite`, async () => {
    const t0 = performance.now();
    const runs = await exploreSchedules(dynalite.endpoint, SCHEDULES);
    process.stdout.write(
      `schedules (dynalite): ${runs} explored in ${Math.round(performance.now() - t0)} ms, all invariants hold\n`,
    );
    expect(runs).toBeGreaterThanOrEqual(SCHEDULES);
  }, 14_400_000);

  it(`${SCHEDULES_LOCAL} schedules against DynamoDB Local`, async () => {
    const t0 = performance.now();
    const runs = await exploreSchedules(inject('dynamoEndpoint'), SCHEDULES_LOCAL);
    process.stdout.write(
      `schedules (${runStore()}): ${runs} explored in ${Math.round(performance.now() - t0)} ms, all invariants hold\n`,
    );
    expect(runs).toBeGreaterThanOrEqual(SCHEDULES_LOCAL);
  }, 14_400_000);
});
