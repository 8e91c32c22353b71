/**
 * Bills: reading a generated 1,000,000-row trade bill as a stream, the way a run reads the downloaded
 * file (gunzip → lines → typed rows → summary check), each payment row noted in the run's fingerprint
 * set (lib/bills/table.ts SeenOrders, what the PAID_HERE_NOT_IN_BILL pass keeps: 8 bytes a row), then
 * the set sealed and searched once per payment row, as the paid-day pass searches it. Reports rows per
 * second and the peak RSS, to show that memory stays bounded while the bill is far larger. Runnable alone:
 *
 *   npx tsx bench/sections/bills.ts [rows]
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { BillReader } from '../../lib/bills/reader';
import { SeenOrders } from '../../lib/bills/table';

const HEADER =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,' +
  '应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,' +
  '手续费,费率,订单金额,申请退款金额,费率备注';
const SUMMARY = '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额';

const yuan = (fen: number) => {
  const s = String(Math.abs(fen)).padStart(3, '0');
  return `${fen < 0 ? '-' : ''}${s.slice(0, -2)}.${s.slice(-2)}`;
};

/** A bill of `rows` rows (one in ten a refund), produced line by line, never held whole. */
function* billLines(rows: number): Generator<string> {
  yield `${HEADER}\r\n`;
  const sums = [0, 0, 0, 0, 0, 0];
  for (let i = 0; i < rows; i += 1) {
    const refund = i % 10 === 9;
    const total = refund ? 0 : 100 + (i % 100_000);
    const back = refund ? 10 + (i % 90) : 0;
    const fee = refund ? -Math.round((back * 6) / 1000) : Math.round((total * 6) / 1000);
    sums[0] = (sums[0] as number) + total;
    sums[1] = (sums[1] as number) + back;
    sums[3] = (sums[3] as number) + fee;
    sums[4] = (sums[4] as number) + total;
    sums[5] = (sums[5] as number) + back;
    const no = String(i).padStart(10, '0');
    const f = [
      '2026-11-29 12:34:56',
      'wxd930ea5d5a258f4f',
      '1230000109',
      '0',
      '',
      `4200000000000000${no}`,
      `BENCH${no}`,
      'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
      'JSAPI',
      refund ? 'REFUND' : 'SUCCESS',
      'OTHERS',
      'CNY',
      yuan(total),
      '0.00',
      refund ? `50300000000000000${no}` : '',
      refund ? `RBENCH${no}` : '',
      yuan(back),
      '0.00',
      refund ? 'ORIGINAL' : '',
      refund ? 'SUCCESS' : '',
      'bench goods',
      '',
      yuan(fee),
      '0.60%',
      yuan(total),
      yuan(back),
      '',
    ];
    yield `\`${f.join(',`')}\r\n`;
  }
  yield `${SUMMARY}\r\n\`${[String(rows), ...sums.map(yuan)].join(',`')}\r\n`;
}

/** What one run reports (printed as JSON; bench/run.ts runs this file in a child process of its own so the peak RSS is the bill's alone). */
export interface BillsResult {
  date: string;
  rows: number;
  summaryChecked: boolean;
  billMB: number;
  gzipMB: number;
  seconds: number;
  rowsPerSecond: number;
  paymentsNoted: number;
  paymentsFoundAgain: number;
  fingerprintsMB: number;
  lookupsPerSecond: number;
  rssBeforeMB: number;
  peakRssMB: number;
  peakHeapUsedMB: number;
  node: string;
}

async function main(): Promise<void> {
  const rows = Number(process.argv[2] ?? 1_000_000);
  const dir = await mkdtemp(join(tmpdir(), 'bench-bills-'));
  const file = join(dir, 'bill.csv.gz');
  try {
    await pipeline(Readable.from(billLines(rows)), createGzip(), createWriteStream(file));
    const gz = (await stat(file)).size;
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    let peakHeap = process.memoryUsage().heapUsed;
    let bytes = 0;
    const source = createReadStream(file).pipe(createGunzip());
    source.on('data', (c: Buffer) => {
      bytes += c.length;
    });
    const started = process.hrtime.bigint();
    const reader = new BillReader(source);
    const seen = new SeenOrders();
    let read = 0;
    for await (const row of reader.rows()) {
      read += 1;
      if (row.kind === 'PAYMENT') seen.add(row.subMchid ?? row.mchid, row.outTradeNo);
      if (read % 10_000 === 0) {
        const m = process.memoryUsage();
        peakRss = Math.max(peakRss, m.rss);
        peakHeap = Math.max(peakHeap, m.heapUsed);
      }
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    // the paid-day pass: every entry of the day looked up once (here: every payment, all found)
    const lookupStarted = process.hrtime.bigint();
    seen.seal();
    let found = 0;
    for (let i = 0; i < rows; i += 1) {
      if (i % 10 !== 9 && seen.has('1230000109', `BENCH${String(i).padStart(10, '0')}`)) found += 1;
    }
    const lookupSeconds = Number(process.hrtime.bigint() - lookupStarted) / 1e9;
    const after = process.memoryUsage();
    peakRss = Math.max(peakRss, after.rss);
    peakHeap = Math.max(peakHeap, after.heapUsed);
    const mb = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;
    const result: BillsResult = {
      date: new Date().toISOString(),
      rows: read,
      summaryChecked: reader.summary?.count === rows,
      billMB: mb(bytes),
      gzipMB: mb(gz),
      seconds: Math.round(seconds * 100) / 100,
      rowsPerSecond: Math.round(read / seconds),
      paymentsNoted: seen.size,
      paymentsFoundAgain: found,
      fingerprintsMB: mb(seen.size * 8),
      lookupsPerSecond: Math.round(found / lookupSeconds),
      rssBeforeMB: mb(rssBefore),
      peakRssMB: mb(Math.max(peakRss, process.resourceUsage().maxRSS * 1024)),
      peakHeapUsedMB: mb(peakHeap),
      node: process.version,
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (require.main === module) void main();
