/**
 * The bench: this project side by side with its peers, in one run.
 *
 *   npm run bench                     # everything (installs bench/ deps first), ~2-3 minutes
 *   npx tsx bench/run.ts verify       # one section: verify | dynamo | coldstart | load (or a b c d)
 *   npx tsx bench/run.ts verify dynamo --quick
 *   npx tsx bench/run.ts --render     # re-judge and re-render latest.json, run nothing
 *
 * Writes bench/results/latest.json and bench/results/latest.md and prints the markdown. Running some
 * sections only replaces those sections in the existing results (each section carries its own date).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { cleanupAll, log, round } from './lib/common';
import { judge, machine, markdown, type Results, type Sections } from './lib/report';

const RESULTS_DIR = join(__dirname, 'results');
const ORDER = ['verify', 'dynamo', 'coldstart', 'load'] as const;
type Section = (typeof ORDER)[number];
const ALIASES: Record<string, Section> = {
  a: 'verify',
  b: 'dynamo',
  c: 'coldstart',
  d: 'load',
  verify: 'verify',
  dynamo: 'dynamo',
  coldstart: 'coldstart',
  load: 'load',
};

function parseArgs(argv: string[]): { sections: Section[]; quick: boolean } {
  const quick = argv.includes('--quick');
  const names = argv.filter((a) => !a.startsWith('--'));
  if (names.length === 0 || names.includes('all')) return { sections: [...ORDER], quick };
  const picked = new Set<Section>();
  for (const n of names) {
    const s = ALIASES[n.toLowerCase()];
    if (!s) throw new Error(`unknown section "${n}": use ${ORDER.join(', ')} (or a, b, c, d)`);
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

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

async function main(): Promise<void> {
  if (process.argv.includes('--render')) {
    const prior = previous();
    if (!prior) throw new Error('no bench/results/latest.json to render');
    const out: Results = { ...prior, targets: judge(prior.sections) };
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
    machine: machine(),
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
  log(`bench: finished in ${round((Date.now() - started) / 1000, 1)} s; wrote bench/results/latest.json and latest.md`);
  if (Object.keys(failures).length) throw new Error(`section(s) failed: ${Object.keys(failures).join(', ')}`);
}

async function runSection(s: Section, results: Sections, quick: boolean): Promise<void> {
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
