/**
 * Section: module initialisation of the notify function with Powertools, against the AWS SDK's own
 * load time, and what the runtime secret reads cost.
 *
 *  - The notify function (functions/paymentNotify.ts) bundled as serverless-esbuild bundles it
 *    (lib/initab.ts's options), from the working tree and from a `before` git ref (the baseline run's
 *    commit), each required in fresh `node` children alternating with `@aws-sdk/client-dynamodb`
 *    alone, so the gap "init − SDK" is measured under the same load. "Own" preloads the SDK first.
 *  - Where the own share goes: the bundle's bytes by package (esbuild's metafile), and each runtime
 *    package required alone with the SDK already loaded.
 *  - Secret reads: there is no local SSM, so the code path (lib/secrets: ssmSource over Powertools
 *    Parameters, resolveSecrets) runs, bundled the same way, against a real SSMClient whose HTTP
 *    handler is a stub answering every GetParameter at once. The first resolution (Powertools
 *    Parameters and the SSM client loaded on demand, one GetParameter per parameter) and a warm one
 *    (the cache) are timed inside the child; SSM's own latency is not in these figures.
 *
 * Runnable alone: `npx tsx bench/run.ts init`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { log, median, round } from '../lib/common';
import { ROOT } from '../lib/snapshot';
import { bundle, probe, SERVERLESS_ESBUILD } from './initab';

const SDK = '@aws-sdk/client-dynamodb';

/** Medians of one bundle's init. */
export interface BundleInit {
  bundleBytes: number;
  /** require() of the bundle in a fresh node, the SDK loaded by it. */
  initMs: number;
  /** The same with the SDK required before the clock starts: the bundle's own share. */
  ownMs: number;
}

export interface InitResult {
  date: string;
  spawns: number;
  function: string;
  before: (BundleInit & { ref: string; label: string }) | null;
  after: BundleInit;
  /** `@aws-sdk/client-dynamodb` alone, probed alternately with the bundles. */
  sdkRequireMs: number;
  /** after.initMs − sdkRequireMs. */
  gapMs: number;
  /** Bytes in the bundle by package (the project's own code as "(project)"), largest first. */
  bundleBytesByPackage: Array<{ name: string; bytes: number }>;
  /** Each runtime package required alone with the SDK already loaded (unbundled), median ms. */
  modulesWithSdkLoaded: Array<{ name: string; ms: number }>;
  /**
   * CPU profile of the bundle's require (SDK preloaded, unminified so each line maps to its package):
   * sampled JavaScript time by package, ms, mean of the profiled runs. Time V8 spends compiling or
   * collecting garbage is not in these samples.
   */
  profileByPackage: Array<{ name: string; ms: number }>;
  secrets: {
    parameters: number;
    /** The first resolution: Powertools Parameters and the SSM client loaded (the DynamoDB client already is), one GetParameter each (stub replies). */
    firstReadMs: number;
    /** A resolution while the cache is warm (every invocation does one). */
    warmReadMs: number;
    /** require() of the secrets bundle itself (nothing of SSM is loaded at module init). */
    requireMs: number;
  };
  notes: string[];
}

// what the notify bundle pulls in at run time, besides the SDK (which the Lambda runtime provides)
const RUNTIME_MODULES = [
  '@middy/core',
  '@aws-lambda-powertools/logger',
  '@aws-lambda-powertools/logger/middleware',
  '@aws-lambda-powertools/metrics',
  '@aws-lambda-powertools/metrics/middleware',
  'fast-xml-parser',
];

/** The parameter names the deployed notify functions read from SSM (serverless.yml's ssmParam list). */
function deployedParameters(): string[] {
  const yml = readFileSync(join(ROOT, 'serverless.yml'), 'utf8');
  const names = new Set<string>();
  for (const m of yml.matchAll(/^\s+([A-Z][A-Z0-9_]+): \$\{self:custom\.ssmPrefix\}\//gm)) names.add(m[1] as string);
  return [...names];
}

const SECRETS_ENTRY = (root: string) => `
import { resolveSecrets, ssmSource } from ${JSON.stringify(join(root, 'lib/secrets'))};
let source;
/** Bench stub: a real SSMClient whose HTTP handler answers every GetParameter at once (there is no local SSM). */
function stubClient() {
  // required here, not at the top: in the functions the SSM client is loaded on the first read too
  const { SSMClient } = require('@aws-sdk/client-ssm');
  return new SSMClient({
    region: 'ap-southeast-1',
    credentials: { accessKeyId: 'stub', secretAccessKey: 'stub' },
    requestHandler: {
      handle: async (request) => {
        const name = JSON.parse(String(request.body)).Name;
        const body = JSON.stringify({ Parameter: { Name: name, Type: 'SecureString', Value: 'stub-' + name, Version: 1 } });
        return { response: { statusCode: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: Buffer.from(body) } };
      },
    },
  });
}
export async function resolve(env) {
  source ??= ssmSource({ client: stubClient() });
  return resolveSecrets(env, source);
}
`;

const SECRETS_PROBE = `
const { performance } = require('node:perf_hooks');
// a notify function has loaded the DynamoDB client by then: the SSM client shares its core modules
require('@aws-sdk/client-dynamodb');
const t0 = performance.now();
const m = require(process.argv[2]);
const t1 = performance.now();
const env = JSON.parse(process.env.BENCH_SECRETS_ENV);
(async () => {
  const a = await m.resolve(env);
  const t2 = performance.now();
  await m.resolve(env);
  const t3 = performance.now();
  const resolved = Object.keys(env).filter((k) => k.endsWith('_PARAM') && a[k.slice(0, -6)]).length;
  process.stdout.write(JSON.stringify({ requireMs: t1 - t0, firstMs: t2 - t1, warmMs: t3 - t2, resolved }));
})().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
`;

/** The package a bundled input belongs to ("(project)" for the service's own files). */
function packageOf(input: string): string {
  const i = input.lastIndexOf('node_modules/');
  if (i < 0) {
    // the service's own files, by folder under lib/ (or the file at lib/'s top)
    const parts = input.replace(/^(\.\.\/)+/, '').split('/');
    const at = parts.indexOf('lib');
    return at < 0 ? `(project) ${parts.slice(-2).join('/')}` : `(project) ${parts.slice(at, at + 2).join('/')}`;
  }
  const rest = input.slice(i + 'node_modules/'.length).split('/');
  return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? '?');
}

interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { url: string; lineNumber: number };
    /** Samples by source line (1-based) inside the function: where its self time went. */
    positionTicks?: Array<{ line: number; ticks: number }>;
  }>;
  samples: number[];
  timeDeltas: number[];
}

/** Sampled time of the bundle's own lines by package over `runs` profiled requires (SDK preloaded), ms per run. */
function profileBundle(work: string, runs: number): Array<{ name: string; ms: number }> {
  const file = join(work, 'profiled.js');
  buildSync({
    entryPoints: [join(ROOT, 'functions/paymentNotify.ts')],
    ...SERVERLESS_ESBUILD,
    minify: false,
    outfile: file,
    logLevel: 'error',
  });
  // esbuild heads each module's code with a "// <path>" comment: the lines that follow are that module's
  const starts: Array<{ line: number; name: string }> = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, line) => {
      const m = /^\/\/ (\S+\.(?:js|mjs|cjs|ts))$/.exec(text);
      if (m) starts.push({ line, name: packageOf(m[1] as string) });
    });
  const packageAt = (line: number) => {
    let name = '(bundle runtime)';
    for (const st of starts) {
      if (st.line > line) break;
      name = st.name;
    }
    return name;
  };
  const dir = join(work, 'profiles');
  mkdirSync(dir, { recursive: true });
  const totals = new Map<string, number>();
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(
      process.execPath,
      [
        '--cpu-prof',
        '--cpu-prof-dir',
        dir,
        '--cpu-prof-interval',
        '50',
        '-e',
        `require(${JSON.stringify(SDK)});require(${JSON.stringify(file)});`,
      ],
      {
        env: { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules') },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    if (r.status !== 0) throw new Error(`profiled require failed: ${r.stderr.slice(0, 500)}`);
  }
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile;
    const self = new Map<number, number>();
    p.samples.forEach((id, k) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[k] ?? 0) / 1000));
    for (const node of p.nodes) {
      const ms = self.get(node.id) ?? 0;
      if (ms === 0 || !node.callFrame.url.endsWith('profiled.js')) continue;
      // a function's self time by the lines it was sampled on (the bundle's top level is one function)
      const ticks = node.positionTicks ?? [];
      const all = ticks.reduce((n, t) => n + t.ticks, 0);
      if (all === 0) {
        const name = packageAt(node.callFrame.lineNumber);
        totals.set(name, (totals.get(name) ?? 0) + ms);
        continue;
      }
      for (const t of ticks) {
        const name = packageAt(t.line - 1);
        totals.set(name, (totals.get(name) ?? 0) + (ms * t.ticks) / all);
      }
    }
  }
  return [...totals.entries()]
    .map(([name, total]) => ({ name, ms: round(total / runs, 2) }))
    .sort((a, b) => b.ms - a.ms);
}

/** Runs the section: `before` is the git ref of the baseline (none: no A/B). */
export async function runInit(
  opts: { quick?: boolean; before?: { ref: string; label: string } } = {},
): Promise<InitResult> {
  const spawns = opts.quick ? 5 : 15;
  const entry = 'functions/paymentNotify.ts';
  const work = mkdtempSync(join(tmpdir(), 'wechatpay-bench-init-'));
  try {
    const files = { after: join(work, 'after.js'), before: join(work, 'before.js') };
    const afterBytes = bundle(ROOT, files.after, entry);
    let beforeBytes: number | null = null;
    if (opts.before) {
      const old = join(work, 'ref');
      try {
        execFileSync('sh', [
          '-c',
          `mkdir -p "${old}" && git -C "${ROOT}" archive "${opts.before.ref}" | tar -x -C "${old}"`,
        ]);
        symlinkSync(join(ROOT, 'node_modules'), join(old, 'node_modules'));
        beforeBytes = bundle(old, files.before, entry);
      } catch (err) {
        log(`init: no "before" bundle from ${opts.before.ref}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    const sdkFile = join(work, 'sdk.cjs');
    writeFileSync(sdkFile, `module.exports = require(${JSON.stringify(SDK)});\n`);

    log(`init: ${entry}, ${spawns} spawns each, alternating with the SDK alone`);
    const s = {
      after: [] as number[],
      afterOwn: [] as number[],
      before: [] as number[],
      beforeOwn: [] as number[],
      sdk: [] as number[],
    };
    for (let i = 0; i < spawns; i++) {
      s.sdk.push(probe(sdkFile));
      s.after.push(probe(files.after));
      s.afterOwn.push(probe(files.after, SDK));
      if (beforeBytes !== null) {
        s.before.push(probe(files.before));
        s.beforeOwn.push(probe(files.before, SDK));
      }
    }

    // the own share, by package: bytes in the bundle, and each package's require with the SDK loaded
    const meta = buildSync({
      entryPoints: [join(ROOT, entry)],
      ...SERVERLESS_ESBUILD,
      write: false,
      metafile: true,
      logLevel: 'error',
    }).metafile;
    const byPackage = new Map<string, number>();
    for (const out of Object.values(meta?.outputs ?? {}))
      for (const [input, info] of Object.entries(out.inputs))
        byPackage.set(packageOf(input), (byPackage.get(packageOf(input)) ?? 0) + info.bytesInOutput);
    const modules: Array<{ name: string; ms: number }> = [];
    for (const name of RUNTIME_MODULES) {
      const f = join(work, `${name.replace(/[@/]/g, '_')}.cjs`);
      writeFileSync(f, `require(${JSON.stringify(name)});\n`);
      const t = Array.from({ length: Math.max(5, spawns >> 1) }, () => probe(f, SDK));
      modules.push({ name, ms: round(median(t), 1) });
    }

    const profileByPackage = profileBundle(work, opts.quick ? 3 : 8);

    // the runtime secret reads, through a stubbed SSM transport
    const secretsEntry = join(work, 'secrets-entry.ts');
    writeFileSync(secretsEntry, SECRETS_ENTRY(ROOT));
    const secretsBundle = join(work, 'secrets.js');
    buildSync({
      entryPoints: [secretsEntry],
      ...SERVERLESS_ESBUILD,
      outfile: secretsBundle,
      logLevel: 'error',
      nodePaths: [join(ROOT, 'node_modules')],
    });
    const secretsProbe = join(work, 'secrets-probe.cjs');
    writeFileSync(secretsProbe, SECRETS_PROBE);
    const params = deployedParameters();
    const secretsEnv = Object.fromEntries(params.map((n) => [`${n}_PARAM`, `/wechatpay-lambda/bench/${n}`]));
    const reads: Array<{ requireMs: number; firstMs: number; warmMs: number; resolved: number }> = [];
    for (let i = 0; i < Math.max(5, spawns >> 1); i++) {
      const r = spawnSync(process.execPath, [secretsProbe, secretsBundle], {
        env: {
          PATH: process.env.PATH ?? '',
          NODE_PATH: join(ROOT, 'node_modules'),
          AWS_REGION: 'ap-southeast-1',
          BENCH_SECRETS_ENV: JSON.stringify(secretsEnv),
        },
        encoding: 'utf8',
        timeout: 30_000,
      });
      if (r.status !== 0) throw new Error(`secrets probe failed: ${r.stderr.slice(0, 800)}`);
      const x = JSON.parse(r.stdout) as (typeof reads)[number];
      if (x.resolved !== params.length) throw new Error(`secrets probe resolved ${x.resolved} of ${params.length}`);
      reads.push(x);
    }

    const after: BundleInit = {
      bundleBytes: afterBytes,
      initMs: round(median(s.after), 1),
      ownMs: round(median(s.afterOwn), 1),
    };
    const sdkRequireMs = round(median(s.sdk), 1);
    return {
      date: new Date().toISOString(),
      spawns,
      function: entry,
      before:
        opts.before && beforeBytes !== null
          ? {
              ref: opts.before.ref,
              label: opts.before.label,
              bundleBytes: beforeBytes,
              initMs: round(median(s.before), 1),
              ownMs: round(median(s.beforeOwn), 1),
            }
          : null,
      after,
      sdkRequireMs,
      gapMs: round(after.initMs - sdkRequireMs, 1),
      bundleBytesByPackage: [...byPackage.entries()]
        .map(([name, bytes]) => ({ name, bytes }))
        .sort((a, b) => b.bytes - a.bytes),
      modulesWithSdkLoaded: modules,
      profileByPackage,
      secrets: {
        parameters: params.length,
        firstReadMs: round(median(reads.map((r) => r.firstMs)), 1),
        warmReadMs: round(median(reads.map((r) => r.warmMs)), 3),
        requireMs: round(median(reads.map((r) => r.requireMs)), 1),
      },
      notes: [
        'Bundled with esbuild as serverless.yml configures serverless-esbuild (minified CJS, node22, @aws-sdk/* left to the runtime); each figure is the median of fresh `node` children timed inside around require(). The SDK resolves from the root node_modules, as the runtime provides it in Lambda.',
        'Modules "with the SDK loaded" are required unbundled from node_modules, so they overstate their share of the minified bundle a little (more files to resolve); they say which package weighs, not exact milliseconds.',
        `Secret reads: no local SSM exists, so the path runs against a stub transport answering at once. In AWS each of the ${params.length} GetParameter calls of a cold start (and after each cache expiry, at most every 5 minutes) adds SSM's latency, in parallel.`,
      ],
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
