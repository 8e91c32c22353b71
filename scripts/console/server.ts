/**
 * TEST-ONLY: the local console: one page on 127.0.0.1 showing the payments table and the simulator's
 * deliveries live, with buttons for what `npm run orders|sim|close|reconcile` do. The table is read
 * with the real SDK (a Scan every `pollMs`, only changed rows are pushed); deliveries come from the
 * simulator's outbox as they happen. The browser gets changes over server-sent events.
 */
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { build } from 'esbuild';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadConfig } from '../../lib/config';
import { CLOSE_CLIENT_TIMEOUTS } from '../../lib/close/lambda';
import { createLogger } from '../../lib/log';
import { createDynamoClient } from '../../lib/orders/client';
import { createDynamoOrderStore, toOrder, toRefund } from '../../lib/orders/dynamodb';
import type { Refund } from '../../lib/orders/model';
import { createWechatPayClient } from '../../lib/wechatpay/client';
import type { DeliveryEvent, DeliveryRecord } from '../simulator/deliveries';
import { toEnv, type TestKeys } from '../simulator/keys';
import { COUPON_RETRY_SCHEDULE_SECONDS, OFFICIAL_RETRY_SCHEDULE_SECONDS } from '../simulator/notifier';
import type { Simulator } from '../simulator/server';
import { type ActionDeps, isAction, runAction } from './actions';
import {
  changedRows,
  itemAnomalies,
  nextTransitions,
  type ConsoleEvent,
  type ConsoleSnapshot,
  type DeliveryRow,
  type KnobsRow,
  type LogEntry,
  type OrderRow,
} from './model';
import { STATE_FILTERS, renderPage } from './render';
import type { StoreFaults } from './storeFaults';

/** Options of {@link startConsole}. */
export interface ConsoleOptions {
  /** Port on 127.0.0.1; 0 picks a free one. */
  port: number;
  simulator: Simulator;
  keys: TestKeys;
  dynamoEndpoint: string;
  tableName: string;
  lambdaUrl: string;
  /** Local function name prefix, e.g. wechatpay-lambda-local- */
  functionPrefix: string;
  /** The throttling proxy in front of the functions' store, when the stack has one. */
  storeFaults?: StoreFaults;
  /** Table read interval in ms (default 500). */
  pollMs?: number;
}

/** A running console. */
export interface ConsoleServer {
  url: string;
  /** Feeds the functions' output in, so the anomalies they log show next to their orders. */
  ingestOutput(chunk: string): void;
  close(): Promise<void>;
}

const MAX_LOG = 100;
const MAX_SCAN_ITEMS = 5000;
const MAX_BODY = 16_384;

/** Starts the console and resolves once it listens. */
export async function startConsole(opts: ConsoleOptions): Promise<ConsoleServer> {
  const dynamo = createDynamoClient({ endpoint: opts.dynamoEndpoint });
  const store = createDynamoOrderStore({ client: dynamo, tableName: opts.tableName });
  const { simulator, keys } = opts;
  const clients = new Set<ServerResponse>();
  const orders = new Map<string, OrderRow>();
  let orderTexts = new Map<string, string>();
  const deliveries = new Map<number, DeliveryRow>();
  const deliveryOrders = new Map<number, string>();
  const anomalies = new Map<string, Set<string>>();
  const log: LogEntry[] = [];
  let knobsText = '';
  let logId = 1;
  let outputTail = '';

  const broadcast = (event: ConsoleEvent) => {
    const frame = `data: ${JSON.stringify(event)}\n\n`;
    for (const res of clients) res.write(frame);
  };
  const knobs = (): KnobsRow => ({
    suppressed: simulator.deliveries.suppressed,
    storeThrottles: opts.storeFaults?.remaining() ?? 0,
    apiFaults: simulator.faults.pending().map((f) => `${f.kind} on ${f.endpoint} ×${f.remaining}`),
  });
  const pushKnobs = () => {
    const row = knobs();
    const text = JSON.stringify(row);
    if (text === knobsText) return;
    knobsText = text;
    broadcast({ type: 'knobs', row });
  };
  const snapshot = (): ConsoleSnapshot => ({
    orders: [...orders.values()],
    deliveries: [...deliveries.values()],
    log: [...log],
    knobs: knobs(),
  });

  // deliveries: seeded from the outbox, then every change as the simulator makes it
  const timeScale = () => simulator.deliveries.timing.timeScale;
  const upsertDelivery = (record: DeliveryRecord) => {
    const row = toDeliveryRow(record, deliveries.get(record.id), deliveryOrders.get(record.id), timeScale());
    deliveries.set(record.id, row);
    return row;
  };
  for (const record of simulator.deliveries.list()) upsertDelivery(record);
  const onDelivery = (event: DeliveryEvent) => {
    if (event.type === 'delivery') {
      broadcast({ type: 'delivery', row: upsertDelivery(event.delivery) });
      return;
    }
    const row = deliveries.get(event.of);
    if (row === undefined) return;
    row.replays.push({ at: new Date().toISOString(), attempts: event.results });
    broadcast({ type: 'delivery', row });
  };
  const unsubscribe = simulator.deliveries.onChange(onDelivery);

  // the table: read on a timer, only what changed is pushed
  let polling = false;
  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      const items = await scanAll(dynamo, opts.tableName);
      const seenAt = new Date().toISOString();
      const rows = toOrderRows(items, orders, anomalies, seenAt);
      const { changed, seen } = changedRows(orderTexts, rows, (r) => r.key);
      orderTexts = seen;
      for (const row of rows) orders.set(row.key, row);
      for (const row of changed) broadcast({ type: 'order', row });
      pushKnobs();
    } catch {
      // the store may be starting or stopping; the next tick tries again
    } finally {
      polling = false;
    }
  };
  await poll();
  const timer = setInterval(() => void poll(), opts.pollMs ?? 500);

  const lambda = new LambdaClient({
    endpoint: opts.lambdaUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const actionDeps: ActionDeps = {
    store,
    simulator,
    lambda,
    closeFunction: `${opts.functionPrefix}closeOrder`,
    merchantId: keys.mchid,
    storeFaults: opts.storeFaults,
    reconcileDeps: (write) => {
      // the same wiring as scripts/reconcile.ts: the stack's table, the simulator as WeChat Pay's API
      const config = loadConfig({
        ...toEnv(keys),
        PAYMENTS_TABLE: opts.tableName,
        DYNAMODB_ENDPOINT: opts.dynamoEndpoint,
        WECHATPAY_API_BASE_URL: simulator.url,
      });
      const logger = createLogger({
        service: 'console-reconcile',
        write: (line) => /^\{"level":"(warn|error)"/.test(line) && write(line),
      });
      const client = createWechatPayClient({ config, ...CLOSE_CLIENT_TIMEOUTS });
      return { config, store, client, logger, now: Date.now };
    },
    noteDelivery: (id, outTradeNo) => {
      deliveryOrders.set(id, outTradeNo);
      const row = deliveries.get(id);
      if (row !== undefined && row.outTradeNo !== outTradeNo) {
        row.outTradeNo = outTradeNo;
        broadcast({ type: 'delivery', row });
      }
    },
    now: Date.now,
  };

  const script = await bundleClient();
  let origin = '';
  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`console error: ${error instanceof Error ? error.message : String(error)}`);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', origin);
    // only pages this console served may drive it: no other site (or a rebound DNS name) can
    if (!sameHost(req.headers.host, url.port)) return text(res, 421, 'wrong host');
    if (req.method === 'GET' && url.pathname === '/') {
      const filter = url.searchParams.get('state') ?? '';
      const state = (STATE_FILTERS as readonly string[]).includes(filter) ? filter : '';
      const page = renderPage(snapshot(), {
        filter: state,
        nextOrderNo: nextOrderNo(orders),
        stackLine: `live from ${opts.tableName} at ${opts.dynamoEndpoint} · simulator ${simulator.url}`,
      });
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', ...SECURITY_HEADERS });
      res.end(page);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/console.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-cache' });
      res.end(script);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/snapshot') return json(res, 200, snapshot());
    if (req.method === 'GET' && url.pathname === '/events') {
      res.writeHead(200, {
        'Content-Type': 'text/event-stream',
        'Cache-Control': 'no-cache',
        Connection: 'keep-alive',
      });
      res.write(`data: ${JSON.stringify({ type: 'snapshot', snapshot: snapshot() } satisfies ConsoleEvent)}\n\n`);
      clients.add(res);
      req.on('close', () => clients.delete(res));
      return;
    }
    const action = /^\/actions\/([a-z]+)$/.exec(url.pathname)?.[1];
    if (req.method === 'POST' && action !== undefined && isAction(action)) {
      const from = req.headers.origin;
      if (from !== undefined && from !== origin && from !== origin.replace('127.0.0.1', 'localhost'))
        return text(res, 403, 'cross-origin request refused');
      const body = await readBody(req);
      if (body === undefined) return text(res, 413, 'form too large');
      const result = await runAction(action, new URLSearchParams(body), actionDeps);
      const entry: LogEntry = { id: logId++, at: new Date().toISOString(), ...result };
      log.push(entry);
      if (log.length > MAX_LOG) log.shift();
      broadcast({ type: 'log', row: entry });
      pushKnobs();
      void poll(); // show the action's effect on the table without waiting for the timer
      if ((req.headers.accept ?? '').includes('application/json')) return json(res, result.ok ? 200 : 400, entry);
      res.writeHead(303, { Location: '/#actions' });
      res.end();
      return;
    }
    text(res, 404, 'not found');
  }

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  origin = `http://127.0.0.1:${port}`;
  const heartbeat = setInterval(() => {
    for (const res of clients) res.write(': keep-alive\n\n');
  }, 15_000);

  return {
    url: origin,
    ingestOutput(chunk) {
      const lines = (outputTail + chunk).split('\n');
      outputTail = (lines.pop() ?? '').slice(-65_536);
      for (const line of lines) noteAnomaly(line, anomalies);
    },
    async close() {
      clearInterval(timer);
      clearInterval(heartbeat);
      unsubscribe();
      for (const res of clients) res.end();
      clients.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      lambda.destroy();
      dynamo.destroy();
    },
  };
}

const SECURITY_HEADERS = {
  // everything the page uses comes from this server: no CDN, no inline script
  'Content-Security-Policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
};

function sameHost(host: string | undefined, port: string): boolean {
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`;
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The browser script: built from scripts/console/client.ts with esbuild at start (nothing downloaded). */
async function bundleClient(): Promise<string> {
  const result = await build({
    entryPoints: [join(__dirname, 'client.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    target: 'es2020',
    platform: 'browser',
    logLevel: 'silent',
  });
  return result.outputFiles[0]?.text ?? '';
}

async function scanAll(client: ReturnType<typeof createDynamoClient>, tableName: string) {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    // a development view of the local table only: the service itself never scans
    const page = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start !== undefined && items.length < MAX_SCAN_ITEMS);
  return items;
}

function toOrderRows(
  items: Record<string, AttributeValue>[],
  previous: ReadonlyMap<string, OrderRow>,
  logged: ReadonlyMap<string, Set<string>>,
  seenAt: string,
): OrderRow[] {
  const refunds = new Map<string, Refund[]>();
  for (const item of items) {
    if (!item.pk?.S?.startsWith('REFUND#')) continue;
    const refund = toRefund(item);
    const key = `${refund.merchantId}#${refund.outTradeNo}`;
    refunds.set(key, [...(refunds.get(key) ?? []), refund]);
  }
  const rows: OrderRow[] = [];
  for (const item of items) {
    const key = item.pk?.S;
    if (!key?.startsWith('ORDER#')) continue;
    const order = toOrder(item);
    if (order === undefined) continue;
    const own = refunds.get(`${order.merchantId}#${order.outTradeNo}`) ?? [];
    const kinds = new Set([...itemAnomalies(order), ...(logged.get(order.outTradeNo) ?? [])]);
    rows.push({
      ...order,
      key,
      refunds: own.sort((a, b) => a.outRefundNo.localeCompare(b.outRefundNo)),
      anomalies: [...kinds].sort(),
      transitions: nextTransitions(previous.get(key), order, seenAt),
    });
  }
  return rows.sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || a.key.localeCompare(b.key));
}

function toDeliveryRow(
  record: DeliveryRecord,
  previous: DeliveryRow | undefined,
  outTradeNo: string | undefined,
  timeScale: number,
): DeliveryRow {
  const schedule = record.kind === 'coupon' ? COUPON_RETRY_SCHEDULE_SECONDS : OFFICIAL_RETRY_SCHEDULE_SECONDS;
  const known = outTradeNo ?? previous?.outTradeNo;
  return {
    id: record.id,
    kind: record.kind,
    protocol: record.protocol,
    url: record.url,
    ...(known === undefined ? {} : { outTradeNo: known }),
    skipped: record.skipped,
    done: record.done,
    accepted: record.accepted,
    schedule: `${schedule.map(duration).join(' ')} (×${timeScale} here)`,
    attempts: record.attempts,
    replays: previous?.replays ?? [],
  };
}

function duration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

function noteAnomaly(line: string, into: Map<string, Set<string>>): void {
  if (!line.includes('"message":"anomaly"')) return;
  try {
    const entry = JSON.parse(line.slice(line.indexOf('{'))) as { kind?: unknown; outTradeNo?: unknown };
    if (typeof entry.kind !== 'string' || typeof entry.outTradeNo !== 'string') return;
    const kinds = into.get(entry.outTradeNo) ?? new Set<string>();
    kinds.add(entry.kind);
    into.set(entry.outTradeNo, kinds);
  } catch {
    // not a whole JSON line: nothing to learn from it
  }
}

function nextOrderNo(orders: ReadonlyMap<string, OrderRow>): string {
  const taken = new Set([...orders.values()].map((o) => o.outTradeNo));
  let n = taken.size + 1;
  while (taken.has(`DEMO${String(n).padStart(3, '0')}`)) n += 1;
  return `DEMO${String(n).padStart(3, '0')}`;
}
