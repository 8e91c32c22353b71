/**
 * Section c: each function's zip (as `serverless package` builds it: esbuild, minified, AWS SDK left to
 * the runtime) and its module initialisation time: the unpacked handler file required in a fresh
 * `node` process, timed inside the child with performance.now() around require(), median of 20 spawns.
 * For HTTP functions a first invocation is timed too: a delivery with a bad signature, so the cold
 * start's configuration and key parsing run, and nothing goes to the network.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { v3Notification, v3TransactionResource } from '../../scripts/simulator/messages';
import { benchKeys, log, median, round } from '../lib/common';
import { ROOT, snapshotService } from '../lib/snapshot';
import { extractZip } from '../lib/unzip';

const SPAWNS = 20;
/** Spawns for the secondary figures (init without the SDK, the SDK alone, an empty module). */
const SPAWNS_SECONDARY = 10;

export interface FunctionFigures {
  name: string;
  handler: string;
  zipBytes: number;
  zipKiB: number;
  files: number;
  unzippedBytes: number;
  /** Median require() time of the bundle's handler file, ms. */
  initMs: number;
  initMsP90: number;
  initSamples: number[];
  /** The same with @aws-sdk/client-dynamodb already loaded before the clock starts: the bundle's own share. */
  initOwnMs: number;
  /** Median time of the first invocation right after (config + key parsing + a rejected delivery), ms. */
  firstInvokeMs: number | null;
  firstInvokeStatus: number | null;
}

export interface ColdStartResult {
  date: string;
  spawns: number;
  /** Spawns behind the secondary figures (initOwnMs, sdkRequireMs, emptyRequireMs). */
  spawnsSecondary: number;
  packageSeconds: number;
  functions: FunctionFigures[];
  /** require('@aws-sdk/client-dynamodb') alone (the runtime's copy in Lambda), median ms. */
  sdkRequireMs: number;
  /** A bare `node -e` child doing nothing but the same timing (the measuring floor), median ms. */
  emptyRequireMs: number;
  /**
   * Powertools' Logger and Metrics with their middy middlewares (lib/log.ts, lib/middleware/
   * observability.ts) required alone from node_modules, unbundled, median ms: an upper bound of their
   * share of each function's init (the zips hold them bundled and minified).
   */
  powertoolsRequireMs: number;
  notes: string[];
}

const PROBE = `
const { performance } = require('node:perf_hooks');
if (process.env.BENCH_PRELOAD) require(process.env.BENCH_PRELOAD);
const t0 = performance.now();
const mod = require(process.argv[2]);
const result = { requireMs: performance.now() - t0 };
const done = () => process.stdout.write('\\nBENCH_RESULT ' + JSON.stringify(result) + '\\n');
const ev = process.env.BENCH_EVENT;
if (ev && mod && typeof mod.handler === 'function') {
  const t1 = performance.now();
  Promise.resolve(mod.handler(JSON.parse(ev), { getRemainingTimeInMillis: () => 6000, functionName: 'bench', awsRequestId: 'bench', callbackWaitsForEmptyEventLoop: true }))
    .then((r) => { result.firstInvokeMs = performance.now() - t1; result.status = r && r.statusCode; done(); },
          (e) => { result.error = String(e && e.message || e); done(); });
} else done();
`;

interface ProbeResult {
  requireMs: number;
  firstInvokeMs?: number;
  status?: number;
  error?: string;
}

function probe(probeFile: string, target: string, env: Record<string, string>): Promise<ProbeResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [probeFile, target], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = out
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('BENCH_RESULT '));
      if (!line) return reject(new Error(`probe of ${target} exited ${code}: ${err.slice(0, 500)}`));
      resolvePromise(JSON.parse(line.slice('BENCH_RESULT '.length)) as ProbeResult);
    });
  });
}

/** Runs `serverless package` for the service in `cwd` into `dir`; resolves with the seconds it took. */
function packageService(cwd: string, dir: string): Promise<number> {
  const serverless = join(
    dirname(createRequire(join(ROOT, 'package.json')).resolve('osls/package.json')),
    'bin',
    'serverless.js',
  );
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [serverless, 'package', '--stage', 'local', '--package', dir], {
      cwd,
      env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise((Date.now() - started) / 1000);
      else reject(new Error(`serverless package exited ${code}:\n${output.slice(-2000)}`));
    });
  });
}

interface StateFunction {
  handler: string;
  events?: Array<Record<string, unknown>>;
}

export async function runColdStart(): Promise<ColdStartResult> {
  const { keys, env } = benchKeys();
  const work = mkdtempSync(join(tmpdir(), 'wechatpay-bench-cold-'));
  const src = snapshotService();
  try {
    const pkgDir = join(work, 'package');
    log('coldstart: serverless package --stage local (offline, on a private copy of the sources)');
    const packageSeconds = await packageService(src.dir, pkgDir);
    const state = JSON.parse(readFileSync(join(pkgDir, 'serverless-state.json'), 'utf8')) as {
      service: { functions: Record<string, StateFunction> };
    };
    const probeFile = join(work, 'probe.cjs');
    writeFileSync(probeFile, PROBE);

    // the Lambda runtime ships the AWS SDK: resolve it from the root's node_modules, as /var/runtime does
    const childEnv: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      NODE_PATH: join(ROOT, 'node_modules'),
      AWS_REGION: 'ap-southeast-1',
      AWS_ACCESS_KEY_ID: 'bench',
      AWS_SECRET_ACCESS_KEY: 'bench',
      ...env,
      AGGREGATOR_SECRET: 'bench-aggregator-secret-0123456789abcdef',
      PAYMENTS_TABLE: 'wechatpay-lambda-local-payments',
    };

    // a delivery that fails its signature check (an APIv3 one, which the aggregator route rejects as
    // malformed): the cold path without any I/O
    const wire = v3Notification(keys, {
      eventType: 'TRANSACTION.SUCCESS',
      originalType: 'transaction',
      resource: v3TransactionResource(keys, { outTradeNo: 'BENCHCOLD0001', total: 1 }),
    });
    const headers = Object.fromEntries(Object.entries(wire.headers).map(([k, v]) => [k.toLowerCase(), v]));
    const sig = headers['wechatpay-signature'] ?? '';
    headers['wechatpay-signature'] = (sig.startsWith('A') ? 'B' : 'A') + sig.slice(1);
    const httpEvent = (path: string) =>
      JSON.stringify({
        version: '2.0',
        routeKey: `POST ${path}`,
        rawPath: path,
        rawQueryString: '',
        headers,
        body: wire.body,
        isBase64Encoded: false,
        requestContext: {
          http: { method: 'POST', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
          stage: '$default',
        },
      });

    const functions: FunctionFigures[] = [];
    const zips = readdirSync(pkgDir)
      .filter((f) => f.endsWith('.zip'))
      .sort();
    for (const zipName of zips) {
      const name = zipName.slice(0, -4);
      const fn = state.service.functions[name];
      if (!fn) continue;
      const zipPath = join(pkgDir, zipName);
      const dir = join(work, 'fn', name);
      const entries = extractZip(readFileSync(zipPath), dir);
      const handlerFile = join(dir, `${fn.handler.slice(0, fn.handler.lastIndexOf('.'))}.js`);
      const http = (fn.events ?? []).find((e) => 'httpApi' in e)?.httpApi as { path?: string } | undefined;
      const probeEnv = http?.path ? { ...childEnv, BENCH_EVENT: httpEvent(http.path) } : childEnv;
      const samples: ProbeResult[] = [];
      const own: number[] = [];
      for (let i = 0; i < SPAWNS; i++) {
        samples.push(await probe(probeFile, handlerFile, probeEnv));
        if (i < SPAWNS_SECONDARY)
          own.push(
            (await probe(probeFile, handlerFile, { ...childEnv, BENCH_PRELOAD: '@aws-sdk/client-dynamodb' })).requireMs,
          );
      }
      const failed = samples.find((s) => s.error);
      if (failed) throw new Error(`${name}: first invocation threw: ${failed.error}`);
      const init = samples.map((s) => s.requireMs);
      const first = samples.map((s) => s.firstInvokeMs).filter((x): x is number => typeof x === 'number');
      const sorted = [...init].sort((a, b) => a - b);
      functions.push({
        name,
        handler: fn.handler,
        zipBytes: statSync(zipPath).size,
        zipKiB: round(statSync(zipPath).size / 1024, 1),
        files: entries.length,
        unzippedBytes: entries.reduce((s, e) => s + e.size, 0),
        initMs: round(median(init), 1),
        initMsP90: round(sorted[Math.ceil(sorted.length * 0.9) - 1] ?? Number.NaN, 1),
        initSamples: init.map((x) => round(x, 1)),
        initOwnMs: round(median(own), 1),
        firstInvokeMs: first.length ? round(median(first), 1) : null,
        firstInvokeStatus: samples[0]?.status ?? null,
      });
      log(`coldstart: ${name} ${round(statSync(zipPath).size / 1024, 1)} KiB, init ${round(median(init), 1)} ms`);
    }

    // what part of it is the SDK (which the Lambda runtime loads from its own copy), and the floor
    const sdkFile = join(work, 'sdk.cjs');
    writeFileSync(sdkFile, "module.exports = require('@aws-sdk/client-dynamodb');\n");
    const emptyFile = join(work, 'empty.cjs');
    writeFileSync(emptyFile, 'module.exports = {};\n');
    const powertoolsFile = join(work, 'powertools.cjs');
    writeFileSync(
      powertoolsFile,
      ['logger', 'logger/middleware', 'metrics', 'metrics/middleware']
        .map((m) => `require('@aws-lambda-powertools/${m}');\n`)
        .join(''),
    );
    const sdk: number[] = [];
    const empty: number[] = [];
    const powertools: number[] = [];
    for (let i = 0; i < SPAWNS_SECONDARY; i++) {
      sdk.push((await probe(probeFile, sdkFile, childEnv)).requireMs);
      empty.push((await probe(probeFile, emptyFile, childEnv)).requireMs);
      powertools.push((await probe(probeFile, powertoolsFile, childEnv)).requireMs);
    }
    log(
      `coldstart: @aws-sdk/client-dynamodb alone ${round(median(sdk), 1)} ms, Powertools alone ${round(median(powertools), 1)} ms`,
    );
    return {
      date: new Date().toISOString(),
      spawns: SPAWNS,
      spawnsSecondary: SPAWNS_SECONDARY,
      packageSeconds: round(packageSeconds, 1),
      functions,
      sdkRequireMs: round(median(sdk), 1),
      emptyRequireMs: round(median(empty), 2),
      powertoolsRequireMs: round(median(powertools), 1),
      notes: [
        `node ${process.version} here; the functions are declared for ${runtimeOf()} on arm64 in AWS, whose cold starts also include the runtime's own start and the code download.`,
        'The AWS SDK is not in the zips (the runtime provides it): the children resolve it from the root node_modules through NODE_PATH, so its load is counted in the init time, as it is in Lambda.',
        'KiB = 1024 bytes; the 60 KB target is read as 60 KiB.',
        "Packaged from a private copy of the sources taken when the section started (the root's node_modules linked in), so that no other serverless run from the checkout shares its .esbuild/ folder.",
      ],
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
    src.remove();
  }
}

function runtimeOf(): string {
  try {
    const yml = readFileSync(join(ROOT, 'serverless.yml'), 'utf8');
    return /runtime:\s*(\S+)/.exec(yml)?.[1] ?? 'nodejs';
  } catch {
    return 'nodejs';
  }
}
