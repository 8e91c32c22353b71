/**
 * Beside section c: what a change costs a function's module initialisation, measured A/B. The notify
 * function (functions/paymentNotify.ts) is bundled from a git ref (`main` by default) and from the
 * working tree with the options serverless.yml gives serverless-esbuild (minified CJS for node22, the
 * AWS SDK left to the runtime), then each bundle is required in fresh `node` children, the two
 * alternating so that the machine's load hits both alike; medians of N spawns. "Own" preloads
 * @aws-sdk/client-dynamodb before the clock starts: the bundle's own share. Run alone:
 *   npx tsx bench/sections/initab.ts [ref] [spawns]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BuildOptions, buildSync } from 'esbuild';
import { median, round } from '../lib/common';
import { ROOT } from '../lib/snapshot';

const ENTRY = 'functions/paymentNotify.ts';

/** Medians of one bundle's init: required alone, and with the SDK already loaded. */
export interface InitFigures {
  bundleBytes: number;
  initMs: number;
  ownMs: number;
}

/** How serverless.yml has serverless-esbuild bundle a function (minified CJS for node22, the SDK left to the runtime). */
export const SERVERLESS_ESBUILD: BuildOptions = {
  bundle: true,
  minify: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  external: ['@aws-sdk/*'],
};

/** The bundle of `entry` (the notify function by default) from the sources under `root`, written to `outfile`; its size. */
export function bundle(root: string, outfile: string, entry = ENTRY): number {
  buildSync({
    entryPoints: [join(root, entry)],
    ...SERVERLESS_ESBUILD,
    outfile,
    logLevel: 'error',
  });
  return statSync(outfile).size;
}

/** One child's require() time of `file`, ms; the SDK resolves from the root's node_modules, as the runtime's copy. */
export function probe(file: string, preload?: string): number {
  const code = `const {performance}=require('node:perf_hooks');${preload ? `require(${JSON.stringify(preload)});` : ''}const t=performance.now();require(process.argv[1]);process.stdout.write(String(performance.now()-t));`;
  const r = spawnSync(process.execPath, ['-e', code, file], {
    env: { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules'), AWS_REGION: 'ap-southeast-1' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  const ms = Number(r.stdout);
  if (r.status !== 0 || !Number.isFinite(ms)) throw new Error(`probe of ${file} failed: ${r.stderr.slice(0, 500)}`);
  return ms;
}

/** The A/B run: `ref`'s bundle against the working tree's, alternating, `spawns` children each. */
export function runInitAb(
  ref = 'main',
  spawns = 21,
): { ref: string; spawns: number; before: InitFigures; after: InitFigures; sdkRequireMs: number } {
  const work = mkdtempSync(join(tmpdir(), 'wechatpay-bench-initab-'));
  try {
    const old = join(work, 'ref');
    execFileSync('sh', ['-c', `mkdir -p "${old}" && git -C "${ROOT}" archive "${ref}" | tar -x -C "${old}"`]);
    symlinkSync(join(ROOT, 'node_modules'), join(old, 'node_modules'));
    const files = { before: join(work, 'before.js'), after: join(work, 'after.js') };
    const bytes = { before: bundle(old, files.before), after: bundle(ROOT, files.after) };
    const samples = {
      before: { init: [] as number[], own: [] as number[] },
      after: { init: [] as number[], own: [] as number[] },
    };
    for (let i = 0; i < spawns; i++)
      for (const side of i % 2 ? (['after', 'before'] as const) : (['before', 'after'] as const)) {
        samples[side].init.push(probe(files[side]));
        samples[side].own.push(probe(files[side], '@aws-sdk/client-dynamodb'));
      }
    const sdk = Array.from({ length: spawns }, () => probe(join(ROOT, 'node_modules', '@aws-sdk', 'client-dynamodb')));
    const figures = (side: 'before' | 'after'): InitFigures => ({
      bundleBytes: bytes[side],
      initMs: round(median(samples[side].init), 1),
      ownMs: round(median(samples[side].own), 1),
    });
    return { ref, spawns, before: figures('before'), after: figures('after'), sdkRequireMs: round(median(sdk), 1) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const [ref, spawns] = process.argv.slice(2);
  console.log(JSON.stringify(runInitAb(ref, spawns ? Number(spawns) : undefined), null, 2));
}
