import { describe, expect, it } from 'vitest';
import { SimError, SimState } from '../../scripts/simulator/state';
import { parseFlatXml } from '../../scripts/simulator/xml';

const MCHID = '1900000001';

function stateAt(start: number): { state: SimState; advance: (ms: number) => void } {
  let now = start;
  return { state: new SimState(() => now), advance: (ms) => void (now += ms) };
}

function newOrder(state: SimState, outTradeNo = 'O1', amount = 1000): void {
  state.createOrder({ outTradeNo, amount, mchid: MCHID, appid: 'wx0000000000000000' });
}

function refusal(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof SimError) return error.code;
    throw error;
  }
  return undefined;
}

describe('SimState', () => {
  it('applies the close rules in order: paid, closed, too early (with the wait), then close', () => {
    const { state, advance } = stateAt(1_000_000);
    newOrder(state);
    expect(state.close(MCHID, 'O1', 300)).toMatchObject({ kind: 'too-early', waitSeconds: 300 });
    advance(299_500);
    expect(state.close(MCHID, 'O1', 300)).toMatchObject({ kind: 'too-early', waitSeconds: 1 });
    advance(500);
    expect(state.close(MCHID, 'O1', 300).kind).toBe('closed');
    expect(state.close(MCHID, 'O1', 300).kind).toBe('already-closed');
    expect(state.close(MCHID, 'nope', 300).kind).toBe('not-found');
    newOrder(state, 'O2');
    state.pay(MCHID, 'O2');
    expect(state.close(MCHID, 'O2', 300).kind).toBe('paid');
  });

  it('pays idempotently, refuses to pay a closed order unless forced', () => {
    const { state } = stateAt(0);
    newOrder(state);
    const first = state.pay(MCHID, 'O1');
    expect(state.pay(MCHID, 'O1').transactionId).toBe(first.transactionId);
    newOrder(state, 'O2');
    state.close(MCHID, 'O2', 0);
    expect(refusal(() => state.pay(MCHID, 'O2'))).toBe('ORDER_CLOSED');
    expect(state.pay(MCHID, 'O2', { force: true }).state).toBe('SUCCESS');
  });

  it('keeps refunds within the paid amount and out_refund_no idempotent', () => {
    const { state } = stateAt(0);
    newOrder(state);
    expect(
      refusal(() =>
        state.refund({ merchantId: MCHID, outTradeNo: 'O1', outRefundNo: 'R1', amount: 1, status: 'SUCCESS' }),
      ),
    ).toBe('NOT_PAID');
    state.pay(MCHID, 'O1');
    const r1 = state.refund({ merchantId: MCHID, outTradeNo: 'O1', outRefundNo: 'R1', amount: 600, status: 'SUCCESS' });
    expect(r1.order).toMatchObject({ state: 'REFUND', refunded: 600 });
    const again = state.refund({
      merchantId: MCHID,
      outTradeNo: 'O1',
      outRefundNo: 'R1',
      amount: 600,
      status: 'SUCCESS',
    });
    expect(again.refund.refundId).toBe(r1.refund.refundId);
    expect(again.order.refunded).toBe(600);
    expect(
      refusal(() =>
        state.refund({ merchantId: MCHID, outTradeNo: 'O1', outRefundNo: 'R1', amount: 500, status: 'SUCCESS' }),
      ),
    ).toBe('REFUND_CONFLICT');
    expect(
      refusal(() =>
        state.refund({ merchantId: MCHID, outTradeNo: 'O1', outRefundNo: 'R2', amount: 401, status: 'SUCCESS' }),
      ),
    ).toBe('REFUND_EXCEEDS');
    const abnormal = state.refund({
      merchantId: MCHID,
      outTradeNo: 'O1',
      outRefundNo: 'R3',
      amount: 400,
      status: 'ABNORMAL',
    });
    expect(abnormal.order.refunded).toBe(600);
    const settled = state.refund({
      merchantId: MCHID,
      outTradeNo: 'O1',
      outRefundNo: 'R3',
      amount: 400,
      status: 'SUCCESS',
    });
    expect([settled.refund.status, settled.order.refunded]).toEqual(['SUCCESS', 1000]);
  });

  it('rejects invalid numbers, amounts and duplicates; keys orders by (sub-)merchant', () => {
    const { state } = stateAt(0);
    expect(refusal(() => newOrder(state, 'has space'))).toBe('INVALID');
    expect(refusal(() => newOrder(state, 'O1', 0))).toBe('INVALID');
    expect(refusal(() => newOrder(state, 'O1', 1.5))).toBe('INVALID');
    newOrder(state);
    expect(refusal(() => newOrder(state))).toBe('DUPLICATE');
    state.createOrder({
      outTradeNo: 'O1',
      amount: 5,
      mchid: MCHID,
      subMchid: '1900000002',
      appid: 'wx0000000000000000',
    });
    expect(state.findOrder('1900000002', 'O1')?.amount).toBe(5);
    expect(state.findOrder(MCHID, 'O1')?.amount).toBe(1000);
  });
});

describe('parseFlatXml', () => {
  it('reads CDATA, text with entities and empty elements', () => {
    expect(
      parseFlatXml('<?xml version="1.0"?>\n<xml>\n <a><![CDATA[x<y]]></a><b>1 &amp; 2 &#x4E2D;</b><c/></xml>'),
    ).toEqual({
      a: 'x<y',
      b: '1 & 2 中',
      c: '',
    });
  });

  it('refuses DOCTYPE/ENTITY, nesting, duplicates, unknown entities and other roots', () => {
    const hostile = [
      '<!DOCTYPE xml [<!ENTITY e "x">]><xml><a>&e;</a></xml>',
      '<xml><!DOCTYPE x><a>1</a></xml>',
      '<xml><a><b>1</b></a></xml>',
      '<xml><a>1</a><a>2</a></xml>',
      '<xml><a>&e;</a></xml>',
      '<root><a>1</a></root>',
      '',
    ];
    for (const text of hostile) expect(parseFlatXml(text)).toBeUndefined();
  });

  it('treats __proto__ as plain data', () => {
    const fields = parseFlatXml('<xml><__proto__>polluted</__proto__></xml>');
    expect(fields?.__proto__).toBe('polluted');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
