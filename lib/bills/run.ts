/**
 * One reconciliation of one day's bill (docs/bills.md): fetch it, read it once to check it whole
 * (structure, amounts, summary), and only then read it again to compare and repair. A bill that fails
 * any check changes nothing. The day's report is written whole, replacing an earlier run's.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Logger, METRIC_NAMESPACE } from '../log';
import type { OrderStore } from '../orders/store';
import { compareRows, type Finding, type CompareTotals } from './compare';
import { type BillFetch, type BillFetchDeps, type BillRequest, fetchTradeBill, openBill, removeBill } from './fetch';
import { BillReader, type BillSummary, checkBill } from './reader';

/** What a run needs. */
export interface BillRunDeps {
  fetch: BillFetchDeps;
  store: OrderStore;
  logger: Logger;
  /** Folder the day's JSON report is written to (.local/bills locally). */
  reportDir: string;
  /** Clock in ms, for the report's time. */
  now: () => number;
  /** Fetches the bill (default fetchTradeBill): a seam for a stored file. */
  fetchBill?: (deps: BillFetchDeps, req: BillRequest) => Promise<BillFetch>;
}

/** The report of one run, as written to the JSON file. */
export interface BillReport {
  billDate: string;
  merchantId: string;
  protocol: 'v2' | 'v3';
  dryRun: boolean;
  ranAt: string;
  sha1: string;
  summary: BillSummary;
  totals: CompareTotals;
  /** Every finding but MATCH, at most {@link MAX_REPORTED} of them. */
  findings: Finding[];
  findingsTruncated: boolean;
  /** What this run cannot see (docs/bills.md). */
  notChecked: string[];
}

/** The outcome of a run. */
export type BillRunResult = { kind: 'NOT_READY'; reason: string } | { kind: 'DONE'; report: BillReport; path: string };

/** Largest number of findings kept in a report: the counts stay exact beyond it. */
export const MAX_REPORTED = 10_000;

const NOT_CHECKED = [
  'PAID_HERE_NOT_IN_BILL: the order store has no way to list the PAID orders of a day, so payments recorded here and absent from the bill are not looked for',
];

/** Fetches, checks, compares and reports one day's bill for one merchant. */
export async function runBill(deps: BillRunDeps, req: BillRequest, opts: { dryRun: boolean }): Promise<BillRunResult> {
  const merchantId = req.subMchid ?? deps.fetch.client.config.mchid;
  const fetched = await (deps.fetchBill ?? fetchTradeBill)(deps.fetch, req);
  if (fetched.kind === 'NOT_READY') {
    deps.logger.log('info', 'bill not ready', {
      billDate: req.billDate,
      merchantId,
      outcome: 'NOT_READY',
      reason: fetched.reason,
    });
    return fetched;
  }
  try {
    // first pass: the whole bill must be sound before a single row may change the table
    const summary = await checkBill(openBill(fetched.path));
    const findings: Finding[] = [];
    const reader = new BillReader(openBill(fetched.path));
    const totals = await compareRows(
      { store: deps.store, logger: deps.logger },
      reader.rows(),
      { dryRun: opts.dryRun },
      (f) => {
        if (f.kind === 'MATCH') return;
        if (findings.length < MAX_REPORTED) findings.push(f);
        deps.logger.log('warn', 'bill discrepancy', {
          billDate: req.billDate,
          merchantId,
          orderId: f.outTradeNo,
          outRefundNo: f.outRefundNo,
          outcome: f.kind,
          repair: f.repair,
        });
      },
    );
    const report: BillReport = {
      billDate: req.billDate,
      merchantId,
      protocol: fetched.protocol,
      dryRun: opts.dryRun,
      ranAt: new Date(deps.now()).toISOString(),
      sha1: fetched.sha1,
      summary,
      totals,
      findings,
      findingsTruncated: findings.length < totals.rows - totals.counts.MATCH - totals.notCompared,
      notChecked: NOT_CHECKED,
    };
    const path = await writeReport(deps.reportDir, report);
    deps.logger.log('info', 'bill reconciled', {
      billDate: req.billDate,
      merchantId,
      outcome: 'DONE',
      rows: totals.rows,
      repaired: totals.repaired,
      ...metrics(deps.now(), totals),
    });
    return { kind: 'DONE', report, path };
  } finally {
    await removeBill(fetched.path);
  }
}

/** Each finding kind as a CloudWatch metric (embedded metric format) on the run's log line. */
function metrics(now: number, totals: CompareTotals): Record<string, unknown> {
  const names = Object.keys(totals.counts).map((kind) => `Bill${kind}`);
  return {
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        { Namespace: METRIC_NAMESPACE, Dimensions: [[]], Metrics: names.map((Name) => ({ Name, Unit: 'Count' })) },
      ],
    },
    ...Object.fromEntries(Object.entries(totals.counts).map(([kind, n]) => [`Bill${kind}`, n])),
    BillRepaired: totals.repaired,
  };
}

/** Writes the day's report (`<date>-<merchant>[-dry-run].json`) whole, replacing an earlier one. */
export async function writeReport(dir: string, report: BillReport): Promise<string> {
  await mkdir(dir, { recursive: true });
  const name = `${report.billDate}-${report.merchantId}${report.dryRun ? '-dry-run' : ''}.json`;
  const path = join(dir, name);
  const tmp = `${path}.tmp`;
  await writeFile(tmp, `${JSON.stringify(report, null, 2)}\n`);
  await rename(tmp, path);
  return path;
}
