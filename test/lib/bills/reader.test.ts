import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BillReader, checkBill, lines, signedFen, type BillRow } from '../../../lib/bills/reader';
import { PayError } from '../../../lib/errors';
import { billText, chunks, HEADER, rowLine, SUMMARY_HEADER, summaryLine, yuan, type TestRow } from './billText';

async function readAll(text: string | Buffer, size = 7): Promise<{ rows: BillRow[]; reader: BillReader }> {
  const reader = new BillReader(chunks(text, size));
  const rows: BillRow[] = [];
  for await (const r of reader.rows()) rows.push(r);
  return { rows, reader };
}

async function rejection(text: string | Buffer): Promise<PayError> {
  try {
    await readAll(text);
  } catch (err) {
    expect(err).toBeInstanceOf(PayError);
    expect((err as PayError).kind).toBe('MALFORMED');
    return err as PayError;
  }
  throw new Error('the bill was accepted');
}

const pay = (n: number, fen = 1234): TestRow => ({
  transactionId: `42000${String(n).padStart(10, '0')}`,
  outTradeNo: `order-${n}`,
  state: 'SUCCESS',
  settlementFen: fen,
  totalFen: fen,
  feeFen: 7,
});
const refund = (n: number, fen = 500): TestRow => ({
  transactionId: `42000${String(n).padStart(10, '0')}`,
  outTradeNo: `order-${n}`,
  state: 'REFUND',
  settlementFen: 0,
  totalFen: 0,
  refundId: `50300${String(n).padStart(10, '0')}`,
  outRefundNo: `refund-${n}`,
  refundFen: fen,
  requestedRefundFen: fen,
  refundState: 'SUCCESS',
  feeFen: -3,
});

describe('BillReader', () => {
  it('reads payments, refunds and other rows and checks the summary', async () => {
    const rows = [pay(1), refund(1), { ...pay(2), state: 'REVOKED' as const }];
    const { rows: read, reader } = await readAll(billText(rows));
    expect(read.map((r) => r.kind)).toEqual(['PAYMENT', 'REFUND', 'OTHER']);
    expect(read[0]).toMatchObject({
      kind: 'PAYMENT',
      line: 2,
      outTradeNo: 'order-1',
      totalFen: 1234,
      at: '2026-11-29T02:00:00.000Z',
      mchid: '1230000109',
      subMchid: undefined,
    });
    expect(read[1]).toMatchObject({ kind: 'REFUND', outRefundNo: 'refund-1', refundFen: 500, refundState: 'SUCCESS' });
    expect(read[2]).toMatchObject({ kind: 'OTHER', tradeState: 'REVOKED' });
    expect(reader.summary).toEqual({
      count: 3,
      settlementFen: 2468,
      refundFen: 500,
      rechargeRefundFen: 0,
      feeFen: 11,
      totalFen: 2468,
      requestedRefundFen: 500,
    });
  });

  it('accepts a BOM, CRLF line ends and a missing final newline, in any chunking', async () => {
    const rows = [pay(1), pay(2, 1), refund(2, 1)];
    const text = `\uFEFF${billText(rows, '\r\n').replace(/\r\n$/, '')}`;
    for (const size of [1, 2, 3, 64, 100_000]) {
      const { rows: read, reader } = await readAll(text, size);
      expect(read).toHaveLength(3);
      expect(reader.summary?.count).toBe(3);
    }
  });

  it('keeps a comma inside a field (a product name) and reads the sub-merchant', async () => {
    const { rows } = await readAll(billText([{ ...pay(1), product: 'tea, green', subMchid: '1900000109' }]));
    expect(rows[0]).toMatchObject({ subMchid: '1900000109', totalFen: 1234 });
  });

  it('reads an empty day (header and a zero summary)', async () => {
    expect(await checkBill(chunks(billText([])))).toMatchObject({ count: 0, totalFen: 0 });
  });

  it('round-trips generated bills exactly (property)', async () => {
    const row = fc.record({
      n: fc.integer({ min: 0, max: 1e9 }),
      refund: fc.boolean(),
      fen: fc.integer({ min: 0, max: 10_000_000_000 }),
      fee: fc.integer({ min: -1_000_000, max: 1_000_000 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(row, { maxLength: 30 }), fc.integer({ min: 1, max: 50 }), async (spec, size) => {
        const rows = spec.map((s) => ({ ...(s.refund ? refund(s.n, s.fen) : pay(s.n, s.fen)), feeFen: s.fee }));
        const { rows: read, reader } = await readAll(billText(rows), size);
        expect(read.map((r) => (r.kind === 'REFUND' ? r.refundFen : r.totalFen))).toEqual(spec.map((s) => s.fen));
        expect(reader.summary?.feeFen).toBe(spec.reduce((a, s) => a + s.fee, 0));
      }),
      { numRuns: 60 },
    );
  });

  it('reads any two-decimal yuan amount as exact fen (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (fen) => {
        expect(signedFen(yuan(fen), 'x')).toBe(fen);
        expect(signedFen(yuan(-fen), 'x')).toBe(fen === 0 ? 0 : -fen);
      }),
    );
  });
});

describe('BillReader refuses a defective bill', () => {
  const good = [pay(1), refund(1)];
  const body = (lines: string[]) => [HEADER, ...lines, SUMMARY_HEADER, summaryLine(good), ''].join('\n');

  it('a field without its backtick', async () => {
    const line = rowLine(good[0] as TestRow).replace('`order-1', 'order-1');
    expect((await rejection(body([line, rowLine(good[1] as TestRow)]))).reason).toMatch(/fields where the header/);
    expect((await rejection(body([line.slice(1), rowLine(good[1] as TestRow)]))).reason).toMatch(/backtick/);
  });

  it('a wrong column count', async () => {
    const line = `${rowLine(good[0] as TestRow)},\`extra`;
    expect((await rejection(body([line, rowLine(good[1] as TestRow)]))).reason).toMatch(/28 fields/);
  });

  it('a bad amount, a fraction of a fen, a bad time, a bad id', async () => {
    for (const [from, to] of [
      ['`12.34,`0.00,`', '`12.3x,`0.00,`'],
      ['`12.34,`0.00,`', '`12.345,`0.00,`'],
      ['`12.34,`0.00,`', '`1e3,`0.00,`'],
      ['2026-11-29 10:00:00', '2026-11-31 10:00:00'],
      ['`order-1', '`order 1'],
    ] as const) {
      const line = rowLine(good[0] as TestRow).replace(from, to);
      expect(line).not.toBe(rowLine(good[0] as TestRow));
      await rejection(body([line, rowLine(good[1] as TestRow)]));
    }
  });

  it('a summary that disagrees with the rows: count or any sum', async () => {
    for (const [i, v] of [
      [0, '3'],
      [1, '12.35'],
      [2, '5.01'],
      [4, '0.05'],
      [5, '0.00'],
      [6, '5.10'],
    ] as const) {
      const text = [HEADER, ...good.map(rowLine), SUMMARY_HEADER, summaryLine(good, { [i]: v }), ''].join('\n');
      const err = await rejection(text);
      expect(err.reason).toMatch(/summary/);
    }
  });

  it('a truncated file: no summary, a cut row, nothing at all', async () => {
    const full = billText(good);
    expect((await rejection(full.slice(0, full.indexOf(SUMMARY_HEADER)))).reason).toMatch(/truncated/);
    await rejection(full.slice(0, full.indexOf(SUMMARY_HEADER) - 20));
    expect((await rejection('')).reason).toMatch(/empty/);
    await rejection(full.slice(0, full.length - 8));
  });

  it('a header without a needed column, text after the summary, invalid UTF-8, a huge line', async () => {
    await rejection(billText(good).replace('商户订单号', '订单号'));
    await rejection(`${billText(good)}\`1,\`2\n`);
    await rejection(Buffer.concat([Buffer.from(billText(good).slice(0, 40)), Buffer.from([0xff, 0x0a])]));
    await rejection(`${HEADER}\n\`${'x'.repeat(70_000)}\n`);
    await rejection(`\`${HEADER}\n`);
    await rejection(billText(good).replace(SUMMARY_HEADER, `${SUMMARY_HEADER},x`));
  });

  it('a malformed sub-merchant, and sums past the safe integer range', async () => {
    await rejection(billText([{ ...pay(1), subMchid: '19x' }]));
    const huge = { ...pay(1, 5e15), feeFen: 0 };
    expect((await rejection(billText([huge, { ...huge, outTradeNo: 'order-2' }]))).reason).toMatch(/overflow/);
  });

  it('a header naming a column twice, a malformed trade or refund state', async () => {
    expect((await rejection(billText(good).replace('商户订单号', '商户订单号,商户订单号'))).reason).toMatch(/twice/);
    const payLine = rowLine(good[0] as TestRow);
    const refundLine = rowLine(good[1] as TestRow);
    expect(payLine).toContain('`SUCCESS');
    await rejection(body([payLine.replace('`SUCCESS', '`paid!'), refundLine]));
    expect(refundLine).toContain('`REFUND');
    const badRefund = refundLine.replace(/`SUCCESS(?=,)/, '`done; DROP');
    expect(badRefund).not.toBe(refundLine);
    await rejection(body([payLine, badRefund]));
  });

  it('a summary count that is not a number', async () => {
    await rejection([HEADER, ...good.map(rowLine), SUMMARY_HEADER, summaryLine(good, { 0: 'two' }), ''].join('\n'));
  });
});

describe('lines and amounts', () => {
  it('accepts blank lines after the summary (and only there)', async () => {
    const text = `${billText([pay(1), refund(1)])}\n\r\n`;
    expect((await readAll(text)).rows).toHaveLength(2);
  });

  it('reads text chunks as well as bytes, and refuses an over-long line found whole in one chunk', async () => {
    async function* text(parts: string[]): AsyncGenerator<string> {
      yield* parts;
    }
    const got: string[] = [];
    for await (const l of lines(text(['a\nb', 'c\n']))) got.push(l.text);
    expect(got).toEqual(['a', 'bc']);
    const long = lines(text([`${'x'.repeat(70_000)}\n`]));
    await expect(
      (async () => {
        for await (const _ of long) void _;
      })(),
    ).rejects.toThrow(/too long/);
  });

  it('reads a negative zero fee as zero', () => {
    expect(Object.is(signedFen('-0.00', 'fee'), 0)).toBe(true);
    expect(signedFen('-1.25', 'fee')).toBe(-125);
  });
});

describe('lines', () => {
  it('numbers lines and strips CR', async () => {
    const got: string[] = [];
    for await (const l of lines(chunks('a\r\nb\n\nc', 1))) got.push(`${l.line}:${l.text}`);
    expect(got).toEqual(['1:a', '2:b', '3:', '4:c']);
  });
});

describe('BillReader memory', () => {
  it('reads a bill far larger than its heap growth (rows are never held)', async () => {
    const rows = 1_000_000;
    let bytes = 0;
    async function* lazy(): AsyncGenerator<Uint8Array> {
      const header = Buffer.from(`${HEADER}\n`);
      bytes += header.length;
      yield header;
      let batch = '';
      for (let i = 0; i < rows; i += 1) {
        const r = pay(i, 100 + (i % 1000));
        batch += `${rowLine(r)}\n`;
        if (i % 1000 === 999) {
          bytes += Buffer.byteLength(batch);
          yield Buffer.from(batch);
          batch = '';
        }
      }
      // the summary is computed from the same formula without keeping the rows
      let total = 0;
      for (let i = 0; i < rows; i += 1) total += 100 + (i % 1000);
      yield Buffer.from(
        `${SUMMARY_HEADER}\n${['`'.concat(String(rows)), `\`${yuan(total)}`, '`0.00', '`0.00', `\`${yuan(7 * rows)}`, `\`${yuan(total)}`, '`0.00'].join(',')}\n`,
      );
    }
    const start = process.memoryUsage().heapUsed;
    let peak = start;
    let n = 0;
    const reader = new BillReader(lazy());
    for await (const _ of reader.rows()) {
      n += 1;
      if (n % 5000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    expect(n).toBe(rows);
    expect(reader.summary?.count).toBe(rows);
    // the bill is about 210 MB; a reader that kept its rows (objects, not text) would grow by more than that
    expect(bytes).toBeGreaterThan(200 * 1024 * 1024);
    expect(peak - start).toBeLessThan(bytes / 2);
  }, 120_000);
});
