/**
 * TEST-ONLY: the local WeChat Pay simulator: a node:http server on 127.0.0.1 playing WeChat Pay's API
 * (APIv2 close/query, APIv3 close/query, merchant-coupon callback settings), delivering signed
 * notifications, with fault injection and `/_sim/` control endpoints. Never deployed; imports
 * nothing from lib/, so the service is tested against an independent implementation.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { SimBills } from './bills';
import { SimControl, handleControl, type ControlDeps, type SimConfig } from './control';
import { DEFAULT_TIMING, DeliveryManager } from './deliveries';
import { FaultPlan, type Fault } from './faults';
import { readRequest, send, type HttpReply, type SimRequest } from './http';
import type { TestKeys } from './keys';
import type { V2SignType } from './messages';
import type { NotificationProtocol } from './notifier';
import { RefundDesk } from './refunds';
import { type SecapiPort, startSecapiPort } from './secapi';
import { KeyRotation } from './rotation';
import { secondAppid, SimShapes } from './shapes';
import { SimState } from './state';
import { handleV2, v2Endpoint, v2FaultReply } from './v2api';
import { handleV3, v3Route, type V3Context } from './v3api';
import type { V3Signer } from './v3auth';

/** Options of {@link startSimulator}. */
export interface SimulatorOptions {
  keys: TestKeys;
  /** TCP port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /**
   * WeChat's business clock in ms (order ages, success times). Signature timestamps (the
   * Authorization skew window, Wechatpay-Timestamp) always use the real clock, because the service
   * under test checks them against its own real clock.
   */
  now?: () => number;
  /** Minimum order age before a close is accepted (default 300: the five-minute rule; 0 disables). */
  closeMinAgeSeconds?: number;
  /** Default payment notify URL (an order or a pay call may name its own). */
  notifyUrl?: string;
  /** Default refund notify URL (falls back to the payment URL). */
  refundNotifyUrl?: string;
  /** Default notification protocol (default 'v3'). */
  protocol?: NotificationProtocol;
  /** Default APIv3 notification signer (default 'platform'). */
  signer?: V3Signer;
  /** Default APIv2 payment-notification signature (default 'MD5'). */
  signType?: V2SignType;
  /** Retry-schedule compression factor (default 0.001: 15 s → 15 ms). */
  timeScale?: number;
  /** Reply deadline per delivery attempt in ms (default 5000). */
  replyTimeoutMs?: number;
  /** Further appids bound to the merchant id (default one, `secondAppid(keys)` of shapes.ts). */
  appids?: string[];
  /**
   * Serve APIv2 `secapi` (refund apply) only on a second, https port that demands the merchant's
   * client certificate (scripts/simulator/secapi.ts), as WeChat does; the plain port then refuses
   * it. Off by default: the plain port answers `secapi` like any other call.
   */
  clientCertificates?: boolean;
}

/** A running simulator. */
export interface Simulator {
  /** Base URL, e.g. http://127.0.0.1:41234 (use as WECHATPAY_API_BASE_URL). */
  url: string;
  state: SimState;
  faults: FaultPlan;
  deliveries: DeliveryManager;
  /** In-process equivalents of the `/_sim/` control endpoints. */
  control: SimControl;
  /** Refunds applied for through the refund APIs: in flight, results to come, and counts. */
  refunds: RefundDesk;
  /** Certificate rotation and public-key switch schedule (also `/_sim/keys/…`). */
  rotation: KeyRotation;
  /** The trade-bill endpoints and their discrepancy switches (scripts/simulator/bills.ts). */
  bills: SimBills;
  /** Combine payments, further appids, other events (scripts/simulator/shapes.ts). */
  shapes: SimShapes;
  /** The client-certificate port for `secapi` (with `clientCertificates` only). */
  secapi: SecapiPort | undefined;
  /** Stops the server, aborts deliveries and hanging answers. */
  close(): Promise<void>;
}

/** Starts a simulator on 127.0.0.1 and resolves once it listens. */
export async function startSimulator(opts: SimulatorOptions): Promise<Simulator> {
  const state = new SimState(opts.now ?? Date.now);
  const deliveries = new DeliveryManager(
    {
      timeScale: opts.timeScale ?? DEFAULT_TIMING.timeScale,
      replyTimeoutMs: opts.replyTimeoutMs ?? DEFAULT_TIMING.replyTimeoutMs,
    },
    state.now,
  );
  const deps: ControlDeps = {
    keys: opts.keys,
    state,
    deliveries,
    faults: new FaultPlan(),
    config: initialConfig(opts),
    couponCallbacks: new Map(),
    rotation: new KeyRotation(opts.keys),
    appids: opts.appids ?? [secondAppid(opts.keys)],
  };
  const control = new SimControl(deps);
  const refunds = new RefundDesk(state, control);
  const hangs = new AbortController();
  const bills = new SimBills(state, opts.keys);
  const shapes = new SimShapes(deps, deps.appids ?? []);
  const app: App = {
    deps,
    control,
    refunds,
    hangs,
    bills,
    shapes,
    closeMinAgeSeconds: opts.closeMinAgeSeconds ?? 300,
    secapiNeedsCertificate: opts.clientCertificates === true,
  };
  const server = createServer((req, res) => void serve(app, req, res));
  const port = await listen(server, opts.port ?? 0);
  const secapi = opts.clientCertificates
    ? await startSecapiPort(opts.keys, (req, res) => void serve(app, req, res, true))
    : undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    faults: deps.faults,
    deliveries,
    control,
    refunds,
    rotation: deps.rotation,
    bills,
    shapes,
    secapi,
    close: async () => {
      refunds.close();
      await secapi?.close();
      return shutdown(server, deliveries, hangs);
    },
  };
}

interface App {
  deps: ControlDeps;
  control: SimControl;
  refunds: RefundDesk;
  hangs: AbortController;
  bills: SimBills;
  shapes: SimShapes;
  closeMinAgeSeconds: number;
  /** `secapi` is served on the client-certificate port only. */
  secapiNeedsCertificate: boolean;
}

function initialConfig(opts: SimulatorOptions): SimConfig {
  return {
    protocol: opts.protocol ?? 'v3',
    signer: opts.signer ?? 'platform',
    signType: opts.signType ?? 'MD5',
    ...(opts.notifyUrl === undefined ? {} : { paymentNotifyUrl: opts.notifyUrl }),
    ...(opts.refundNotifyUrl === undefined ? {} : { refundNotifyUrl: opts.refundNotifyUrl }),
  };
}

async function serve(app: App, req: IncomingMessage, res: ServerResponse, certified = false): Promise<void> {
  try {
    const request = await readRequest(req);
    const refusal = secapiRefusal(app, request, certified);
    if (refusal !== undefined) return send(res, refusal);
    // the bill download is binary, so it writes its own answer
    if (app.bills.download(request, res, Math.floor(Date.now() / 1000))) return;
    send(res, await route(app, request));
  } catch (error) {
    // A simulator bug must not take the test run down; report it as a plain 500.
    process.stderr.write(
      `wechatpay simulator: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    send(res, { status: 500, headers: { 'Content-Type': 'text/plain' }, body: 'simulator error' });
  }
}

async function route(app: App, req: SimRequest): Promise<HttpReply> {
  const bill =
    req.path === '/_sim/bill'
      ? app.bills.control(req)
      : (app.bills.v3(req, Math.floor(Date.now() / 1000)) ?? app.bills.v2(req));
  if (bill !== undefined) return bill;
  const shaped = app.shapes.v3(req, Math.floor(Date.now() / 1000)) ?? (await app.shapes.control(req));
  if (shaped !== undefined) return shaped;
  if (req.path.startsWith('/_sim/')) return handleControl(app.control, app.deps, req);
  const v2 = v2Endpoint(req.path);
  if (v2 !== undefined) {
    const ctx = {
      keys: app.deps.keys,
      state: app.deps.state,
      closeMinAgeSeconds: app.closeMinAgeSeconds,
      refunds: app.refunds,
      appids: app.deps.appids ?? [],
    };
    const fault = await takeFault(app, v2);
    return (fault && v2FaultReply(ctx, req, fault)) ?? handleV2(ctx, v2, req, fault);
  }
  if (req.path.startsWith('/v3/')) {
    const matched = v3Route(req.method, req.path);
    const fault = matched === undefined ? undefined : await takeFault(app, matched.endpoint);
    return handleV3(v3Context(app), req, fault);
  }
  return { status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'not found' };
}

/**
 * The client-certificate port answers `secapi` and nothing else; with that port on, the plain port
 * refuses `secapi` (WeChat would fail the handshake; plain HTTP can only answer, unsigned).
 */
function secapiRefusal(app: App, req: SimRequest, certified: boolean): HttpReply | undefined {
  const secapi = req.path.startsWith('/secapi/');
  if (certified && !secapi) return { status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'not found' };
  if (!certified && secapi && app.secapiNeedsCertificate) {
    return {
      status: 200,
      headers: { 'Content-Type': 'text/xml; charset=utf-8' },
      body: '<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[client certificate required]]></return_msg></xml>',
    };
  }
  return undefined;
}

function v3Context(app: App): V3Context {
  return {
    keys: app.deps.keys,
    state: app.deps.state,
    closeMinAgeSeconds: app.closeMinAgeSeconds,
    couponCallbacks: app.deps.couponCallbacks,
    refunds: app.refunds,
    wallSeconds: () => Math.floor(Date.now() / 1000),
    certificates: () => app.deps.rotation.certificates(),
    onCertificatesServed: () => {
      app.deps.rotation.downloads += 1;
    },
  };
}

/** Takes the next fault for the endpoint; a `hang` is served here, before the normal answer. */
async function takeFault(app: App, endpoint: Parameters<FaultPlan['take']>[0]): Promise<Fault | undefined> {
  const fault = app.deps.faults.take(endpoint);
  if (fault?.kind === 'hang') {
    // The call still takes effect after the hang, like a WeChat answer lost to a client timeout.
    await delay(fault.hangMs, undefined, { signal: app.hangs.signal }).catch(() => undefined);
  }
  return fault;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

async function shutdown(server: Server, deliveries: DeliveryManager, hangs: AbortController): Promise<void> {
  hangs.abort();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await Promise.all([closed, deliveries.close()]);
}
