/** Each finding kind and each repair outcome, against the real store on DynamoDB Local. */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareRows, repair, type Finding } from '../../../lib/bills/compare';
import type { BillRow, OtherRow, PaymentRow, RefundRow } from '../../../lib/bills/reader';
import { createLogger } from '../../../lib/log';
import { createHarness, orderNo, type Harness } from '../../support/harness';
import { DEFAULT_PENDING_SHARDS, orderKey } from '../../../lib/orders/table';

let h: Harness;
let mchid: string;
const AT = '2026-11-29T02:00:00.000Z';
// the settle path's anomaly lines, as the run's logger writes them
const lines: Record<string, unknown>[] = [];
const logger = createLogger({ service: 'test', write: (line) => lines.push(JSON.parse(line)) });
const deps = () => ({
  store: h.store,
  table: { client: h.client, tableName: h.tableName, shards: DEFAULT_PENDING_SHARDS },
  logger,
});

beforeAll(async () => {
  h = await createHarness();
  mchid = h.keys.mchid;
});

const payment = (outTradeNo: string, totalFen: number, transactionId: string, subMchid?: string): PaymentRow => ({
  kind: 'PAYMENT',
  line: 2,
  at: AT,
  appid: 'wx1',
  mchid,
  subMchid,
  transactionId,
  outTradeNo,
  totalFen,
  settlementFen: totalFen,
});

const refundRow = (p: {
  outTradeNo: string;
  outRefundNo: string;
  refundId: string;
  fen: number;
  state?: string;
}): RefundRow => ({
  kind: 'REFUND',
  line: 3,
  at: AT,
  appid: 'wx1',
  mchid,
  subMchid: undefined,
  transactionId: 'TX',
  outTradeNo: p.outTradeNo,
  totalFen: 0,
  settlementFen: 0,
  refundId: p.refundId,
  outRefundNo: p.outRefundNo,
  refundState: p.state ?? 'SUCCESS',
  refundFen: p.fen,
  requestedRefundFen: p.fen,
});

async function* stream(rows: BillRow[]): AsyncGenerator<BillRow> {
  yield* rows;
}

async function judge(
  rows: BillRow[],
  dryRun = false,
): Promise<{ findings: Finding[]; totals: Awaited<ReturnType<typeof compareRows>> }> {
  const findings: Finding[] = [];
  const totals = await compareRows(deps(), stream(rows), { dryRun, pageSize: 2, concurrency: 2 }, (f) => {
    findings.push(f);
  });
  return { findings, totals };
}

async function paidOrder(amount: number, tx: string, merchantId = mchid): Promise<string> {
  const no = orderNo('C');
  await h.store.registerOrder({ outTradeNo: no, amountFen: amount, merchantId });
  await h.store.applyPayment(
    { outTradeNo: no, merchantId, transactionId: tx, amountFen: amount, paidAt: AT, channel: 'v3' },
    'reject',
  );
  return no;
}

describe('compareRows: payments', () => {
  it('MATCH, TRANSACTION_DIFFERS and AMOUNT_DIFFERS on paid orders, never overwritten', async () => {
    const a = await paidOrder(100, 'TXA');
    const b = await paidOrder(100, 'TXB');
    const c = await paidOrder(100, 'TXC');
    const { findings, totals } = await judge([
      payment(a, 100, 'TXA'),
      payment(b, 100, 'OTHER'),
      payment(c, 101, 'TXC'),
    ]);
    expect(findings.map((f) => [f.kind, f.repair])).toEqual([
      ['MATCH', 'NONE'],
      ['TRANSACTION_DIFFERS', 'NOT_REPAIRABLE'],
      ['AMOUNT_DIFFERS', 'NOT_REPAIRABLE'],
    ]);
    expect(findings[1]?.here).toMatchObject({ state: 'PAID', transactionId: 'TXB', amountFen: 100 });
    expect(totals.counts).toMatchObject({ MATCH: 1, TRANSACTION_DIFFERS: 1, AMOUNT_DIFFERS: 1, PAID_UNKNOWN_HERE: 0 });
    expect((await h.store.getOrder(mchid, b))?.transactionId).toBe('TXB');
    expect((await h.store.getOrder(mchid, c))?.paidFen).toBe(100);
  });

  it('an unknown payment is recorded (via bill); a dry run only says it would be', async () => {
    const no = orderNo('U');
    const dry = await judge([payment(no, 250, 'TXU')], true);
    expect(dry.findings[0]).toMatchObject({ kind: 'PAID_UNKNOWN_HERE', repair: 'DRY_RUN' });
    expect(await h.store.getOrder(mchid, no)).toBeUndefined();
    const wet = await judge([payment(no, 250, 'TXU')]);
    expect(wet.findings[0]).toMatchObject({ kind: 'PAID_UNKNOWN_HERE', repair: 'APPLIED' });
    expect(wet.totals.repaired).toBe(1);
    expect(await h.store.getOrder(mchid, no)).toMatchObject({
      state: 'PAID_UNVERIFIED',
      paidVia: 'bill',
      amountUnverified: true,
    });
    expect((await judge([payment(no, 250, 'TXU')])).findings[0]?.kind).toBe('MATCH');
  });

  it('unpaid or closed here: STATE_DIFFERS applied; another amount is reported instead', async () => {
    const open = orderNo('N');
    const closed = orderNo('K');
    const other = orderNo('M');
    for (const no of [open, closed, other])
      await h.store.registerOrder({ outTradeNo: no, amountFen: 300, merchantId: mchid });
    await h.store.applyClose(mchid, closed);
    const { findings } = await judge([payment(open, 300, 'T1'), payment(closed, 300, 'T2'), payment(other, 301, 'T3')]);
    expect(findings.map((f) => [f.kind, f.repair])).toEqual([
      ['STATE_DIFFERS', 'APPLIED'],
      ['STATE_DIFFERS', 'APPLIED'],
      ['AMOUNT_DIFFERS', 'NOT_REPAIRABLE'],
    ]);
    expect(await h.store.getOrder(mchid, closed)).toMatchObject({ state: 'PAID', previousState: 'CLOSED' });
    expect(await h.store.getOrder(mchid, other)).toMatchObject({ state: 'NOTPAY' });
  });

  it('a sub-merchant row is looked up under the sub-merchant; other trade states are only counted', async () => {
    const sub = '1900000109';
    const no = await paidOrder(100, 'TXS', sub);
    const other: OtherRow = { ...payment(no, 100, 'TXS'), kind: 'OTHER', tradeState: 'REVOKED' };
    const { findings, totals } = await judge([payment(no, 100, 'TXS', sub), other]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ kind: 'MATCH', merchantId: sub });
    expect(totals).toMatchObject({ rows: 2, notCompared: 1 });
  });
});

describe('compareRows: items the store would not write', () => {
  it('a paid order without a paid amount (written before paidFen existed) is compared by its registered amount', async () => {
    const no = orderNo('O');
    await h.client.send(
      new PutItemCommand({
        TableName: h.tableName,
        Item: {
          pk: { S: orderKey(mchid, no) },
          entity: { S: 'ORDER' },
          outTradeNo: { S: no },
          merchantId: { S: mchid },
          state: { S: 'PAID' },
          amountFen: { N: '70' },
          transactionId: { S: 'TXOLD' },
        },
      }),
    );
    const { findings } = await judge([payment(no, 70, 'TXOLD'), payment(no, 71, 'TXOLD')]);
    expect(findings.map((f) => f.kind)).toEqual(['MATCH', 'AMOUNT_DIFFERS']);
  });
});

describe('compareRows: refunds', () => {
  const report = (no: string, outRefundNo: string, state: 'SUCCESS' | 'ABNORMAL', fen = 40) => ({
    outRefundNo,
    outTradeNo: no,
    merchantId: mchid,
    refundId: `RID${outRefundNo}`,
    transactionId: 'TX',
    state,
    refundFen: fen,
    totalFen: 100,
    successAt: state === 'SUCCESS' ? AT : undefined,
    channel: 'v3' as const,
  });

  it('MATCH; amount or final state differing is reported; an open refund the bill settles is applied', async () => {
    const no = await paidOrder(100, `TXR${orderNo()}`);
    const [same, amount, closed, open] = ['S', 'A', 'C', 'O'].map((s) => `${s}${orderNo()}`) as [
      string,
      string,
      string,
      string,
    ];
    await h.store.applyRefund(report(no, same, 'SUCCESS'));
    await h.store.applyRefund(report(no, amount, 'SUCCESS'));
    await h.store.applyRefund(report(no, closed, 'SUCCESS'));
    await h.store.applyRefund(report(no, open, 'ABNORMAL'));
    const { findings } = await judge([
      refundRow({ outTradeNo: no, outRefundNo: same, refundId: `RID${same}`, fen: 40 }),
      refundRow({ outTradeNo: no, outRefundNo: amount, refundId: `RID${amount}`, fen: 39 }),
      refundRow({ outTradeNo: no, outRefundNo: closed, refundId: `RID${closed}`, fen: 40, state: 'REFUNDCLOSE' }),
      refundRow({ outTradeNo: no, outRefundNo: open, refundId: `RID${open}`, fen: 40 }),
    ]);
    expect(findings.map((f) => [f.kind, f.repair])).toEqual([
      ['MATCH', 'NONE'],
      ['REFUND_DIFFERS', 'NOT_REPAIRABLE'],
      ['REFUND_DIFFERS', 'NOT_REPAIRABLE'],
      ['REFUND_DIFFERS', 'APPLIED'],
    ]);
    expect(findings[1]?.here).toMatchObject({ state: 'SUCCESS', refundFen: 40 });
    expect(await h.store.getRefund(mchid, open)).toMatchObject({ state: 'SUCCESS' });
    expect(await h.store.getRefund(mchid, amount)).toMatchObject({ refundFen: 40 });
  });

  it("a successful refund of an order unknown here is recorded with the row's order total", async () => {
    const no = orderNo('Z');
    const orn = `Z${orderNo()}`;
    const row = { ...refundRow({ outTradeNo: no, outRefundNo: orn, refundId: 'RIDZ', fen: 20 }), totalFen: 0 };
    const { findings } = await judge([row]);
    expect(findings.map((f) => [f.kind, f.repair])).toEqual([['REFUND_UNKNOWN_HERE', 'APPLIED']]);
    expect(await h.store.getRefund(mchid, orn)).toMatchObject({ state: 'SUCCESS', refundFen: 20, totalFen: 0 });
  });

  it('an unknown refund: applied when the bill says SUCCESS, reported when it is still processing', async () => {
    const no = await paidOrder(100, `TXQ${orderNo()}`);
    const done = `D${orderNo()}`;
    const pending = `P${orderNo()}`;
    const { findings } = await judge([
      refundRow({ outTradeNo: no, outRefundNo: done, refundId: 'RIDD', fen: 30 }),
      refundRow({ outTradeNo: no, outRefundNo: pending, refundId: 'RIDP', fen: 30, state: 'PROCESSING' }),
    ]);
    expect(findings.map((f) => [f.kind, f.repair])).toEqual([
      ['REFUND_UNKNOWN_HERE', 'APPLIED'],
      ['REFUND_UNKNOWN_HERE', 'NOT_REPAIRABLE'],
    ]);
    expect(await h.store.getRefund(mchid, done)).toMatchObject({ state: 'SUCCESS', totalFen: 100, refundFen: 30 });
    expect(await h.store.getRefund(mchid, pending)).toBeUndefined();
  });
});

describe('repair', () => {
  it('tells applied, already applied and refused apart', async () => {
    const no = orderNo('R');
    const proof = {
      outTradeNo: no,
      merchantId: mchid,
      transactionId: 'T',
      amountFen: 5,
      paidAt: AT,
      channel: 'v3' as const,
    };
    expect(await repair(deps(), { payment: proof }, false)).toBe('APPLIED');
    // the settle path stamps the door's channel; an order never registered stays visibly unverified
    expect(await h.store.getOrder(mchid, no)).toMatchObject({ state: 'PAID_UNVERIFIED', paidVia: 'bill' });
    expect(await repair(deps(), { payment: proof }, false)).toBe('ALREADY_APPLIED');
    expect(await repair(deps(), { payment: { ...proof, transactionId: 'OTHER' } }, false)).toBe('REFUSED');
    // the conflict is the settle path's anomaly line, with the bill as its source
    expect(lines).toContainEqual(
      expect.objectContaining({ message: 'anomaly', source: 'bill', outTradeNo: no, transactionId: 'OTHER' }),
    );
  });

  it('records a refund once, and refuses a final state the bill contradicts', async () => {
    const no = await paidOrder(300, 'TXR');
    const refund = {
      outRefundNo: `${no}-r`,
      outTradeNo: no,
      merchantId: mchid,
      refundId: 'RID',
      transactionId: 'TXR',
      state: 'SUCCESS' as const,
      refundFen: 100,
      totalFen: 300,
      successAt: AT,
      channel: 'v3' as const,
    };
    expect(await repair(deps(), { refund }, false)).toBe('APPLIED');
    expect(await h.store.getRefund(mchid, `${no}-r`)).toMatchObject({ state: 'SUCCESS', refundFen: 100 });
    expect(await repair(deps(), { refund }, false)).toBe('ALREADY_APPLIED');
    expect(await repair(deps(), { refund: { ...refund, state: 'CLOSED' } }, false)).toBe('REFUSED');
    expect(await repair(deps(), { refund }, true)).toBe('DRY_RUN');
  });
});
