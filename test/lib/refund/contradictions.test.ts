/**
 * Answers the simulator cannot give, against the real store: WeChat answering about another refund,
 * a result that contradicts one recorded meanwhile, a repeat whose answer is final, a refund query
 * about something else, and our own bugs. The refund calls here are stubs, and only they: an honest
 * simulator never contradicts itself, so these faults can only be injected.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RECONCILE_OPTIONS } from '../../../lib/reconcile/options';
import { reconcileRefund } from '../../../lib/reconcile/refunds';
import { createRefundCalls, type RefundApi, type RefundCalls } from '../../../lib/refund/calls';
import { refund, type RefundDeps } from '../../../lib/refund/refund';
import { settleRefund } from '../../../lib/settle/settle';
import { unavailable } from '../../../lib/errors';
import { WechatPayApiError } from '../../../lib/wechatpay/apiError';
import type { RefundAnswer } from '../../../lib/wechatpay/v3/refunds';
import { createHarness, orderNo, type Harness } from '../../support/harness';

let h: Harness;

beforeAll(async () => {
  h = await createHarness();
});

/** A PAID order of `fen` in the table (WeChat is never asked about it: the calls are stubs). */
async function paid(fen: number): Promise<string> {
  const no = orderNo('X');
  await h.store.registerOrder({ outTradeNo: no, amountFen: fen, merchantId: h.config.mchid });
  await h.store.applyPayment(
    {
      outTradeNo: no,
      merchantId: h.config.mchid,
      transactionId: `tx${no}`,
      amountFen: fen,
      paidAt: new Date().toISOString(),
      channel: 'v3',
    },
    'reject',
  );
  return no;
}

const answer = (no: string, fen: number, over: Partial<RefundAnswer> = {}): RefundAnswer => ({
  outRefundNo: `${no}r`,
  outTradeNo: no,
  refundId: `id${no}`,
  transactionId: `tx${no}`,
  status: 'PROCESSING',
  refundFen: fen,
  totalFen: 500,
  successAt: undefined,
  ...over,
});

/** Refund calls whose APIv3 apply and query are `api`'s (APIv2 unused). */
function stubbed(api: Partial<RefundApi>): RefundCalls {
  const never = () => Promise.reject(new Error('not called in this test'));
  return { v3: { apply: never, query: never, ...api }, v2: { apply: never, query: never } };
}

const depsWith = (refunds: RefundCalls): RefundDeps => ({ ...h.deps(), refunds });
const ask = (no: string, fen: number, refunds: RefundCalls) =>
  refund({ outTradeNo: no, outRefundNo: `${no}r`, refundFen: fen }, depsWith(refunds));

describe('the refund call meets a contradicting answer', () => {
  it.each([
    ['another out_refund_no', { outRefundNo: 'OTHER' }],
    ['another order', { outTradeNo: 'OTHER' }],
    ['another amount', { refundFen: 99 }],
  ])('an answer about %s: INCONSISTENT_ANSWER, anomaly, the reservation kept', async (_, over) => {
    const no = await paid(500);
    const outcome = await ask(no, 100, stubbed({ apply: async () => answer(no, 100, over) }));
    expect(outcome).toMatchObject({ status: 'FAILED', code: 'INCONSISTENT_ANSWER', retryable: false });
    expect(await h.store.getOrder(h.config.mchid, no)).toMatchObject({ reservedFen: 100 });
    expect(h.logs.some((l) => l.anomaly === 'REFUND_CONFLICT' && l.outTradeNo === no)).toBe(true);
  });

  it('SUCCESS after a CLOSED result arrived meanwhile: REFUND_CONFLICT, counted nowhere', async () => {
    const no = await paid(500);
    const outcome = await ask(
      no,
      100,
      stubbed({
        apply: async () => {
          // the CLOSED result lands while the call is in flight
          await settleRefund(
            {
              ...answer(no, 100),
              merchantId: h.config.mchid,
              state: 'CLOSED',
              successAt: undefined,
              channel: 'v3',
            },
            'v3',
            h.deps(),
          );
          return answer(no, 100, { status: 'SUCCESS', successAt: new Date().toISOString() });
        },
      }),
    );
    expect(outcome).toMatchObject({ status: 'FAILED', code: 'REFUND_CONFLICT', retryable: false });
    const order = await h.store.getOrder(h.config.mchid, no);
    expect(order?.refundedFen).toBeUndefined();
    expect(order).toMatchObject({ reservedFen: 0 });
  });

  it('a repeat whose first call timed out gets the final answer: ALREADY_REQUESTED in its final state', async () => {
    const no = await paid(500);
    const timeout = new WechatPayApiError({ status: undefined, code: 'TIMEOUT', message: 'slow', retryable: true });
    expect(await ask(no, 100, stubbed({ apply: () => Promise.reject(timeout) }))).toMatchObject({
      status: 'FAILED',
      code: 'TIMEOUT',
      retryable: true,
    });
    const done = answer(no, 100, { status: 'SUCCESS', successAt: new Date().toISOString() });
    expect(await ask(no, 100, stubbed({ apply: async () => done }))).toMatchObject({
      status: 'ALREADY_REQUESTED',
      state: 'SUCCESS',
      refundId: done.refundId,
    });
    expect(await h.store.getOrder(h.config.mchid, no)).toMatchObject({ refundedFen: 100, reservedFen: 0 });
  });

  it('a bug in the call (not an API error): INTERNAL_ERROR, and the reservation is kept', async () => {
    const no = await paid(500);
    const outcome = await ask(no, 100, stubbed({ apply: () => Promise.reject(new TypeError('boom')) }));
    expect(outcome).toMatchObject({ status: 'FAILED', code: 'INTERNAL_ERROR', retryable: true });
    expect(await h.store.getOrder(h.config.mchid, no)).toMatchObject({ reservedFen: 100 });
  });
});

describe('what the apply carries', () => {
  it('the paid total, the reason and the notify_url; a repeat of an answered request is not sent again', async () => {
    const no = await paid(500);
    const seen: unknown[] = [];
    const calls = stubbed({
      apply: async (input) => {
        seen.push(input);
        return answer(no, 100);
      },
    });
    const deps = { ...depsWith(calls), notifyUrl: 'https://example.com/notify/refund' };
    const event = { outTradeNo: no, outRefundNo: `${no}r`, refundFen: 100, reason: '退货' };
    expect(await refund(event, deps)).toMatchObject({ status: 'ACCEPTED', refundId: `id${no}` });
    expect(seen).toEqual([
      {
        outTradeNo: no,
        outRefundNo: `${no}r`,
        refundFen: 100,
        totalFen: 500,
        reason: '退货',
        notifyUrl: 'https://example.com/notify/refund',
      },
    ]);
    // WeChat's refund id is recorded: the repeat is answered from the table
    expect(await refund(event, deps)).toMatchObject({
      status: 'ALREADY_REQUESTED',
      state: 'REQUESTED',
      refundId: `id${no}`,
    });
    expect(seen).toHaveLength(1);
  });
});

describe('refund reconciliation, answer by answer', () => {
  it('ABNORMAL, ABNORMAL again, SUCCESS, SUCCESS again, then a contradicting CLOSED', async () => {
    const no = await paid(500);
    await ask(no, 100, stubbed({ apply: async () => answer(no, 100) }));
    const pending = {
      outRefundNo: `${no}r`,
      outTradeNo: no,
      merchantId: h.config.mchid,
      createdAt: new Date().toISOString(),
    };
    const run = (a: RefundAnswer) =>
      reconcileRefund(pending, DEFAULT_RECONCILE_OPTIONS, 'v3', {
        ...h.deps(),
        refunds: stubbed({ query: async () => a }),
      });
    expect(await run(answer(no, 100, { status: 'ABNORMAL' }))).toBe('SETTLED');
    expect(await run(answer(no, 100, { status: 'ABNORMAL' }))).toBe('LEFT_PENDING');
    expect(await h.store.getOrder(h.config.mchid, no)).toMatchObject({ reservedFen: 100 });
    const success = answer(no, 100, { status: 'SUCCESS', successAt: new Date().toISOString() });
    expect(await run(success)).toBe('SETTLED');
    expect(await run(success)).toBe('ALREADY_SETTLED');
    expect(await run(answer(no, 100, { status: 'CLOSED' }))).toBe('CONFLICT');
    expect(await h.store.getOrder(h.config.mchid, no)).toMatchObject({ refundedFen: 100, reservedFen: 0 });
  });
});

describe('APIv2 apply without a usable certificate', () => {
  it('is blocked, and a direct call is refused as CONFIG', async () => {
    const none = createRefundCalls({ config: h.config });
    expect(none.v2.blocked).toMatch(/client certificate/);
    await expect(none.v2.apply(answer('A', 1))).rejects.toMatchObject({ kind: 'CONFIG' });
    // settings that name no identity (and no reason) are still refused
    const empty = createRefundCalls({
      config: h.config,
      secapi: { identity: undefined, baseUrl: 'https://127.0.0.1', ca: undefined, blocked: undefined },
    });
    await expect(empty.v2.apply(answer('A', 1))).rejects.toMatchObject({ kind: 'CONFIG' });
  });
});

describe('refund reconciliation meets a contradicting answer', () => {
  const pending = (no: string) => ({
    outRefundNo: `${no}r`,
    outTradeNo: no,
    merchantId: h.config.mchid,
    createdAt: new Date().toISOString(),
  });
  const sweep = (api: Partial<RefundApi>) => ({ ...h.deps(), refunds: stubbed(api) });

  it('an answer about another refund is a CONFLICT with an anomaly; nothing is settled', async () => {
    const no = await paid(500);
    const action = await reconcileRefund(
      pending(no),
      DEFAULT_RECONCILE_OPTIONS,
      'v3',
      sweep({ query: async () => answer('OTHER', 100, { status: 'SUCCESS', successAt: new Date().toISOString() }) }),
    );
    expect(action).toBe('CONFLICT');
    expect((await h.store.getOrder(h.config.mchid, no))?.refundedFen).toBeUndefined();
  });

  it.each([
    ['a bug', new TypeError('boom'), 'INTERNAL_ERROR'],
    ['a store failure', unavailable('throttled'), 'UNAVAILABLE'],
    [
      'a forged not-found',
      new WechatPayApiError({ status: 404, code: 'UNAUTHENTIC_RESPONSE', message: 'bad sign', retryable: false }),
      'UNAUTHENTIC_RESPONSE',
    ],
  ])('%s is an ERROR naming its code', async (_, err, code) => {
    const no = await paid(500);
    const action = await reconcileRefund(
      pending(no),
      DEFAULT_RECONCILE_OPTIONS,
      'v3',
      sweep({ query: () => Promise.reject(err) }),
    );
    expect(action).toBe('ERROR');
    expect(h.logs.some((l) => l.message === 'reconcile.refund' && l.outTradeNo === no && l.code === code)).toBe(true);
  });
});
