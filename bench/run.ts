/**
 * The bench: this project side by side with its peers, in one run.
 *
 *   npm run bench                     # everything (installs bench/ deps first), ~6-8 minutes
 *   npx tsx bench/run.ts verify       # one section: verify | dynamo | handler | coldstart | init | load |
 *                                     # shards | reconcile (or a to h, j); the cost model follows from the rest
 *   npx tsx bench/run.ts verify dynamo --quick
 *   npx tsx bench/run.ts --render     # re-judge and re-render latest.json, run nothing
 *   npx tsx bench/run.ts --baseline   # (with a run) make these results the reference of the next runs
 *
 * Writes bench/results/latest.json and bench/results/latest.md and prints the markdown. Running some
 * sections only replaces those sections in the existing results (each section carries its own date).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { cleanupAll, log, round } from './lib/common';
import { execFileSync } from 'node:child_process';
import { judge, machine, markdown, type Baseline, type Results, type Sections } from './lib/report';
import { ROOT } from './lib/snapshot';
import type { BillsResult } from './sections/bills';
import type { HandlerResult } from './sections/handler';

const RESULTS_DIR = join(__dirname, 'results');
const ORDER = ['verify', 'dynamo', 'handler', 'coldstart', 'init', 'load', 'shards', 'reconcile', 'bills'] as const;
type Section = (typeof ORDER)[number];
const ALIASES: Record<string, Section> = {
  a: 'verify',
  b: 'dynamo',
  c: 'coldstart',
  d: 'load',
  e: 'handler',
  f: 'init',
  g: 'shards',
  h: 'reconcile',
  j: 'bills',
  ...Object.fromEntries(ORDER.map((s) => [s, s])),
};

function parseArgs(argv: string[]): { sections: Section[]; quick: boolean } {
  const quick = argv.includes('--quick');
  const names = argv.filter((a) => !a.startsWith('--'));
  if (names.length === 0 || names.includes('all')) return { sections: [...ORDER], quick };
  const picked = new Set<Section>();
  for (const n of names) {
    const s = ALIASES[n.toLowerCase()];
    if (!s) throw new Error(`unknown section "${n}": use ${ORDER.join(', ')} (or a to h, j)`);
    picked.add(s);
  }
  return { sections: ORDER.filter((s) => picked.has(s)), quick };
}

function previous(): Results | undefined {
  const file = join(RESULTS_DIR, 'latest.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Results;
  } catch {
    return undefined;
  }
}

/**
 * The reference run this round is compared with (bench/results/baseline.json: a past run's stage table
 * and init figures, with its date and commit). `--baseline` makes the results just written the new one.
 */
function baseline(): Baseline | undefined {
  const file = join(RESULTS_DIR, 'baseline.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Baseline;
  } catch {
    return undefined;
  }
}

/** The checkout's commit (and whether the tree differs from it), recorded with the results. */
function commit(): string | undefined {
  try {
    const head = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no'], {
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head}+changes` : head;
  } catch {
    return undefined;
  }
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

async function main(): Promise<void> {
  if (process.argv.includes('--render')) {
    const prior = previous();
    if (!prior) throw new Error('no bench/results/latest.json to render');
    const out: Results = { ...prior, targets: judge(prior.sections), baseline: baseline() ?? prior.baseline };
    const md = markdown(out);
    writeAtomically(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(out, null, 2)}\n`);
    writeAtomically(join(RESULTS_DIR, 'latest.md'), md);
    process.stdout.write(`${md}\n`);
    return;
  }
  const { sections, quick } = parseArgs(process.argv.slice(2));
  if (!existsSync(join(__dirname, 'node_modules', 'autocannon', 'package.json'))) {
    throw new Error('the bench has its own dependencies: run `npm ci --prefix bench` first (npm run bench does)');
  }
  const partial = sections.length < ORDER.length;
  const prior = partial ? previous() : undefined;
  const results: Sections = { ...(prior?.sections ?? {}) };
  const seconds: Record<string, number> = { ...(prior?.seconds ?? {}) };
  const loadAverage: Record<string, number> = { ...(prior?.loadAverageAtStart ?? {}) };
  const started = Date.now();
  log(`bench: ${sections.join(', ')}${quick ? ' (quick)' : ''} on node ${process.version}`);

  const failures: Record<string, string> = {};
  for (const s of sections) {
    if (s === 'shards' && sections.includes('reconcile')) {
      log('bench: shards is measured within reconcile (the same 10,000 registrations)');
      continue;
    }
    const t0 = Date.now();
    loadAverage[s] = round(loadavg()[0] ?? 0, 2);
    try {
      await runSection(s, results, quick);
    } catch (err) {
      // keep going: the other sections' figures are still worth writing
      failures[s] = err instanceof Error ? err.message : String(err);
      delete results[s];
      log(`bench: ${s} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      await cleanupAll();
    }
    seconds[s] = round((Date.now() - t0) / 1000, 1);
    log(`bench: ${s} ${failures[s] ? 'failed' : 'done'} in ${seconds[s]} s`);
  }

  const out: Results = {
    generatedAt: new Date().toISOString(),
    commit: commit(),
    machine: machine(),
    baseline: baseline(),
    seconds,
    loadAverageAtStart: loadAverage,
    targets: judge(results),
    sections: results,
    ...(Object.keys(failures).length ? { failures } : {}),
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const md = markdown(out);
  writeAtomically(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(out, null, 2)}\n`);
  writeAtomically(join(RESULTS_DIR, 'latest.md'), md);
  process.stdout.write(`${md}\n`);
  if (process.argv.includes('--baseline')) writeBaseline(out);
  log(`bench: finished in ${round((Date.now() - started) / 1000, 1)} s; wrote bench/results/latest.json and latest.md`);
  if (Object.keys(failures).length) throw new Error(`section(s) failed: ${Object.keys(failures).join(', ')}`);
}

/** Makes `r` the reference run of the next rounds (its stage table and init figures, date, commit). */
function writeBaseline(r: Results): void {
  const v = r.sections.verify;
  if (!v) throw new Error('--baseline needs the verify section in the results');
  const b: Baseline = {
    label: `the ${r.generatedAt.slice(0, 10)} run`,
    date: r.generatedAt,
    commit: r.commit ?? 'unknown',
    machine: r.machine,
    ...(r.loadAverageAtStart ? { loadAverageAtStart: r.loadAverageAtStart } : {}),
    verify: {
      v2: v.v2.results.map((x) => ({ id: x.id, opsPerSec: x.opsPerSec, projectRatio: x.projectRatio })),
      v3: v.v3.results.map((x) => ({ id: x.id, opsPerSec: x.opsPerSec, projectRatio: x.projectRatio })),
      projectStages: v.projectStages,
    },
    ...(r.sections.coldstart
      ? {
          coldstart: {
            sdkRequireMs: r.sections.coldstart.sdkRequireMs,
            functions: r.sections.coldstart.functions.map((f) => ({
              name: f.name,
              initMs: f.initMs,
              initOwnMs: f.initOwnMs,
            })),
          },
        }
      : {}),
  };
  writeAtomically(join(RESULTS_DIR, 'baseline.json'), `${JSON.stringify(b, null, 2)}\n`);
  log('bench: wrote bench/results/baseline.json (the reference of the next runs)');
}

async function runSection(s: Section, results: Sections, quick: boolean): Promise<void> {
  const base = baseline();
  const beforeRef =
    base?.commit && base.commit !== 'unknown'
      ? { ref: base.commit.replace(/\+changes$/, ''), label: base.label }
      : undefined;
  switch (s) {
    case 'verify': {
      const { runVerify } = await import('./sections/verify');
      results.verify = await runVerify({ quick });
      break;
    }
    case 'dynamo': {
      const { runDynamo } = await import('./sections/dynamo');
      results.dynamo = await runDynamo();
      break;
    }
    case 'coldstart': {
      const { runColdStart } = await import('./sections/coldstart');
      results.coldstart = await runColdStart();
      break;
    }
    case 'load': {
      const { runLoad } = await import('./sections/load');
      results.load = await runLoad();
      break;
    }
    case 'handler': {
      // its own process, as a Lambda container runs the function and nothing else: the earlier
      // sections' heap (and its garbage collection) is not charged to the handler's own time
      const file = join(ROOT, '.local', `bench-handler-${process.pid}.json`);
      mkdirSync(join(ROOT, '.local'), { recursive: true });
      execFileSync(
        process.execPath,
        ['--import', 'tsx', join(__dirname, 'sections', 'handler.ts'), '--out', file, ...(quick ? ['--quick'] : [])],
        { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
      );
      results.handler = JSON.parse(readFileSync(file, 'utf8')) as HandlerResult;
      rmSync(file, { force: true });
      break;
    }
    case 'init': {
      const { runInit } = await import('./sections/init');
      results.init = await runInit({ quick, before: beforeRef });
      break;
    }
    case 'shards': {
      const { runShards } = await import('./sections/shards');
      results.shards = await runShards(quick ? { orders: 2000 } : {});
      break;
    }
    case 'reconcile': {
      // one set of registrations gives both figures: the shards' distribution and the reconcile run
      const { runReconcileScale } = await import('./sections/reconcile');
      const { shards, ...reconcile } = await runReconcileScale(quick ? { orders: 1000 } : {});
      results.reconcile = { ...reconcile, shards };
      results.shards = shards;
      break;
    }
    case 'bills': {
      // its own process: the peak RSS reported is the bill run's, not this process's earlier sections'
      const rows = quick ? 100_000 : 1_000_000;
      const out = execFileSync(
        process.execPath,
        ['--import', 'tsx', join(__dirname, 'sections', 'bills.ts'), String(rows)],
        {
          cwd: ROOT,
          encoding: 'utf8',
          maxBuffer: 1 << 20,
        },
      );
      results.bills = JSON.parse(out.slice(out.indexOf('{'))) as BillsResult;
      break;
    }
  }
}

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    log(`bench: ${sig}, stopping child processes`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

main().then(
  async () => {
    await cleanupAll();
    // the AWS SDK clients' keep-alive sockets and timers must not keep a finished bench alive
    process.exit(0);
  },
  async (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await cleanupAll();
    process.exit(1);
  },
);
