/**
 * One run of a stored bill against DynamoDB Local (the fetch seam hands over a file, as the download
 * would): a dry run writes no item, a report lists at most its limit of findings with exact counts, a
 * sub-merchant's bill is reported under the sub-merchant, a bad bill changes nothing and leaves no
 * file, a bill not ready is an outcome, and the paid-day pass runs in a dry run too.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BillFetch } from '../../../lib/bills/fetch';
import { billReportRecorder, readBillReport } from '../../../lib/bills/reportItem';
import { type BillReport, type BillRunDeps, folderSink, reportName, runBill } from '../../../lib/bills/run';
import { PayError } from '../../../lib/errors';
import { DEFAULT_PENDING_SHARDS } from '../../../lib/orders/table';
import { createHarness, orderNo, type Harness } from '../../support/harness';
import { billText, HEADER, type TestRow } from './billText';

let h: Harness;
let dir: string;
const DAY = '2026-07-14';
const AT = '2026-07-14 10:00:00';

beforeAll(async () => {
  h = await createHarness();
  dir = await mkdtemp(join(tmpdir(), 'bills-runs-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A fetch that "downloads" `text` into the scratch folder, as fetchTradeBill leaves a checked bill. */
function stored(text: string): () => Promise<BillFetch> {
  return async () => {
    const path = join(dir, `bill-${orderNo('F')}.csv`);
    await writeFile(path, text);
    const sha1 = createHash('sha1').update(text).digest('hex');
    return { kind: 'READY', protocol: 'v2', path, bytes: Buffer.byteLength(text), sha1 };
  };
}

function deps(fetchBill: () => Promise<BillFetch>, extra: Partial<BillRunDeps> = {}): BillRunDeps {
  return {
    fetch: { client: { config: h.config } as BillRunDeps['fetch']['client'], dir },
    store: h.store,
    table: { client: h.client, tableName: h.tableName, shards: DEFAULT_PENDING_SHARDS },
    logger: h.logger,
    sink: folderSink(join(dir, 'reports')),
    recordReport: billReportRecorder(h.client, h.tableName),
    now: () => Date.parse('2026-07-15T02:30:00Z'),
    fetchBill,
    ...extra,
  };
}

const unknown = (outTradeNo: string, mchid = h.keys.mchid, subMchid?: string): TestRow => ({
  time: AT,
  mchid,
  ...(subMchid === undefined ? {} : { subMchid }),
  transactionId: `42000${outTradeNo.replace(/\D/g, '').slice(-20)}`,
  outTradeNo,
  state: 'SUCCESS',
  settlementFen: 100,
  totalFen: 100,
});

const scratchFiles = async () => (await readdir(dir)).filter((f) => f.startsWith('bill-'));

describe('runBill', () => {
  it('a dry run reports and writes nothing, its findings capped while its counts stay exact', async () => {
    const nos = [orderNo('D'), orderNo('D'), orderNo('D')];
    const run = await runBill(
      deps(stored(billText(nos.map((no) => unknown(no)))), { maxReported: 2 }),
      { billDate: DAY },
      { dryRun: true },
    );
    if (run.kind !== 'DONE') throw new Error('expected a report');
    expect(run.report.totals.counts.PAID_UNKNOWN_HERE).toBe(3);
    expect(run.report.findings).toHaveLength(2);
    expect(run.report.findingsTruncated).toBe(true);
    expect(run.report.findings.every((f) => f.repair === 'DRY_RUN')).toBe(true);
    expect(run.path).toMatch(/-dry-run\.json$/);
    for (const no of nos) expect(await h.store.getOrder(h.keys.mchid, no)).toBeUndefined();
    expect(await readBillReport(h.client, h.tableName, h.keys.mchid, DAY)).toBeUndefined();
    expect(await scratchFiles()).toEqual([]);
  });

  it("reports a sub-merchant's bill under the sub-merchant, and runs without a report item when none is wanted", async () => {
    const sub = '1900000601';
    const no = orderNo('S');
    const run = await runBill(
      deps(stored(billText([unknown(no, h.keys.mchid, sub)])), { recordReport: undefined }),
      { billDate: DAY, subMchid: sub },
      { dryRun: false },
    );
    if (run.kind !== 'DONE') throw new Error('expected a report');
    expect(run.report).toMatchObject({ merchantId: sub, protocol: 'v2', findingsTruncated: false });
    expect(run.path.endsWith(reportName({ billDate: DAY, merchantId: sub, dryRun: false }))).toBe(true);
    const onDisk = JSON.parse(await readFile(run.path, 'utf8')) as BillReport;
    expect(onDisk.findings).toMatchObject([{ kind: 'PAID_UNKNOWN_HERE', repair: 'APPLIED', merchantId: sub }]);
    expect(await h.store.getOrder(sub, no)).toMatchObject({ state: 'PAID_UNVERIFIED', paidVia: 'bill' });
    expect(await readBillReport(h.client, h.tableName, sub, DAY)).toBeUndefined();
  });

  it('a bill that fails its checks changes nothing and leaves no file behind', async () => {
    const no = orderNo('X');
    const good = billText([unknown(no)]);
    for (const bad of [
      good.replace('`1,`1.00', '`2,`1.00'),
      `${HEADER}\n`,
      good.replace('`1.00,`0.00', '`1.0x,`0.00'),
      good.replace(/\n[^\n]*\n$/, '\n'),
    ]) {
      const err = await runBill(deps(stored(bad)), { billDate: DAY }, { dryRun: false }).catch((e: unknown) => e);
      expect(err, bad.slice(-80)).toBeInstanceOf(PayError);
      expect((err as PayError).kind).toBe('MALFORMED');
    }
    expect(await h.store.getOrder(h.keys.mchid, no)).toBeUndefined();
    expect(await scratchFiles()).toEqual([]);
  });

  it('a bill not ready is an outcome, logged, with nothing written', async () => {
    const before = h.logs.length;
    const result = await runBill(
      deps(async () => ({ kind: 'NOT_READY', reason: 'STATEMENT_CREATING' })),
      { billDate: DAY, subMchid: '1900000602' },
      { dryRun: false },
    );
    expect(result).toEqual({ kind: 'NOT_READY', reason: 'STATEMENT_CREATING' });
    expect(h.logs.slice(before)).toContainEqual(
      expect.objectContaining({ message: 'bill not ready', merchantId: '1900000602', outcome: 'NOT_READY' }),
    );
  });

  it('looks for payments missing from the bill in a dry run too, and counts them in the alarm metric', async () => {
    const m = '1900000603';
    const listed = orderNo('L');
    const missing = orderNo('M');
    for (const no of [listed, missing]) {
      await h.store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: m });
      await h.store.applyPayment(
        {
          outTradeNo: no,
          merchantId: m,
          transactionId: `TX${no}`,
          amountFen: 100,
          paidAt: '2026-07-14T02:00:00.000Z',
          channel: 'v3',
        },
        'reject',
      );
    }
    const row = { ...unknown(listed, h.keys.mchid, m), transactionId: `TX${listed}` };
    const run = await runBill(deps(stored(billText([row]))), { billDate: DAY, subMchid: m }, { dryRun: true });
    if (run.kind !== 'DONE') throw new Error('expected a report');
    expect(run.report.totals.counts).toMatchObject({ MATCH: 1, PAID_HERE_NOT_IN_BILL: 1 });
    expect(run.report.findings).toMatchObject([{ kind: 'PAID_HERE_NOT_IN_BILL', outTradeNo: missing, line: 0 }]);
    expect(h.logs).toContainEqual(
      expect.objectContaining({ message: 'bill discrepancy', orderId: missing, outcome: 'PAID_HERE_NOT_IN_BILL' }),
    );
    expect(h.logs.filter((l) => 'BillDiscrepancies' in l).at(-1)).toMatchObject({ BillDiscrepancies: 1 });
  });
});
