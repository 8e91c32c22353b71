/**
 * Section: the handler's own time per delivery. The real Lambda handler (functions/paymentNotify.ts,
 * its middy chain, Powertools logger and metrics, the live dependencies and key ring) is imported
 * in-process and called with API Gateway events, one delivery at a time, against DynamoDB Local
 * started here. Beside it, on the same table and the same kind of messages:
 *  - a minimal hand-written handler doing only the job's floor: verify (RSA or MD5), decrypt or parse,
 *    one conditional UpdateItem, a duplicate told from ALL_OLD;
 *  - the Powertools idempotency pattern (APIv3): the notice read as the project reads it, then
 *    makeIdempotent with its DynamoDB persistence layer around one UpdateItem.
 * Each delivery's wall time minus the time its DynamoDB requests spent on the wire (measured inside the
 * SDK, lib/sendtime.ts) is the handler's own time: what Lambda bills beyond waiting on DynamoDB. Also
 * reported: wall minus the time inside `send` (the SDK's own marshalling then counts as waiting).
 * Rounds of all variants are interleaved so the shared machine's load hits them alike.
 *
 * Runnable alone: `npx tsx bench/run.ts handler` (which runs this file in a child process of its own).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { DynamoDBClient as DynamoDBClientType } from '@aws-sdk/client-dynamodb';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { XMLParser as XMLParserType } from 'fast-xml-parser';
import type { Context } from 'aws-lambda';
import { loadConfig } from '../../lib/config';
import { notifyDeps } from '../../lib/lambda/deps';
import { rawBody } from '../../lib/lambda/http';
import { createLogger } from '../../lib/log';
import { handleNotification } from '../../lib/notify/handle';
import { readNotice } from '../../lib/notify/read';
import { createDynamoClient } from '../../lib/orders/client';
import { createDynamoOrderStore } from '../../lib/orders/dynamodb';
import { orderKey } from '../../lib/orders/table';
import { headerGetter } from '../../lib/wechatpay/v3/verify';
import { ensureTable, startLocalDynamo, type Engine } from '../../scripts/local/dynamodb';
import {
  v2PaymentNotification,
  v3Notification,
  v3TransactionResource,
  type WireRequest,
} from '../../scripts/simulator/messages';
import { minimalPaymentWrite, minimalV3Read, openPlain } from '../lib/minimal';
import {
  benchKeys,
  lambdaContext,
  log,
  mapLimit,
  median,
  nextOutTradeNo,
  onCleanup,
  percentile,
  round,
} from '../lib/common';
import { ROOT } from '../lib/snapshot';
import { hookClientClass, resetWaitClock, waitClock } from '../lib/sendtime';

const TABLE = 'wechatpay-lambda-bench-handler';
const IDEMPOTENCY_TABLE = 'wechatpay-lambda-bench-handler-idempotency';

// the project's own copies (the root node_modules), which the real handler uses: the bench's copies of
// the same packages are other module instances, and the timers must sit on the class the handler uses
const rootRequire = createRequire(join(ROOT, 'package.json'));
const rootSdk = rootRequire('@aws-sdk/client-dynamodb') as typeof import('@aws-sdk/client-dynamodb');
const { XMLParser } = rootRequire('fast-xml-parser') as { XMLParser: typeof XMLParserType };

/** API Gateway's HTTP API event as far as the handlers read it. */
interface HttpEvent {
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
}
interface HttpResult {
  statusCode: number;
  body?: string;
}
type Handler = (event: HttpEvent, context: Context) => Promise<HttpResult>;

/** Per-delivery figures of one variant and one kind of delivery (first or duplicate), ms. */
export interface DeliveryTiming {
  deliveries: number;
  /** Median wall time of the handler call. */
  wallMs: number;
  /** Median of (wall − HTTP wait): the handler's own time. */
  ownMs: number;
  ownP90Ms: number;
  /** Median of (wall − time inside `send`): the SDK's marshalling counted as waiting too. */
  ownOutsideSendMs: number;
  /** Median HTTP wait per delivery (DynamoDB Local's answer time on loopback). */
  httpMs: number;
  requestsPerDelivery: number;
}

export interface HandlerVariant {
  id: string;
  protocol: 'v2' | 'v3';
  label: string;
  first: DeliveryTiming;
  duplicate: DeliveryTiming;
}

export interface HandlerResult {
  date: string;
  engine: Engine;
  rounds: number;
  perRound: number;
  variants: HandlerVariant[];
  /** The real handler's own time per first delivery over the minimal handler's (median of per-round ratios). */
  ratioToMinimal: { v2: number; v3: number };
  /**
   * The same against the minimal handlers given the project's DynamoDB client settings (createDynamoClient):
   * the share of the ratio that is the client's configuration rather than the project's code.
   */
  ratioToTunedMinimal?: { v2: number; v3: number };
  /** The same for duplicates. */
  duplicateRatioToMinimal: { v2: number; v3: number };
  /**
   * APIv3 first deliveries: the pipeline alone ÷ minimal, the real handler ÷ the pipeline alone (the
   * adapter), the pipeline ÷ the same with a logger doing nothing (logging), and the minimal handler with
   * the project's store write ÷ the minimal one (the richer item).
   */
  breakdownV3: {
    pipelineToMinimal: number;
    handlerToPipeline: number;
    pipelineToQuiet?: number;
    storeWriteToMinimal?: number;
  };
  /** Bytes the real handler wrote to standard output per delivery (log lines and metric records). */
  logBytesPerDelivery: number;
  notes: string[];
}

const eventOf = (w: WireRequest): HttpEvent => ({
  headers: Object.fromEntries(Object.entries(w.headers).map(([k, v]) => [k.toLowerCase(), v])),
  body: w.body,
  isBase64Encoded: false,
});

/** The minimal handler's write, or another one given the notice's fields (the diagnostic variant below). */
type Apply = (mchid: string, outTradeNo: string, transactionId: string, totalFen: number) => Promise<HttpResult>;

/**
 * The job's floor, APIv3: RSA verify with a prebuilt key, AES-GCM, one conditional UpdateItem (or, as a
 * diagnostic, `apply` instead: the project's own store write).
 */
function minimalV3(client: DynamoDBClientType, keys: ReturnType<typeof benchKeys>['keys'], apply?: Apply): Handler {
  const platformKey = keys.platform.publicKey;
  const aesKey = Buffer.from(keys.apiV3Key, 'utf8');
  return async (event) => {
    const h = event.headers;
    const tx = minimalV3Read(h, event.body, platformKey, aesKey);
    if (tx === undefined) return { statusCode: 401 };
    if (apply) return apply(tx.mchid, tx.out_trade_no, tx.transaction_id, tx.amount.total);
    return applyOnce(client, tx.mchid, tx.out_trade_no, tx.transaction_id, tx.amount.total, 204);
  };
}

/** The job's floor, APIv2: parse, sort, MD5, constant-time compare, one conditional UpdateItem. */
function minimalV2(client: DynamoDBClientType, keys: ReturnType<typeof benchKeys>['keys']): Handler {
  const parser = new XMLParser({
    parseTagValue: false,
    processEntities: false,
    ignoreDeclaration: true,
    ignoreAttributes: true,
    trimValues: false,
  });
  const suffix = `key=${keys.apiV2Key}`;
  return async (event) => {
    const f = (parser.parse(event.body) as { xml: Record<string, string> }).xml;
    let s = '';
    for (const k of Object.keys(f).sort()) if (k !== 'sign' && f[k] !== '') s += `${k}=${f[k]}&`;
    const expected = Buffer.from(
      createHash('md5')
        .update(s + suffix)
        .digest('hex')
        .toUpperCase(),
    );
    const given = Buffer.from(f.sign ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { statusCode: 400 };
    return applyOnce(
      client,
      f.mch_id ?? '',
      f.out_trade_no ?? '',
      f.transaction_id ?? '',
      Number(f.total_fee),
      200,
      '<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>',
    );
  };
}

/** One conditional write: NOTPAY → PAID; a failed condition whose old item holds this transaction is a duplicate. */
async function applyOnce(
  client: DynamoDBClientType,
  mchid: string,
  outTradeNo: string,
  transactionId: string,
  totalFen: number,
  okStatus: number,
  okBody = '',
): Promise<HttpResult> {
  const input = minimalPaymentWrite(TABLE, orderKey(mchid, outTradeNo), transactionId, totalFen);

  try {
    await client.send(new rootSdk.UpdateItemCommand(input));
    return { statusCode: okStatus, body: okBody };
  } catch (err) {
    const old = (err as { Item?: Record<string, { S?: string }> }).Item;
    if ((err as Error).name === 'ConditionalCheckFailedException' && old?.transactionId?.S === transactionId)
      return { statusCode: okStatus, body: okBody };
    return { statusCode: 500 };
  }
}

interface Sample {
  wall: number;
  http: number;
  send: number;
  requests: number;
}

function timing(samples: readonly Sample[]): DeliveryTiming {
  const own = samples.map((s) => s.wall - s.http);
  return {
    deliveries: samples.length,
    wallMs: round(median(samples.map((s) => s.wall)), 3),
    ownMs: round(median(own), 3),
    ownP90Ms: round(percentile(own, 90), 3),
    ownOutsideSendMs: round(median(samples.map((s) => s.wall - s.send)), 3),
    httpMs: round(median(samples.map((s) => s.http)), 3),
    requestsPerDelivery: round(samples.reduce((n, s) => n + s.requests, 0) / Math.max(1, samples.length), 2),
  };
}

/** Runs the section; `quick` shortens the rounds. */
export async function runHandler(opts: { quick?: boolean } = {}): Promise<HandlerResult> {
  // 21 rounds: with 11 the ratio moved by ±0.1 between runs on this shared machine
  const rounds = opts.quick ? 3 : 21;
  const perRound = opts.quick ? 20 : 60;
  const { keys, env } = benchKeys();
  const dynamo = await startLocalDynamo();
  const forget = onCleanup(() => dynamo.stop());
  log(`handler: ${dynamo.engine} at ${dynamo.endpoint}, ${rounds} rounds × ${perRound} deliveries per variant`);
  const savedEnv = { ...process.env };
  const realWrite = process.stdout.write.bind(process.stdout);
  let logBytes = 0;
  let realLogBytes = 0;
  let muted = false;
  try {
    await ensureTable(dynamo.endpoint, TABLE);
    hookClientClass(rootSdk.DynamoDBClient.prototype);
    const benchSdk = await import('@aws-sdk/client-dynamodb');
    hookClientClass(benchSdk.DynamoDBClient.prototype);

    // the deployed function's environment (serverless.yml's notify section, values given directly)
    Object.assign(process.env, env, {
      PAYMENTS_TABLE: TABLE,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      STAGE: 'bench',
      POWERTOOLS_SERVICE_NAME: 'wechatpay-lambda',
      POWERTOOLS_METRICS_NAMESPACE: 'WechatPayLambda',
    });
    const real = (await import('../../functions/paymentNotify')).handler as unknown as Handler;
    const config = loadConfig({ ...env, PAYMENTS_TABLE: TABLE, DYNAMODB_ENDPOINT: dynamo.endpoint });

    const setupClient = createDynamoClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      timeouts: { connectMs: 20_000, requestMs: 20_000 },
    });
    const store = createDynamoOrderStore({ client: setupClient, tableName: TABLE });
    const minimalClient = new rootSdk.DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    // the same minimal handlers on the project's own client settings (middleware stack resolved once,
    // no logger middleware): what the ratio is when the floor is given what the project's client has
    const tunedClient = createDynamoClient({ endpoint: dynamo.endpoint, region: 'us-east-1' });

    // Powertools' pattern: its own table, the bench's SDK copy (its documented companion)
    const ptClient = new benchSdk.DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await createIdempotencyTable(ptClient);
    const applyPayment = async (
      report: { merchantId: string; outTradeNo: string; transactionId: string },
      _context: Context,
    ) => {
      await ptClient.send(
        new benchSdk.UpdateItemCommand({
          TableName: TABLE,
          Key: { pk: { S: orderKey(report.merchantId, report.outTradeNo) } },
          UpdateExpression: 'SET #s = :paid, transactionId = :tx REMOVE pending',
          ExpressionAttributeNames: { '#s': 'state' },
          ExpressionAttributeValues: { ':paid': { S: 'PAID' }, ':tx': { S: report.transactionId } },
        }),
      );
      return { applied: true };
    };
    const idempotent = makeIdempotent(applyPayment, {
      persistenceStore: new DynamoDBPersistenceLayer({ tableName: IDEMPOTENCY_TABLE, awsSdkV3Client: ptClient }),
      config: new IdempotencyConfig({ eventKeyJmesPath: 'transactionId' }),
    });
    const powertools: Handler = async (event, context) => {
      const { notice } = readNotice('v3', headerGetter(event.headers), rawBody(event), config, Date.now());
      if (notice.kind !== 'PAYMENT') return { statusCode: 400 };
      try {
        await idempotent(notice.report, context);
        return { statusCode: 204 };
      } catch {
        return { statusCode: 500 };
      }
    };

    // the project's pipeline alone, without the Lambda adapter (middy, Powertools middlewares, live
    // dependencies and key ring): what the adapter adds is the difference to the real handler
    const pipelineDeps = notifyDeps(
      { ...process.env },
      createLogger({ write: (line) => process.stdout.write(`${line}\n`) }),
    );
    const pipeline: Handler = async (event) =>
      handleNotification({ route: '/notify/payment', headers: event.headers, body: rawBody(event) }, pipelineDeps);

    // two diagnostics of the v3 gap: the pipeline with a logger that does nothing (the share of the log
    // line and metric records), and the minimal handler making the project's store write instead of its
    // own four-attribute one (the share of the richer item: paid day, channel, previous state, ALL_NEW)
    const quietLogger = { log() {}, anomaly() {}, count() {}, gauge() {} };
    const quietDeps = { ...pipelineDeps, logger: quietLogger };
    const pipelineQuiet: Handler = async (event) =>
      handleNotification({ route: '/notify/payment', headers: event.headers, body: rawBody(event) }, quietDeps);
    const storeClient = createDynamoClient({ endpoint: dynamo.endpoint });
    const projectStore = createDynamoOrderStore({ client: storeClient, tableName: TABLE });
    const storeWrite: Apply = async (mchid, outTradeNo, transactionId, amountFen) => {
      const outcome = await projectStore.applyPayment(
        { outTradeNo, merchantId: mchid, transactionId, amountFen, paidAt: new Date().toISOString(), channel: 'v3' },
        'reject',
      );
      const ok = outcome.kind === 'APPLIED' || outcome.kind === 'ALREADY_APPLIED';
      return { statusCode: ok ? 204 : 500 };
    };

    const variants: Array<{ id: string; protocol: 'v2' | 'v3'; label: string; handler: Handler; ok: number }> = [
      {
        id: 'project-v3',
        protocol: 'v3',
        label: 'wechatpay-lambda: functions/paymentNotify.handler (middy, Powertools, live deps, key ring)',
        handler: real,
        ok: 204,
      },
      {
        id: 'pipeline-v3',
        protocol: 'v3',
        label:
          "wechatpay-lambda's pipeline alone: handleNotification with its dependencies, no middy or Powertools middlewares",
        handler: pipeline,
        ok: 204,
      },
      {
        id: 'minimal-v3',
        protocol: 'v3',
        label: 'minimal: RSA verify, AES-GCM, JSON.parse, one conditional UpdateItem',
        handler: minimalV3(minimalClient, keys),
        ok: 204,
      },
      {
        id: 'minimal-tuned-v3',
        protocol: 'v3',
        label:
          "minimal, on the project's DynamoDB client settings (createDynamoClient: cacheMiddleware, no logger middleware)",
        handler: minimalV3(tunedClient as unknown as DynamoDBClientType, keys),
        ok: 204,
      },
      {
        id: 'pipeline-quiet-v3',
        protocol: 'v3',
        label: 'diagnostic: the pipeline alone with a logger that does nothing (no log line, no metric record)',
        handler: pipelineQuiet,
        ok: 204,
      },
      {
        id: 'minimal-store-v3',
        protocol: 'v3',
        label:
          "diagnostic: the minimal handler's crypto, then the project's store write (applyPayment: its one conditional UpdateItem, ALL_NEW)",
        handler: minimalV3(minimalClient, keys, storeWrite),
        ok: 204,
      },
      {
        id: 'powertools-v3',
        protocol: 'v3',
        label: 'Powertools idempotency: readNotice, then makeIdempotent around one UpdateItem',
        handler: powertools,
        ok: 204,
      },
      {
        id: 'project-v2',
        protocol: 'v2',
        label: 'wechatpay-lambda: functions/paymentNotify.handler (APIv2)',
        handler: real,
        ok: 200,
      },
      {
        id: 'minimal-v2',
        protocol: 'v2',
        label: 'minimal: XML parse, MD5 compare, one conditional UpdateItem',
        handler: minimalV2(minimalClient, keys),
        ok: 200,
      },
      {
        id: 'minimal-tuned-v2',
        protocol: 'v2',
        label: "minimal (APIv2), on the project's DynamoDB client settings",
        handler: minimalV2(tunedClient as unknown as DynamoDBClientType, keys),
        ok: 200,
      },
    ];

    // the orders and their notifications, prepared before anything is timed
    const per = rounds * perRound + 1; // +1: a warm-up delivery per variant
    const prepared = new Map<string, HttpEvent[]>();
    for (const v of variants) {
      const events: HttpEvent[] = [];
      const nos = Array.from({ length: per }, () => nextOutTradeNo(`H${v.id.slice(0, 2).toUpperCase()}`));
      await mapLimit(nos, 16, async (outTradeNo, i) => {
        const amount = 100 + (i % 900);
        const r = await store.registerOrder({ outTradeNo, amountFen: amount, merchantId: keys.mchid });
        if (r.kind !== 'REGISTERED') throw new Error(`register ${outTradeNo}: ${r.kind}`);
        events[i] = eventOf(
          v.protocol === 'v3'
            ? v3Notification(keys, {
                eventType: 'TRANSACTION.SUCCESS',
                originalType: 'transaction',
                resource: v3TransactionResource(keys, { outTradeNo, total: amount }),
              })
            : v2PaymentNotification(keys, { outTradeNo, totalFee: amount }),
        );
      });
      prepared.set(v.id, events);
    }

    // standard output is the real handler's log sink (as in Lambda): counted, not printed
    process.stdout.write = ((chunk: string | Uint8Array) => {
      logBytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      return true;
    }) as typeof process.stdout.write;
    muted = true;

    const deliver = async (v: (typeof variants)[number], event: HttpEvent): Promise<Sample> => {
      resetWaitClock();
      const bytesBefore = logBytes;
      const t0 = performance.now();
      const res = await v.handler(event, lambdaContext());
      const wall = performance.now() - t0;
      // only the real handler's lines count toward its log volume
      if (v.handler === real) realLogBytes += logBytes - bytesBefore;
      if (res.statusCode !== v.ok) throw new Error(`${v.id}: HTTP ${res.statusCode} ${res.body ?? ''}`.slice(0, 300));
      return { wall, http: waitClock.httpMs, send: waitClock.sendMs, requests: waitClock.requests };
    };

    // warm-up: the first invocation builds the dependencies and key ring (cold path, not measured)
    for (const v of variants) {
      const e = prepared.get(v.id)?.[per - 1] as HttpEvent;
      await deliver(v, e);
    }
    realLogBytes = 0;

    const first = new Map<string, Sample[]>(variants.map((v) => [v.id, []]));
    const dup = new Map<string, Sample[]>(variants.map((v) => [v.id, []]));
    const firstRound = new Map<string, number[]>(variants.map((v) => [v.id, []]));
    const dupRound = new Map<string, number[]>(variants.map((v) => [v.id, []]));
    let realDeliveries = 0;
    for (let r = 0; r < rounds; r++) {
      const order = variants.map((_, k) => variants[(k + r) % variants.length] as (typeof variants)[number]);
      for (const v of order) {
        const events = (prepared.get(v.id) as HttpEvent[]).slice(r * perRound, (r + 1) * perRound);
        const f: Sample[] = [];
        for (const e of events) f.push(await deliver(v, e));
        const d: Sample[] = [];
        for (const e of events) d.push(await deliver(v, e));
        first.get(v.id)?.push(...f);
        dup.get(v.id)?.push(...d);
        firstRound.get(v.id)?.push(median(f.map((s) => s.wall - s.http)));
        dupRound.get(v.id)?.push(median(d.map((s) => s.wall - s.http)));
        if (v.handler === real) realDeliveries += f.length + d.length;
      }
    }
    process.stdout.write = realWrite;
    muted = false;

    // every order must be PAID exactly as delivered, or the timings mean nothing
    for (const v of variants) {
      const events = prepared.get(v.id) as HttpEvent[];
      for (const e of [events[0], events[events.length - 2]]) {
        const no = outTradeNoOf(e as HttpEvent, keys.apiV3Key);
        const o = await store.getOrder(keys.mchid, no);
        if (o?.state !== 'PAID') throw new Error(`${v.id}: order ${no} is ${o?.state ?? 'missing'}`);
      }
    }

    const ratio = (a: string, b: string, m: Map<string, number[]>) => {
      const x = m.get(a) ?? [];
      const y = m.get(b) ?? [];
      return round(median(x.map((n, k) => n / (y[k] ?? Number.NaN))), 2);
    };
    setupClient.destroy();
    minimalClient.destroy();
    tunedClient.destroy();
    storeClient.destroy();
    ptClient.destroy();
    return {
      date: new Date().toISOString(),
      engine: dynamo.engine,
      rounds,
      perRound,
      variants: variants.map((v) => ({
        id: v.id,
        protocol: v.protocol,
        label: v.label,
        first: timing(first.get(v.id) ?? []),
        duplicate: timing(dup.get(v.id) ?? []),
      })),
      ratioToMinimal: {
        v3: ratio('project-v3', 'minimal-v3', firstRound),
        v2: ratio('project-v2', 'minimal-v2', firstRound),
      },
      ratioToTunedMinimal: {
        v3: ratio('project-v3', 'minimal-tuned-v3', firstRound),
        v2: ratio('project-v2', 'minimal-tuned-v2', firstRound),
      },
      breakdownV3: {
        pipelineToMinimal: ratio('pipeline-v3', 'minimal-v3', firstRound),
        handlerToPipeline: ratio('project-v3', 'pipeline-v3', firstRound),
        pipelineToQuiet: ratio('pipeline-v3', 'pipeline-quiet-v3', firstRound),
        storeWriteToMinimal: ratio('minimal-store-v3', 'minimal-v3', firstRound),
      },
      duplicateRatioToMinimal: {
        v3: ratio('project-v3', 'minimal-v3', dupRound),
        v2: ratio('project-v2', 'minimal-v2', dupRound),
      },
      logBytesPerDelivery: Math.round(realLogBytes / Math.max(1, realDeliveries)),
      notes: [
        `In-process, one delivery at a time, against ${dynamo.engine === 'dynamodb-local' ? 'DynamoDB Local' : 'dynalite'} on loopback. "Own" = the call's wall time minus the time its DynamoDB requests spent on the wire (timed inside the SDK around the HTTP exchange, retries included); the SDK's request building, signing and parsing stay in "own", as Lambda bills them. "Outside send" subtracts the whole send instead.`,
        'The real handler writes its log lines and metric records to standard output, as in Lambda; the bench counts those bytes instead of printing them.',
        `Ratio: the real handler's own time ÷ the minimal handler's, the median of the per-round medians' ratios (${rounds} rounds of ${perRound} first deliveries, then the same ${perRound} again as duplicates, variants interleaved).`,
        'A duplicate is the same notification delivered again: the conditional write fails and DynamoDB returns the stored item (ALL_OLD), which the handler compares with the notice before answering success. Powertools answers a duplicate from its own idempotency record instead.',
        'The first delivery to each variant (dependencies, key ring, the SDK clients and their connections) is a warm-up, not measured; cold starts are in the init sections.',
      ],
    };
  } finally {
    if (muted) process.stdout.write = realWrite;
    for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
    Object.assign(process.env, savedEnv);
    forget();
    await dynamo.stop();
  }
}

/** The out_trade_no a prepared event carries (v2: in the XML; v3: inside the encrypted resource). */
function outTradeNoOf(e: HttpEvent, apiV3Key: string): string {
  if (!e.body.startsWith('{')) return /<out_trade_no><!\[CDATA\[([^\]]+)\]\]>/.exec(e.body)?.[1] ?? '';
  return openPlain<{ out_trade_no: string }>(e.body, Buffer.from(apiV3Key, 'utf8')).out_trade_no;
}

async function createIdempotencyTable(client: DynamoDBClientType): Promise<void> {
  const sdk = await import('@aws-sdk/client-dynamodb');
  try {
    await client.send(
      new sdk.CreateTableCommand({
        TableName: IDEMPOTENCY_TABLE,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );
  } catch (err) {
    if (!(err instanceof sdk.ResourceInUseException)) throw err;
  }
  for (let i = 0; i < 100; i++) {
    const d = await client.send(new sdk.DescribeTableCommand({ TableName: IDEMPOTENCY_TABLE }));
    if (d.Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

// bench/run.ts runs this section in a process of its own: `--out <file>` receives the result as JSON
if (require.main === module) {
  const at = process.argv.indexOf('--out');
  const out = at > 0 ? process.argv[at + 1] : undefined;
  if (out === undefined) throw new Error('usage: handler.ts --out <file> [--quick]');
  void runHandler({ quick: process.argv.includes('--quick') }).then((result) =>
    writeFileSync(out, JSON.stringify(result)),
  );
}
