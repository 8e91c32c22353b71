/** The results file, the DESIGN.md targets judged against it, and the markdown report. */
import { cpus, totalmem, platform, arch, release } from 'node:os';
import type { ColdStartResult } from '../sections/coldstart';
import type { DynamoResult, ScenarioFigures } from '../sections/dynamo';
import type { LoadResult } from '../sections/load';
import type { ImplResult, VerifyResult } from '../sections/verify';
import { fmtInt, fmtRatio, round } from './common';

export interface Sections {
  verify?: VerifyResult;
  dynamo?: DynamoResult;
  coldstart?: ColdStartResult;
  load?: LoadResult;
}

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  npm: string | null;
}

export interface Target {
  target: string;
  measured: string;
  verdict: 'PASS' | 'MISS' | 'NOT RUN';
}

export interface Results {
  generatedAt: string;
  machine: Machine;
  /** Wall-clock seconds of each section in the run that produced it. */
  seconds: Record<string, number>;
  /** The 1-minute load average when each section started (this machine is shared: a busy one skews figures). */
  loadAverageAtStart?: Record<string, number>;
  targets: Target[];
  sections: Sections;
  /** Sections that failed in the run that wrote this file, with the reason. */
  failures?: Record<string, string>;
}

export function machine(): Machine {
  const ua = process.env.npm_config_user_agent ?? '';
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    npm: /npm\/(\S+)/.exec(ua)?.[1] ?? null,
  };
}

const ops = (r: readonly ImplResult[], id: string) => r.find((x) => x.id === id);

/** Judges the DESIGN.md performance targets against whatever sections are present. */
export function judge(s: Sections): Target[] {
  const t: Target[] = [];
  const v = s.verify;
  if (v) {
    const ratio = (p: readonly ImplResult[], id: string) => ops(p, id)?.projectRatio ?? Number.NaN;
    const mine2 = ops(v.v2.results, 'project')?.opsPerSec ?? Number.NaN;
    const mine3 = ops(v.v3.results, 'project')?.opsPerSec ?? Number.NaN;
    const r2 = ratio(v.v2.results, 'axios-plugin');
    t.push({
      target: 'APIv2 verify + parse ≥ 1.4× wechatpay-axios-plugin',
      measured: `${fmtRatio(r2)} (${fmtInt(mine2)} vs ${fmtInt(ops(v.v2.results, 'axios-plugin')?.opsPerSec ?? NaN)} ops/s)`,
      verdict: r2 >= 1.4 ? 'PASS' : 'MISS',
    });
    const rAx = ratio(v.v3.results, 'axios-plugin');
    const rPem = ratio(v.v3.results, 'axios-plugin-pem');
    t.push({
      target: 'APIv3 verify + decrypt ≥ 4× wechatpay-axios-plugin',
      measured: `${fmtRatio(rAx)} against its documented use (key loaded once by Rsa.from); ${fmtRatio(rPem)} against PEM strings re-parsed per call`,
      verdict: rAx >= 4 ? 'PASS' : 'MISS',
    });
    const rN = ratio(v.v3.results, 'wechatpay-node-v3');
    t.push({
      target: 'APIv3 verify + decrypt ≥ 4× wechatpay-node-v3',
      measured: `${fmtRatio(rN)} (${fmtInt(mine3)} vs ${fmtInt(ops(v.v3.results, 'wechatpay-node-v3')?.opsPerSec ?? NaN)} ops/s)`,
      verdict: rN >= 4 ? 'PASS' : 'MISS',
    });
    const rF = ratio(v.v3.results, 'floor');
    t.push({
      target: 'APIv3 within 10% of bare node:crypto',
      measured: `${round(rF * 100, 0)}% of the floor (${fmtInt(mine3)} vs ${fmtInt(ops(v.v3.results, 'floor')?.opsPerSec ?? NaN)} ops/s)`,
      verdict: rF >= 0.9 ? 'PASS' : 'MISS',
    });
  } else {
    for (const target of [
      'APIv2 verify + parse ≥ 1.4× wechatpay-axios-plugin',
      'APIv3 verify + decrypt ≥ 4× wechatpay-axios-plugin',
      'APIv3 verify + decrypt ≥ 4× wechatpay-node-v3',
      'APIv3 within 10% of bare node:crypto',
    ]) {
      t.push({ target, measured: '-', verdict: 'NOT RUN' });
    }
  }
  const d = s.dynamo;
  if (d) {
    const allowed = d.engine === 'dynalite' ? 2 : 1; // DESIGN: 2 only where the store cannot return the old item
    t.push({
      target: 'DynamoDB requests, first delivery: 1',
      measured: `${d.project.first.requestsPerDelivery} (Powertools pattern: ${d.powertools.first.requestsPerDelivery}, of which ${idempotencyWrites(d.powertools.first)} on its idempotency table)`,
      verdict: d.project.first.requestsPerDelivery <= 1 ? 'PASS' : 'MISS',
    });
    t.push({
      target: `DynamoDB requests, duplicate: 1${d.engine === 'dynalite' ? ' (2 allowed: dynalite returns no old item)' : ''}`,
      measured: `${d.project.duplicate.requestsPerDelivery} sequential, ${d.project.concurrent20.requestsPerDelivery} per delivery among 20 concurrent (Powertools: ${d.powertools.duplicate.requestsPerDelivery}, ${d.powertools.concurrent20.requestsPerDelivery})`,
      verdict:
        d.project.duplicate.requestsPerDelivery <= allowed && d.project.concurrent20.requestsPerDelivery <= allowed
          ? 'PASS'
          : 'MISS',
    });
  } else {
    t.push({ target: 'DynamoDB requests, first delivery: 1', measured: '-', verdict: 'NOT RUN' });
    t.push({ target: 'DynamoDB requests, duplicate: 1', measured: '-', verdict: 'NOT RUN' });
  }
  const c = s.coldstart;
  if (c) {
    const maxZip = Math.max(...c.functions.map((f) => f.zipKiB));
    const maxInit = Math.max(...c.functions.map((f) => f.initMs));
    const maxOwn = Math.max(...c.functions.map((f) => f.initOwnMs));
    t.push({
      target: 'each function zip ≤ 60 KB',
      measured: `largest ${maxZip} KiB (${c.functions.length} functions)`,
      verdict: maxZip <= 60 ? 'PASS' : 'MISS',
    });
    t.push({
      target: 'module initialisation ≤ 50 ms',
      measured: `slowest median ${maxInit} ms, of which @aws-sdk/client-dynamodb ≈ ${c.sdkRequireMs} ms; the bundle's own share ≤ ${maxOwn} ms`,
      verdict: maxInit <= 50 ? 'PASS' : 'MISS',
    });
  } else {
    t.push({ target: 'each function zip ≤ 60 KB', measured: '-', verdict: 'NOT RUN' });
    t.push({ target: 'module initialisation ≤ 50 ms', measured: '-', verdict: 'NOT RUN' });
  }
  return t;
}

function idempotencyWrites(f: ScenarioFigures): number {
  // the wrapped handler's own state change is one UpdateItem per delivery on the orders table
  const handlerWrites = f.succeeded;
  return round((f.requests - handlerWrites) / f.deliveries, 2);
}

/** A markdown table; a column whose cells are all figures is right-aligned. */
function table(head: string[], rows: (string | number)[][]): string {
  const figure = /^(\*\*)?([-+]?[\d,.]+(×|%| ms| s| KiB)?|-|n\/a|NaN)(\*\*)?$/;
  const numeric = head.map((_, i) => rows.length > 0 && rows.every((r) => figure.test(String(r[i] ?? '').trim())));
  return [
    `| ${head.join(' | ')} |`,
    `|${numeric.map((n) => (n ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${r.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`),
  ].join('\n');
}

export function markdown(r: Results): string {
  const out: string[] = [];
  const m = r.machine;
  out.push('# wechatpay-lambda benchmarks');
  out.push('');
  out.push(
    `Generated ${r.generatedAt} on ${m.cores} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}${m.npm ? `, npm ${m.npm}` : ''}. One run, all implementations side by side; reproduce with \`npm run bench\` (see bench/README.md).`,
  );
  if (r.loadAverageAtStart && Object.keys(r.loadAverageAtStart).length) {
    out.push('');
    out.push(
      `1-minute load average when each section started (${m.cores} cores; it includes the bench's own earlier sections, and anything else running on the machine skews every figure): ${Object.entries(
        r.loadAverageAtStart,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}.`,
    );
  }
  out.push('');
  out.push('## Targets (DESIGN.md, "Performance targets")');
  out.push('');
  out.push(
    table(
      ['target', 'measured', 'verdict'],
      r.targets.map((t) => [t.target, t.measured, `**${t.verdict}**`]),
    ),
  );
  if (r.failures) {
    out.push('');
    out.push('**Sections that failed in this run** (their targets show NOT RUN):');
    out.push('');
    for (const [k, why] of Object.entries(r.failures)) out.push(`- ${k}: ${why.split('\n')[0]}`);
  }
  const s = r.sections;

  if (s.verify) {
    const v = s.verify;
    out.push('');
    out.push(`## a. Notification verify + parse, operations per second`);
    out.push('');
    out.push(
      `${v.settings.messages} different messages per protocol, cycled; each implementation is first checked to accept all of them and reject a tampered one. ${v.settings.warmupRounds} warm-up round, then the median of ${v.settings.rounds} rounds of ${v.settings.roundMs} ms, implementations interleaved. Ratio = this project's ops/s ÷ that row's, the median of the per-round ratios (> 1: the project is faster). Measured ${v.date}.`,
    );
    for (const [name, p] of [
      ['APIv2 (XML, MD5): verify + parse', v.v2],
      ['APIv3 (JSON, RSA-SHA256 + AES-256-GCM): verify + decrypt', v.v3],
    ] as const) {
      out.push('');
      out.push(`### ${name}`);
      out.push('');
      const rows: (string | number)[][] = p.results.map((x) => [
        x.label,
        fmtInt(x.opsPerSec),
        x.projectRatio === null ? '-' : fmtRatio(x.projectRatio),
        x.note ?? '',
      ]);
      for (const n of p.notApplicable) rows.push([n.label, 'n/a', 'n/a', n.why]);
      out.push(table(['implementation', 'ops/s', 'project ÷ this', 'what it does'], rows));
    }
    if (v.projectStages?.length) {
      out.push('');
      out.push("### Where this project's time goes");
      out.push('');
      out.push(
        "Each stage of the project's pipeline alone, measured in one interleaved pass together with the whole call and the floor (shorter rounds), in µs per message; 'of the whole call' is the median of the per-round ratios, steadier than the µs when the machine is busy. The stages include work the whole call does once (e.g. Buffer and header handling), so they need not add up exactly.",
      );
      out.push('');
      const rows: (string | number)[][] = v.projectStages.map((st) => [
        st.protocol,
        st.stage.startsWith('whole') ? `**${st.stage}**` : st.stage,
        st.microseconds,
        st.ofWhole === undefined ? '-' : `${round(st.ofWhole * 100, 0)}%`,
      ]);
      out.push(table(['protocol', 'stage', 'µs / message', 'of the whole call'], rows));
    }
  }

  if (s.dynamo) {
    const d = s.dynamo;
    out.push('');
    out.push('## b. DynamoDB requests and capacity per delivery');
    out.push('');
    out.push(
      `${d.engine === 'dynamodb-local' ? "Amazon's DynamoDB Local" : 'dynalite'}; first and duplicate: ${d.ordersPerScenario} orders delivered one after another, then the same ${d.ordersPerScenario} again; concurrent: 20 simultaneous deliveries of one new event. Capacity includes the GSI write when an order leaves NOTPAY. Measured ${d.date}.`,
    );
    out.push('');
    const rows: (string | number)[][] = [];
    for (const [sys, f] of [
      ['wechatpay-lambda', d.project],
      ['Powertools idempotency', d.powertools],
    ] as const) {
      for (const [name, sc] of [
        ['first delivery', f.first],
        ['duplicate', f.duplicate],
        ['20 concurrent', f.concurrent20],
      ] as const) {
        const ops = Object.entries(sc.byOperation)
          .map(([k, n]) => `${k} ${round(n / sc.deliveries, 2)}`)
          .join(', ');
        const failed = sc.failed
          ? `${sc.failed} (${Object.entries(sc.failureReasons)
              .map(([k, n]) => `${n} ${k}`)
              .join(', ')})`
          : '0';
        rows.push([
          `${sys}: ${name}`,
          sc.requestsPerDelivery,
          ops,
          sc.capacityPerDelivery,
          `${sc.succeeded}/${sc.deliveries}`,
          failed,
        ]);
      }
    }
    out.push(
      table(
        [
          'system: scenario',
          'requests / delivery',
          'by operation / delivery',
          'capacity units / delivery',
          'answered success',
          'answered failure (WeChat retries)',
        ],
        rows,
      ),
    );
    out.push('');
    for (const n of d.notes) out.push(`- ${n}`);
  }

  if (s.coldstart) {
    const c = s.coldstart;
    out.push('');
    out.push('## c. Zip size and module initialisation');
    out.push('');
    out.push(
      `\`serverless package --stage local\` (${c.packageSeconds} s), each zip unpacked and its handler file required in a fresh \`node\` (median of ${c.spawns} spawns, timed inside the child around require()). First invocation: a delivery with a bad signature (configuration, key parsing, verification, 401; no I/O). Measured ${c.date}.`,
    );
    out.push('');
    out.push(
      table(
        [
          'function',
          'zip',
          'unzipped',
          'init (median)',
          'init p90',
          'init without the SDK',
          'first invocation (rejected delivery)',
        ],
        c.functions.map((f) => [
          f.name,
          `${f.zipKiB} KiB`,
          `${round(f.unzippedBytes / 1024, 1)} KiB`,
          `${f.initMs} ms`,
          `${f.initMsP90} ms`,
          `${f.initOwnMs} ms`,
          f.firstInvokeMs === null ? '-' : `${f.firstInvokeMs} ms (HTTP ${f.firstInvokeStatus})`,
        ]),
      ),
    );
    out.push('');
    out.push(
      `"Init without the SDK": the same require with \`@aws-sdk/client-dynamodb\` loaded before the clock starts. For scale: that SDK alone takes ${c.sdkRequireMs} ms in the same kind of child; an empty module ${c.emptyRequireMs} ms (medians of ${c.spawnsSecondary ?? c.spawns}).`,
    );
    out.push('');
    for (const n of c.notes) out.push(`- ${n}`);
  }

  if (s.load) {
    const l = s.load;
    out.push('');
    out.push('## d. End-to-end load through the local stack');
    out.push('');
    out.push(
      `autocannon → serverless-offline → the paymentNotify bundle → ${l.engine === 'dynamodb-local' ? 'DynamoDB Local' : 'dynalite'}, loopback only. Measured ${l.date}.`,
    );
    out.push('');
    const row = (sc: LoadResult['duplicateStorm'], extra: string) => [
      sc.name,
      `${sc.durationSec} s`,
      fmtInt(sc.requests),
      sc.throughput,
      sc.latencyMs.p50,
      sc.latencyMs.p90,
      sc.latencyMs.p99,
      sc.latencyMs.max,
      Object.entries(sc.status)
        .map(([k, n]) => `${n}× ${k}`)
        .join(', ') + (sc.errors || sc.timeouts ? `; ${sc.errors} errors, ${sc.timeouts} timeouts` : ''),
      sc.lambdaTimeouts,
      extra,
    ];
    out.push(
      table(
        [
          'scenario',
          'duration',
          'requests',
          'req/s',
          'p50 ms',
          'p90 ms',
          'p99 ms',
          'max ms',
          'replies (HTTP status)',
          'Lambda timeouts',
          'check',
        ],
        [
          row(l.firstDeliveries, `${fmtInt(l.firstDeliveries.ordersPaid)} orders PAID`),
          row(l.duplicateStorm, 'one order, applied once before'),
        ],
      ),
    );
    for (const sc of [l.firstDeliveries, l.duplicateStorm]) {
      const kinds = Object.entries(sc.offlineErrors ?? {});
      if (kinds.length === 0) continue;
      out.push('');
      out.push(`serverless-offline reported during "${sc.name}":`);
      out.push('');
      for (const [k, n] of kinds.slice(0, 8)) out.push(`- ${n}× \`${k.replace(/`/g, "'")}\``);
    }
    out.push('');
    for (const n of l.notes) out.push(`- ${n}`);
  }
  out.push('');
  return out.join('\n');
}
