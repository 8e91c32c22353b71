/**
 * The one settle path over the real store (DynamoDB Local). First the settle functions themselves
 * (every outcome, its label, its anomalies, its refusal, and what the item records as its channel);
 * then each door that learns of a payment (a notification, closeOrder's order query, reconciliation)
 * driven through its own entry point, proving the three anomalies an operator watches for —
 * REFUND_EXCEEDS_TOTAL, PAID_AFTER_CLOSE, MERCHANT_MISMATCH — come out as the same line from each.
 * WeChat's side of closeOrder and reconcile is a scripted client: the races staged here (a close
 * recorded while WeChat refuses ORDERPAID) cannot be produced on demand by the simulator.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { closeOrder } from '../../../lib/close/closeOrder';
import { PayError } from '../../../lib/errors';
import { createLogger, type Logger } from '../../../lib/log';
import { handleNotification } from '../../../lib/notify/handle';
import type { Anomaly, PaymentReport, RefundReport } from '../../../lib/orders/model';
import { reconcileOne } from '../../../lib/reconcile/reconcile';
import {
  flagMismatch,
  settleClose,
  settlePayment,
  settleRefund,
  type SettleDeps,
  type SettleSource,
} from '../../../lib/settle/settle';
import { wechatRefusal } from '../../../lib/wechatpay/apiError';
import type { WechatPayClient } from '../../../lib/wechatpay/client';
import type { Transaction } from '../../../lib/wechatpay/v3/transaction';
import { v3Notification, v3TransactionResource } from '../../../scripts/simulator/messages';
import { createHarness, orderNo, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

/** A logger of its own per test, so the lines checked are only that test's. */
function recorder(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return {
    lines,
    logger: createLogger({ service: 'test', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }),
  };
}

const settleDeps = (logger: Logger, policy: 'record' | 'reject' = 'record'): SettleDeps => ({
  store: h.store,
  logger,
  config: { unknownOrderPolicy: policy },
});

const payment = (no: string, over: Partial<PaymentReport> = {}): PaymentReport => ({
  outTradeNo: no,
  merchantId: h.keys.mchid,
  transactionId: `4200${no}`.slice(0, 32),
  amountFen: 100,
  paidAt: '2026-11-30T01:02:03.000Z',
  channel: 'v3',
  ...over,
});

const refund = (no: string, rn: string, fen: number, over: Partial<RefundReport> = {}): RefundReport => ({
  outRefundNo: rn,
  outTradeNo: no,
  merchantId: h.keys.mchid,
  refundId: `50${rn}`,
  transactionId: undefined,
  state: 'SUCCESS',
  refundFen: fen,
  totalFen: 100,
  successAt: '2026-11-30T02:00:00.000Z',
  channel: 'v3',
  ...over,
});

/** The anomaly lines, each checked to follow its own Anomaly metric record ({service, stage}, the kind a property). */
const anomalies = (lines: Array<Record<string, unknown>>) =>
  lines.filter((l, i) => {
    if (l.message !== 'anomaly') return false;
    expect(lines[i - 1]).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: 'WechatPayLambda',
            Dimensions: [['service', 'stage']],
            Metrics: [{ Name: 'Anomaly', Unit: 'Count' }],
          },
        ],
      },
      service: 'test',
      stage: 'local',
      kind: l.kind,
      Anomaly: 1,
    });
    return true;
  });

/** The one shape of an anomaly line, whichever door raised it. */
function anomalyLine(kind: Anomaly, source: SettleSource, ids: Record<string, unknown>): Record<string, unknown> {
  return {
    level: 'warn',
    timestamp: expect.any(String),
    service: 'test',
    stage: 'local',
    message: 'anomaly',
    kind,
    source,
    ...ids,
  };
}

async function registered(amountFen = 100, ageMs = 3_600_000): Promise<string> {
  const no = orderNo('S');
  await h.store.registerOrder({
    outTradeNo: no,
    amountFen,
    merchantId: h.keys.mchid,
    createdAt: new Date(Date.now() - ageMs).toISOString(),
  });
  return no;
}

/** An order whose refunds (80 + 50 fen) were recorded before it was registered for 100 fen. */
async function overRefunded(): Promise<string> {
  const no = orderNo('S');
  await h.store.applyRefund(refund(no, `${no}A`, 80));
  await h.store.applyRefund(refund(no, `${no}B`, 50));
  await h.store.registerOrder({
    outTradeNo: no,
    amountFen: 100,
    merchantId: h.keys.mchid,
    createdAt: new Date(Date.now() - 3_600_000).toISOString(),
  });
  return no;
}

describe('settlePayment', () => {
  it('a first payment: PAID, recorded now, labelled APPLIED, no anomaly, the door recorded as the channel', async () => {
    const { logger, lines } = recorder();
    const no = await registered();
    const s = await settlePayment(payment(no, { channel: 'v2' }), 'v3', settleDeps(logger));
    expect(s).toMatchObject({ status: 'PAID', recorded: true, outcome: 'APPLIED', anomalies: [] });
    expect(s.refusal).toBeUndefined();
    expect(s.anomaly).toBeUndefined();
    expect(anomalies(lines)).toEqual([]);
    expect(await h.store.getOrder(h.keys.mchid, no)).toMatchObject({ state: 'PAID', paidVia: 'v3' });
  });

  it('both query doors record `query`; a repeat is PAID, not recorded, ALREADY_APPLIED, acknowledged', async () => {
    const { logger } = recorder();
    const no = await registered();
    expect(await settlePayment(payment(no), 'reconcile', settleDeps(logger))).toMatchObject({ recorded: true });
    const again = await settlePayment(payment(no), 'close-query', settleDeps(logger));
    expect(again).toMatchObject({ status: 'PAID', recorded: false, outcome: 'ALREADY_APPLIED', anomalies: [] });
    expect(again.refusal).toBeUndefined();
    expect(await h.store.getOrder(h.keys.mchid, no)).toMatchObject({ paidVia: 'query' });
  });

  it('another amount: CONFLICT AMOUNT_MISMATCH, flagged once, refused as INCONSISTENT, nothing written', async () => {
    const { logger, lines } = recorder();
    const no = await registered();
    const s = await settlePayment(payment(no, { amountFen: 99 }), 'v3', settleDeps(logger));
    expect(s).toMatchObject({ status: 'CONFLICT', reason: 'AMOUNT_MISMATCH', outcome: 'CONFLICT' });
    expect(s.anomalies).toEqual(['AMOUNT_MISMATCH']);
    expect(s.refusal).toBeInstanceOf(PayError);
    expect(s.refusal).toMatchObject({ kind: 'INCONSISTENT', reason: 'amount does not match the order' });
    expect(anomalies(lines)).toEqual([
      anomalyLine('AMOUNT_MISMATCH', 'v3', {
        outTradeNo: no,
        merchantId: h.keys.mchid,
        transactionId: payment(no).transactionId,
      }),
    ]);
    expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('NOTPAY');
  });

  it('another transaction on a paid order: CONFLICT OTHER_TRANSACTION, refused', async () => {
    const { logger } = recorder();
    const no = await registered();
    await settlePayment(payment(no), 'v3', settleDeps(logger));
    const s = await settlePayment(payment(no, { transactionId: '4200999' }), 'v2', settleDeps(logger));
    expect(s).toMatchObject({ status: 'CONFLICT', reason: 'OTHER_TRANSACTION', anomaly: 'OTHER_TRANSACTION' });
    expect(s.refusal?.reason).toBe('order already paid by another transaction');
  });

  it('an unregistered order: recorded under the record policy (UNREGISTERED_ORDER), refused under reject', async () => {
    const { logger } = recorder();
    const recorded = await settlePayment(payment(orderNo('S')), 'v3', settleDeps(logger));
    expect(recorded).toMatchObject({ status: 'PAID', outcome: 'APPLIED_FROM_UNREGISTERED' });
    expect(recorded.anomalies).toEqual(['UNREGISTERED_ORDER']);
    const no = orderNo('S');
    const rejected = await settlePayment(payment(no), 'v3', settleDeps(logger, 'reject'));
    expect(rejected).toMatchObject({
      status: 'UNKNOWN_ORDER',
      outcome: 'UNKNOWN_ORDER',
      anomaly: 'UNREGISTERED_ORDER',
    });
    expect(rejected.refusal).toMatchObject({ kind: 'UNKNOWN_ORDER' });
    expect(await h.store.getOrder(h.keys.mchid, no)).toBeUndefined();
  });

  it('a payment after a local close and over recorded refunds: both anomalies, in order, the last on the line', async () => {
    const { logger } = recorder();
    const no = await overRefunded();
    await settleClose({ merchantId: h.keys.mchid, outTradeNo: no }, undefined, 'close-query', settleDeps(logger));
    const s = await settlePayment(payment(no), 'v3', settleDeps(logger));
    expect(s).toMatchObject({ status: 'PAID', recorded: true, outcome: 'APPLIED_FROM_CLOSED' });
    expect(s.anomalies).toEqual(['PAID_AFTER_CLOSE', 'REFUND_EXCEEDS_TOTAL']);
    expect(s.anomaly).toBe('REFUND_EXCEEDS_TOTAL');
  });
});

describe('settleRefund', () => {
  it('labels the state reached, a stale ABNORMAL is acknowledged, a contradiction is flagged and refused', async () => {
    const { logger, lines } = recorder();
    const no = await registered();
    const rn = `${no}R`;
    const ok = await settleRefund(refund(no, rn, 30, { channel: 'v2' }), 'v3', settleDeps(logger));
    expect(ok).toMatchObject({ status: 'APPLIED', outcome: 'REFUND_SUCCESS', anomalies: [] });
    expect(await h.store.getRefund(h.keys.mchid, rn)).toMatchObject({ state: 'SUCCESS' });
    expect(await settleRefund(refund(no, rn, 30), 'v3', settleDeps(logger))).toMatchObject({
      status: 'ALREADY_APPLIED',
      outcome: 'REFUND_ALREADY_APPLIED',
    });
    const stale = await settleRefund(refund(no, rn, 30, { state: 'ABNORMAL' }), 'v2', settleDeps(logger));
    expect(stale).toMatchObject({ status: 'STALE', outcome: 'REFUND_STALE' });
    expect(stale.refusal).toBeUndefined();
    const closed = await settleRefund(refund(no, rn, 30, { state: 'CLOSED' }), 'v2', settleDeps(logger));
    expect(closed).toMatchObject({ status: 'CONFLICT', outcome: 'REFUND_CONFLICT', anomaly: 'REFUND_CONFLICT' });
    expect(closed.refusal).toMatchObject({ kind: 'INCONSISTENT', reason: 'refund already SUCCESS' });
    expect(anomalies(lines)).toEqual([
      anomalyLine('REFUND_CONFLICT', 'v2', { outTradeNo: no, merchantId: h.keys.mchid, outRefundNo: rn }),
    ]);
  });

  it('refunds adding up to more than the paid amount: REFUND_EXCEEDS_TOTAL, still acknowledged', async () => {
    const { logger } = recorder();
    const no = await registered();
    await settlePayment(payment(no), 'v3', settleDeps(logger));
    await settleRefund(refund(no, `${no}A`, 80), 'v3', settleDeps(logger));
    const s = await settleRefund(refund(no, `${no}B`, 50), 'v3', settleDeps(logger));
    expect(s).toMatchObject({ status: 'APPLIED', anomalies: ['REFUND_EXCEEDS_TOTAL'] });
    expect(s.refusal).toBeUndefined();
  });
});

describe('settleClose', () => {
  it('CLOSED, then ALREADY_CLOSED with the reason kept; a paid order stays PAID; no order is UNKNOWN_ORDER', async () => {
    const { logger, lines } = recorder();
    const d = settleDeps(logger);
    const no = await registered();
    const ref = { merchantId: h.keys.mchid, outTradeNo: no };
    expect(await settleClose(ref, 'REVOKED', 'reconcile', d)).toMatchObject({ status: 'CLOSED', outcome: 'CLOSED' });
    expect(await settleClose(ref, undefined, 'close-query', d)).toMatchObject({ status: 'ALREADY_CLOSED' });
    expect(await h.store.getOrder(h.keys.mchid, no)).toMatchObject({ state: 'CLOSED', closedReason: 'REVOKED' });
    const paid = await registered();
    await settlePayment(payment(paid), 'v3', d);
    expect(await settleClose({ ...ref, outTradeNo: paid }, undefined, 'close-query', d)).toMatchObject({
      status: 'PAID',
      order: { state: 'PAID' },
    });
    expect(await settleClose({ ...ref, outTradeNo: orderNo('S') }, undefined, 'reconcile', d)).toMatchObject({
      status: 'UNKNOWN_ORDER',
      anomalies: [],
    });
    expect(anomalies(lines)).toEqual([]);
  });
});

describe('flagMismatch', () => {
  it('logs and counts MERCHANT_MISMATCH with the field that disagreed', () => {
    const { logger, lines } = recorder();
    const err = new PayError('INCONSISTENT', 'mchid does not match', { detail: { field: 'mchid' } });
    expect(flagMismatch(err, { outTradeNo: 'X1' }, 'v2', logger)).toBe('MERCHANT_MISMATCH');
    // the Anomaly record (checked by `anomalies`), then the line
    expect(lines).toHaveLength(2);
    expect(anomalies(lines)).toEqual([anomalyLine('MERCHANT_MISMATCH', 'v2', { outTradeNo: 'X1', field: 'mchid' })]);
  });
});

// ---- the same three anomalies through each door -------------------------------------------------

/** What a door did with one payment: its anomaly lines and the `anomaly` field of its own log line. */
interface DoorResult {
  anomalies: Array<Record<string, unknown>>;
  lineAnomaly: unknown;
}

/** The payment each door learns of: WeChat says the order was paid 100 fen by `txId`. */
const txId = (no: string) => `4200${no}`.slice(0, 32);

const paidTx = (no: string, over: Partial<Transaction> = {}): Transaction => ({
  outTradeNo: no,
  transactionId: txId(no),
  tradeState: 'SUCCESS',
  mchid: h.keys.mchid,
  appid: h.keys.appid,
  subMchid: undefined,
  totalFen: 100,
  successTime: '2026-11-30T01:02:03.000Z',
  ...over,
});

/** A scripted WeChat client: the close is refused ORDERPAID (after `beforeRefusal`), the query answers `answer`. */
function scriptedClient(answer: Transaction, beforeRefusal: () => Promise<unknown> = async () => undefined) {
  return {
    v3: {
      closeOrderV3: async () => {
        await beforeRefusal();
        throw wechatRefusal(400, 'ORDERPAID', 'order paid', '');
      },
      queryOrderV3: async () => answer,
    },
    v2: {},
  } as unknown as WechatPayClient;
}

type Door = (no: string, answer: Transaction, beforeRefusal?: () => Promise<unknown>) => Promise<DoorResult>;

const doors: Array<{ name: string; source: SettleSource; run: Door }> = [
  {
    name: 'a notification',
    source: 'v3',
    run: async (no, answer, beforeRefusal) => {
      await beforeRefusal?.();
      const { logger, lines } = recorder();
      const wire = v3Notification(h.keys, {
        eventType: 'TRANSACTION.SUCCESS',
        originalType: 'transaction',
        resource: v3TransactionResource(h.keys, {
          outTradeNo: no,
          total: answer.totalFen ?? 0,
          transactionId: answer.transactionId ?? '',
          extra: answer.mchid === h.keys.mchid ? {} : { mchid: answer.mchid },
        }),
      });
      await handleNotification(
        { route: '/notify/payment', headers: wire.headers, body: Buffer.from(wire.body) },
        h.deps({ logger }),
      );
      return { anomalies: anomalies(lines), lineAnomaly: lines.find((l) => l.message === 'delivery')?.anomaly };
    },
  },
  {
    name: "closeOrder's order query",
    source: 'close-query',
    run: async (no, answer, beforeRefusal) => {
      const { logger, lines } = recorder();
      const client = scriptedClient(answer, beforeRefusal);
      await closeOrder({ outTradeNo: no }, { config: h.config, store: h.store, client, logger, now: Date.now });
      return { anomalies: anomalies(lines), lineAnomaly: lines.find((l) => l.message === 'closeOrder')?.anomaly };
    },
  },
  {
    name: 'reconciliation',
    source: 'reconcile',
    run: async (no, answer, beforeRefusal) => {
      await beforeRefusal?.();
      const { logger, lines } = recorder();
      const client = scriptedClient(answer);
      const deps = { config: h.config, store: h.store, client, logger, now: Date.now };
      await reconcileOne({ merchantId: h.keys.mchid, outTradeNo: no }, { protocol: 'v3' }, deps);
      return { anomalies: anomalies(lines), lineAnomaly: lines.find((l) => l.message === 'reconcile.query')?.anomaly };
    },
  },
];

describe.each(doors)('through $name', ({ source, run }) => {
  it('refunds recorded before the payment that exceed it: REFUND_EXCEEDS_TOTAL, the order PAID', async () => {
    const no = await overRefunded();
    const r = await run(no, paidTx(no));
    const ids = { outTradeNo: no, merchantId: h.keys.mchid, transactionId: txId(no) };
    expect(r.anomalies).toEqual([anomalyLine('REFUND_EXCEEDS_TOTAL', source, ids)]);
    expect(r.lineAnomaly).toBe('REFUND_EXCEEDS_TOTAL');
    expect(await h.store.getOrder(h.keys.mchid, no)).toMatchObject({ state: 'PAID', refundedFen: 130 });
  });

  it('a payment for an order closed here: PAID_AFTER_CLOSE, paid wins', async () => {
    const no = await registered();
    const closeHere = () => h.store.applyClose(h.keys.mchid, no);
    const r = await run(no, paidTx(no), closeHere);
    const ids = { outTradeNo: no, merchantId: h.keys.mchid, transactionId: txId(no) };
    expect(r.anomalies).toEqual([anomalyLine('PAID_AFTER_CLOSE', source, ids)]);
    expect(r.lineAnomaly).toBe('PAID_AFTER_CLOSE');
    expect(await h.store.getOrder(h.keys.mchid, no)).toMatchObject({ state: 'PAID', previousState: 'CLOSED' });
  });

  it('an authentic report for another merchant: MERCHANT_MISMATCH naming the field, nothing written', async () => {
    const no = await registered();
    const r = await run(no, paidTx(no, { mchid: '1999999999' }));
    expect(r.anomalies).toHaveLength(1);
    // the query doors know which order they asked about; a notification is refused by its reader
    // (lib/wechatpay) before it names the order, so its line carries no ids: the rest is the same line
    const { merchantId, outTradeNo, ...line } = r.anomalies[0] ?? {};
    expect(line).toEqual(anomalyLine('MERCHANT_MISMATCH', source, { field: 'mchid' }));
    if (source === 'v3') expect([outTradeNo, merchantId]).toEqual([undefined, undefined]);
    else expect([outTradeNo, merchantId]).toEqual([no, h.keys.mchid]);
    expect(r.lineAnomaly).toBe('MERCHANT_MISMATCH');
    expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('NOTPAY');
  });
});
