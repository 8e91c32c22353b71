/**
 * Refund notifications through the handler against real DynamoDB Local: both generations, every
 * reply, the refund state machine (duplicates, out-of-order, final states), and refund totals.
 */
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { notifyHandler } from '../../lib/notify/lambda';
import {
  encryptReqInfo,
  refundInfoXml,
  v2PaymentNotification,
  v2RefundNotification,
  v2Xml,
  v3Notification,
  v3RefundResource,
  type V2RefundParams,
  type WireRequest,
} from '../../scripts/simulator/messages';
import { createHarness, orderNo, toEvent, type Harness } from '../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

type Reply = { statusCode: number; body: string };
const deliver = async (wire: WireRequest, route = '/notify/refund', deps = h.deps()) =>
  (await notifyHandler(route, () => deps)(toEvent(wire))) as Reply;
const v2Ok = (r: Reply) => r.statusCode === 200 && r.body.includes('<return_code><![CDATA[SUCCESS]]></return_code>');
const v2Fail = (r: Reply) => r.statusCode === 200 && r.body.includes('<return_code><![CDATA[FAIL]]></return_code>');

const V2_STATUS = { SUCCESS: 'SUCCESS', CLOSED: 'REFUNDCLOSE', ABNORMAL: 'CHANGE' } as const;
type Status = keyof typeof V2_STATUS;

/** A refund notification in either generation, for the same refund. */
function refundWire(
  protocol: 'v2' | 'v3',
  r: { outTradeNo: string; outRefundNo: string; refundId: string; status: Status; refund: number; total: number },
): WireRequest {
  if (protocol === 'v2') {
    return v2RefundNotification(h.keys, {
      outTradeNo: r.outTradeNo,
      outRefundNo: r.outRefundNo,
      refundId: r.refundId,
      refundStatus: V2_STATUS[r.status],
      refundFee: r.refund,
      totalFee: r.total,
    });
  }
  const resource = v3RefundResource(h.keys, {
    outTradeNo: r.outTradeNo,
    outRefundNo: r.outRefundNo,
    refundId: r.refundId,
    refundStatus: r.status,
    refund: r.refund,
    total: r.total,
  });
  return v3Notification(h.keys, { eventType: `REFUND.${r.status}`, originalType: 'refund', resource });
}

const ok = (protocol: 'v2' | 'v3', r: Reply) => (protocol === 'v2' ? v2Ok(r) : r.statusCode === 204);
const failed = (protocol: 'v2' | 'v3', r: Reply) => (protocol === 'v2' ? v2Fail(r) : r.statusCode >= 400);

async function paidOrder(fen: number): Promise<string> {
  const no = orderNo('P');
  await h.store.registerOrder({ outTradeNo: no, amountFen: fen, merchantId: h.keys.mchid });
  const r = await deliver(v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: fen }), '/notify/payment');
  expect(v2Ok(r)).toBe(true);
  return no;
}

const ids = () => ({ outRefundNo: orderNo('R'), refundId: `50${Date.now()}${Math.floor(Math.random() * 1e9)}` });

describe.each(['v2', 'v3'] as const)('%s refund notifications', (protocol) => {
  it('record SUCCESS once; a duplicate is acknowledged and changes nothing; the order tallies the refund', async () => {
    const no = await paidOrder(1000);
    const wire = refundWire(protocol, { outTradeNo: no, ...ids(), status: 'SUCCESS', refund: 300, total: 1000 });
    expect(ok(protocol, await deliver(wire))).toBe(true);
    expect(ok(protocol, await deliver(wire))).toBe(true);
    const order = await h.store.getOrder(h.keys.mchid, no);
    expect(order?.refundedFen).toBe(300);
    expect(order?.state).toBe('PAID');
  });

  it('ends in the right state for every out-of-order sequence', async () => {
    const cases: Array<{ seq: Status[]; final: Status; refused: number[] }> = [
      { seq: ['ABNORMAL', 'SUCCESS'], final: 'SUCCESS', refused: [] },
      { seq: ['ABNORMAL', 'CLOSED'], final: 'CLOSED', refused: [] },
      { seq: ['SUCCESS', 'ABNORMAL'], final: 'SUCCESS', refused: [] }, // late ABNORMAL: stale, acknowledged
      { seq: ['SUCCESS', 'CLOSED'], final: 'SUCCESS', refused: [1] }, // a final state never regresses
      { seq: ['CLOSED', 'SUCCESS'], final: 'CLOSED', refused: [1] },
      { seq: ['SUCCESS', 'SUCCESS', 'ABNORMAL', 'SUCCESS'], final: 'SUCCESS', refused: [] },
    ];
    for (const c of cases) {
      const no = await paidOrder(500);
      const id = ids();
      for (const [i, status] of c.seq.entries()) {
        const r = await deliver(refundWire(protocol, { outTradeNo: no, ...id, status, refund: 200, total: 500 }));
        expect(c.refused.includes(i) ? failed(protocol, r) : ok(protocol, r), `${c.seq.join('→')} step ${i}`).toBe(
          true,
        );
      }
      expect((await h.store.getRefund(h.keys.mchid, id.outRefundNo))?.state, c.seq.join('→')).toBe(c.final);
    }
    expect(h.logs.some((l) => l.kind === 'REFUND_CONFLICT')).toBe(true);
  });

  it('records a refund that arrives before the payment, and the order is still paid afterwards', async () => {
    const no = orderNo('E');
    const id = ids();
    expect(
      ok(
        protocol,
        await deliver(refundWire(protocol, { outTradeNo: no, ...id, status: 'SUCCESS', refund: 100, total: 400 })),
      ),
    ).toBe(true);
    expect((await h.store.getRefund(h.keys.mchid, id.outRefundNo))?.state).toBe('SUCCESS');
    expect(await h.store.getOrder(h.keys.mchid, no)).toBeUndefined();
    expect((await h.store.registerOrder({ outTradeNo: no, amountFen: 400, merchantId: h.keys.mchid })).kind).toBe(
      'REGISTERED',
    );
    expect(
      v2Ok(await deliver(v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 400 }), '/notify/payment')),
    ).toBe(true);
    const order = await h.store.getOrder(h.keys.mchid, no);
    expect(order).toMatchObject({ state: 'PAID', refundedFen: 100, amountFen: 400 });
  });

  it('flags successful refunds that add up to more than the paid total', async () => {
    const no = await paidOrder(100);
    expect(
      ok(
        protocol,
        await deliver(refundWire(protocol, { outTradeNo: no, ...ids(), status: 'SUCCESS', refund: 60, total: 100 })),
      ),
    ).toBe(true);
    h.logs.length = 0;
    expect(
      ok(
        protocol,
        await deliver(refundWire(protocol, { outTradeNo: no, ...ids(), status: 'SUCCESS', refund: 60, total: 100 })),
      ),
    ).toBe(true);
    expect(h.logs.some((l) => l.kind === 'REFUND_EXCEEDS_TOTAL' && l.outTradeNo === no)).toBe(true);
    expect((await h.store.getOrder(h.keys.mchid, no))?.refundedFen).toBe(120);
  });

  it('200 concurrent duplicates make one transition', async () => {
    const no = await paidOrder(900);
    const id = ids();
    const wire = refundWire(protocol, { outTradeNo: no, ...id, status: 'SUCCESS', refund: 900, total: 900 });
    h.logs.length = 0;
    const replies = await Promise.all(Array.from({ length: 200 }, () => deliver(wire)));
    expect(replies.every((r) => ok(protocol, r))).toBe(true);
    const outcomes = h.logs
      .filter((l) => l.message === 'delivery' && l.outRefundNo === id.outRefundNo)
      .map((l) => l.outcome);
    expect(outcomes.filter((o) => o === 'REFUND_SUCCESS')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'REFUND_ALREADY_APPLIED')).toHaveLength(199);
    expect((await h.store.getOrder(h.keys.mchid, no))?.refundedFen).toBe(900);
  });

  it('is handled by content on the payment route too', async () => {
    const no = await paidOrder(50);
    const id = ids();
    expect(
      ok(
        protocol,
        await deliver(
          refundWire(protocol, { outTradeNo: no, ...id, status: 'CLOSED', refund: 50, total: 50 }),
          '/notify/payment',
        ),
      ),
    ).toBe(true);
    expect((await h.store.getRefund(h.keys.mchid, id.outRefundNo))?.state).toBe('CLOSED');
  });
});

describe.each(['v2', 'v3'] as const)('%s refund failures', (protocol) => {
  it('a throttled store answers failure (WeChat retries), records nothing, and the retry applies', async () => {
    const no = await paidOrder(100);
    const id = ids();
    const deps = h.deps({
      store: h.faultyStore(
        1,
        () => new ProvisionedThroughputExceededException({ message: 'throttled', $metadata: {} }),
      ),
    });
    const wire = refundWire(protocol, { outTradeNo: no, ...id, status: 'SUCCESS', refund: 40, total: 100 });
    const first = await deliver(wire, '/notify/refund', deps);
    expect(failed(protocol, first)).toBe(true);
    if (protocol === 'v3') expect(first.statusCode).toBe(500);
    expect(await h.store.getRefund(h.keys.mchid, id.outRefundNo)).toBeUndefined();
    expect(ok(protocol, await deliver(wire, '/notify/refund', deps))).toBe(true);
    expect((await h.store.getRefund(h.keys.mchid, id.outRefundNo))?.state).toBe('SUCCESS');
    expect((await h.store.getOrder(h.keys.mchid, no))?.refundedFen).toBe(40);
  });

  it('a malformed or hostile body on the refund route gets a failure reply', async () => {
    const bodies =
      protocol === 'v2'
        ? [
            '<xml><req_info>',
            '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><req_info>&e;</req_info></xml>',
            'x'.repeat(70_000),
          ]
        : ['{"id":', '{}'];
    for (const body of bodies) {
      const headers: Record<string, string> =
        protocol === 'v3'
          ? {
              'Wechatpay-Signature': 'AAAA',
              'Wechatpay-Serial': h.keys.platform.serial,
              'Wechatpay-Timestamp': String(Math.floor(Date.now() / 1000)),
              'Wechatpay-Nonce': 'n',
            }
          : {};
      expect(failed(protocol, await deliver({ headers, body }))).toBe(true);
    }
  });
});

describe('APIv2 refund forgeries', () => {
  const base = (): V2RefundParams => ({
    outTradeNo: orderNo('F'),
    outRefundNo: orderNo('R'),
    refundStatus: 'SUCCESS',
    refundFee: 10,
    totalFee: 10,
  });
  const outer = (reqInfo: string, extra: Record<string, string> = {}) =>
    v2Xml({
      return_code: 'SUCCESS',
      appid: h.keys.appid,
      mch_id: h.keys.mchid,
      nonce_str: 'abc',
      req_info: reqInfo,
      ...extra,
    });

  it('rejects req_info encrypted under another key, not base64, empty, or garbage', async () => {
    const p = base();
    for (const reqInfo of [
      encryptReqInfo(refundInfoXml(p), 'K'.repeat(32)),
      '!!!',
      '',
      'AAAA',
      Buffer.alloc(32, 7).toString('base64'),
    ]) {
      expect(v2Fail(await deliver({ headers: {}, body: outer(reqInfo) }))).toBe(true);
    }
    expect(await h.store.getRefund(h.keys.mchid, p.outRefundNo)).toBeUndefined();
  });

  it('rejects a req_info that decrypts to something other than a refund <root>', async () => {
    for (const plain of [
      '<xml><a>1</a></xml>',
      'not xml at all',
      '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><root><out_refund_no>&x;</out_refund_no></root>',
    ]) {
      expect(v2Fail(await deliver({ headers: {}, body: outer(encryptReqInfo(plain, h.keys.apiV2Key)) }))).toBe(true);
    }
  });

  it('property: any single-byte change to req_info is rejected and records nothing', async () => {
    const p = base();
    const reqInfo = Buffer.from(encryptReqInfo(refundInfoXml(p), h.keys.apiV2Key), 'base64');
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: reqInfo.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
        const tampered = Buffer.from(reqInfo);
        tampered[at] = (tampered[at] as number) ^ xor;
        const r = await deliver({ headers: {}, body: outer(tampered.toString('base64')) });
        expect(v2Fail(r)).toBe(true);
      }),
      { numRuns: 150 },
    );
    expect(await h.store.getRefund(h.keys.mchid, p.outRefundNo)).toBeUndefined();
  });

  it('rejects an authentic refund for another merchant, and a refund larger than the total', async () => {
    const p = base();
    expect(
      v2Fail(
        await deliver({
          headers: {},
          body: outer(encryptReqInfo(refundInfoXml(p), h.keys.apiV2Key), { mch_id: '1777777777' }),
        }),
      ),
    ).toBe(true);
    const big = { ...base(), refundFee: 11, totalFee: 10 };
    expect(v2Fail(await deliver(v2RefundNotification(h.keys, big)))).toBe(true);
    expect(await h.store.getRefund(h.keys.mchid, big.outRefundNo)).toBeUndefined();
  });

  it('applies a service-provider refund to the sub-merchant', async () => {
    const p = { ...base(), subMchId: '1900000400' };
    expect(v2Ok(await deliver(v2RefundNotification(h.keys, p)))).toBe(true);
    expect((await h.store.getRefund('1900000400', p.outRefundNo))?.state).toBe('SUCCESS');
  });
});

describe('APIv3 refund specifics', () => {
  it('applies the partner shape to the sub-merchant, and rejects another sp_mchid', async () => {
    const id = ids();
    const resource = v3RefundResource(h.keys, {
      outTradeNo: orderNo(),
      ...id,
      refundStatus: 'SUCCESS',
      refund: 5,
      total: 5,
      partner: { spMchid: h.keys.mchid, subMchid: '1900000500' },
    });
    expect(
      (await deliver(v3Notification(h.keys, { eventType: 'REFUND.SUCCESS', originalType: 'refund', resource })))
        .statusCode,
    ).toBe(204);
    expect((await h.store.getRefund('1900000500', id.outRefundNo))?.state).toBe('SUCCESS');
    const other = v3RefundResource(h.keys, {
      outTradeNo: orderNo(),
      ...ids(),
      refundStatus: 'SUCCESS',
      refund: 5,
      total: 5,
      partner: { spMchid: '1666666666', subMchid: '1900000500' },
    });
    expect(
      (await deliver(v3Notification(h.keys, { eventType: 'REFUND.SUCCESS', originalType: 'refund', resource: other })))
        .statusCode,
    ).toBe(400);
  });

  it('rejects a refund_status that contradicts the event type', async () => {
    const resource = v3RefundResource(h.keys, {
      outTradeNo: orderNo(),
      ...ids(),
      refundStatus: 'CLOSED',
      refund: 5,
      total: 5,
    });
    expect(
      (await deliver(v3Notification(h.keys, { eventType: 'REFUND.SUCCESS', originalType: 'refund', resource })))
        .statusCode,
    ).toBe(400);
  });

  it('costs one conditional write plus the idempotent order tally for a success; one write otherwise', async () => {
    const no = await paidOrder(100);
    const success = refundWire('v3', { outTradeNo: no, ...ids(), status: 'SUCCESS', refund: 10, total: 100 });
    h.requests.length = 0;
    await deliver(success);
    expect(h.requests).toEqual(['UpdateItemCommand', 'UpdateItemCommand']);
    const abnormal = refundWire('v3', { outTradeNo: no, ...ids(), status: 'ABNORMAL', refund: 10, total: 100 });
    h.requests.length = 0;
    await deliver(abnormal);
    expect(h.requests).toEqual(['UpdateItemCommand']);
  });
});
