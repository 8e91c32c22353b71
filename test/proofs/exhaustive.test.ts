/**
 * Exhaustive small cases: for every pair and triple of operations on one order (and the
 * quadruples of single-write operations), every order in which their DynamoDB requests can reach the store is run against
 * DynamoDB Local, and every run is checked against the model. Not a sample: the enumerator walks
 * the whole tree of release orders depth-first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import {
  Enumerator,
  explore,
  loseConditions,
  freshTable,
  OP_KINDS,
  opName,
  Quiet,
  rawClient,
  startLocalDynamo,
  type LocalDynamo,
  type Op,
} from './support';

let real: ReturnType<typeof rawClient>;
let tableName: string;
let dynalite: LocalDynamo;
let liteClient: ReturnType<typeof rawClient>;
let liteTable: string;
let local: ReturnType<typeof rawClient>;
let localTable: string;
beforeAll(async () => {
  const endpoint = inject('dynamoEndpoint');
  local = rawClient(endpoint);
  localTable = await freshTable(endpoint);
  // dynalite in-process: several times faster per request, and without ALL_OLD it takes the store's
  // read-after-refusal path, which adds a request (and so orderings) to every refused write
  dynalite = await startLocalDynamo({ engine: 'dynalite' });
  liteClient = rawClient(dynalite.endpoint);
  liteTable = await freshTable(dynalite.endpoint);
});
afterAll(async () => {
  local.destroy();
  liteClient.destroy();
  await dynalite.stop();
});

function use(engine: 'local' | 'dynalite') {
  real = engine === 'local' ? local : liteClient;
  tableName = engine === 'local' ? localTable : liteTable;
}

/** The store the test run started (DynamoDB Local, or dynalite where TEST_DYNAMO_ENGINE says so). */
const runStore = () => (inject('dynamoEngine') === 'dynalite' ? "the run's dynalite" : 'DynamoDB Local');

/** PROOFS=long (npm run test:schedules): every triple of every kind on both stores, and quadruples. */
const LONG = process.env.PROOFS === 'long';

/**
 * The kinds that differ in what they do to the table: the v2 and reconcile payment channels behave
 * as the v3 one in the store (they differ in paidVia only), so `npm test` enumerates triples of these.
 */
const CORE_KINDS = OP_KINDS.filter((op) => !(op.kind === 'pay' && op.channel !== 'v3'));

/** The kinds whose every request is one write on DynamoDB Local (ALL_OLD spares the read after a refusal). */
const SINGLE_WRITE_KINDS = CORE_KINDS.filter((op) => !op.crash && !(op.kind === 'refund' && op.state === 'SUCCESS'));

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

/** Runs every ordering of one set of operations; returns the number of orderings. */
async function enumerate(ops: Op[]): Promise<number> {
  const gate = new Enumerator();
  let runs = 0;
  do {
    const quiet = new Quiet();
    const r = await explore({ real, tableName, ops, gate, gateReplies: false, quiet, release: () => gate.release() });
    runs++;
    if (r.violations.length > 0) {
      throw new Error(
        [
          `operations: ${ops.map(opName).join(' | ')} (order ${r.subject.outTradeNo})`,
          `ordering #${runs}: ${gate.path().join('  ⇒  ')}`,
          `outcomes: ${r.observed.map((o) => `${o.label}=${o.outcome === 'CRASHED' ? 'CRASHED' : o.outcome.kind}`).join(', ')}`,
          ...r.violations.map((v) => `  ✗ ${v}`),
        ].join('\n'),
      );
    }
  } while (gate.next());
  return runs;
}

/** Runs every ordering of `ops` against a store whose requests `tamper` rewrote; returns the first violations. */
async function firstViolation(ops: Op[], tamper: (name: string, input: Record<string, unknown>) => void) {
  const gate = new Enumerator();
  let runs = 0;
  do {
    const r = await explore({
      real,
      tableName,
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

async function enumerateAll(sets: Op[][]): Promise<{ sets: number; orderings: number }> {
  let orderings = 0;
  for (const ops of sets) orderings += await enumerate(ops);
  return { sets: sets.length, orderings };
}

describe('the checks have teeth', () => {
  it.each([
    ['two payments of different transactions', [OP_KINDS[0]!, OP_KINDS[3]!], /moved to PAID 2 times/],
    ['a close racing a payment', [OP_KINDS[6]!, OP_KINDS[0]!], /order ends CLOSED, the model says PAID/],
    ['a duplicated refund success', [OP_KINDS[7]!, OP_KINDS[7]!], /tallied 2 times|refundedFen 60/],
  ] as const)(
    'a store without its write conditions is caught: %s',
    async (_name, ops, expected) => {
      use('local');
      const found = await firstViolation([...ops], loseConditions);
      expect(found, 'no ordering exposed the broken store').toBeDefined();
      expect(found?.violations.join('\n')).toMatch(expected);
    },
    120_000,
  );
});

describe('every ordering of concurrent operations on one order', () => {
  it('every pair, DynamoDB Local', async () => {
    use('local');
    const r = await enumerateAll(multisets(OP_KINDS, 2));
    process.stdout.write(
      `exhaustive (${runStore()}): ${r.sets} pairs, ${r.orderings} orderings, all invariants hold\n`,
    );
    expect(r.orderings).toBeGreaterThan(r.sets);
  }, 600_000);

  it('every pair, dynalite', async () => {
    use('dynalite');
    const r = await enumerateAll(multisets(OP_KINDS, 2));
    process.stdout.write(`exhaustive (dynalite): ${r.sets} pairs, ${r.orderings} orderings, all invariants hold\n`);
    expect(r.orderings).toBeGreaterThan(r.sets);
  }, 600_000);

  // the triples (about 10,000 orderings) run in the long mode only (npm run test:schedules): on the suite's
  // shared DynamoDB Local, slowed by every other file, they took longer than the whole rest of npm test
  it.runIf(LONG)(
    'every triple, DynamoDB Local',
    async () => {
      use('local');
      const t0 = performance.now();
      const r = await enumerateAll(multisets(OP_KINDS, 3));
      process.stdout.write(
        `exhaustive (${runStore()}): ${r.sets} triples, ${r.orderings} orderings, all invariants hold (${Math.round(performance.now() - t0)} ms)\n`,
      );
      expect(r.orderings).toBeGreaterThan(r.sets);
    },
    3_600_000,
  );

  it('every quadruple of distinct single-write kinds, DynamoDB Local', async () => {
    use('local');
    const r = await enumerateAll(subsets(SINGLE_WRITE_KINDS, 4));
    process.stdout.write(
      `exhaustive (${runStore()}): ${r.sets} quadruples, ${r.orderings} orderings, all invariants hold\n`,
    );
    expect(r.orderings).toBeGreaterThan(r.sets);
  }, 600_000);

  it.runIf(LONG)(
    'every triple, dynalite; every quadruple of single-write kinds (repeats included), DynamoDB Local',
    async () => {
      use('dynalite');
      const triples = await enumerateAll(multisets(OP_KINDS, 3));
      process.stdout.write(
        `exhaustive (dynalite): ${triples.sets} triples, ${triples.orderings} orderings, all invariants hold\n`,
      );
      use('local');
      const quads = await enumerateAll(multisets(SINGLE_WRITE_KINDS, 4));
      process.stdout.write(
        `exhaustive (${runStore()}): ${quads.sets} quadruples, ${quads.orderings} orderings, all invariants hold\n`,
      );
      expect(quads.orderings).toBeGreaterThan(quads.sets);
    },
    7_200_000,
  );
});
