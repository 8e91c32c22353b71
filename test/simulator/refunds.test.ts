/**
 * The simulator's refund desk and its APIv3/APIv2 answers, in process: one refund per out_refund_no,
 * PROCESSING then the result, what is left to refund (refunds in flight included), hostile fields,
 * a lost notification, and the counts tests rely on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimControl } from '../../scripts/simulator/control';
import { DeliveryManager } from '../../scripts/simulator/deliveries';
import { FaultPlan } from '../../scripts/simulator/faults';
import { generateTestKeys } from '../../scripts/simulator/keys';
import { KeyRotation } from '../../scripts/simulator/rotation';
import {
  RefundDesk,
  v2RefundApply,
  v2RefundQuery,
  v3RefundApply,
  v3RefundQuery,
  v3RefundRoute,
} from '../../scripts/simulator/refunds';
import { SimState } from '../../scripts/simulator/state';

const keys = generateTestKeys();
const desks: RefundDesk[] = [];

function setup(): { desk: RefundDesk; state: SimState; control: SimControl } {
  const state = new SimState();
  const deliveries = new DeliveryManager({ timeScale: 0.001, replyTimeoutMs: 1000 }, state.now);
  const control = new SimControl({
    keys,
    state,
    deliveries,
    faults: new FaultPlan(),
    config: { protocol: 'v3', signer: 'platform', signType: 'MD5' },
    couponCallbacks: new Map(),
    rotation: new KeyRotation(keys),
  });
  const desk = new RefundDesk(state, control, 60_000);
  desks.push(desk);
  control.createOrder({ outTradeNo: 'O1', amount: 100 });
  return { desk, state, control };
}

afterEach(() => {
  for (const d of desks.splice(0)) d.close();
});

const body = (patch: Record<string, unknown> = {}) => ({
  out_trade_no: 'O1',
  out_refund_no: 'R1',
  amount: { refund: 60, total: 100, currency: 'CNY' },
  ...patch,
});

describe('APIv3 refund apply and query', () => {
  it('routes the two refund paths only', () => {
    expect(v3RefundRoute('POST', '/v3/refund/domestic/refunds')).toEqual({ endpoint: 'v3.refund' });
    expect(v3RefundRoute('GET', '/v3/refund/domestic/refunds/R%2D1')).toEqual({
      endpoint: 'v3.refundquery',
      outRefundNo: 'R-1',
    });
    expect(v3RefundRoute('GET', '/v3/refund/domestic/refunds/%E0')).toEqual({
      endpoint: 'v3.refundquery',
      outRefundNo: '',
    });
    expect(v3RefundRoute('DELETE', '/v3/refund/domestic/refunds/R1')).toBeUndefined();
  });

  it('refuses an unpaid or unknown order, then makes one refund per out_refund_no, PROCESSING first', async () => {
    const { desk, control } = setup();
    expect(v3RefundApply(desk, keys.mchid, body())).toMatchObject({ status: 400, json: { code: 'INVALID_REQUEST' } });
    expect(v3RefundApply(desk, keys.mchid, body({ out_trade_no: 'O9' }))).toMatchObject({ status: 404 });
    await control.pay({ outTradeNo: 'O1', wait: 'none' });
    const first = v3RefundApply(desk, keys.mchid, body());
    expect(first).toMatchObject({ status: 200, json: { status: 'PROCESSING', amount: { refund: 60, total: 100 } } });
    expect(v3RefundApply(desk, keys.mchid, body())).toEqual(first);
    expect(
      v3RefundApply(desk, keys.mchid, body({ amount: { refund: 61, total: 100, currency: 'CNY' } })),
    ).toMatchObject({
      status: 400,
    });
    // 40 left while 60 are in flight
    expect(
      v3RefundApply(
        desk,
        keys.mchid,
        body({ out_refund_no: 'R2', amount: { refund: 41, total: 100, currency: 'CNY' } }),
      ),
    ).toMatchObject({ status: 400, json: { code: 'INVALID_REQUEST' } });
    expect(
      v3RefundApply(
        desk,
        keys.mchid,
        body({ out_refund_no: 'R2', amount: { refund: 10, total: 99, currency: 'CNY' } }),
      ),
    ).toMatchObject({ status: 400 });
    expect([desk.created, desk.requestedFen, desk.applyCalls]).toEqual([1, 60, 7]);
    expect(v3RefundQuery(desk, keys.mchid, 'R1')).toMatchObject({ json: { status: 'PROCESSING' } });
    desk.lostNotifications = 1;
    await desk.settleAll();
    expect(v3RefundQuery(desk, keys.mchid, 'R1')).toMatchObject({ json: { status: 'SUCCESS' } });
    expect(v3RefundQuery(desk, keys.mchid, 'R9')).toMatchObject({ status: 404 });
    expect(v3RefundQuery(desk, keys.mchid, 'a b')).toMatchObject({ status: 400 });
  });

  it.each([
    [{ out_trade_no: 5 }, 'out_trade_no'],
    [{ out_refund_no: '../x' }, 'out_refund_no'],
    [{ amount: null }, 'amount'],
    [{ amount: { refund: 0, total: 100, currency: 'CNY' } }, 'amount.refund'],
    [{ amount: { refund: 1, total: '100', currency: 'CNY' } }, 'amount.total'],
    [{ amount: { refund: 1, total: 100, currency: 'USD' } }, 'amount.currency'],
  ])('refuses %j as PARAM_ERROR', (patch, field) => {
    const { desk } = setup();
    expect(v3RefundApply(desk, keys.mchid, body(patch))).toMatchObject({
      status: 400,
      json: { code: 'PARAM_ERROR', detail: { field } },
    });
  });
});

describe('APIv2 refund and refundquery', () => {
  const fields = (patch: Record<string, string> = {}) => ({
    out_trade_no: 'O1',
    out_refund_no: 'R1',
    refund_fee: '30',
    total_fee: '100',
    ...patch,
  });

  it('answers the refund, then its state by out_refund_no', async () => {
    const { desk, control } = setup();
    expect(v2RefundApply(desk, keys.mchid, fields())).toMatchObject({ result_code: 'FAIL', err_code: 'ERROR' });
    expect(v2RefundApply(desk, keys.mchid, fields({ out_trade_no: 'O9' }))).toMatchObject({
      err_code: 'ORDERNOTEXIST',
    });
    await control.pay({ outTradeNo: 'O1', wait: 'none' });
    expect(v2RefundApply(desk, keys.mchid, fields())).toMatchObject({ result_code: 'SUCCESS', refund_fee: '30' });
    expect(v2RefundApply(desk, keys.mchid, fields({ out_refund_no: 'R2', refund_fee: '71' }))).toMatchObject({
      err_code: 'NOTENOUGH',
    });
    expect(v2RefundQuery(desk, keys.mchid, { out_refund_no: 'R1' })).toMatchObject({ refund_status_0: 'PROCESSING' });
    desk.outcomes.push('CLOSED');
    await desk.settleAll();
    expect(v2RefundQuery(desk, keys.mchid, { out_refund_no: 'R1' })).toMatchObject({ refund_status_0: 'REFUNDCLOSE' });
    expect(v2RefundQuery(desk, keys.mchid, { out_refund_no: 'R7' })).toMatchObject({ err_code: 'REFUNDNOTEXIST' });
    expect(v2RefundQuery(desk, keys.mchid, {})).toMatchObject({ err_code: 'PARAM_ERROR' });
  });

  it.each<Record<string, string>>([
    { out_refund_no: '' },
    { out_trade_no: 'a b' },
    { refund_fee: '1.5' },
    { total_fee: '-1' },
    { refund_fee: '0' },
  ])('refuses %j as PARAM_ERROR', (patch) => {
    const { desk } = setup();
    expect(v2RefundApply(desk, keys.mchid, fields(patch))).toMatchObject({ err_code: 'PARAM_ERROR' });
  });
});
