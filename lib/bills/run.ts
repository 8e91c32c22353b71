/**
 * One reconciliation of one day's bill (the README's "Next-day bill reconciliation"): fetch it, read it once to check it whole
 * (structure, amounts, summary), and only then read it again to compare and repair. A bill that fails
 * any check changes nothing. The day's report is written whole, replacing an earlier run's.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log';
import type { OrderStore } from '../orders/store';
import { compareRows, compareUnbilled, type Finding, type CompareTotals } from './compare';
import { type BillFetch, type BillFetchDeps, type BillRequest, fetchTradeBill, openBill, removeBill } from './fetch';
import { BillReader, type BillSummary, checkBill } from './reader';
import { type BillTable, SeenOrders } from './table';

/** What a run needs. */
export interface BillRunDeps {
  fetch: BillFetchDeps;
  store: OrderStore;
  /** The table's bulk reads: a page of the bill at a time, and the paid-day index. */
  table: BillTable;
  logger: Logger;
  /** Where the day's JSON report is written (a folder locally, the stack's S3 bucket in AWS). */
  sink: ReportSink;
  /** Writes the table's report item of the run (one per day and merchant, overwritten); absent: none. */
  recordReport?: (report: BillReport, location: string) => Promise<void>;
  /** The stage, for the metrics' dimensions (`service` is on every log line already). */
  stage?: string;
  /** Clock in ms, for the report's time. */
  now: () => number;
  /** Most findings a report lists (default {@link MAX_REPORTED}). */
  maxReported?: number;
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
  /** What this run cannot see (the README's "Next-day bill reconciliation"). */
  notChecked: string[];
}

/** Writes a report named `name` whole, replacing an earlier one of that name; answers where it went. */
export type ReportSink = (name: string, body: string) => Promise<string>;

/** The outcome of a run. */
export type BillRunResult = { kind: 'NOT_READY'; reason: string } | { kind: 'DONE'; report: BillReport; path: string };

/** Largest number of findings kept in a report: the counts stay exact beyond it. */
export const MAX_REPORTED = 10_000;

const NOT_CHECKED = [
  'refunds recorded here and absent from the bill: refunds are not listed by day',
  'PAID_HERE_NOT_IN_BILL for payments recorded before the paid-by-day index existed (they carry no paidDay)',
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
    const onFinding = (f: Finding) => {
      if (f.kind === 'MATCH') return;
      if (findings.length < (deps.maxReported ?? MAX_REPORTED)) findings.push(f);
      deps.logger.log('warn', 'bill discrepancy', {
        billDate: req.billDate,
        merchantId,
        orderId: f.outTradeNo,
        outRefundNo: f.outRefundNo,
        outcome: f.kind,
        repair: f.repair,
      });
    };
    const reader = new BillReader(openBill(fetched.path));
    const compare = { store: deps.store, table: deps.table, logger: deps.logger };
    // the bill's orders, 8 bytes each, so the paid-day pass can tell which of the day's payments it listed
    const seen = new SeenOrders();
    const totals = await compareRows(compare, reader.rows(), { dryRun: opts.dryRun, seen }, onFinding);
    await compareUnbilled(compare, { billDate: req.billDate, merchantId }, seen, totals, onFinding);
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
      findingsTruncated: findings.length < discrepancies(totals),
      notChecked: NOT_CHECKED,
    };
    const path = await deps.sink(reportName(report), `${JSON.stringify(report, null, 2)}\n`);
    // a dry run changed nothing and is not the day's record: only its file is written
    if (!opts.dryRun && deps.recordReport !== undefined) await deps.recordReport(report, path);
    logMetrics(deps, report);
    return { kind: 'DONE', report, path };
  } finally {
    await removeBill(fetched.path);
  }
}

/** Non-MATCH findings of a run: what the alarm watches. */
export function discrepancies(totals: CompareTotals): number {
  return Object.entries(totals.counts).reduce((sum, [kind, n]) => (kind === 'MATCH' ? sum : sum + n), 0);
}

/**
 * The run's metrics (embedded metric format, the README's "Deploying"'s contract): one line per finding kind,
 * `BillFindings` in dimensions {service, stage, kind} (a metric line holds one value per name, so one
 * line per kind), then the run's line with `BillDiscrepancies` (every kind but MATCH, the alarm's
 * metric) and `BillRepaired` in {service, stage}.
 */
function logMetrics(deps: BillRunDeps, report: BillReport): void {
  const { totals } = report;
  const ref = { billDate: report.billDate, merchantId: report.merchantId };
  for (const [kind, n] of Object.entries(totals.counts)) {
    deps.logger.count({ BillFindings: n }, { kind }, ref);
  }
  deps.logger.count({ BillDiscrepancies: discrepancies(totals), BillRepaired: totals.repaired }, {}, ref);
  deps.logger.log('info', 'bill reconciled', {
    ...ref,
    outcome: 'DONE',
    rows: totals.rows,
    counts: totals.counts,
  });
}

/** The report's name: `<date>-<merchant>[-dry-run].json`, one per day and merchant, so a re-run replaces it. */
export function reportName(report: Pick<BillReport, 'billDate' | 'merchantId' | 'dryRun'>): string {
  return `${report.billDate}-${report.merchantId}${report.dryRun ? '-dry-run' : ''}.json`;
}

/** The local sink: the report in `dir`, written to a scratch name and renamed, so it is never half written. */
export function folderSink(dir: string): ReportSink {
  return async (name, body) => {
    await mkdir(dir, { recursive: true });
    const path = join(dir, name);
    const tmp = `${path}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, path);
    return path;
  };
}
