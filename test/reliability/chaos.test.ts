/**
 * Chaos through the real stack: the pieces `npm start` runs (scripts/local), with DynamoDB Local on
 * disk (-dbPath in a temporary directory, so a restart keeps the table), the functions behind
 * serverless-offline, and the simulator delivering payment and refund notifications on WeChat's retry
 * schedule (docs/protocol.md A), compressed in time. While the traffic runs, DynamoDB Local is killed
 * (SIGKILL) and restarted, and serverless-offline is killed with its workers (SIGKILL to its process
 * group) and restarted, at seeded random moments. Afterwards every delivery must have been
 * acknowledged, every acknowledged delivery must be in the table, the table must equal the model
 * (state, paid amount, transaction id, refund tallies, nothing else), and the logs that survived must
 * show no transition applied twice.
 *
 * Bounded (inside `npm test`): CHAOS_ORDERS orders (default 24), 2 kills of each. Long:
 * `npm run test:chaos` (CHAOS=long) runs 120 orders with 5 kills of each. CHAOS_SEED replays the
 * plan of a run (traffic and kill moments; what the processes were doing at each kill is the
 * machine's). Needs Java (DynamoDB Local on disk); skipped without it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../lib/orders/client';
import { createDynamoOrderStore } from '../../lib/orders/dynamodb';
import { orderKey, refundKey } from '../../lib/orders/table';
import { ensureTable, freePort, hasJava, startLocalDynamo, type LocalDynamo } from '../../scripts/local/dynamodb';
import { LOCAL_TABLE, startOffline, type Offline } from '../../scripts/local/stack';
import { generateTestKeys, toEnv } from '../../scripts/simulator/keys';
import { OFFICIAL_RETRY_SCHEDULE_SECONDS } from '../../scripts/simulator/notifier';
import { startSimulator, type Simulator } from '../../scripts/simulator/server';
import { orderNo } from '../support/harness';
import { rng, seedFrom, type Item, type Rng } from './support';

const LONG = process.env.CHAOS === 'long';
const ORDERS = Number(process.env.CHAOS_ORDERS ?? (LONG ? 120 : 24));
const KILLS = Number(process.env.CHAOS_KILLS ?? (LONG ? 5 : 2));
/** The window in which traffic starts and kills happen (ms). */
const WINDOW_MS = Number(process.env.CHAOS_WINDOW_MS ?? (LONG ? 90_000 : 15_000));
/**
 * WeChat's day of retries (15 s … 6 h, docs/protocol.md A) compressed: by 1/300 in the bounded run (the
 * 16 attempts span about 5 minutes) and 1/100 in the long one (about 14 minutes), longer than the
 * outages a loaded machine makes of the restarts, so every notification is acknowledged in the end.
 */
const TIME_SCALE = Number(process.env.CHAOS_TIME_SCALE ?? (LONG ? 0.01 : 1 / 300));
/** How long the last attempt of a notification may come after its first (ms). */
const RETRY_SPAN_MS = OFFICIAL_RETRY_SCHEDULE_SECONDS.reduce((a, b) => a + b, 0) * 1000 * TIME_SCALE;
const seed = seedFrom('CHAOS_SEED', 'chaos.test.ts plan');

type RefundStatus = 'SUCCESS' | 'CLOSED';

interface OrderPlan {
  outTradeNo: string;
  amount: number;
  protocol: 'v2' | 'v3';
  paid: boolean;
  /** How many times WeChat's side sends the payment (each a fresh delivery with its own retries). */
  sends: number;
  refunds: Array<{ outRefundNo: string; amount: number; status: RefundStatus }>;
  /** WeChat's transaction id, known once the simulator took the payment. */
  transactionId?: string;
}

/** A notification WeChat's side starts at `at` ms into the window. */
type Send =
  | { at: number; kind: 'pay'; order: OrderPlan }
  | { at: number; kind: 'refund'; order: OrderPlan; refund: OrderPlan['refunds'][number] };

/** A kill of one piece at `at` ms into the window, down for `downMs` before it is restarted. */
interface Kill {
  at: number;
  what: 'dynamodb' | 'offline';
  downMs: number;
}

function plan(r: Rng): { orders: OrderPlan[]; sends: Send[]; kills: Kill[] } {
  const orders: OrderPlan[] = [];
  const sends: Send[] = [];
  for (let i = 0; i < ORDERS; i++) {
    const amount = r.range(100, 5000);
    const order: OrderPlan = {
      outTradeNo: orderNo('CH'),
      amount,
      protocol: r.chance(0.5) ? 'v2' : 'v3',
      paid: r.chance(0.8),
      sends: r.chance(0.25) ? 2 : 1,
      refunds: [],
    };
    orders.push(order);
    if (!order.paid) continue;
    const payAt = r.int(WINDOW_MS * 0.8);
    for (let k = 0; k < order.sends; k++) sends.push({ at: payAt + k * r.int(2000), kind: 'pay', order });
    let left = amount;
    for (let k = r.int(3); k > 0 && left > 1; k--) {
      const refund = {
        outRefundNo: `${order.outTradeNo}R${k}`,
        amount: r.range(1, Math.floor(left / 2)),
        status: r.chance(0.75) ? ('SUCCESS' as const) : ('CLOSED' as const),
      };
      if (refund.status === 'SUCCESS') left -= refund.amount;
      order.refunds.push(refund);
      // a refund's notification may well overtake its payment's (both retry on their own)
      sends.push({ at: payAt + r.int(3000), kind: 'refund', order, refund });
    }
  }
  const kills: Kill[] = [];
  for (let k = 0; k < KILLS; k++)
    for (const what of ['dynamodb', 'offline'] as const)
      kills.push({ at: r.int(WINDOW_MS), what, downMs: r.range(200, 2500) });
  sends.sort((a, b) => a.at - b.at);
  kills.sort((a, b) => a.at - b.at);
  return { orders, sends, kills };
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe('chaos: DynamoDB Local and serverless-offline killed under traffic', () => {
  it.runIf(hasJava())(
    `${ORDERS} orders, ${KILLS} kills of DynamoDB Local and ${KILLS} of serverless-offline; the table equals the model`,
    async () => {
      const r = rng(seed);
      const { orders, sends, kills } = plan(r);
      const keys = generateTestKeys();
      const dir = mkdtempSync(join(tmpdir(), 'chaos-dynamodb-'));
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      // fixed ports for the whole run, so a restarted piece is found where the others expect it
      const [dynamoPort, httpPort, lambdaPort] = [await freePort(), await freePort(), await freePort()];

      let dynamo: LocalDynamo = await startLocalDynamo({ engine: 'dynamodb-local', port: dynamoPort, dbPath: dir });
      cleanups.push(() => dynamo.stop());
      await ensureTable(dynamo.endpoint, LOCAL_TABLE);

      const sim: Simulator = await startSimulator({
        keys,
        notifyUrl: `http://127.0.0.1:${httpPort}/notify/payment`,
        refundNotifyUrl: `http://127.0.0.1:${httpPort}/notify/refund`,
        timeScale: TIME_SCALE,
      });
      cleanups.push(() => sim.close());

      let output = '';
      const env = { ...toEnv(keys), WECHATPAY_API_BASE_URL: sim.url };
      const serve = () =>
        startOffline({ httpPort, lambdaPort, env, dynamoEndpoint: dynamo.endpoint, onOutput: (s) => (output += s) });
      let offline: Offline = await serve();
      cleanups.push(() => offline.stop());

      // the merchant registers its orders before WeChat's side takes any payment
      const client = createDynamoClient({
        endpoint: dynamo.endpoint,
        timeouts: { connectMs: 5000, requestMs: 10_000 },
      });
      cleanups.push(async () => client.destroy());
      const store = createDynamoOrderStore({ client, tableName: LOCAL_TABLE });
      for (const o of orders) {
        const reg = await store.registerOrder({
          outTradeNo: o.outTradeNo,
          amountFen: o.amount,
          merchantId: keys.mchid,
        });
        expect(reg.kind).toBe('REGISTERED');
        sim.control.createOrder({ outTradeNo: o.outTradeNo, amount: o.amount });
      }

      // traffic: each notification starts at its moment and retries on its own schedule
      const deliveryOf = new Map<number, Send>();
      const t0 = Date.now();
      const traffic = (async () => {
        for (const s of sends) {
          await delay(Math.max(0, t0 + s.at - Date.now()));
          const style = { protocol: s.order.protocol, wait: 'none' as const };
          if (s.kind === 'pay') {
            const { order, delivery } = await sim.control.pay({ outTradeNo: s.order.outTradeNo, ...style });
            s.order.transactionId = order.transactionId;
            deliveryOf.set(delivery.id, s);
          } else {
            const { delivery } = await sim.control.refund({
              outTradeNo: s.order.outTradeNo,
              outRefundNo: s.refund.outRefundNo,
              amount: s.refund.amount,
              status: s.refund.status,
              ...style,
            });
            deliveryOf.set(delivery.id, s);
          }
        }
      })();
      traffic.catch(() => undefined); // awaited below; a failure must not surface as unhandled first

      // chaos: one kill at a time, each at its moment or as soon as the previous restart is done
      const done = { dynamodb: 0, offline: 0 };
      const downMs = { dynamodb: 0, offline: 0 };
      for (const k of kills) {
        await delay(Math.max(0, t0 + k.at - Date.now()));
        const killedAt = Date.now();
        if (k.what === 'dynamodb') {
          await dynamo.kill?.();
          await delay(k.downMs);
          dynamo = await startLocalDynamo({ engine: 'dynamodb-local', port: dynamoPort, dbPath: dir });
        } else {
          // SIGKILL to the whole group: the offline process and every worker die mid-request
          process.kill(-(offline.child.pid as number), 'SIGKILL');
          await new Promise<void>((resolve) =>
            offline.child.exitCode !== null || offline.child.signalCode !== null
              ? resolve()
              : offline.child.once('exit', () => resolve()),
          );
          await delay(k.downMs);
          offline = await serve();
        }
        done[k.what]++;
        downMs[k.what] += Date.now() - killedAt;
      }
      await traffic;

      // WeChat keeps retrying until each notification is acknowledged, or its schedule runs out
      const deadline = Date.now() + RETRY_SPAN_MS + 30_000;
      while (sim.deliveries.list().some((d) => !d.done) && Date.now() < deadline) await delay(250);
      const deliveries = sim.deliveries.list();
      const attempts = deliveries.reduce((n, d) => n + d.attempts.length, 0);
      const acknowledged = deliveries.filter((d) => d.accepted);
      process.stdout.write(
        `chaos: seed ${seed}; DynamoDB Local killed and restarted ${done.dynamodb}×, serverless-offline ${done.offline}×; ` +
          `down ${Math.round(downMs.dynamodb / 1000)} s and ${Math.round(downMs.offline / 1000)} s in all (kill to ready); ` +
          `${deliveries.length} deliveries, ${attempts} attempts, ${acknowledged.length} acknowledged, ` +
          `${Math.round((Date.now() - t0) / 1000)} s from the first send\n`,
      );
      // how the attempts that were not acknowledged failed: no answer (a piece was down), or the answer
      const failed = new Map<string, number>();
      for (const a of deliveries.flatMap((d) => d.attempts).filter((a) => !a.accepted)) {
        const why = a.status === null ? `no answer (${(a.error ?? '').slice(0, 40)})` : `HTTP ${a.status}`;
        failed.set(why, (failed.get(why) ?? 0) + 1);
      }
      process.stdout.write(`chaos: attempts not acknowledged: ${JSON.stringify(Object.fromEntries(failed))}\n`);
      expect(done).toEqual({ dynamodb: KILLS, offline: KILLS });
      expect(deliveries).toHaveLength(sends.length);
      expect(
        deliveries.filter((d) => !d.accepted).map((d) => ({ id: d.id, attempts: d.attempts.slice(-2) })),
        'deliveries never acknowledged',
      ).toEqual([]);

      // the table, read after the last restart
      const items = await scanTable(client);
      const byPk = new Map(items.map((i) => [i.pk?.S ?? '', i]));
      const problems: string[] = [];

      // every acknowledged delivery is in the table
      for (const d of acknowledged) {
        const s = deliveryOf.get(d.id);
        if (!s) {
          problems.push(`delivery ${d.id} was not sent by this test`);
          continue;
        }
        const order = byPk.get(orderKey(keys.mchid, s.order.outTradeNo));
        if (s.kind === 'pay' && (order?.state?.S !== 'PAID' || order.transactionId?.S !== s.order.transactionId))
          problems.push(`payment of ${s.order.outTradeNo} acknowledged, the order reads ${order?.state?.S}`);
        if (s.kind === 'refund') {
          const refund = byPk.get(refundKey(keys.mchid, s.refund.outRefundNo));
          if (refund?.state?.S !== s.refund.status)
            problems.push(
              `refund ${s.refund.outRefundNo} ${s.refund.status} acknowledged, it reads ${refund?.state?.S}`,
            );
        }
      }

      // the table equals the model: every order, every refund, and nothing else
      const expected = new Set<string>();
      for (const o of orders) {
        const pk = orderKey(keys.mchid, o.outTradeNo);
        expected.add(pk);
        const item = byPk.get(pk);
        const success = o.refunds.filter((f) => f.status === 'SUCCESS');
        const want = {
          state: o.paid ? 'PAID' : 'NOTPAY',
          transactionId: o.paid ? o.transactionId : undefined,
          paidFen: o.paid ? o.amount : undefined,
          refundedFen: success.length > 0 ? success.reduce((n, f) => n + f.amount, 0) : undefined,
          refundNos: success.map((f) => f.outRefundNo).sort(),
        };
        const got = {
          state: item?.state?.S,
          transactionId: item?.transactionId?.S,
          paidFen: item?.paidFen?.N === undefined ? undefined : Number(item.paidFen.N),
          refundedFen: item?.refundedFen?.N === undefined ? undefined : Number(item.refundedFen.N),
          refundNos: [...(item?.refundNos?.SS ?? [])].sort(),
        };
        if (JSON.stringify(got) !== JSON.stringify(want))
          problems.push(`order ${o.outTradeNo}: ${JSON.stringify(got)}, the model says ${JSON.stringify(want)}`);
        for (const f of o.refunds) {
          const rpk = refundKey(keys.mchid, f.outRefundNo);
          expected.add(rpk);
          const refund = byPk.get(rpk);
          if (refund?.state?.S !== f.status || refund.refundFen?.N !== String(f.amount))
            problems.push(
              `refund ${f.outRefundNo}: ${refund?.state?.S}/${refund?.refundFen?.N}, the model says ${f.status}/${f.amount}`,
            );
        }
      }
      for (const pk of byPk.keys()) if (!expected.has(pk)) problems.push(`unexplained item ${pk}`);

      // nothing applied twice, in the log lines that survived the kills
      const applied = new Map<string, number>();
      for (const line of output.split('\n')) {
        const start = line.indexOf('{"');
        if (start < 0) continue;
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line.slice(start)) as Record<string, unknown>;
        } catch {
          continue;
        }
        const outcome = entry.outcome;
        if (entry.message !== 'delivery' || typeof outcome !== 'string') continue;
        if (!/^(APPLIED|REFUND_(SUCCESS|CLOSED))/.test(outcome)) continue;
        const key = `${String(entry.outRefundNo ?? entry.outTradeNo)}:${outcome.replace(/_FROM_.*/, '')}`;
        applied.set(key, (applied.get(key) ?? 0) + 1);
      }
      for (const [key, n] of applied) if (n > 1) problems.push(`${key} logged ${n} times`);
      process.stdout.write(`chaos: ${applied.size} transitions logged as applied, ${problems.length} problems\n`);
      expect(problems).toEqual([]);
    },
    LONG ? 3_600_000 : 900_000,
  );
});

/** Every item of the local table, with consistent reads. */
async function scanTable(client: ReturnType<typeof createDynamoClient>): Promise<Item[]> {
  const { ScanCommand } = await import('@aws-sdk/client-dynamodb');
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const res = await client.send(
      new ScanCommand({ TableName: LOCAL_TABLE, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    items.push(...(res.Items ?? []));
    start = res.LastEvaluatedKey;
  } while (start);
  return items;
}
