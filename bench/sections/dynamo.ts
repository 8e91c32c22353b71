/**
 * Section b: DynamoDB requests and consumed capacity per delivery, on DynamoDB Local, for
 *  - this project: the full handleNotification (verify, decrypt, one conditional write) with its store;
 *  - the generic idempotency pattern as @aws-lambda-powertools/idempotency implements it: makeIdempotent
 *    with its DynamoDBPersistenceLayer around a handler that makes the same state change (one UpdateItem
 *    on the same order item, unconditional: deduplication is the idempotency layer's job there).
 * Scenarios: first delivery, a duplicate after it, and 20 concurrent deliveries of one new event.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context } from 'aws-lambda';
import { loadConfig } from '../../lib/config';
import { createLogger } from '../../lib/log';
import { handleNotification, type NotifyDeps } from '../../lib/notify/handle';
import { readNotice } from '../../lib/notify/read';
import { createDynamoClient } from '../../lib/orders/client';
import { createDynamoOrderStore } from '../../lib/orders/dynamodb';
import type { PaymentReport } from '../../lib/orders/model';
import { orderKey } from '../../lib/orders/table';
import { headerGetter } from '../../lib/wechatpay/v3/verify';
import { ensureTable, startLocalDynamo, type Engine, type LocalDynamo } from '../../scripts/local/dynamodb';
import { v3Notification, v3TransactionResource, type WireRequest } from '../../scripts/simulator/messages';
import { benchKeys, log, nextOutTradeNo, onCleanup, round } from '../lib/common';
import { emptyCounts, instrument, type DdbCounts } from '../lib/ddbcount';

export interface ScenarioFigures {
  deliveries: number;
  /** Deliveries answered with success (WeChat stops retrying). */
  succeeded: number;
  /** Deliveries answered with failure (WeChat retries later: more deliveries, more requests). */
  failed: number;
  failureReasons: Record<string, number>;
  requests: number;
  requestsPerDelivery: number;
  byOperation: Record<string, number>;
  failedConditions: number;
  /** Capacity units DynamoDB Local reported on successful requests. */
  reportedCapacity: number;
  /** Reported + 1 WCU per failed conditional write (AWS bills those; DynamoDB reports nothing; items here < 1 KB). */
  capacityWithFailedWrites: number;
  capacityPerDelivery: number;
}

export interface SystemFigures {
  label: string;
  first: ScenarioFigures;
  duplicate: ScenarioFigures;
  concurrent20: ScenarioFigures;
}

export interface DynamoResult {
  date: string;
  engine: Engine;
  ordersPerScenario: number;
  project: SystemFigures;
  powertools: SystemFigures;
  notes: string[];
}

const ORDERS = 10;
const CONCURRENT = 20;
const TABLE = 'wechatpay-lambda-bench-payments';
const IDEMPOTENCY_TABLE = 'wechatpay-lambda-bench-idempotency';

const fakeContext = {
  getRemainingTimeInMillis: () => 6000,
  functionName: 'bench',
  awsRequestId: 'bench',
} as unknown as Context;

type Outcome = { ok: true } | { ok: false; reason: string };

function figures(counts: DdbCounts, outcomes: Outcome[]): ScenarioFigures {
  const failureReasons: Record<string, number> = {};
  for (const o of outcomes) if (!o.ok) failureReasons[o.reason] = (failureReasons[o.reason] ?? 0) + 1;
  const n = outcomes.length;
  const withFailed = counts.reportedCapacity + counts.failedConditions;
  return {
    deliveries: n,
    succeeded: outcomes.filter((o) => o.ok).length,
    failed: outcomes.filter((o) => !o.ok).length,
    failureReasons,
    requests: counts.requests,
    requestsPerDelivery: round(counts.requests / n, 2),
    byOperation: { ...counts.byOperation },
    failedConditions: counts.failedConditions,
    reportedCapacity: round(counts.reportedCapacity, 2),
    capacityWithFailedWrites: round(withFailed, 2),
    capacityPerDelivery: round(withFailed / n, 2),
  };
}

async function createIdempotencyTable(client: DynamoDBClient): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: IDEMPOTENCY_TABLE,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  for (let i = 0; i < 100; i++) {
    const d = await client.send(new DescribeTableCommand({ TableName: IDEMPOTENCY_TABLE }));
    if (d.Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function runDynamo(opts: { dynamo?: LocalDynamo } = {}): Promise<DynamoResult> {
  const { keys, env } = benchKeys();
  const ownDynamo = opts.dynamo === undefined;
  const dynamo = opts.dynamo ?? (await startLocalDynamo());
  const forget = ownDynamo ? onCleanup(() => dynamo.stop()) : () => {};
  log(`dynamo: ${dynamo.engine} at ${dynamo.endpoint}`);
  try {
    await ensureTable(dynamo.endpoint, TABLE);
    const config = loadConfig({ ...env, PAYMENTS_TABLE: TABLE, DYNAMODB_ENDPOINT: dynamo.endpoint });

    // ---- this project: its own client (the project's SDK copy) and store, counted ----
    let counts = emptyCounts();
    const projectClient = createDynamoClient({ endpoint: dynamo.endpoint, region: 'us-east-1' });
    instrument(projectClient, () => counts);
    const store = createDynamoOrderStore({ client: projectClient, tableName: TABLE });
    const deps: NotifyDeps = {
      config,
      store,
      logger: createLogger({ service: 'bench', write: () => {} }),
      now: Date.now,
    };

    const newOrder = async (prefix: string, amountFen: number) => {
      const outTradeNo = nextOutTradeNo(prefix);
      const r = await store.registerOrder({ outTradeNo, amountFen, merchantId: keys.mchid });
      if (r.kind !== 'REGISTERED') throw new Error(`register ${outTradeNo}: ${r.kind}`);
      const wire = v3Notification(keys, {
        eventType: 'TRANSACTION.SUCCESS',
        originalType: 'transaction',
        resource: v3TransactionResource(keys, { outTradeNo, total: amountFen }),
      });
      return { outTradeNo, wire };
    };
    const deliverProject = async (wire: WireRequest): Promise<Outcome> => {
      const reply = await handleNotification(
        { route: '/notify/payment', headers: wire.headers, body: Buffer.from(wire.body, 'utf8') },
        deps,
      );
      return reply.statusCode < 300 ? { ok: true } : { ok: false, reason: `HTTP ${reply.statusCode}` };
    };

    const projectOrders = await Promise.all(Array.from({ length: ORDERS }, (_, i) => newOrder('BDP', 100 + i)));
    const concurrentOrder = await newOrder('BDC', 777);

    const scenario = async (run: () => Promise<Outcome[]>): Promise<ScenarioFigures> => {
      counts = emptyCounts();
      const outcomes = await run();
      const f = figures(counts, outcomes);
      counts = emptyCounts(); // set-up and checks after this are not counted
      return f;
    };
    const sequential = async (items: readonly WireRequest[], deliver: (w: WireRequest) => Promise<Outcome>) => {
      const out: Outcome[] = [];
      for (const w of items) out.push(await deliver(w));
      return out;
    };

    const project: SystemFigures = {
      label: 'wechatpay-lambda (handleNotification: one conditional UpdateItem, ALL_OLD on failure)',
      first: await scenario(() =>
        sequential(
          projectOrders.map((o) => o.wire),
          deliverProject,
        ),
      ),
      duplicate: await scenario(() =>
        sequential(
          projectOrders.map((o) => o.wire),
          deliverProject,
        ),
      ),
      concurrent20: await scenario(() =>
        Promise.all(Array.from({ length: CONCURRENT }, () => deliverProject(concurrentOrder.wire))),
      ),
    };
    log(
      `dynamo: project first ${project.first.requestsPerDelivery} req/delivery, duplicate ${project.duplicate.requestsPerDelivery}, 20 concurrent ${project.concurrent20.requests} requests`,
    );

    // ---- Powertools: the bench's SDK copy, its own idempotency table, the same order items ----
    const ptClient = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await createIdempotencyTable(ptClient);
    instrument(ptClient, () => counts);
    const persistenceStore = new DynamoDBPersistenceLayer({ tableName: IDEMPOTENCY_TABLE, awsSdkV3Client: ptClient });
    const idempotencyConfig = new IdempotencyConfig({ eventKeyJmesPath: 'transactionId' });

    // the state change itself: the same order item, one UpdateItem (the layer does the deduplication)
    const applyPayment = async (report: PaymentReport, _context: Context) => {
      await ptClient.send(
        new UpdateItemCommand({
          TableName: TABLE,
          Key: { pk: { S: orderKey(report.merchantId, report.outTradeNo) } },
          UpdateExpression:
            'SET #state = :paid, transactionId = :tx, paidFen = :fen, paidAt = :at, paidVia = :via, appliedAt = :now REMOVE pending, #ttl',
          ExpressionAttributeNames: { '#state': 'state', '#ttl': 'ttl' },
          ExpressionAttributeValues: {
            ':paid': { S: 'PAID' },
            ':tx': { S: report.transactionId },
            ':fen': { N: String(report.amountFen) },
            ':at': { S: report.paidAt },
            ':via': { S: report.channel },
            ':now': { S: new Date().toISOString() },
          },
        }),
      );
      return { applied: true, outTradeNo: report.outTradeNo };
    };
    const idempotentApply = makeIdempotent(applyPayment, { persistenceStore, config: idempotencyConfig });

    const reportOf = (wire: WireRequest): PaymentReport => {
      // verified and decrypted exactly as the project does it (no DynamoDB involved)
      const { notice } = readNotice('v3', headerGetter(wire.headers), wire.body, config, Date.now());
      if (notice.kind !== 'PAYMENT') throw new Error('not a payment');
      return notice.report;
    };
    const deliverPowertools = async (wire: WireRequest): Promise<Outcome> => {
      try {
        await idempotentApply(reportOf(wire), fakeContext);
        return { ok: true };
      } catch (err) {
        return { ok: false, reason: (err as Error).name };
      }
    };

    const ptOrders = await Promise.all(Array.from({ length: ORDERS }, (_, i) => newOrder('BDT', 100 + i)));
    const ptConcurrent = await newOrder('BDU', 777);
    const powertools: SystemFigures = {
      label:
        '@aws-lambda-powertools/idempotency 2.35.0 (makeIdempotent + DynamoDBPersistenceLayer) around one UpdateItem',
      first: await scenario(() =>
        sequential(
          ptOrders.map((o) => o.wire),
          deliverPowertools,
        ),
      ),
      duplicate: await scenario(() =>
        sequential(
          ptOrders.map((o) => o.wire),
          deliverPowertools,
        ),
      ),
      concurrent20: await scenario(() =>
        Promise.all(Array.from({ length: CONCURRENT }, () => deliverPowertools(ptConcurrent.wire))),
      ),
    };
    log(
      `dynamo: powertools first ${powertools.first.requestsPerDelivery} req/delivery, duplicate ${powertools.duplicate.requestsPerDelivery}, 20 concurrent ${powertools.concurrent20.requests} requests`,
    );

    // the state must be right on both sides, or the counts mean nothing
    for (const o of [...projectOrders, concurrentOrder, ...ptOrders, ptConcurrent]) {
      const order = await store.getOrder(keys.mchid, o.outTradeNo);
      if (order?.state !== 'PAID')
        throw new Error(`order ${o.outTradeNo} is ${order?.state ?? 'missing'} after the deliveries`);
    }
    projectClient.destroy();
    ptClient.destroy();

    const notes = [
      `${dynamo.engine === 'dynamodb-local' ? "Amazon's DynamoDB Local" : 'dynalite (no Java found): it ignores ALL_OLD, so a failed condition costs the project a second request (GetItem)'}; requests counted per HTTP attempt by SDK middleware, capacity from ReturnConsumedCapacity: TOTAL.`,
      'DynamoDB reports no ConsumedCapacity for a write that fails its condition, but AWS bills it (at least 1 WCU, by the size of the existing item); the "capacity" column adds 1 WCU per failed conditional write (every item here is under 1 KB). ReturnValuesOnConditionCheckFailure costs nothing extra.',
      "Powertools counts include the wrapped handler's own UpdateItem (the state change); its idempotency records alone cost 2 writes on a first delivery.",
      'In the 20-concurrent scenario, deliveries that Powertools answers with IdempotencyAlreadyInProgressError would be answered with a failure, so WeChat redelivers them later (more deliveries, more requests, not counted here).',
    ];
    return {
      date: new Date().toISOString(),
      engine: dynamo.engine,
      ordersPerScenario: ORDERS,
      project,
      powertools,
      notes,
    };
  } finally {
    forget();
    if (ownDynamo) await dynamo.stop();
  }
}
