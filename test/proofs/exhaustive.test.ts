/**
 * Exhaustive small cases: for every pair and every triple of operations on one order (and the
 * quadruples of the kinds that write once), every order in which their DynamoDB requests can reach
 * the store is run, and every run is checked against the model. Not a sample: the enumerator walks
 * the whole tree of release orders depth-first, and each enumeration is held to the arithmetic:
 * - the number of operation sets is the number of multisets (or subsets) of that size;
 * - the orderings of a set weigh exactly 1 together (each weighs 1 / the product of the choices on its
 *   path), so no branch was skipped or run twice, also where an operation's steps vary by path;
 * - where every ordering of a set takes the same steps and nothing crashes, the number of orderings is
 *   the multinomial (n₁+…+n_k)! / (n₁!…n_k!) of the operations' step counts.
 *
 * The store is this file's own, started here (not the run's shared DynamoDB Local, which every other
 * file also loads): DynamoDB Local in memory, which answers a refused write with the old item as real
 * DynamoDB does (the production path), or dynalite where Java is missing. Dynalite lacks that answer,
 * so the store reads the item back after a refusal; that path is explored in `npm test` by the
 * schedules on dynalite (schedules.test.ts), and enumerated here in the long mode only: dynalite in
 * this process is several times slower per request than DynamoDB Local and the extra read triples the
 * orderings. Operation sets run in PROOFS_LANES lanes (default 4); within one ordering requests run
 * one at a time. PROOFS=long (npm run test:schedules) adds every pair and triple of all kinds on both
 * stores and every quadruple of the one-write kinds with repeats.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Coverage,
  Enumerator,
  explore,
  freshTable,
  interleavings,
  loseConditions,
  OP_KINDS,
  opName,
  opOfLabel,
  Quiet,
  rawClient,
  startLocalDynamo,
  type LocalDynamo,
  type Op,
} from './support';

/** PROOFS=long (npm run test:schedules): dynalite too, every triple of all kinds, quadruples with repeats. */
const LONG = process.env.PROOFS === 'long';
const LANES = Number(process.env.PROOFS_LANES ?? 4);

/** A store this file enumerates against: its client and the one table every ordering shares. */
interface Target {
  name: string;
  real: ReturnType<typeof rawClient>;
  tableName: string;
}

let own: LocalDynamo;
let lite: LocalDynamo;
let ownTarget: Target;
let liteTarget: Target;
beforeAll(async () => {
  own = await startLocalDynamo();
  lite = own.engine === 'dynalite' || !LONG ? own : await startLocalDynamo({ engine: 'dynalite' });
  ownTarget = { name: own.engine, real: rawClient(own.endpoint), tableName: await freshTable(own.endpoint) };
  liteTarget =
    lite === own
      ? ownTarget
      : { name: 'dynalite', real: rawClient(lite.endpoint), tableName: await freshTable(lite.endpoint) };
}, 120_000);
afterAll(async () => {
  ownTarget?.real.destroy();
  if (liteTarget !== ownTarget) liteTarget?.real.destroy();
  await own?.stop();
  if (lite !== own) await lite?.stop();
});

/**
 * The kinds that differ in what they do to the table: a v2 delivery and the reconciler's query result
 * take the v3 delivery's one conditional write and differ in the paidVia value only, so `npm test`
 * enumerates the triples of these ten kinds (the pairs and the long mode take all twelve).
 */
const CORE_KINDS = OP_KINDS.filter((op) => !(op.kind === 'pay' && op.channel !== 'v3'));

/** The kinds that never crash and never tally: one write each (a CLOSED after an ABNORMAL also releases). */
const ONE_WRITE_KINDS = CORE_KINDS.filter((op) => !op.crash && !(op.kind === 'refund' && op.state === 'SUCCESS'));

/** Every set of `k` distinct kinds. */
function subsets(kinds: Op[], k: number, from = 0): Op[][] {
  if (k === 0) return [[]];
  const out: Op[][] = [];
  for (let i = from; i < kinds.length; i++)
    for (const rest of subsets(kinds, k - 1, i + 1)) out.push([kinds[i]!, ...rest]);
  return out;
}

/** Every multiset of `k` operation kinds (a race of an operation with itself is a duplicate delivery). */
function multisets(kinds: Op[], k: number, from = 0): Op[][] {
  if (k === 0) return [[]];
  const out: Op[][] = [];
  for (let i = from; i < kinds.length; i++)
    for (const rest of multisets(kinds, k - 1, i)) out.push([kinds[i]!, ...rest]);
  return out;
}

/** n choose k, for the number of sets an enumeration must cover. */
function choose(n: number, k: number): number {
  let c = 1;
  for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1);
  return c;
}

/** What one set's enumeration ran: its orderings, and the multinomial they equal when steps are fixed. */
interface SetRun {
  orderings: number;
  multinomial: bigint | undefined;
}

/** Runs every ordering of one set of operations, checks each, and holds the count to the arithmetic. */
async function enumerate(target: Target, ops: Op[]): Promise<SetRun> {
  const gate = new Enumerator();
  const coverage = new Coverage();
  let orderings = 0;
  let steps: Map<string, number> | undefined;
  let fixedSteps = true;
  do {
    const r = await explore({
      real: target.real,
      tableName: target.tableName,
      ops,
      gate,
      gateReplies: false,
      quiet: new Quiet(),
      release: () => gate.release(),
    });
    orderings++;
    if (r.violations.length > 0) {
      throw new Error(
        [
          `operations: ${ops.map(opName).join(' | ')} (order ${r.subject.outTradeNo}, ${target.name})`,
          `ordering #${orderings}: ${gate.path().join('  ⇒  ')}`,
          `outcomes: ${r.observed.map((o) => `${o.label}=${o.outcome === 'CRASHED' ? 'CRASHED' : o.outcome.kind}`).join(', ')}`,
          ...r.violations.map((v) => `  ✗ ${v}`),
        ].join('\n'),
      );
    }
    coverage.add(gate.choices());
    const mine = new Map<string, number>();
    for (const label of gate.path()) mine.set(opOfLabel(label), (mine.get(opOfLabel(label)) ?? 0) + 1);
    if (steps === undefined) steps = mine;
    else if (steps.size !== mine.size || [...mine].some(([op, n]) => steps?.get(op) !== n)) fixedSteps = false;
  } while (gate.next());
  if (!coverage.complete())
    throw new Error(`${ops.map(opName).join(' | ')}: ${orderings} orderings cover ${coverage} of the tree, not all`);
  // a crash starts its retry only after the crashed write, so its orderings are no plain interleaving
  const multinomial =
    fixedSteps && !ops.some((op) => op.crash) ? interleavings([...(steps?.values() ?? [])]) : undefined;
  if (multinomial !== undefined && BigInt(orderings) !== multinomial)
    throw new Error(`${ops.map(opName).join(' | ')}: ${orderings} orderings, the interleavings number ${multinomial}`);
  return { orderings, multinomial };
}

/** What a group of sets ran, for the printed line and the assertions. */
interface GroupRun {
  sets: number;
  orderings: number;
  /** Sets whose count was checked against the multinomial, and the sum of those multinomials. */
  fixed: number;
  fixedOrderings: bigint;
  ms: number;
}

/** Enumerates every set, LANES sets at a time (each set's orderings one after another). */
async function enumerateAll(target: Target, sets: Op[][]): Promise<GroupRun> {
  const t0 = performance.now();
  const run: GroupRun = { sets: 0, orderings: 0, fixed: 0, fixedOrderings: 0n, ms: 0 };
  let next = 0;
  const lane = async () => {
    while (next < sets.length) {
      const ops = sets[next++] as Op[];
      const r = await enumerate(target, ops);
      run.sets++;
      run.orderings += r.orderings;
      if (r.multinomial !== undefined) {
        run.fixed++;
        run.fixedOrderings += r.multinomial;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, LANES) }, lane));
  run.ms = Math.round(performance.now() - t0);
  return run;
}

/** The printed line: what ran, on which store, and how the count was held to the arithmetic. */
function report(target: Target, what: string, r: GroupRun): void {
  process.stdout.write(
    `exhaustive (${target.name}): ${r.sets} ${what}, ${r.orderings} orderings ` +
      `(${r.fixed} sets with fixed steps = their multinomials, ${r.fixedOrderings} orderings; every set's orderings ` +
      `weigh exactly 1), all invariants hold, ${r.ms} ms\n`,
  );
}

/** Runs every ordering of `ops` against a store whose requests `tamper` rewrote; returns the first violations. */
async function firstViolation(ops: Op[], tamper: (name: string, input: Record<string, unknown>) => void) {
  const gate = new Enumerator();
  let runs = 0;
  do {
    const r = await explore({
      real: ownTarget.real,
      tableName: ownTarget.tableName,
      ops,
      gate,
      gateReplies: false,
      quiet: new Quiet(),
      release: () => gate.release(),
      tamper,
    });
    runs++;
    if (r.violations.length > 0) return { runs, path: gate.path(), violations: r.violations };
  } while (gate.next());
  return undefined;
}

describe('the arithmetic the enumeration is held to', () => {
  it('interleavings are the multinomial; a tree missing a branch is not complete', () => {
    expect(interleavings([1, 1])).toBe(2n);
    expect(interleavings([2, 1, 1])).toBe(12n);
    expect(interleavings([2, 2, 2])).toBe(90n);
    const full = new Coverage();
    // a first choice of 2, then of 3 on the left branch and 1 on the right: 4 orderings
    for (const path of [
      [2, 3],
      [2, 3],
      [2, 3],
      [2, 1],
    ])
      full.add(path);
    expect(full.complete()).toBe(true);
    const short = new Coverage();
    for (const path of [
      [2, 3],
      [2, 3],
      [2, 1],
    ])
      short.add(path);
    expect(short.complete()).toBe(false);
    expect(short.toString()).toBe('5/6');
    expect(multisets(OP_KINDS, 3)).toHaveLength(choose(OP_KINDS.length + 2, 3));
  });
});

describe('the checks have teeth', () => {
  it.each([
    ['two payments of different transactions', [OP_KINDS[0]!, OP_KINDS[3]!], /moved to PAID 2 times/],
    ['a close racing a payment', [OP_KINDS[6]!, OP_KINDS[0]!], /order ends CLOSED, the model says PAID/],
    ['a duplicated refund success', [OP_KINDS[7]!, OP_KINDS[7]!], /tallied 2 times|refundedFen 60/],
  ] as const)(
    'a store without its write conditions is caught: %s',
    async (_name, ops, expected) => {
      const found = await firstViolation([...ops], loseConditions);
      expect(found, 'no ordering exposed the broken store').toBeDefined();
      expect(found?.violations.join('\n')).toMatch(expected);
    },
    120_000,
  );
});

describe('every ordering of concurrent operations on one order', () => {
  it(`every pair of the ${OP_KINDS.length} kinds (repeats included), this file's store`, async () => {
    const pairs = multisets(OP_KINDS, 2);
    expect(pairs).toHaveLength(choose(OP_KINDS.length + 1, 2));
    const r = await enumerateAll(ownTarget, pairs);
    report(ownTarget, 'pairs', r);
    expect(r.sets).toBe(pairs.length);
    expect(r.orderings).toBeGreaterThanOrEqual(2 * r.sets);
  }, 600_000);

  it(`every triple of the ${CORE_KINDS.length} kinds that write differently (repeats included), this file's store`, async () => {
    const triples = multisets(CORE_KINDS, 3);
    expect(triples).toHaveLength(choose(CORE_KINDS.length + 2, 3));
    const r = await enumerateAll(ownTarget, triples);
    report(ownTarget, 'triples', r);
    expect(r.sets).toBe(triples.length);
    expect(r.orderings).toBeGreaterThanOrEqual(6 * r.sets);
  }, 1_200_000);

  it(`every quadruple of ${ONE_WRITE_KINDS.length} distinct one-write kinds, this file's store`, async () => {
    const quads = subsets(ONE_WRITE_KINDS, 4);
    expect(quads).toHaveLength(choose(ONE_WRITE_KINDS.length, 4));
    const r = await enumerateAll(ownTarget, quads);
    report(ownTarget, 'quadruples', r);
    expect(r.sets).toBe(quads.length);
    expect(r.orderings).toBeGreaterThanOrEqual(24 * r.sets);
  }, 600_000);

  it.runIf(LONG)(
    `every pair and triple of the ${OP_KINDS.length} kinds on both stores; every quadruple of the one-write kinds with repeats`,
    async () => {
      if (liteTarget !== ownTarget) report(liteTarget, 'pairs', await enumerateAll(liteTarget, multisets(OP_KINDS, 2)));
      for (const target of liteTarget === ownTarget ? [ownTarget] : [ownTarget, liteTarget]) {
        const triples = await enumerateAll(target, multisets(OP_KINDS, 3));
        report(target, `triples of all ${OP_KINDS.length} kinds`, triples);
        expect(triples.sets).toBe(choose(OP_KINDS.length + 2, 3));
      }
      const quads = multisets(ONE_WRITE_KINDS, 4);
      const r = await enumerateAll(ownTarget, quads);
      report(ownTarget, 'quadruples with repeats', r);
      expect(r.sets).toBe(choose(ONE_WRITE_KINDS.length + 3, 4));
    },
    7_200_000,
  );
});
