/**
 * The scheduled bill reconciliation (functions/bills.ts), made of middy middlewares like reconcile:
 * dependencies built once per container, the deadline taken from the invocation's context. Each run
 * reconciles the previous Beijing day: one bill for each merchant with an order paid that day (the
 * paid-day index; sub-merchants in service-provider mode), for each configured sub-merchant, and for
 * the merchant itself when there is none. A day already recorded in the table is skipped; a bill WeChat has not built
 * yet is retried within the run while time allows, then left to the next scheduled run: never an
 * error. One merchant's failure is logged and does not stop the others; nothing is thrown, because
 * Lambda's own retry would only repeat it while the next schedule retries anyway.
 */
import { tmpdir } from 'node:os';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import middy, { type MiddlewareObj } from '@middy/core';
import { type Env, loadConfig } from '../config';
import { asPayError, configError, type PayError } from '../errors';
import { entryPoint, type EntryPoint } from '../lambda/entry';
import { createLogger, type Logger } from '../log';
import { deadlineReply } from '../middleware/deadline';
import { dependencies, type WithDeps } from '../middleware/dependencies';
import { errorReply } from '../middleware/errorReply';
import { createDynamoClient } from '../orders/client';
import { createDynamoOrderStore } from '../orders/dynamodb';
import { isMerchantId } from '../orders/model';
import { pendingShardsFromEnv } from '../orders/table';
import { billClientDeps } from './fetch';
import { billReportRecorder, readBillReport } from './reportItem';
import { type BillRunDeps, discrepancies, type ReportSink, runBill } from './run';
import { merchantsPaidOnDay } from './table';

/** A container's dependencies: the run's, the table (for the day's report item) and the schedule's settings. */
export interface BillsRuntime {
  run: BillRunDeps;
  dynamo: DynamoDBClient;
  tableName: string;
  /** Sub-merchants whose bill is fetched besides those with orders paid that day (service-provider mode). */
  subMchids: string[];
  /** Waits between two tries of a bill that is not ready, within one run. */
  retryDelayMs: number;
  /** Tries of a bill that is not ready, within one run. */
  attempts: number;
  /** Waits (a seam for tests, which must not sleep). */
  sleep: (ms: number) => Promise<void>;
}

/** Builds the runtime of one container; may be async. */
export type BuildBillsRuntime = () => BillsRuntime | Promise<BillsRuntime>;

/** What one merchant's bill came to in a run. */
export interface BillsMerchantOutcome {
  merchantId: string;
  outcome: 'DONE' | 'ALREADY_DONE' | 'NOT_READY' | 'FAILED';
  discrepancies?: number;
  repaired?: number;
  location?: string;
  reason?: string;
}

/** The run's result (also logged): the day and each merchant's outcome, or why it could not run. */
export interface BillsSummary {
  billDate: string;
  merchants: BillsMerchantOutcome[];
  stopped?: 'CONFIG' | 'INTERNAL_ERROR' | 'DEADLINE';
}

/** middy's plugin options: the deadline reply a second before the Lambda timeout. */
export const BILLS_TIMING = { timeoutEarlyInMillis: 1000 } as const;

const DAY_MS = 86_400_000;
const BEIJING_OFFSET_MS = 8 * 3_600_000;

/** The Beijing calendar day before the one `now` falls in (`yyyy-MM-dd`): the bill a morning run fetches. */
export function previousBeijingDay(now: number): string {
  return new Date(now + BEIJING_OFFSET_MS - DAY_MS).toISOString().slice(0, 10);
}

/** The S3 sink: the report under `bills/` in `bucket` (a PutObject replaces an earlier run's). */
export function s3Sink(client: Pick<S3Client, 'send'>, bucket: string): ReportSink {
  return async (name, body) => {
    const key = `bills/${name}`;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }));
    return `s3://${bucket}/${key}`;
  };
}

/** Reads BILLS_SUB_MCHIDS: comma-separated sub-merchant ids; a malformed one is a CONFIG error naming it. */
export function readSubMchids(env: Env): string[] {
  const raw = (env.BILLS_SUB_MCHIDS ?? '').trim();
  if (raw === '') return [];
  const ids = raw.split(',').map((id) => id.trim());
  const bad = ids.find((id) => !isMerchantId(id));
  if (bad !== undefined) throw configError(`BILLS_SUB_MCHIDS: "${bad}" is not a merchant id`);
  return [...new Set(ids)];
}

/** Builds the runtime from `env`: BILLS_BUCKET (the report bucket) besides the merchant configuration. */
export function billsRuntime(
  env: Env = process.env,
  logger: Logger = createLogger({ service: 'wechatpay-lambda' }),
): BillsRuntime {
  const subMchids = readSubMchids(env);
  const bucket = env.BILLS_BUCKET;
  if (bucket === undefined || bucket === '') throw configError('BILLS_BUCKET is required');
  const config = loadConfig(env);
  const pendingShards = pendingShardsFromEnv(env);
  const dynamo = createDynamoClient({ endpoint: config.dynamodbEndpoint });
  return {
    run: {
      fetch: { client: billClientDeps(config), dir: tmpdir() },
      store: createDynamoOrderStore({ client: dynamo, tableName: config.tableName, pendingShards }),
      // the paid-day index is sharded like the pending one: every shard ever written is read
      table: { client: dynamo, tableName: config.tableName, shards: pendingShards.read },
      logger,
      sink: s3Sink(new S3Client({}), bucket),
      recordReport: billReportRecorder(dynamo, config.tableName),
      now: Date.now,
      stage: env.STAGE ?? 'local',
    },
    dynamo,
    tableName: config.tableName,
    subMchids,
    retryDelayMs: 60_000,
    attempts: 5,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

/**
 * The merchants whose bill of `billDate` is fetched: every merchant with an order paid that day (found
 * in the paid-day index, a few small queries), every configured sub-merchant, or the merchant itself
 * when there is neither (its bill may list payments the table never saw). Undefined stands for the
 * merchant's own bill, an id for a sub-merchant's.
 */
export async function billMerchants(rt: BillsRuntime, billDate: string): Promise<Array<string | undefined>> {
  const own = rt.run.fetch.client.config.mchid;
  const ids = new Set([...(await merchantsPaidOnDay(rt.run.table, billDate)), ...rt.subMchids]);
  if (ids.size === 0) return [undefined];
  return [...ids].sort().map((id) => (id === own ? undefined : id));
}

/** The core: the previous Beijing day's bill of every merchant, each tried until ready or out of time. */
export async function billsCore(_event: unknown, context: WithDeps<BillsRuntime>): Promise<BillsSummary> {
  const rt = context.deps;
  const remaining = context.getRemainingTimeInMillis?.bind(context);
  const billDate = previousBeijingDay(rt.run.now());
  const merchants: BillsMerchantOutcome[] = [];
  for (const subMchid of await billMerchants(rt, billDate)) {
    merchants.push(await reconcileMerchant(rt, billDate, subMchid, remaining));
  }
  const summary: BillsSummary = { billDate, merchants };
  rt.run.logger.log('info', 'bills', { ...summary });
  return summary;
}

async function reconcileMerchant(
  rt: BillsRuntime,
  billDate: string,
  subMchid: string | undefined,
  remaining: (() => number) | undefined,
): Promise<BillsMerchantOutcome> {
  const merchantId = subMchid ?? rt.run.fetch.client.config.mchid;
  try {
    // the day is in the table already (an earlier scheduled run): re-reading 10,000 rows would find nothing new
    if ((await readBillReport(rt.dynamo, rt.tableName, merchantId, billDate)) !== undefined)
      return { merchantId, outcome: 'ALREADY_DONE' };
    const req = { billDate, ...(subMchid === undefined ? {} : { subMchid }) };
    for (let attempt = 1; ; attempt += 1) {
      const result = await runBill(rt.run, req, { dryRun: false });
      if (result.kind === 'DONE') {
        const { totals } = result.report;
        return {
          merchantId,
          outcome: 'DONE',
          discrepancies: discrepancies(totals),
          repaired: totals.repaired,
          location: result.path,
        };
      }
      // not built yet: wait within this run while a wait and a whole run still fit, else the next schedule
      const fits = remaining === undefined || remaining() > rt.retryDelayMs * 3;
      if (attempt >= rt.attempts || !fits) return { merchantId, outcome: 'NOT_READY', reason: result.reason };
      await rt.sleep(rt.retryDelayMs);
    }
  } catch (err) {
    const e = asPayError(err);
    rt.run.logger.log('error', 'bills', { billDate, merchantId, outcome: 'FAILED', reason: e.reason });
    return { merchantId, outcome: 'FAILED', reason: e.reason };
  }
}

/** The summary for an error that escaped the core: CONFIG when the runtime could not be built. */
export function billsErrorSummary(e: PayError): BillsSummary {
  return { billDate: '', merchants: [], stopped: e.kind === 'CONFIG' ? 'CONFIG' : 'INTERNAL_ERROR' };
}

/** The bills function's middlewares, in `use` order: dependencies, the error reply, the deadline reply. */
export function billsMiddlewares(
  build: BuildBillsRuntime = () => billsRuntime(),
): Array<MiddlewareObj<unknown, BillsSummary, Error, WithDeps<BillsRuntime>>> {
  const logger = createLogger({ service: 'wechatpay-lambda' });
  const fields = { function: 'bills' };
  return [
    dependencies<BillsRuntime, unknown, BillsSummary>({ build }),
    errorReply<unknown, BillsSummary>({ reply: billsErrorSummary, logger, fields }),
    deadlineReply<unknown, BillsSummary>({
      reply: () => ({ billDate: '', merchants: [], stopped: 'DEADLINE' }),
      logger,
      fields,
    }),
  ];
}

/** Builds the scheduled handler; `build` is injectable for tests, the environment otherwise. */
export function billsHandler(build?: BuildBillsRuntime): EntryPoint<unknown, BillsSummary> {
  return entryPoint(middy(billsCore, BILLS_TIMING).use(billsMiddlewares(build)));
}
