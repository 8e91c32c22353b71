/**
 * Section: reconciliation at scale. 10,000 orders registered through the project's store on DynamoDB
 * Local (by the shards section's code, whose distribution figures come from the same registrations)
 * and created at the local WeChat Pay simulator (scripts/simulator), half of them paid there with
 * no notification delivered, half still unpaid; then one reconcile run (lib/reconcile, the deployed
 * defaults except a budget that covers every order) over the pending index. Reported: the run's time,
 * WeChat order queries, DynamoDB requests by operation, requests and queries per pending order, and
 * how many runs the deployed budget needs for the same backlog.
 *
 * Runnable alone: `npx tsx bench/run.ts reconcile` (or `reconcile --quick`: 1,000 orders).
 */
import { loadConfig } from '../../lib/config';
import { createLogger } from '../../lib/log';
import { createDynamoClient } from '../../lib/orders/client';
import { createDynamoOrderStore } from '../../lib/orders/dynamodb';
import { DEFAULT_RECONCILE_OPTIONS } from '../../lib/reconcile/options';
import { reconcile } from '../../lib/reconcile/reconcile';
import type { FetchLike } from '../../lib/wechatpay/http';
import { createWechatPayClient } from '../../lib/wechatpay/client';
import { ensureTable, startLocalDynamo, type Engine } from '../../scripts/local/dynamodb';
import { startSimulator } from '../../scripts/simulator/server';
import { benchKeys, log, onCleanup, round } from '../lib/common';
import { emptyCounts, instrument } from '../lib/ddbcount';
import { runShards, type ShardsResult } from './shards';

const TABLE = 'wechatpay-lambda-bench-reconcile';

export interface ReconcileScaleResult {
  date: string;
  engine: Engine;
  orders: number;
  paidAtWechat: number;
  options: { pageSize: number; concurrency: number; budget: number; deployedBudget: number };
  seconds: number;
  ordersPerSecond: number;
  /** The run's summary counts. */
  scanned: number;
  queried: number;
  recovered: number;
  stillPending: number;
  errors: number;
  reason: string;
  /** HTTP calls to the WeChat Pay API (the simulator). */
  wechatCalls: number;
  dynamoRequests: number;
  dynamoByOperation: Record<string, number>;
  /** Read and write capacity DynamoDB Local reported (+1 WCU per failed conditional write). */
  capacityUnits: number;
  requestsPerOrder: number;
  queriesPerOrder: number;
  /** Index pages read (Query requests) per pending order. */
  indexQueriesPerOrder: number;
  /** Runs the deployed budget needs to go through this backlog once. */
  runsAtDeployedBudget: number;
  registrationSeconds: number;
  /** What one registerOrder cost (requests and write units, its pending-index entry included). */
  registration: { requestsPerRegistration: number; capacityPerRegistration: number };
  /** Orders per reconcile action. */
  actions: Partial<Record<string, number>>;
  /** Orders paid at the simulator that the run did not record as paid (0 when all is well). */
  missedRecoveries: number;
  /** The pending index's distribution over the same registrations. */
  shards: ShardsResult;
  /** Capacity units by operation during the run (Query: read units; the rest: write units). */
  capacityByOperation: Record<string, number>;
}

/** Registers `orders` pending orders, pays half at the simulator, and times one reconcile run over them. */
export async function runReconcileScale(opts: { orders?: number } = {}): Promise<ReconcileScaleResult> {
  const orders = opts.orders ?? 10_000;
  const { keys, env } = benchKeys();
  const dynamo = await startLocalDynamo();
  const forgetDynamo = onCleanup(() => dynamo.stop());
  const sim = await startSimulator({ keys, port: 0, closeMinAgeSeconds: 0 });
  const forgetSim = onCleanup(() => sim.close());
  log(`reconcile: ${dynamo.engine} at ${dynamo.endpoint}, simulator at ${sim.url}, ${orders} pending orders`);
  try {
    sim.control.suppress(true);
    await ensureTable(dynamo.endpoint, TABLE);
    const config = loadConfig({
      ...env,
      PAYMENTS_TABLE: TABLE,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      WECHATPAY_API_BASE_URL: sim.url,
    });
    // the registrations are the shards section's (one set of orders for both figures): each order is
    // also created at the simulator, every other one paid there with no notification delivered
    const now = Date.now();
    let paid = 0;
    const t0 = performance.now();
    const shards = await runShards({
      orders,
      dynamo,
      tableName: TABLE,
      merchantId: keys.mchid,
      createdAtBase: now - 30 * 60_000 - orders * 100,
      onRegistered: ({ outTradeNo, amountFen, index }) => {
        sim.control.createOrder({ outTradeNo, amount: amountFen });
        if (index % 2 === 0) {
          sim.state.pay(keys.mchid, outTradeNo);
          paid += 1;
        }
      },
    });
    const registrationSeconds = (performance.now() - t0) / 1000;
    log(
      `reconcile: ${orders} orders registered (and counted by shard) in ${round(registrationSeconds, 1)} s; running reconcile`,
    );

    const counts = emptyCounts();
    const client = createDynamoClient({ endpoint: dynamo.endpoint, region: 'us-east-1' });
    instrument(client, () => counts);
    let wechatCalls = 0;
    const counting: FetchLike = async (url, init) => {
      wechatCalls += 1;
      return fetch(url, init);
    };
    const options = { budget: orders, graceSeconds: 300 };
    const started = performance.now();
    const summary = await reconcile(options, {
      config,
      store: createDynamoOrderStore({ client, tableName: TABLE }),
      client: createWechatPayClient({ config, fetch: counting }),
      logger: createLogger({ service: 'bench-reconcile', write: () => {} }),
      now: Date.now,
    });
    const seconds = (performance.now() - started) / 1000;
    // a run that stopped early says nothing about the backlog; a missed recovery is reported, not hidden
    if (summary.reason !== 'COMPLETE')
      throw new Error(
        `reconcile stopped ${summary.reason}: ${summary.recovered} of ${paid} recovered, ${summary.errors} errors, ${summary.scanned} of ${orders} read from the index, actions ${JSON.stringify(summary.actions)}`,
      );
    client.destroy();
    const queries = counts.byOperation.Query ?? 0;
    return {
      date: new Date().toISOString(),
      engine: dynamo.engine,
      orders,
      paidAtWechat: paid,
      options: {
        pageSize: DEFAULT_RECONCILE_OPTIONS.pageSize,
        concurrency: DEFAULT_RECONCILE_OPTIONS.concurrency,
        budget: orders,
        deployedBudget: DEFAULT_RECONCILE_OPTIONS.budget,
      },
      seconds: round(seconds, 1),
      ordersPerSecond: Math.round(summary.queried / seconds),
      scanned: summary.scanned,
      queried: summary.queried,
      recovered: summary.recovered,
      stillPending: summary.stillPending,
      errors: summary.errors,
      reason: summary.reason,
      wechatCalls,
      dynamoRequests: counts.requests,
      dynamoByOperation: counts.byOperation,
      capacityUnits: round(counts.reportedCapacity + counts.failedConditions, 1),
      requestsPerOrder: round(counts.requests / orders, 3),
      queriesPerOrder: round(wechatCalls / orders, 3),
      indexQueriesPerOrder: round(queries / orders, 4),
      runsAtDeployedBudget: Math.ceil(orders / DEFAULT_RECONCILE_OPTIONS.budget),
      registrationSeconds: round(registrationSeconds, 1),
      registration: shards.registration ?? { requestsPerRegistration: Number.NaN, capacityPerRegistration: Number.NaN },
      actions: summary.actions,
      missedRecoveries: paid - summary.recovered,
      shards,
      capacityByOperation: Object.fromEntries(
        Object.entries(counts.capacityByOperation).map(([k, n]) => [k, round(n, 1)]),
      ),
    };
  } finally {
    forgetSim();
    await sim.close();
    forgetDynamo();
    await dynamo.stop();
  }
}
