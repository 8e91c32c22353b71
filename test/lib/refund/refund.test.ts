/**
 * The refund core against real DynamoDB Local and the simulator: every outcome, hostile events,
 * WeChat's refusals (which release the reservation) against unknown results (which keep it), the
 * service-provider path, and the adapter's configuration failures.
 */
import { describe, expect, it } from 'vitest';
import type { Config } from '../../../lib/config';
import { configError, unavailable } from '../../../lib/errors';
import { refundDeadlineOutcome, refundDeps, refundErrorOutcome, refundHandler } from '../../../lib/refund/lambda';
import { readRefundRequest } from '../../../lib/refund/request';
import { refund as refundCore, type RefundDeps } from '../../../lib/refund/refund';
import { orderNo } from '../../support/harness';
import { invoker, reconcileNow, refundCalls, refundWorld, until } from './support';

const SUB = '1230000109';
const world = refundWorld();

const paid = (fen: number) => world.paid(fen, 'C');
const orderOf = (no: string, merchantId = world.h.config.mchid) => world.h.store.getOrder(merchantId, no);
const refundOf = (no: string, merchantId = world.h.config.mchid) => world.h.store.getRefund(merchantId, no);

describe('the event', () => {
  const good = { outTradeNo: 'A1', outRefundNo: 'B1', refundFen: 1 };
  it.each([
    [null, 'event must be an object'],
    [[], 'event must be an object'],
    ['{', 'event is not a JSON object'],
    ['x'.repeat(5000), 'event is too large'],
    [{ ...good, outTradeNo: undefined }, 'out_trade_no is required'],
    [{ ...good, outTradeNo: 'a b' }, 'out_trade_no must be'],
    [{ ...good, outRefundNo: '' }, 'out_refund_no is required'],
    [{ ...good, outRefundNo: '../x' }, 'out_refund_no must be'],
    [{ ...good, refundFen: undefined }, 'refund_fen is required'],
    [{ ...good, refundFen: 0 }, 'positive integer'],
    [{ ...good, refundFen: -5 }, 'positive integer'],
    [{ ...good, refundFen: 1.5 }, 'positive integer'],
    [{ ...good, refundFen: '1.50' }, 'positive integer'],
    [{ ...good, refundFen: 1e15 }, 'positive integer'],
    [{ ...good, refundFen: true }, 'positive integer'],
    [{ ...good, refund_fen: 2 }, 'given twice'],
    [{ ...good, outTradeNo: 7 }, 'must be a string'],
    [{ ...good, reason: 'x'.repeat(81) }, 'reason'],
    [{ ...good, reason: 'a\u0000b' }, 'reason'],
    [{ ...good, subMchId: '12a' }, 'sub_mch_id must be digits'],
    [{ ...good, protocol: 'v4' }, 'protocol must be v2 or v3'],
  ])('%j is refused: %s', async (event, reason) => {
    expect(() => readRefundRequest(event)).toThrow(reason);
    const outcome = await invoker(world.h)(event);
    expect(outcome).toMatchObject({ status: 'FAILED', code: 'PARAM_ERROR', retryable: false });
  });

  it('reads both key styles, a JSON string and a decimal string of fen', () => {
    expect(
      readRefundRequest(
        JSON.stringify({ out_trade_no: 'A1', out_refund_no: 'B1', refund_fen: '300', sub_mch_id: SUB, reason: '退货' }),
      ),
    ).toEqual({ outTradeNo: 'A1', outRefundNo: 'B1', refundFen: 300, subMchId: SUB, reason: '退货' });
    expect(readRefundRequest({ ...good, protocol: 'v2', reason: '' })).toEqual({ ...good, protocol: 'v2' });
  });

  it('changes nothing when refused', async () => {
    const no = await paid(100);
    await invoker(world.h)({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: -1 });
    expect(await refundOf(`${no}r`)).toBeUndefined();
    expect((await orderOf(no))?.reservedFen).toBeUndefined();
  });
});

describe('orders that cannot be refunded', () => {
  it('answers ORDER_NOT_PAID for an unpaid, a closed and an unknown order, and forgets the request', async () => {
    const invoke = invoker(world.h);
    const unpaid = orderNo('U');
    await world.h.store.registerOrder({ outTradeNo: unpaid, amountFen: 100, merchantId: world.h.config.mchid });
    expect(await invoke({ outTradeNo: unpaid, outRefundNo: `${unpaid}r`, refundFen: 10 })).toMatchObject({
      status: 'ORDER_NOT_PAID',
      orderState: 'NOTPAY',
    });
    expect(await refundOf(`${unpaid}r`)).toBeUndefined();
    await world.h.store.applyClose(world.h.config.mchid, unpaid);
    expect(await invoke({ outTradeNo: unpaid, outRefundNo: `${unpaid}r`, refundFen: 10 })).toMatchObject({
      status: 'ORDER_NOT_PAID',
      orderState: 'CLOSED',
    });
    const unknown = orderNo('K');
    expect(await invoke({ outTradeNo: unknown, outRefundNo: `${unknown}r`, refundFen: 10 })).toMatchObject({
      status: 'ORDER_NOT_PAID',
      orderState: 'UNKNOWN',
    });
    expect(world.sim.refunds.listFor(unpaid)).toEqual([]);
  });

  it('refuses an out_refund_no already used for another amount or order', async () => {
    const no = await paid(500);
    world.sim.refunds.settleAfterMs = 60_000;
    const invoke = invoker(world.h);
    expect(await invoke({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 100 })).toMatchObject({
      status: 'ACCEPTED',
    });
    expect(await invoke({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 101 })).toMatchObject({
      status: 'FAILED',
      code: 'OUT_REFUND_NO_USED',
      retryable: false,
    });
    expect((await orderOf(no))?.reservedFen).toBe(100);
  });
});

describe("WeChat's answer", () => {
  it('SUCCESS at once: the refund is counted, the reservation released, a repeat is ALREADY_REQUESTED', async () => {
    const no = await paid(500);
    world.sim.refunds.settleAfterMs = 0;
    const invoke = invoker(world.h);
    expect(await invoke({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 120 })).toMatchObject({
      status: 'SUCCESS',
    });
    expect(await orderOf(no)).toMatchObject({ refundedFen: 120, reservedFen: 0 });
    expect(await refundOf(`${no}r`)).toMatchObject({ state: 'SUCCESS' });
    expect(await invoke({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 120 })).toMatchObject({
      status: 'ALREADY_REQUESTED',
      state: 'SUCCESS',
    });
    await until(() => world.sim.deliveries.list().length > 0);
    expect(await orderOf(no)).toMatchObject({ refundedFen: 120, reservedFen: 0 });
  });

  it('CLOSED at once: the reservation goes back to the order', async () => {
    const no = await paid(500);
    world.sim.refunds.settleAfterMs = 0;
    world.sim.refunds.outcomes.push('CLOSED');
    expect(await invoker(world.h)({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 120 })).toMatchObject({
      status: 'FAILED',
      code: 'REFUND_CLOSED',
    });
    expect(await orderOf(no)).toMatchObject({ reservedFen: 0 });
    expect((await orderOf(no))?.refundedFen).toBeUndefined();
  });

  it('ABNORMAL keeps the reservation until the refund succeeds', async () => {
    const no = await paid(500);
    world.sim.refunds.settleAfterMs = 0;
    world.sim.refunds.outcomes.push('ABNORMAL');
    world.sim.control.suppress(true);
    expect(await invoker(world.h)({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 120 })).toMatchObject({
      status: 'ACCEPTED',
      wechatStatus: 'ABNORMAL',
    });
    expect(await orderOf(no)).toMatchObject({ reservedFen: 120 });
    const run = await reconcileNow(world.h);
    expect(run.refunds?.actions.LEFT_PENDING).toBeGreaterThanOrEqual(1);
    world.sim.control.suppress(false);
    await world.sim.control.refund({
      outTradeNo: no,
      outRefundNo: `${no}r`,
      amount: 120,
      status: 'SUCCESS',
      wait: 'all',
    });
    await until(async () => (await refundOf(`${no}r`))?.state === 'SUCCESS');
    expect(await orderOf(no)).toMatchObject({ refundedFen: 120, reservedFen: 0 });
  });

  it('a rate limit proves nothing (an earlier attempt may have reached WeChat): kept, and a retry resumes', async () => {
    const no = await paid(500);
    world.sim.refunds.settleAfterMs = 60_000;
    world.sim.faults.next('v3.refund', 'rate-limit', 3);
    const invoke = invoker(world.h);
    expect(await invoke({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 100 })).toMatchObject({
      status: 'FAILED',
      code: 'RATELIMIT_EXCEEDED',
      retryable: true,
    });
    expect(await orderOf(no)).toMatchObject({ reservedFen: 100 });
    expect(await refundOf(`${no}r`)).toMatchObject({ state: 'REQUESTED' });
    expect(await invoke({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 100 })).toMatchObject({
      status: 'ALREADY_REQUESTED',
      state: 'REQUESTED',
    });
    expect(world.sim.refunds.listFor(no)).toHaveLength(1);
  });

  it('a final refusal proves no refund: released and forgotten, so the number may be asked again', async () => {
    const no = await paid(500);
    world.sim.control.suppress(true);
    await world.sim.control.refund({ outTradeNo: no, outRefundNo: `${no}p`, amount: 450 });
    const invoke = invoker(world.h);
    expect(await invoke({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 100 })).toMatchObject({
      status: 'FAILED',
      code: 'INVALID_REQUEST',
      retryable: false,
    });
    expect(await refundOf(`${no}r`)).toBeUndefined();
    expect(await invoke({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 50 })).toMatchObject({
      status: 'ACCEPTED',
    });
  });

  it.each(['v3', 'v2'] as const)(
    'WeChat refusing more than it can give (%s): released, not retryable',
    async (protocol) => {
      const no = await paid(500);
      // a refund made outside this service (the merchant platform) that the table never heard of
      world.sim.control.suppress(true);
      await world.sim.control.refund({ outTradeNo: no, outRefundNo: `${no}p`, amount: 450 });
      const outcome = await invoker(world.h)({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 100, protocol });
      expect(outcome).toMatchObject({ status: 'FAILED', retryable: false });
      expect(await orderOf(no)).toMatchObject({ reservedFen: 0 });
    },
  );

  it.each([
    ['system-error', 'SYSTEM_ERROR'],
    ['forged-signature', 'UNAUTHENTIC_RESPONSE'],
    ['unsigned-500', 'HTTP_ERROR'],
  ] as const)('%s proves nothing: the reservation is kept and the refund stays REQUESTED', async (fault, code) => {
    const no = await paid(500);
    world.sim.faults.next('v3.refund', fault, 3);
    world.sim.refunds.settleAfterMs = 60_000;
    expect(await invoker(world.h)({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 100 })).toMatchObject({
      status: 'FAILED',
      code,
      retryable: true,
    });
    expect(await orderOf(no)).toMatchObject({ reservedFen: 100 });
    expect(await refundOf(`${no}r`)).toMatchObject({ state: 'REQUESTED' });
  });

  it('a request that never reached WeChat is found NOT_AT_WECHAT by reconciliation and resumed by a retry', async () => {
    const no = await paid(500);
    world.sim.refunds.settleAfterMs = 60_000;
    world.sim.faults.next('v3.refund', 'system-error', 3);
    const invoke = invoker(world.h);
    await invoke({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 100 });
    const run = await reconcileNow(world.h);
    expect(run.refunds?.actions.NOT_AT_WECHAT).toBeGreaterThanOrEqual(1);
    expect(await invoke({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 100 })).toMatchObject({
      status: 'ALREADY_REQUESTED',
      state: 'REQUESTED',
    });
    expect(world.sim.refunds.listFor(no)).toHaveLength(1);
    expect(await orderOf(no)).toMatchObject({ reservedFen: 100 });
  });

  it('the service-provider path refunds the sub-merchant order', async () => {
    const no = orderNo('S');
    await world.h.store.registerOrder({ outTradeNo: no, amountFen: 300, merchantId: SUB });
    world.sim.control.createOrder({ outTradeNo: no, amount: 300, subMchid: SUB });
    const { order } = await world.sim.control.pay({ outTradeNo: no, subMchid: SUB, wait: 'none' });
    await world.h.store.applyPayment(
      {
        outTradeNo: no,
        merchantId: SUB,
        transactionId: order.transactionId ?? '',
        amountFen: 300,
        paidAt: new Date().toISOString(),
        channel: 'v3',
      },
      'reject',
    );
    world.sim.control.suppress(true);
    expect(
      await invoker(world.h)({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 50, subMchId: SUB }),
    ).toMatchObject({
      status: 'ACCEPTED',
      merchantId: SUB,
    });
    await until(() => world.sim.state.listRefunds().some((r) => r.outRefundNo === `${no}r`));
    await reconcileNow(world.h);
    expect(await orderOf(no, SUB)).toMatchObject({ refundedFen: 50, reservedFen: 0 });
  });
});

describe('failures of our own', () => {
  it('a store that is down: STORE_UNAVAILABLE, retryable, nothing asked of WeChat', async () => {
    const no = await paid(500);
    const store = world.h.faultyStore(1, () => new Error('connection reset'));
    const deps: RefundDeps = { ...world.h.deps({ store }), refunds: refundCalls(world.h) };
    expect(await refundCore({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: 10 }, deps)).toMatchObject({
      status: 'FAILED',
      code: 'STORE_UNAVAILABLE',
      retryable: true,
    });
    expect(world.sim.refunds.listFor(no)).toEqual([]);
  });

  it('no API configured: CONFIG_ERROR', async () => {
    const config: Config = { ...world.h.config, merchant: undefined, apiV2Key: undefined };
    expect(
      await invoker(world.h, { deps: { config } })({ outTradeNo: 'A', outRefundNo: 'B', refundFen: 1 }),
    ).toMatchObject({
      status: 'FAILED',
      code: 'CONFIG_ERROR',
    });
  });

  it('the adapter turns a configuration failure and a bug into FAILED outcomes, never a throw', async () => {
    const broken = refundHandler(() => {
      throw unavailable('boom');
    });
    expect(await broken({})).toMatchObject({ status: 'FAILED', code: 'INTERNAL_ERROR', retryable: true });
    const buggy = refundHandler(() => ({
      ...world.h.deps(),
      refunds: refundCalls(world.h),
      store: undefined as never,
    }));
    expect(await buggy({ outTradeNo: 'A', outRefundNo: 'B', refundFen: 1 })).toMatchObject({
      status: 'FAILED',
      code: 'INTERNAL_ERROR',
    });
    expect(refundDeadlineOutcome()).toMatchObject({ status: 'FAILED', code: 'TIMEOUT', retryable: true });
    const built = refundDeps({ ...world.h.env, WECHATPAY_REFUND_NOTIFY_URL: 'https://example.com/notify/refund' });
    expect(built.notifyUrl).toBe('https://example.com/notify/refund');
    expect(refundDeps(world.h.env).notifyUrl).toBeUndefined();
    expect(refundErrorOutcome(configError('WECHATPAY_MCHID is not set'))).toMatchObject({
      code: 'CONFIG_ERROR',
      retryable: false,
    });
  });
});
