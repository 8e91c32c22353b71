/** The results file, the targets (issue 17's, and DESIGN.md's still standing) judged against it, and the markdown report. */
import { cpus, totalmem, platform, arch, release } from 'node:os';
import type { ColdStartResult } from '../sections/coldstart';
import type { DynamoResult, ScenarioFigures } from '../sections/dynamo';
import type { HandlerResult } from '../sections/handler';
import type { InitResult } from '../sections/init';
import type { LoadResult } from '../sections/load';
import type { ReconcileScaleResult } from '../sections/reconcile';
import type { BillsResult } from '../sections/bills';
import type { ShardsResult } from '../sections/shards';
import type { ImplResult, StageResult, VerifyResult } from '../sections/verify';
import { fmtInt, fmtRatio, round } from './common';
import { costModel, type CostLine } from './cost';

export interface Sections {
  verify?: VerifyResult;
  dynamo?: DynamoResult;
  handler?: HandlerResult;
  coldstart?: ColdStartResult;
  init?: InitResult;
  load?: LoadResult;
  shards?: ShardsResult;
  reconcile?: ReconcileScaleResult;
  bills?: BillsResult;
}

/** A past run this round is compared with (bench/results/baseline.json). */
export interface Baseline {
  label: string;
  date: string;
  commit: string;
  machine?: Machine;
  loadAverageAtStart?: Record<string, number>;
  verify: {
    v2: Array<{ id: string; opsPerSec: number; projectRatio: number | null }>;
    v3: Array<{ id: string; opsPerSec: number; projectRatio: number | null }>;
    projectStages: StageResult[];
  };
  coldstart?: { sdkRequireMs: number; functions: Array<{ name: string; initMs: number; initOwnMs: number }> };
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
  /** The checkout's commit when the run started ("+changes": the tree differed from it). */
  commit?: string;
  machine: Machine;
  /** The reference run the stage table and init are compared with. */
  baseline?: Baseline;
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

/** Judges the targets (issue 17's, and DESIGN.md's request and size targets) against whatever sections are present. */
export function judge(s: Sections): Target[] {
  const t: Target[] = [];
  const notRun = (target: string) => t.push({ target, measured: '-', verdict: 'NOT RUN' });
  const v = s.verify;
  const T = {
    v3Axios: 'APIv3 verify + decrypt ≥ 1.05× wechatpay-axios-plugin (key loaded once)',
    v3Floor: 'APIv3 verify + decrypt ≥ 95% of the bare node:crypto floor',
    v3Node: 'APIv3 verify + decrypt ≥ 4× wechatpay-node-v3',
    v2Axios: 'APIv2 verify + parse ≥ 1.2× wechatpay-axios-plugin',
    handler: "handler's own time per delivery within 20% of the minimal handler's (v3 and v2)",
    init: "module init within 10 ms of the AWS SDK's own load time",
  };
  if (v) {
    const ratio = (p: readonly ImplResult[], id: string) => ops(p, id)?.projectRatio ?? Number.NaN;
    const mine2 = ops(v.v2.results, 'project')?.opsPerSec ?? Number.NaN;
    const mine3 = ops(v.v3.results, 'project')?.opsPerSec ?? Number.NaN;
    const rAx = ratio(v.v3.results, 'axios-plugin');
    const rPem = ratio(v.v3.results, 'axios-plugin-pem');
    // how far the peer already is from the work nobody can skip (runs before the primitives row existed lack it)
    const prim = ops(v.v3.results, 'primitives')?.opsPerSec;
    const axOps = ops(v.v3.results, 'axios-plugin')?.opsPerSec ?? Number.NaN;
    const yardstick =
      prim === undefined
        ? ''
        : `; axios-plugin runs at ${round((axOps / prim) * 100, 0)}% of the irreducible RSA + AES-GCM + JSON.parse alone (${fmtInt(prim)} ops/s), so this target asks for ${round(((1.05 * axOps) / prim) * 100, 0)}% of it`;
    t.push({
      target: T.v3Axios,
      measured: `${fmtRatio(rAx)} (${fmtInt(mine3)} vs ${fmtInt(axOps)} ops/s); ${fmtRatio(rPem)} against PEM strings re-parsed per call${yardstick}`,
      verdict: rAx >= 1.05 ? 'PASS' : 'MISS',
    });
    const rF = ratio(v.v3.results, 'floor');
    t.push({
      target: T.v3Floor,
      measured: `${round(rF * 100, 0)}% (${fmtInt(mine3)} vs ${fmtInt(ops(v.v3.results, 'floor')?.opsPerSec ?? Number.NaN)} ops/s)`,
      verdict: rF >= 0.95 ? 'PASS' : 'MISS',
    });
    const rN = ratio(v.v3.results, 'wechatpay-node-v3');
    t.push({
      target: T.v3Node,
      measured: `${fmtRatio(rN)} (${fmtInt(mine3)} vs ${fmtInt(ops(v.v3.results, 'wechatpay-node-v3')?.opsPerSec ?? Number.NaN)} ops/s)`,
      verdict: rN >= 4 ? 'PASS' : 'MISS',
    });
    const r2 = ratio(v.v2.results, 'axios-plugin');
    t.push({
      target: T.v2Axios,
      measured: `${fmtRatio(r2)} (${fmtInt(mine2)} vs ${fmtInt(ops(v.v2.results, 'axios-plugin')?.opsPerSec ?? Number.NaN)} ops/s)`,
      verdict: r2 >= 1.2 ? 'PASS' : 'MISS',
    });
  } else {
    for (const target of [T.v3Axios, T.v3Floor, T.v3Node, T.v2Axios]) notRun(target);
  }
  const h = s.handler;
  if (h) {
    const own = (id: string) => h.variants.find((x) => x.id === id)?.first.ownMs ?? Number.NaN;
    const { v2, v3 } = h.ratioToMinimal;
    t.push({
      target: T.handler,
      measured: `v3 ${fmtRatio(v3)} (${own('project-v3')} vs ${own('minimal-v3')} ms), v2 ${fmtRatio(v2)} (${own('project-v2')} vs ${own('minimal-v2')} ms); duplicates v3 ${fmtRatio(h.duplicateRatioToMinimal.v3)}, v2 ${fmtRatio(h.duplicateRatioToMinimal.v2)}${h.ratioToTunedMinimal ? `; the minimal handlers given the project's DynamoDB client settings too (middleware cached, no logger middleware): v3 ${fmtRatio(h.ratioToTunedMinimal.v3)} (${own('minimal-tuned-v3')} ms), v2 ${fmtRatio(h.ratioToTunedMinimal.v2)} (${own('minimal-tuned-v2')} ms)` : ''}`,
      verdict: v3 <= 1.2 && v2 <= 1.2 ? 'PASS' : 'MISS',
    });
  } else notRun(T.handler);
  const i = s.init;
  if (i) {
    // judged on the own share (the bundle required with the SDK already loaded): the same difference,
    // measured directly; the difference of two separately noisy medians is shown beside it
    t.push({
      target: T.init,
      measured: `+${i.after.ownMs} ms over the SDK (paymentNotify bundled, required with the SDK preloaded${i.before ? `; ${i.before.ownMs} ms at ${i.before.ref}` : ''}); medians: init ${i.after.initMs} ms, SDK alone ${i.sdkRequireMs} ms, difference ${i.gapMs >= 0 ? '+' : ''}${i.gapMs} ms`,
      verdict: i.after.ownMs <= 10 ? 'PASS' : 'MISS',
    });
  } else notRun(T.init);
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
    notRun('DynamoDB requests, first delivery: 1');
    notRun('DynamoDB requests, duplicate: 1');
  }
  const c = s.coldstart;
  if (c) {
    const maxZip = Math.max(...c.functions.map((f) => f.zipKiB));
    t.push({
      target: 'each function zip ≤ 60 KB',
      measured: `largest ${maxZip} KiB (${c.functions.length} functions)`,
      verdict: maxZip <= 60 ? 'PASS' : 'MISS',
    });
  } else notRun('each function zip ≤ 60 KB');
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
    `Generated ${r.generatedAt}${r.commit ? ` at commit ${r.commit}` : ''} on ${m.cores} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}${m.npm ? `, npm ${m.npm}` : ''}. One run, all implementations side by side; reproduce with \`npm run bench\` (see bench/README.md).`,
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
  out.push('## Targets (issue 17; DESIGN.md for DynamoDB requests and zip size)');
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
      const b = r.baseline;
      if (b) {
        out.push('');
        out.push(
          `"Before" is the reference run in bench/results/baseline.json: ${b.label}, ${b.date} at commit ${b.commit}${b.loadAverageAtStart?.verify !== undefined ? ` (load average ${b.loadAverageAtStart.verify} when its verify section started)` : ''}. Its µs come from another moment of this shared machine: compare the "of the whole call" and "÷ floor" columns first. A stage renamed since then shows "-".`,
        );
      }
      out.push('');
      const floorUs = (list: readonly StageResult[], protocol: string) =>
        list.find((x) => x.protocol === protocol && x.stage.startsWith('floor'))?.microseconds ?? Number.NaN;
      const before = (st: StageResult) =>
        b?.verify.projectStages.find((x) => x.protocol === st.protocol && x.stage === st.stage);
      const rows: (string | number)[][] = v.projectStages.map((st) => {
        const old = before(st);
        const row: (string | number)[] = [
          st.protocol,
          st.stage.startsWith('whole') ? `**${st.stage}**` : st.stage,
          st.microseconds,
          st.ofWhole === undefined ? '-' : `${round(st.ofWhole * 100, 0)}%`,
          `${round(st.microseconds / floorUs(v.projectStages, st.protocol), 2)}×`,
        ];
        if (b)
          row.push(
            old ? old.microseconds : '-',
            old?.ofWhole === undefined ? '-' : `${round(old.ofWhole * 100, 0)}%`,
            old ? `${round(old.microseconds / floorUs(b.verify.projectStages, st.protocol), 2)}×` : '-',
          );
        return row;
      });
      out.push(
        table(
          [
            'protocol',
            'stage',
            'µs / message',
            'of the whole call',
            '÷ floor',
            ...(b ? ['before: µs', 'before: of the whole', 'before: ÷ floor'] : []),
          ],
          rows,
        ),
      );
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
  if (s.handler) renderHandler(out, s.handler);
  if (s.init) renderInit(out, s.init);
  if (s.shards) renderShards(out, s.shards);
  if (s.reconcile) renderReconcile(out, s.reconcile);
  renderCost(out, s);
  if (s.bills) renderBills(out, s.bills);
  out.push('');
  return out.join('\n');
}

const ms = (n: number) => `${n} ms`;

function renderHandler(out: string[], h: HandlerResult): void {
  out.push('');
  out.push("## e. The handler's own time per delivery, and the duplicate path alone");
  out.push('');
  out.push(
    `The real Lambda handler in-process against ${h.engine === 'dynamodb-local' ? 'DynamoDB Local' : 'dynalite'}, beside a minimal hand-written handler (the floor of this job) and the Powertools idempotency pattern; medians over ${h.rounds} × ${h.perRound} deliveries each. Measured ${h.date}.`,
  );
  out.push('');
  const rows: (string | number)[][] = [];
  for (const v of h.variants)
    for (const [kind, f] of [
      ['first', v.first],
      ['duplicate', v.duplicate],
    ] as const)
      rows.push([
        `${v.protocol} ${kind}`,
        v.label,
        ms(f.ownMs),
        ms(f.ownP90Ms),
        ms(f.ownOutsideSendMs),
        ms(f.httpMs),
        ms(f.wallMs),
        f.requestsPerDelivery,
      ]);
  out.push(
    table(
      ['delivery', 'handler', 'own (median)', 'own p90', 'outside send', 'DynamoDB wire wait', 'wall', 'requests'],
      rows,
    ),
  );
  out.push('');
  out.push(
    `Real ÷ minimal, own time: first delivery v3 ${fmtRatio(h.ratioToMinimal.v3)}, v2 ${fmtRatio(h.ratioToMinimal.v2)}; duplicate v3 ${fmtRatio(h.duplicateRatioToMinimal.v3)}, v2 ${fmtRatio(h.duplicateRatioToMinimal.v2)}.${h.breakdownV3 ? ` Where the v3 gap lies: the pipeline alone (handleNotification: the hardened read, the settle path, the store, its log line) is ${fmtRatio(h.breakdownV3.pipelineToMinimal)} the minimal handler; the Lambda adapter around it (middy, Powertools' middlewares, the live dependencies and key ring) multiplies that by ${fmtRatio(h.breakdownV3.handlerToPipeline)}.${h.breakdownV3.pipelineToQuiet === undefined ? '' : ` Inside the pipeline, its log line and metric records multiply its time by ${fmtRatio(h.breakdownV3.pipelineToQuiet)} (the pipeline ÷ the same with a logger that does nothing); the project's richer store write alone makes the minimal handler ${fmtRatio(h.breakdownV3.storeWriteToMinimal ?? Number.NaN)} itself.`}` : ''} ${h.ratioToTunedMinimal ? `The minimal handlers use the SDK's client defaults, as a hand-written handler does; the project's client resolves its middleware stack once per command class and has no logger middleware (lib/orders/client.ts), about 50 µs less CPU per request (\`npx tsx scripts/perf/sdk.ts\`). Given those settings too, the minimal handlers put the ratio at v3 ${fmtRatio(h.ratioToTunedMinimal.v3)}, v2 ${fmtRatio(h.ratioToTunedMinimal.v2)}: the share of the gap that is the project's own code. ` : ''}The real handler wrote ${fmtInt(h.logBytesPerDelivery)} bytes of log lines and metric records per delivery.`,
  );
  out.push('');
  for (const n of h.notes) out.push(`- ${n}`);
}

function renderInit(out: string[], i: InitResult): void {
  out.push('');
  out.push('## f. Init with Powertools against the SDK, and the secret reads');
  out.push('');
  out.push(
    `${i.function} bundled as serverless-esbuild bundles it, required in fresh \`node\` children alternating with \`@aws-sdk/client-dynamodb\` alone; medians of ${i.spawns} spawns. Measured ${i.date}.`,
  );
  out.push('');
  const rows: (string | number)[][] = [];
  if (i.before)
    rows.push([
      `before: ${i.before.ref} (${i.before.label})`,
      `${round(i.before.bundleBytes / 1024, 1)} KiB`,
      ms(i.before.initMs),
      ms(i.before.ownMs),
    ]);
  rows.push(['this checkout', `${round(i.after.bundleBytes / 1024, 1)} KiB`, ms(i.after.initMs), ms(i.after.ownMs)]);
  rows.push(['@aws-sdk/client-dynamodb alone', '-', ms(i.sdkRequireMs), '-']);
  out.push(table(['bundle', 'size', 'init (require)', 'own share (SDK preloaded)'], rows));
  out.push('');
  out.push(
    `Over the SDK's own load: **+${i.after.ownMs} ms** (the own share; the difference of the two medians above is ${i.gapMs} ms). Where it goes: bundle bytes by package — ${i.bundleBytesByPackage
      .slice(0, 8)
      .map((p) => `${p.name} ${round(p.bytes / 1024, 1)} KiB`)
      .join(', ')}; each runtime package required alone with the SDK loaded — ${i.modulesWithSdkLoaded
      .map((m) => `${m.name} ${m.ms} ms`)
      .join(', ')}.`,
  );
  if (i.profileByPackage?.length) {
    out.push('');
    out.push(
      `CPU profile of the bundle's require with the SDK preloaded (unminified bundle, sampled every 50 µs, JavaScript time only, ms per require): ${i.profileByPackage
        .slice(0, 10)
        .map((p) => `${p.name} ${p.ms}`)
        .join(', ')}.`,
    );
  }
  out.push('');
  out.push(
    `Runtime secret reads (${i.secrets.parameters} SSM parameters, lib/secrets through Powertools Parameters, **stub SSM transport answering at once: there is no local SSM**): first resolution ${ms(i.secrets.firstReadMs)} (Powertools Parameters and \`@aws-sdk/client-ssm\` loaded on demand, with the DynamoDB client already loaded as in a notify function, then ${i.secrets.parameters} GetParameter calls through the SDK; this is cold-start time added to the first invocation), warm resolution from the cache ${ms(i.secrets.warmReadMs)} per invocation; the secrets code adds ${ms(i.secrets.requireMs)} to module load.`,
  );
  out.push('');
  for (const n of i.notes) out.push(`- ${n}`);
}

function renderShards(out: string[], r: ShardsResult): void {
  out.push('');
  out.push("## g. The pending index's write distribution over shards");
  out.push('');
  out.push(
    `${fmtInt(r.orders)} registrations through the project's store on ${r.engine === 'dynamodb-local' ? 'DynamoDB Local' : 'dynalite'}, ${r.shards} shards; writes counted by the pending-index key each registration sends, then the index read back shard by shard. Measured ${r.date}.`,
  );
  out.push('');
  out.push(
    table(
      ['shard key', 'registration writes', 'index items after'],
      Object.keys(r.writesByShard)
        .sort()
        .map((k) => [k, fmtInt(r.writesByShard[k] ?? 0), fmtInt(r.indexItemsByShard[k] ?? 0)]),
    ),
  );
  out.push('');
  out.push(
    `Busiest shard ${r.maxOverMean}× an even share, idlest ${r.minOverMean}× (the hash alone over 100,000 random order numbers: ${r.randomLetters.maxOverMean}× / ${r.randomLetters.minOverMean}×). A reconciliation listing page sends ${r.queriesPerListingPage} queries (one per shard). ${fmtInt(r.registrationsPerSecond)} registrations/s on this machine's local store.`,
  );
}

function renderBills(out: string[], b: BillsResult): void {
  out.push('');
  out.push('## j. A 1,000,000-row trade bill read as a stream');
  out.push('');
  out.push(
    `A generated bill (${fmtInt(b.rows)} rows, ${b.billMB} MB of text, ${b.gzipMB} MB gzipped) read the way a run reads the download: gunzip → lines → typed rows → the summary section checked against the rows (${b.summaryChecked ? 'it agreed' : '**it did not agree**'}), each payment noted in the run's fingerprint set, then the set searched once per payment as the paid-day pass searches it. In a process of its own, so the peak RSS is the bill's alone. Measured ${b.date}.`,
  );
  out.push('');
  out.push(
    table(
      [
        'rows',
        'rows/s',
        'payments noted',
        'found again',
        'fingerprints',
        'lookups/s',
        'RSS before',
        'peak RSS',
        'peak heap used',
      ],
      [
        [
          fmtInt(b.rows),
          fmtInt(b.rowsPerSecond),
          fmtInt(b.paymentsNoted),
          fmtInt(b.paymentsFoundAgain),
          `${b.fingerprintsMB} MB`,
          fmtInt(b.lookupsPerSecond),
          `${b.rssBeforeMB} MB`,
          `${b.peakRssMB} MB`,
          `${b.peakHeapUsedMB} MB`,
        ],
      ],
    ),
  );
}

function renderReconcile(out: string[], r: ReconcileScaleResult): void {
  out.push('');
  out.push('## h. Reconcile over many pending orders');
  out.push('');
  out.push(
    `${fmtInt(r.orders)} pending orders (registered here and created at the local WeChat Pay simulator; ${fmtInt(r.paidAtWechat)} of them paid there with no notification delivered), one reconcile run with the deployed settings (page ${r.options.pageSize}, concurrency ${r.options.concurrency}) and a budget of ${fmtInt(r.options.budget)} queries. Measured ${r.date}.`,
  );
  out.push('');
  out.push(
    table(
      ['figure', 'value'],
      [
        ['run time', `${r.seconds} s (${fmtInt(r.ordersPerSecond)} orders/s)`],
        [
          'orders read / queried / recovered / still pending / errors',
          `${r.scanned} / ${r.queried} / ${r.recovered} / ${r.stillPending} / ${r.errors}`,
        ],
        ['WeChat Pay API calls', `${fmtInt(r.wechatCalls)} (${r.queriesPerOrder} per order)`],
        [
          'DynamoDB requests',
          `${fmtInt(r.dynamoRequests)} (${r.requestsPerOrder} per order): ${Object.entries(r.dynamoByOperation)
            .map(([k, n]) => `${k} ${fmtInt(n)}`)
            .join(', ')}`,
        ],
        ['index pages (Query) per order', String(r.indexQueriesPerOrder)],
        [
          'capacity units',
          `${r.capacityUnits} (${Object.entries(r.capacityByOperation)
            .map(([k, n]) => `${k} ${n}`)
            .join(', ')})`,
        ],
        [
          'actions',
          Object.entries(r.actions)
            .map(([k, n]) => `${k} ${n}`)
            .join(', '),
        ],
        ['runs at the deployed budget', `${r.runsAtDeployedBudget} (budget ${r.options.deployedBudget} per run)`],
        [
          'registration',
          `${r.registration.requestsPerRegistration} request, ${r.registration.capacityPerRegistration} WCU per order (${r.registrationSeconds} s for all)`,
        ],
      ],
    ),
  );
  out.push('');
  out.push(
    "- Local figures: the simulator signs and verifies on the same 2 cores as the run, so the time per order is an upper bound of the service's own share; WeChat's real API answers in tens of milliseconds, which the run's concurrency overlaps.",
  );
}

function renderCost(out: string[], s: Sections): void {
  const c = costModel(s);
  if (!c) return;
  const usd = (n: number) => `$${n < 1 ? n.toFixed(3) : n.toFixed(2)}`;
  const lineRows = (ls: CostLine[]) => ls.map((l) => [l.item, usd(l.project), usd(l.powertools), l.basis]);
  out.push('');
  out.push('## i. Cost per million deliveries');
  out.push('');
  out.push(
    `On-demand prices of ${c.prices.region} as published (pages cited in bench/README.md; prices as of ${c.prices.asOf}, checked ${c.prices.checked}): Lambda arm64 $${c.prices.lambdaArmPerGbSecond}/GB-s and $${c.prices.lambdaPerMillionRequests}/M requests, API Gateway HTTP API $${c.prices.httpApiPerMillion}/M, DynamoDB $${c.prices.dynamoPerMillionWru}/M WRU and $${c.prices.dynamoPerMillionRru}/M RRU, Streams read by a Lambda trigger free. Free tiers left out. Computed from this run's figures: the handler's own time (section e) stretched ${c.assumptions.cpuStretch}× for the CPU share of ${c.assumptions.memoryMb} MB (one vCPU at ${c.assumptions.fullVcpuAtMb} MB), plus ${c.assumptions.dynamoLatencyMs} ms per DynamoDB request (assumed in-region latency), rounded up to Lambda's 1 ms; write units per delivery from section b.`,
  );
  out.push('');
  out.push('### A million first deliveries (each a new payment)');
  out.push('');
  out.push(table(['item', 'wechatpay-lambda', 'Powertools idempotency pattern', 'basis'], lineRows(c.firstDeliveries)));
  out.push('');
  out.push('### A million duplicates (WeChat delivering an applied payment again)');
  out.push('');
  out.push(table(['item', 'wechatpay-lambda', 'Powertools idempotency pattern', 'basis'], lineRows(c.duplicates)));
  out.push('');
  out.push('### How it grows');
  out.push('');
  out.push(
    table(
      [
        'deliveries per order (WeChat retries until acknowledged)',
        'wechatpay-lambda, per million orders',
        'Powertools pattern, per million orders',
      ],
      c.byDeliveriesPerOrder.map((g) => [
        String(g.deliveriesPerOrder),
        usd(g.projectPerMillionOrders),
        usd(g.powertoolsPerMillionOrders),
      ]),
    ),
  );
  out.push('');
  if (c.registrationPerMillion)
    out.push(
      `- Registrations (the merchant's code, DynamoDB only): ${usd(c.registrationPerMillion.usd)} per million (${c.registrationPerMillion.basis}); the same for either system, since both must know the order.`,
    );
  if (c.reconcilePerMillionQueries)
    out.push(
      `- Reconciliation: ${usd(c.reconcilePerMillionQueries.usd)} per million order queries (Lambda ${usd(c.reconcilePerMillionQueries.lambdaUsd)}, DynamoDB ${usd(c.reconcilePerMillionQueries.dynamoUsd)}; ${c.reconcilePerMillionQueries.basis}). An order is queried once per run while it is pending past the grace period: a payment whose notification arrives costs no query; one never paid is asked up to ${c.queriesPerUnpaidOrder} times over the horizon at the deployed schedule (less where closeAfterMinutes closes it).`,
    );
  if (c.coldStart)
    out.push(
      `- Cold starts (Lambda bills the INIT phase since 2025-08-01): ${c.coldStart.ms} ms here (module init, section f, plus the first secret resolution through the stub SSM transport, not stretched: real SSM latency adds to it) cost ${usd(c.coldStart.usdPerMillion)} per million cold starts; at one cold start per hundred deliveries, ${usd(c.coldStart.usdPerMillionDeliveriesAtOnePercent)} per million deliveries, the same order for either system (the Powertools pattern loads the same SDK and Powertools).`,
    );
  out.push(
    `- Duration is the figure to re-check on AWS: the local CPU is not Graviton, and DynamoDB's real latency replaces the assumed ${c.assumptions.dynamoLatencyMs} ms per request.`,
  );
}
