/**
 * Service-provider refunds over APIv2: the outer sub_mch_id is neither signed nor encrypted, so a
 * refund's tally is counted only into an order registered under the sub-merchant it names and paid
 * (if at all) by the transaction the encrypted result names. Through the pipeline, DynamoDB Local.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handleNotification } from '../../../lib/notify/handle';
import { orderKey } from '../../../lib/orders/table';
import { v2RefundNotification, randomTransactionId, type WireRequest } from '../../../scripts/simulator/messages';
import { createHarness, orderNo, type Harness } from '../../support/harness';
import { paymentReport } from '../../support/reports';
import { rawItem } from '../../reliability/support';

const SUB_A = '1900000301';
const SUB_B = '1900000302';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const request = (wire: WireRequest) => ({ route: '/notify', headers: wire.headers, body: Buffer.from(wire.body) });
const ok = (body: string) => body.includes('<return_code><![CDATA[SUCCESS]]></return_code>');

/** A paid order under `sub`, paid by `tx`. */
async function paidOrder(sub: string, no: string, tx: string): Promise<void> {
  await h.store.registerOrder({ outTradeNo: no, amountFen: 1000, merchantId: sub });
  await h.store.applyPayment(
    paymentReport(h, no, {
      merchantId: sub,
      transactionId: tx,
      amountFen: 1000,
      paidAt: new Date().toISOString(),
      channel: 'v2',
    }),
    'reject',
  );
}

const refund = (no: string, tx: string, subMchId: string) =>
  v2RefundNotification(h.keys, {
    outTradeNo: no,
    outRefundNo: `${no}R`,
    totalFee: 1000,
    refundFee: 300,
    refundStatus: 'SUCCESS',
    transactionId: tx,
    subMchId,
  });

describe('APIv2 refunds for a sub-merchant', () => {
  it('the refund of an order registered under the sub-merchant it names is counted, once under 200 duplicates', async () => {
    const no = orderNo('S');
    const tx = randomTransactionId();
    await paidOrder(SUB_A, no, tx);
    const wire = refund(no, tx, SUB_A);
    const replies = await Promise.all(Array.from({ length: 200 }, () => handleNotification(request(wire), h.deps())));
    expect(replies.every((r) => ok(r.body))).toBe(true);
    expect(await h.store.getOrder(SUB_A, no)).toMatchObject({ state: 'PAID', refundedFen: 300 });
  });

  it('an outer sub_mch_id rewritten to another sub-merchant whose order has another transaction: refused, nothing written', async () => {
    const no = orderNo('S');
    const tx = randomTransactionId();
    await paidOrder(SUB_A, no, tx);
    await paidOrder(SUB_B, no, randomTransactionId());
    const before = JSON.stringify(await rawItem(h, orderKey(SUB_B, no)));
    const reply = await handleNotification(request(refund(no, tx, SUB_B)), h.deps());
    expect(ok(reply.body)).toBe(false);
    expect(JSON.stringify(await rawItem(h, orderKey(SUB_B, no)))).toBe(before);
    expect(await h.store.getRefund(SUB_B, `${no}R`)).toBeUndefined();
    expect(h.logs.filter((l) => l.message === 'anomaly' && l.outTradeNo === no)).toMatchObject([
      { kind: 'MERCHANT_MISMATCH', merchantId: SUB_B },
    ]);
  });

  it('a sub-merchant refund that arrives before its order: recorded and counted on the key its order will take', async () => {
    const no = orderNo('S');
    const reply = await handleNotification(request(refund(no, randomTransactionId(), SUB_B)), h.deps());
    expect(ok(reply.body)).toBe(true);
    expect(await h.store.getRefund(SUB_B, `${no}R`)).toMatchObject({ state: 'SUCCESS' });
    // nothing was paid on that key by another transaction: the tally waits there for its order
    const item = await rawItem(h, orderKey(SUB_B, no));
    expect(item?.state).toBeUndefined();
    expect(item?.refundNos?.SS).toEqual([`${no}R`]);
  });

  it('our own merchant (no sub_mch_id) keeps counting a refund that arrives before its order', async () => {
    const no = orderNo('S');
    const wire = v2RefundNotification(h.keys, {
      outTradeNo: no,
      outRefundNo: `${no}R`,
      totalFee: 1000,
      refundFee: 300,
      refundStatus: 'SUCCESS',
    });
    expect(ok((await handleNotification(request(wire), h.deps())).body)).toBe(true);
    await h.store.registerOrder({ outTradeNo: no, amountFen: 1000, merchantId: h.keys.mchid });
    expect(await h.store.getOrder(h.keys.mchid, no)).toMatchObject({ refundedFen: 300 });
  });
});
