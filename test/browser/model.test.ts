/** The console's pure parts: transitions seen by polling, anomalies, diffs, escaping; the throttling proxy. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Order } from '../../lib/orders/model';
import {
  acknowledgedAttempts,
  changedRows,
  itemAnomalies,
  nextTransitions,
  type DeliveryRow,
  type OrderRow,
} from '../../scripts/console/model';
import { esc, renderDelivery, renderOrderRows } from '../../scripts/console/render';
import { startStoreFaults } from '../../scripts/console/storeFaults';

const order = (o: Partial<Order> = {}): Order => ({
  outTradeNo: 'O1',
  merchantId: '1900000001',
  state: 'NOTPAY',
  amountFen: 100,
  amountUnverified: false,
  ...o,
});
const row = (o: Partial<OrderRow> = {}): OrderRow => ({
  ...order(),
  key: 'ORDER#1900000001#O1',
  refunds: [],
  anomalies: [],
  transitions: [],
  ...o,
});

describe('nextTransitions', () => {
  it('adds one transition per state change and none when the state stays', () => {
    const first = nextTransitions(undefined, order(), 't0');
    expect(first).toEqual([]);
    const paid = nextTransitions(row({ transitions: first }), order({ state: 'PAID' }), 't1');
    expect(paid).toEqual([{ from: 'NOTPAY', to: 'PAID', seenAt: 't1' }]);
    const again = nextTransitions(row({ state: 'PAID', transitions: paid }), order({ state: 'PAID' }), 't2');
    expect(again).toEqual(paid);
  });

  it('reads previousState for an order first seen after it moved', () => {
    expect(nextTransitions(undefined, order({ state: 'PAID', previousState: 'NOTPAY' }), 't')).toEqual([
      { from: 'NOTPAY', to: 'PAID', seenAt: 't' },
    ]);
    expect(nextTransitions(undefined, order({ state: 'PAID', previousState: 'UNREGISTERED' }), 't')[0]?.from).toBe(
      'UNREGISTERED',
    );
  });
});

describe('itemAnomalies', () => {
  it('names what the item itself shows', () => {
    expect(itemAnomalies(order())).toEqual([]);
    expect(itemAnomalies(order({ state: 'PAID', previousState: 'UNREGISTERED', amountUnverified: true }))).toEqual([
      'UNREGISTERED_ORDER',
    ]);
    expect(itemAnomalies(order({ state: 'PAID', previousState: 'CLOSED', paidFen: 100 }))).toEqual([
      'PAID_AFTER_CLOSE',
    ]);
    expect(itemAnomalies(order({ state: 'PAID', paidFen: 90 }))).toEqual(['AMOUNT_MISMATCH']);
    expect(itemAnomalies(order({ state: 'PAID', paidFen: 100, refundedFen: 101 }))).toEqual(['REFUND_EXCEEDS_TOTAL']);
  });
});

describe('changedRows', () => {
  it('returns only new or changed rows', () => {
    const a = row();
    const b = row({ key: 'K2', outTradeNo: 'O2' });
    const first = changedRows(new Map(), [a, b], (r) => r.key);
    expect(first.changed).toEqual([a, b]);
    const same = changedRows(first.seen, [a, b], (r) => r.key);
    expect(same.changed).toEqual([]);
    const moved = { ...b, state: 'PAID' as const };
    expect(changedRows(same.seen, [a, moved], (r) => r.key).changed).toEqual([moved]);
  });
});

describe('rendering', () => {
  it('escapes everything it interpolates', () => {
    expect(esc(`<a href="x" onclick='y'>&`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;');
    const html = renderOrderRows([row({ outTradeNo: '<script>alert(1)</script>', anomalies: ['<b>'] })], '');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<b>');
  });

  it('filters orders by state and shows yuan and WeChat’s Chinese labels', () => {
    const rows = [row(), row({ key: 'K2', outTradeNo: 'O2', state: 'PAID', amountFen: 1999 })];
    const paid = renderOrderRows(rows, 'PAID');
    expect(paid).toContain('data-order="O2"');
    expect(paid).not.toContain('data-order="O1"');
    expect(paid).toContain('¥19.99');
    expect(paid).toContain('支付成功');
    expect(renderOrderRows(rows, 'CLOSED')).toContain('No CLOSED orders');
  });

  it('counts acknowledged attempts across retries and replays', () => {
    const attempt = (accepted: boolean) => ({ attempt: 1, delayMs: 0, status: accepted ? 204 : 500, accepted });
    const d: DeliveryRow = {
      id: 7,
      kind: 'payment',
      protocol: 'v3',
      url: 'http://127.0.0.1:1/notify/payment',
      skipped: null,
      done: true,
      accepted: true,
      schedule: '15s',
      attempts: [attempt(false), attempt(true)],
      replays: [{ at: 't', attempts: [attempt(true), attempt(false), attempt(true)] }],
    };
    expect(acknowledgedAttempts(d)).toBe(3);
    expect(renderDelivery(d)).toContain('Acknowledged attempts: <strong>3</strong> of 5');
    expect(renderDelivery(d)).toContain('data-ack="3"');
  });
});

describe('the store throttling proxy', () => {
  it('answers the planned number of requests as throttled, then forwards', async () => {
    const upstream = createServer((req, res) => {
      req.resume();
      res.end(`upstream ${req.method} ${req.url}`);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const proxy = await startStoreFaults(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
    try {
      expect(() => proxy.throttle(0)).toThrow(RangeError);
      expect(() => proxy.throttle(1.5)).toThrow(RangeError);
      proxy.throttle(2);
      const post = () => fetch(`${proxy.endpoint}/x`, { method: 'POST', body: '{}' });
      for (let i = 0; i < 2; i += 1) {
        const res = await post();
        expect(res.status).toBe(400);
        expect(((await res.json()) as { __type: string }).__type).toMatch(/ProvisionedThroughputExceededException$/);
      }
      expect(proxy.remaining()).toBe(0);
      const passed = await post();
      expect([passed.status, await passed.text()]).toEqual([200, 'upstream POST /x']);
      proxy.throttle(5);
      proxy.clear();
      expect((await post()).status).toBe(200);
    } finally {
      await proxy.close();
      await new Promise<void>((r) => upstream.close(() => r()));
    }
  });
});
