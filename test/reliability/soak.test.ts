/**
 * Reliability: a soak. Mixed traffic over many orders through the real handler against DynamoDB
 * Local: APIv2 and APIv3, direct and service-provider merchants, registered and unregistered orders,
 * payments with random duplicates (identical retries and freshly signed ones), concurrent bursts,
 * reordering across orders and kinds (refunds before their payment), refunds with out-of-order
 * ABNORMAL / SUCCESS / CLOSED, contradicting final states, over-refunds, close races against
 * payments (store.applyClose, as closeOrder does), and a share of deliveries on flaky store clients
 * (throttling, timeouts, lost replies) that WeChat then retries. Afterwards the whole table is checked
 * against a model of what must be there, and the logs against exactly-once.
 *
 * Default (inside `npm test`): 3 rounds of 50 orders, a fixed amount of traffic.
 * Long: `SOAK=long npx vitest run test/reliability/soak.test.ts` runs rounds of 100 orders for
 * SOAK_SECONDS (default 120). SOAK_SEED replays the traffic of a run (the seed is printed; the
 * interleaving of concurrent requests is the scheduler's and is not part of the replay).
 */
import { describe, expect, it } from 'vitest';
import { orderKey, refundKey } from '../../lib/orders/table';
import {
  v2PaymentNotification,
  v2RefundNotification,
  v3Notification,
  v3RefundResource,
  v3TransactionResource,
  type WireRequest,
} from '../../scripts/simulator/messages';
import { createHarness, type Harness } from '../support/harness';
import {
  deliver,
  faultyStore,
  isClearRejection,
  isSuccess,
  isTransientFailure,
  pool,
  rng,
  scanAll,
  seedFrom,
  type Fault,
  type Item,
  type Protocol,
  type Rng,
} from './support';

const LONG = process.env.SOAK === 'long';
const SECONDS = Number(process.env.SOAK_SECONDS ?? (LONG ? 120 : 0));
const ORDERS_PER_ROUND = Number(process.env.SOAK_ORDERS ?? (LONG ? 100 : 50));
const MIN_ROUNDS = 3;
const CONCURRENCY = 12;
const FAULT_RATE = 0.05;
const seed = seedFrom('SOAK_SEED', 'soak.test.ts traffic');

type RefundStatus = 'SUCCESS' | 'CLOSED' | 'ABNORMAL';

interface OrderModel {
  outTradeNo: string;
  merchantId: string;
  /** Service-provider mode: the sub-merchant id (also `merchantId`). */
  sub: boolean;
  amount: number;
  registered: boolean;
  fate: 'paid' | 'unpaid' | 'closed';
  /** Close calls racing the payment (paid orders) or closing it (closed orders). */
  closes: number;
  protocol: Protocol;
  transactionId: string;
  refunds: RefundModel[];
}

interface RefundModel {
  order: OrderModel;
  outRefundNo: string;
  refundId: string;
  amount: number;
  /** The final state WeChat reports; `conflict` sends both SUCCESS and CLOSED (the first one wins). */
  final: 'SUCCESS' | 'CLOSED' | 'conflict';
  abnormal: boolean;
}

/** One notification WeChat sends (any number of times). */
interface Notification {
  id: string;
  order: OrderModel;
  refund?: RefundModel;
  status?: RefundStatus;
  protocol: Protocol;
  /** Replies seen: 'ok' | 'rejected'. */
  replies: string[];
}

/** One delivery attempt: the same bytes again, or a freshly signed copy; maybe on a flaky instance. */
interface Copy {
  fresh: boolean;
  faults?: Array<Fault | undefined>;
}

type Op =
  | { kind: 'deliver'; n: Notification; copies: Copy[]; burst: boolean }
  | { kind: 'race'; n: Notification; copies: Copy[]; closes: number }
  | { kind: 'close'; order: OrderModel; times: number };

const SUB_MERCHANTS = ['1900000401', '1900000402'];

function planRound(r: Rng, round: number): { orders: OrderModel[]; ops: Op[]; notifications: Notification[] } {
  const orders: OrderModel[] = [];
  const ops: Op[] = [];
  const notifications: Notification[] = [];
  const copies = (max: number): Copy[] =>
    Array.from({ length: r.range(1, max) }, () => ({
      fresh: r.chance(0.4),
      ...(r.chance(FAULT_RATE)
        ? {
            faults: Array.from({ length: 4 }, () =>
              r.chance(0.5) ? r.pick(['throttle', 'timeout', 'lostReply'] as const) : undefined,
            ),
          }
        : {}),
    }));
  for (let i = 0; i < ORDERS_PER_ROUND; i++) {
    const sub = r.chance(0.15);
    const fateRoll = r.next();
    const order: OrderModel = {
      outTradeNo: `S${seed.toString(36)}r${round}o${i}x${r.digits(6)}`,
      merchantId: sub ? r.pick(SUB_MERCHANTS) : '',
      sub,
      amount: r.range(1, 100_000),
      registered: r.chance(0.93),
      fate: fateRoll < 0.75 ? 'paid' : fateRoll < 0.88 ? 'unpaid' : 'closed',
      closes: 0,
      protocol: r.chance(0.5) ? 'v2' : 'v3',
      transactionId: `4200${r.digits(24)}`,
      refunds: [],
    };
    if (!order.registered) order.fate = 'paid'; // an unregistered order exists only through its payment
    orders.push(order);
    if (order.fate === 'closed') {
      order.closes = r.range(1, 3);
      ops.push({ kind: 'close', order, times: order.closes });
      continue;
    }
    if (order.fate === 'unpaid') continue;

    const payment: Notification = { id: `pay-${order.outTradeNo}`, order, protocol: order.protocol, replies: [] };
    notifications.push(payment);
    if (order.registered && r.chance(0.2)) {
      order.closes = r.range(1, 2);
      ops.push({ kind: 'race', n: payment, copies: copies(4), closes: order.closes });
    } else {
      const burst = r.chance(0.1);
      ops.push({ kind: 'deliver', n: payment, copies: burst ? copies(15) : copies(3), burst });
    }

    // refunds: none, or up to three; their sum stays within the amount unless over-refunding on purpose
    const count = r.chance(0.45) ? r.range(1, 3) : 0;
    const overRefund = r.chance(0.08);
    let left = order.amount;
    for (let k = 0; k < count; k++) {
      const amount = overRefund
        ? r.range(1, order.amount)
        : left > 0
          ? r.range(1, Math.max(1, Math.floor(left / (count - k))))
          : 0;
      if (amount === 0) break;
      left -= amount;
      const roll = r.next();
      const refund: RefundModel = {
        order,
        outRefundNo: `${order.outTradeNo}R${k}`,
        refundId: `50${r.digits(27)}`,
        amount,
        final: roll < 0.7 ? 'SUCCESS' : roll < 0.9 ? 'CLOSED' : 'conflict',
        abnormal: r.chance(0.4),
      };
      order.refunds.push(refund);
      const statuses: RefundStatus[] = refund.final === 'conflict' ? ['SUCCESS', 'CLOSED'] : [refund.final];
      if (refund.abnormal) statuses.push('ABNORMAL');
      for (const status of statuses) {
        const n: Notification = {
          id: `ref-${refund.outRefundNo}-${status}`,
          order,
          refund,
          status,
          protocol: r.chance(0.5) ? 'v2' : 'v3',
          replies: [],
        };
        notifications.push(n);
        ops.push({ kind: 'deliver', n, copies: copies(3), burst: r.chance(0.3) });
      }
    }
  }
  return { orders, ops: r.shuffle(ops), notifications };
}

// ---------------------------------------------------------------------------------------------

let h: Harness;

function wireOf(n: Notification): WireRequest {
  const { order } = n;
  const merchant = order.sub ? order.merchantId : h.keys.mchid;
  if (!n.refund) {
    if (n.protocol === 'v2') {
      return v2PaymentNotification(h.keys, {
        outTradeNo: order.outTradeNo,
        totalFee: order.amount,
        transactionId: order.transactionId,
        ...(order.sub ? { extra: { sub_mch_id: merchant } } : {}),
      });
    }
    const partner = order.sub ? { spMchid: h.keys.mchid, subMchid: merchant, spAppid: h.keys.appid } : undefined;
    const resource = v3TransactionResource(h.keys, {
      outTradeNo: order.outTradeNo,
      total: order.amount,
      transactionId: order.transactionId,
      ...(partner ? { partner } : {}),
    });
    return v3Notification(h.keys, {
      eventType: 'TRANSACTION.SUCCESS',
      originalType: 'transaction',
      resource,
      id: n.id.slice(0, 36),
    });
  }
  const { refund } = n;
  const status = n.status as RefundStatus;
  if (n.protocol === 'v2') {
    const v2Status = ({ SUCCESS: 'SUCCESS', CLOSED: 'REFUNDCLOSE', ABNORMAL: 'CHANGE' } as const)[status];
    return v2RefundNotification(h.keys, {
      outTradeNo: order.outTradeNo,
      outRefundNo: refund.outRefundNo,
      refundId: refund.refundId,
      transactionId: order.transactionId,
      refundStatus: v2Status,
      refundFee: refund.amount,
      totalFee: order.amount,
      ...(order.sub ? { subMchId: merchant } : {}),
    });
  }
  const resource = v3RefundResource(h.keys, {
    outTradeNo: order.outTradeNo,
    outRefundNo: refund.outRefundNo,
    refundId: refund.refundId,
    transactionId: order.transactionId,
    refundStatus: status,
    refund: refund.amount,
    total: order.amount,
    ...(order.sub ? { partner: { spMchid: h.keys.mchid, subMchid: merchant } } : {}),
  });
  return v3Notification(h.keys, {
    eventType: `REFUND.${status}`,
    originalType: 'refund',
    resource,
    id: n.id.slice(-36),
  });
}

const unexpected: string[] = [];

/** Delivers one copy; a retryable failure is retried (WeChat does), on a healthy instance. */
async function deliverCopy(n: Notification, copy: Copy, cached: { wire?: WireRequest }): Promise<void> {
  const route = n.refund ? '/notify/refund' : '/notify/payment';
  const wire = copy.fresh || !cached.wire ? wireOf(n) : cached.wire;
  cached.wire ??= wire;
  let deps = h.deps();
  let flaky: ReturnType<typeof faultyStore> | undefined;
  if (copy.faults) {
    const plan = copy.faults;
    flaky = faultyStore(h, (attempt) => plan[attempt]);
    deps = h.deps({ store: flaky.store });
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const reply = await deliver(deps, attempt === 0 ? wire : wireOf(n), route);
    if (isSuccess(reply)) {
      n.replies.push('ok');
      break;
    }
    if (isClearRejection(n.protocol, reply)) {
      n.replies.push('rejected');
      break;
    }
    if (!isTransientFailure(n.protocol, reply) || attempt === 4) {
      unexpected.push(`${n.id}: ${reply.statusCode} ${reply.body.slice(0, 160)}`);
      break;
    }
    deps = h.deps(); // WeChat's retry lands on a healthy instance
  }
  flaky?.client.destroy();
}

async function runOp(op: Op): Promise<void> {
  if (op.kind === 'close') {
    await Promise.all(
      Array.from({ length: op.times }, () => h.store.applyClose(op.order.merchantId, op.order.outTradeNo)),
    );
    return;
  }
  const cached: { wire?: WireRequest } = {};
  if (op.kind === 'race') {
    await Promise.all([
      ...op.copies.map((c) => deliverCopy(op.n, c, cached)),
      ...Array.from({ length: op.closes }, () => h.store.applyClose(op.n.order.merchantId, op.n.order.outTradeNo)),
    ]);
    return;
  }
  if (op.burst) await Promise.all(op.copies.map((c) => deliverCopy(op.n, c, cached)));
  else for (const c of op.copies) await deliverCopy(op.n, c, cached);
}

// ---------------------------------------------------------------------------------------------
// The model check
// ---------------------------------------------------------------------------------------------

const S = (i: Item | undefined, k: string) => i?.[k]?.S;
const N = (i: Item | undefined, k: string) => (i?.[k]?.N === undefined ? undefined : Number(i[k]?.N));

function checkTable(items: Item[], orders: OrderModel[], notifications: Notification[]): string[] {
  const problems: string[] = [];
  const byPk = new Map(items.map((i) => [S(i, 'pk') as string, i]));
  const expectedPks = new Set<string>();
  const fail = (what: string, got: unknown, want: unknown) =>
    problems.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);

  for (const o of orders) {
    const pk = orderKey(o.merchantId, o.outTradeNo);
    expectedPks.add(pk);
    const item = byPk.get(pk);
    const id = `order ${o.outTradeNo} (${o.fate}${o.registered ? '' : ', unregistered'}${o.closes ? `, ${o.closes} close(s)` : ''})`;
    if (!item) {
      problems.push(`${id}: missing`);
      continue;
    }
    if (o.fate === 'unpaid') {
      // the pending entry sits in its shard of the index: NOTPAY (shard 0) or NOTPAY#<k>
      if (S(item, 'state') !== 'NOTPAY' || !/^NOTPAY(#\d+)?$/.test(S(item, 'pending') ?? ''))
        fail(`${id} state/pending`, [S(item, 'state'), S(item, 'pending')], ['NOTPAY', 'NOTPAY[#k]']);
      continue;
    }
    if (o.fate === 'closed') {
      if (S(item, 'state') !== 'CLOSED' || item.pending !== undefined)
        fail(`${id} state/pending`, [S(item, 'state'), S(item, 'pending')], ['CLOSED', undefined]);
      continue;
    }
    const previous = !o.registered ? ['UNREGISTERED'] : o.closes > 0 ? ['NOTPAY', 'CLOSED'] : ['NOTPAY'];
    const got = {
      state: S(item, 'state'),
      transactionId: S(item, 'transactionId'),
      paidFen: N(item, 'paidFen'),
      amountFen: N(item, 'amountFen'),
      amountUnverified: item.amountUnverified?.BOOL,
      paidVia: S(item, 'paidVia'),
      pending: S(item, 'pending'),
    };
    const want = {
      state: o.registered ? 'PAID' : 'PAID_UNVERIFIED',
      transactionId: o.transactionId,
      paidFen: o.amount,
      amountFen: o.amount,
      amountUnverified: !o.registered,
      paidVia: o.protocol,
      pending: undefined,
    };
    if (JSON.stringify(got) !== JSON.stringify(want)) fail(id, got, want);
    if (!previous.includes(S(item, 'previousState') ?? ''))
      fail(`${id} previousState`, S(item, 'previousState'), previous);

    // refunds: each in its final state; the order's tally is exactly the sum of the successful ones
    let tally = 0;
    const counted: string[] = [];
    for (const rf of o.refunds) {
      const rpk = refundKey(o.merchantId, rf.outRefundNo);
      expectedPks.add(rpk);
      const ri = byPk.get(rpk);
      const state = S(ri, 'state');
      const finals = rf.final === 'conflict' ? ['SUCCESS', 'CLOSED'] : [rf.final];
      if (!state || !finals.includes(state)) fail(`refund ${rf.outRefundNo} state`, state, finals);
      if (
        S(ri, 'refundId') !== rf.refundId ||
        N(ri, 'refundFen') !== rf.amount ||
        N(ri, 'totalFen') !== o.amount ||
        S(ri, 'outTradeNo') !== o.outTradeNo
      ) {
        fail(
          `refund ${rf.outRefundNo} fields`,
          [S(ri, 'refundId'), N(ri, 'refundFen'), N(ri, 'totalFen')],
          [rf.refundId, rf.amount, o.amount],
        );
      }
      if (state === 'SUCCESS') {
        tally += rf.amount;
        counted.push(rf.outRefundNo);
      }
      // replies agree with the state: the winning final and ABNORMAL acknowledged, a losing final refused
      for (const n of notifications.filter((x) => x.refund === rf)) {
        const wantReply = n.status === 'ABNORMAL' || n.status === state ? 'ok' : 'rejected';
        if (n.replies.some((x) => x !== wantReply)) fail(`replies to ${n.id} (state ${state})`, n.replies, wantReply);
      }
    }
    const gotTally = N(item, 'refundedFen') ?? 0;
    const gotNos = [...(item.refundNos?.SS ?? [])].sort();
    if (gotTally !== tally || JSON.stringify(gotNos) !== JSON.stringify(counted.sort()))
      fail(`${id} refund tally`, [gotTally, gotNos], [tally, counted]);
  }
  for (const pk of byPk.keys()) if (!expectedPks.has(pk)) problems.push(`unexpected item ${pk}`);
  for (const n of notifications)
    if (!n.refund && n.replies.some((x) => x !== 'ok')) fail(`replies to ${n.id}`, n.replies, 'all ok');
  return problems;
}

/** Exactly once, from the logs: no transition was logged as applied twice. */
function checkLogs(notifications: Notification[]): string[] {
  const applied = new Map<string, number>();
  for (const l of h.logs) {
    if (l.message !== 'delivery' || typeof l.outcome !== 'string') continue;
    const key =
      l.outRefundNo !== undefined
        ? `${String(l.outRefundNo)}:${l.outcome}`
        : `${String(l.outTradeNo)}:${l.outcome.startsWith('APPLIED') ? 'APPLIED' : l.outcome}`;
    if (/^(APPLIED|REFUND_(SUCCESS|CLOSED|ABNORMAL))/.test(l.outcome)) applied.set(key, (applied.get(key) ?? 0) + 1);
  }
  const problems = [...applied].filter(([, c]) => c > 1).map(([k, c]) => `${k} logged ${c} times`);
  const conflicts = new Set(
    notifications.filter((n) => n.refund?.final === 'conflict').map((n) => n.refund?.outRefundNo),
  );
  for (const l of h.logs) {
    if (l.message !== 'anomaly') continue;
    if (l.kind === 'REFUND_CONFLICT' && !conflicts.has(l.outRefundNo as string))
      problems.push(`unexpected REFUND_CONFLICT for ${String(l.outRefundNo)}`);
    if (l.kind === 'OTHER_TRANSACTION' || l.kind === 'AMOUNT_MISMATCH' || l.kind === 'MERCHANT_MISMATCH')
      problems.push(`unexpected anomaly ${String(l.kind)} for ${String(l.outTradeNo)}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------

describe('soak: mixed traffic, then the table equals the model', () => {
  it(
    `${LONG ? `${SECONDS} s of rounds` : `${MIN_ROUNDS} rounds`} of ${ORDERS_PER_ROUND} orders`,
    async () => {
      h = await createHarness();
      const r = rng(seed);
      const started = Date.now();
      const allOrders: OrderModel[] = [];
      const allNotifications: Notification[] = [];
      let deliveries = 0;
      let round = 0;
      // bounded: a fixed number of rounds by default; in long mode, rounds until the time is spent
      while (round < MIN_ROUNDS || (LONG && (Date.now() - started) / 1000 < SECONDS)) {
        const { orders, ops, notifications } = planRound(r, round);
        for (const o of orders) {
          if (o.sub) continue;
          o.merchantId = h.keys.mchid;
        }
        await Promise.all(
          orders
            .filter((o) => o.registered)
            .map((o) =>
              h.store.registerOrder({ outTradeNo: o.outTradeNo, amountFen: o.amount, merchantId: o.merchantId }),
            ),
        );
        await pool(ops, CONCURRENCY, runOp);
        allOrders.push(...orders);
        allNotifications.push(...notifications);
        deliveries += ops.reduce((s, op) => s + (op.kind === 'close' ? 0 : op.copies.length), 0);
        round++;
      }
      const items = await scanAll(h);
      const refunds = allOrders.reduce((s, o) => s + o.refunds.length, 0);
      process.stdout.write(
        `soak: seed ${seed}, ${round} rounds, ${allOrders.length} orders, ${refunds} refunds, ${allNotifications.length} notifications, ${deliveries} deliveries (+ retries), ${items.length} items, ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
      expect(unexpected, `unexpected replies (seed ${seed})`).toEqual([]);
      expect(checkTable(items, allOrders, allNotifications), `table vs model (seed ${seed})`).toEqual([]);
      expect(checkLogs(allNotifications), `exactly once (seed ${seed})`).toEqual([]);
    },
    LONG ? (SECONDS + 300) * 1000 : 180_000,
  );
});
