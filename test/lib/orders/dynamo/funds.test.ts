/**
 * Transfers and profit-sharing movements in the DynamoDB store (DynamoDB Local): the first result is
 * recorded, the same one again is found, a contradicting one is a conflict that changes nothing, and
 * concurrent deliveries of one result record it exactly once.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ProfitSharingReport, TransferReport } from '../../../../lib/orders/funds';
import { createHarness, orderNo, type Harness } from '../../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const transfer = (outBillNo: string, over: Partial<TransferReport> = {}): TransferReport => ({
  merchantId: h.keys.mchid,
  outBillNo,
  transferBillNo: `1330${outBillNo}`,
  state: 'SUCCESS',
  amountFen: 300,
  updatedAt: '2026-11-30T02:00:00.000Z',
  failReason: undefined,
  ...over,
});

const sharing = (outOrderNo: string, over: Partial<ProfitSharingReport> = {}): ProfitSharingReport => ({
  eventType: 'PROFITSHARING.SUCCESS',
  merchantId: h.keys.mchid,
  orderId: `3008${outOrderNo}`,
  outOrderNo,
  transactionId: '4200000000202611300001',
  receiverType: 'MERCHANT_ID',
  receiverAccount: h.keys.mchid,
  amountFen: 120,
  successAt: '2026-11-30T02:00:00.000Z',
  description: undefined,
  ...over,
});

describe('transfers', () => {
  it('the first result is applied and readable; the same again is found, not applied twice', async () => {
    const no = orderNo('T');
    const first = await h.store.applyTransfer(transfer(no));
    expect(first).toEqual({ kind: 'APPLIED', transfer: transfer(no) });
    expect(await h.store.getTransfer(h.keys.mchid, no)).toEqual(transfer(no));
    expect(await h.store.applyTransfer(transfer(no))).toEqual({ kind: 'ALREADY_APPLIED', transfer: transfer(no) });
  });

  it('a failure keeps its reason', async () => {
    const no = orderNo('T');
    const failed = transfer(no, { state: 'FAIL', failReason: 'ACCOUNT_FROZEN' });
    expect(await h.store.applyTransfer(failed)).toEqual({ kind: 'APPLIED', transfer: failed });
    expect(await h.store.getTransfer(h.keys.mchid, no)).toMatchObject({ state: 'FAIL', failReason: 'ACCOUNT_FROZEN' });
  });

  it.each([
    ['another final state', { state: 'FAIL' as const, failReason: 'ACCOUNT_FROZEN' }],
    ['another WeChat bill', { transferBillNo: '1330OTHER' }],
    ['another amount', { amountFen: 301 }],
  ])('%s for the same out_bill_no is a conflict and changes nothing', async (_what, over) => {
    const no = orderNo('T');
    await h.store.applyTransfer(transfer(no));
    expect(await h.store.applyTransfer(transfer(no, over))).toEqual({ kind: 'CONFLICT', transfer: transfer(no) });
    expect(await h.store.getTransfer(h.keys.mchid, no)).toEqual(transfer(no));
  });

  it('an unknown bill reads as undefined', async () => {
    expect(await h.store.getTransfer(h.keys.mchid, orderNo('T'))).toBeUndefined();
  });

  it('20 concurrent deliveries of one result: applied exactly once, found by the others', async () => {
    const no = orderNo('T');
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => h.store.applyTransfer(transfer(no))));
    expect(outcomes.filter((o) => o.kind === 'APPLIED')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'ALREADY_APPLIED')).toHaveLength(19);
  });
});

describe('profit-sharing movements', () => {
  it('recorded once, found again, a conflict when the same movement names another amount', async () => {
    const no = orderNo('P');
    expect(await h.store.recordProfitSharing(sharing(no))).toEqual({ kind: 'RECORDED' });
    expect(await h.store.recordProfitSharing(sharing(no))).toEqual({ kind: 'ALREADY_RECORDED' });
    expect(await h.store.recordProfitSharing(sharing(no, { amountFen: 121 }))).toEqual({ kind: 'CONFLICT' });
  });

  it('a description is kept with the movement', async () => {
    const no = orderNo('P');
    const described = sharing(no, { description: '分账给商户' });
    expect(await h.store.recordProfitSharing(described)).toEqual({ kind: 'RECORDED' });
    expect(await h.store.recordProfitSharing(described)).toEqual({ kind: 'ALREADY_RECORDED' });
  });

  it('20 concurrent deliveries of one movement: recorded exactly once', async () => {
    const no = orderNo('P');
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => h.store.recordProfitSharing(sharing(no))));
    expect(outcomes.filter((o) => o.kind === 'RECORDED')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'ALREADY_RECORDED')).toHaveLength(19);
  });
});
