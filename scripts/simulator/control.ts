/**
 * TEST-ONLY: the simulator's control surface: the things WeChat Pay does on its own (a customer pays,
 * a refund settles, a coupon is received) plus test knobs. Exposed in-process as {@link SimControl}
 * and over HTTP as JSON under `/_sim/` (see README) for the CLI and tests in other processes.
 */
import type { DeliveryManager, DeliveryRecord, DeliveryWait } from './deliveries';
import { type FaultPlan, isFaultEndpoint, isFaultKind } from './faults';
import { jsonReply, type HttpReply, type SimRequest } from './http';
import type { TestKeys } from './keys';
import type { V2SignType } from './messages';
import type { AttemptRecord } from './notifier';
import {
  couponNotification,
  fundsNotification,
  paymentNotification,
  refundNotification,
  type FundsSend,
  type NotificationStyle,
} from './outgoing';
import type { KeyRotation } from './rotation';
import { SimError, type RefundStatus, type SimOrder, type SimRefund, type SimState } from './state';
import type { V3Signer } from './v3auth';

/** Notification defaults of a simulator, changeable at run time. */
export interface SimConfig extends NotificationStyle {
  /** Where payment notifications go unless the order or the call names a URL. */
  paymentNotifyUrl?: string;
  /** Where refund notifications go (falls back to the payment URL, as a v2 refund may use either). */
  refundNotifyUrl?: string;
}

/** Parameters of {@link SimControl.createOrder}. */
export interface CreateOrderInput {
  outTradeNo: string;
  amount: number;
  subMchid?: string;
  subAppid?: string;
  /** The app the order is made in: one of the merchant's appids (default the keys' own). */
  appid?: string;
  /** Creation instant in ms (simulator clock); alternatively `ageSeconds` before now. */
  createdAt?: number;
  ageSeconds?: number;
  notifyUrl?: string;
  attach?: string;
}

/** Per-call notification overrides. */
export interface NotifyOverrides {
  protocol?: NotificationStyle['protocol'];
  signer?: V3Signer;
  signType?: V2SignType;
  notifyUrl?: string;
  /** How long the call waits for delivery (default 'first': the first attempt's result). */
  wait?: DeliveryWait;
}

/** Parameters of {@link SimControl.pay}. */
export interface PayInput extends NotifyOverrides {
  outTradeNo: string;
  /** Creates the order with this amount when it does not exist; must match an existing order. */
  amount?: number;
  subMchid?: string;
  subAppid?: string;
  /** The app the order is made in, when the pay call creates it. */
  appid?: string;
  /** Pay even a closed order (stages the close/pay race). */
  force?: boolean;
}

/** Parameters of {@link SimControl.refund}. */
export interface RefundInput extends NotifyOverrides {
  outTradeNo: string;
  outRefundNo: string;
  amount: number;
  status?: RefundStatus;
  subMchid?: string;
  /** WeChat's refund id when the refund APIs handed one out already. */
  refundId?: string;
}

/** Parameters of {@link SimControl.sendCoupon}. */
export interface CouponInput {
  stockId?: string;
  couponCode?: string;
  openid?: string;
  signer?: V3Signer;
  notifyUrl?: string;
  wait?: DeliveryWait;
}

/** Everything the control surface drives. */
export interface ControlDeps {
  keys: TestKeys;
  state: SimState;
  deliveries: DeliveryManager;
  faults: FaultPlan;
  config: SimConfig;
  couponCallbacks: Map<string, { notifyUrl: string; updateTime: string }>;
  /** Key changes under way; picks each notification's signer when the call names none. */
  rotation: KeyRotation;
  /** Every appid bound to the merchant id (scripts/simulator/shapes.ts); default only the keys' own. */
  appids?: readonly string[];
}

/** In-process control of a running simulator (the `/_sim/` endpoints call exactly these). */
export class SimControl {
  constructor(private readonly deps: ControlDeps) {}

  /** Registers an unpaid order (as unified order would). */
  createOrder(input: CreateOrderInput): SimOrder {
    const { state, keys } = this.deps;
    const createdAt =
      input.createdAt ?? (input.ageSeconds === undefined ? undefined : state.now() - input.ageSeconds * 1000);
    return state.createOrder({
      outTradeNo: input.outTradeNo,
      amount: input.amount,
      mchid: keys.mchid,
      appid: this.boundAppid(input.appid),
      ...optional({
        subMchid: input.subMchid,
        subAppid: input.subAppid,
        notifyUrl: input.notifyUrl,
        attach: input.attach,
      }),
      ...(createdAt === undefined ? {} : { createdAt }),
    });
  }

  /** The customer pays: the order turns SUCCESS and the payment notification is delivered. */
  async pay(input: PayInput): Promise<{ order: SimOrder; delivery: DeliveryRecord }> {
    const merchantId = input.subMchid ?? this.deps.keys.mchid;
    this.ensureOrder(input, merchantId);
    const order = this.deps.state.pay(merchantId, input.outTradeNo, { force: input.force === true });
    const notification = paymentNotification(this.deps.keys, order, this.style(input));
    const url = input.notifyUrl ?? order.notifyUrl ?? this.deps.config.paymentNotifyUrl;
    const delivery = await this.deps.deliveries.deliver('payment', url, notification, input.wait ?? 'first');
    return { order, delivery };
  }

  /** A refund settles in `status` (default SUCCESS) and its notification is delivered. */
  async refund(input: RefundInput): Promise<{ order: SimOrder; refund: SimRefund; delivery: DeliveryRecord }> {
    const merchantId = input.subMchid ?? this.deps.keys.mchid;
    const { order, refund } = this.deps.state.refund({
      merchantId,
      outTradeNo: input.outTradeNo,
      outRefundNo: input.outRefundNo,
      amount: input.amount,
      status: input.status ?? 'SUCCESS',
      ...(input.refundId === undefined ? {} : { refundId: input.refundId }),
    });
    const notification = refundNotification(this.deps.keys, order, refund, this.style(input));
    const { config } = this.deps;
    const url = input.notifyUrl ?? config.refundNotifyUrl ?? order.notifyUrl ?? config.paymentNotifyUrl;
    const delivery = await this.deps.deliveries.deliver('refund', url, notification, input.wait ?? 'first');
    return { order, refund, delivery };
  }

  /** A customer receives a merchant coupon: COUPON.SEND goes to the busifavor callback URL. */
  async sendCoupon(input: CouponInput = {}): Promise<{ delivery: DeliveryRecord }> {
    const { keys, config, state } = this.deps;
    const notification = couponNotification(keys, input, input.signer ?? config.signer, state.now());
    const url = input.notifyUrl ?? this.deps.couponCallbacks.get(keys.mchid)?.notifyUrl;
    return { delivery: await this.deps.deliveries.deliver('coupon', url, notification, input.wait ?? 'first') };
  }

  /** A transfer's final result or a profit-sharing movement, to the call's URL or the payment URL. */
  async sendFunds(input: FundsSend & { signer?: V3Signer; notifyUrl?: string; wait?: DeliveryWait }) {
    const { keys, config } = this.deps;
    const notification = fundsNotification(keys, input, input.signer ?? config.signer);
    const url = input.notifyUrl ?? config.paymentNotifyUrl;
    // delivered and retried like a payment notification (same URL setting, same schedule)
    return { delivery: await this.deps.deliveries.deliver('payment', url, notification, input.wait ?? 'first') };
  }

  /** Re-sends the last notification `times` times (concurrently unless `concurrent` is false). */
  async replay(input: { times?: number; concurrent?: boolean; url?: string } = {}): Promise<AttemptRecord[]> {
    return this.deps.deliveries.replay(input);
  }

  /** Turns notification delivery off (recorded, replayable, never sent) or back on. */
  suppress(on: boolean): { suppressed: boolean } {
    this.deps.deliveries.suppressed = on;
    return { suppressed: on };
  }

  /** Changes notification defaults and timing; returns the resulting settings. */
  configure(patch: Partial<SimConfig> & { timeScale?: number; replyTimeoutMs?: number }): SimSettings {
    const { config, deliveries } = this.deps;
    const { timeScale, replyTimeoutMs, ...rest } = patch;
    Object.assign(config, rest);
    if (timeScale !== undefined) deliveries.timing.timeScale = timeScale;
    if (replyTimeoutMs !== undefined) deliveries.timing.replyTimeoutMs = replyTimeoutMs;
    return this.settings();
  }

  /** Current notification defaults, timing and suppression. */
  settings(): SimSettings {
    const { config, deliveries } = this.deps;
    return { ...config, ...deliveries.timing, suppressed: deliveries.suppressed };
  }

  private ensureOrder(input: PayInput, merchantId: string): void {
    const existing = this.deps.state.findOrder(merchantId, input.outTradeNo);
    if (existing === undefined) {
      if (input.amount === undefined) throw new SimError('NOT_FOUND', `order ${input.outTradeNo} does not exist`);
      this.createOrder({
        outTradeNo: input.outTradeNo,
        amount: input.amount,
        ...optional({ subMchid: input.subMchid, subAppid: input.subAppid, appid: input.appid }),
      });
      return;
    }
    if (input.amount !== undefined && input.amount !== existing.amount) {
      throw new SimError(
        'AMOUNT_MISMATCH',
        `order ${input.outTradeNo} is for ${existing.amount} fen, not ${input.amount}`,
      );
    }
  }

  private boundAppid(appid: string | undefined): string {
    const { keys, appids } = this.deps;
    if (appid === undefined) return keys.appid;
    // WeChat takes an order only in an app bound to the merchant id
    if (appid !== keys.appid && !(appids ?? []).includes(appid))
      throw new SimError('INVALID', `appid ${appid} is not bound to merchant ${keys.mchid}`);
    return appid;
  }

  private style(overrides: NotifyOverrides): NotificationStyle {
    const { config } = this.deps;
    return {
      protocol: overrides.protocol ?? config.protocol,
      signer: overrides.signer ?? this.deps.rotation.pick() ?? config.signer,
      signType: overrides.signType ?? config.signType,
    };
  }
}

/** The settings a simulator reports. */
export type SimSettings = SimConfig & { timeScale: number; replyTimeoutMs: number; suppressed: boolean };

// ---------------------------------------------------------------------------------------------
// HTTP binding of the control surface
// ---------------------------------------------------------------------------------------------

type Body = Record<string, unknown>;
type Route = (control: SimControl, deps: ControlDeps, body: Body, req: SimRequest) => Promise<HttpReply> | HttpReply;

const ROUTES: Readonly<Record<string, Route>> = {
  'GET /_sim/health': (_c, deps) =>
    jsonReply(200, { ok: true, mchid: deps.keys.mchid, appid: deps.keys.appid, appids: deps.appids ?? [] }),
  'GET /_sim/orders': (_c, deps) =>
    jsonReply(200, { orders: deps.state.listOrders(), refunds: deps.state.listRefunds() }),
  'POST /_sim/orders': (c, _d, b) => jsonReply(201, { order: c.createOrder(createOrderInput(b)) }),
  'POST /_sim/pay': async (c, _d, b) => jsonReply(200, await c.pay(payInput(b))),
  'POST /_sim/refund': async (c, _d, b) => jsonReply(200, await c.refund(refundInput(b))),
  'POST /_sim/coupons/send': async (c, _d, b) => jsonReply(200, await c.sendCoupon(couponInput(b))),
  'POST /_sim/transfers/send': async (c, _d, b) => jsonReply(200, await c.sendFunds(fundsInput('transfer', b))),
  'POST /_sim/profitsharing/send': async (c, _d, b) =>
    jsonReply(200, await c.sendFunds(fundsInput('profitsharing', b))),
  'POST /_sim/replay': async (c, _d, b) => jsonReply(200, { results: await c.replay(replayInput(b)) }),
  'POST /_sim/suppress': (c, _d, b) => jsonReply(200, c.suppress(bool(b, 'on') ?? true)),
  'GET /_sim/deliveries': (_c, deps) => jsonReply(200, { deliveries: deps.deliveries.list() }),
  'GET /_sim/config': (c) => jsonReply(200, c.settings()),
  'POST /_sim/config': (c, _d, b) => jsonReply(200, c.configure(configInput(b))),
  'GET /_sim/keys': (_c, deps) => jsonReply(200, deps.rotation.status()),
  'POST /_sim/keys/rotate-certificate': (_c, deps, b) =>
    jsonReply(200, deps.rotation.rotateCertificate(int(b, 'overlapSeconds') ?? 60)),
  'POST /_sim/keys/switch-public-key': (_c, deps, b) =>
    jsonReply(
      200,
      deps.rotation.switchPublicKey({
        ...optional({ weekSeconds: int(b, 'weekSeconds'), rollback: bool(b, 'rollback') }),
      }),
    ),
  'GET /_sim/faults': (_c, deps) => jsonReply(200, { faults: deps.faults.pending() }),
  'POST /_sim/faults': (_c, deps, b) => planFault(deps.faults, b),
  'DELETE /_sim/faults': (_c, deps) => {
    deps.faults.clear();
    return jsonReply(200, { faults: [] });
  },
};

const SIM_ERROR_STATUS: Readonly<Record<string, number>> = {
  INVALID: 400,
  NOT_FOUND: 404,
  DUPLICATE: 409,
  AMOUNT_MISMATCH: 409,
  ORDER_CLOSED: 409,
  NOT_PAID: 409,
  REFUND_EXCEEDS: 409,
  REFUND_CONFLICT: 409,
  NO_NOTIFICATION: 409,
};

/** Answers a `/_sim/` request; refusals are `{error, message}` with a 4xx status. */
export async function handleControl(control: SimControl, deps: ControlDeps, req: SimRequest): Promise<HttpReply> {
  const route = ROUTES[`${req.method} ${req.path}`];
  if (route === undefined)
    return jsonReply(404, { error: 'NOT_FOUND', message: `no control endpoint ${req.method} ${req.path}` });
  try {
    return await route(control, deps, parseBody(req), req);
  } catch (error) {
    if (error instanceof SimError)
      return jsonReply(SIM_ERROR_STATUS[error.code] ?? 400, { error: error.code, message: error.message });
    throw error;
  }
}

function parseBody(req: SimRequest): Body {
  if (req.tooLarge) throw new SimError('INVALID', 'request body too large');
  if (req.body.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(req.body);
  } catch {
    throw new SimError('INVALID', 'request body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new SimError('INVALID', 'request body must be a JSON object');
  return value as Body;
}

function createOrderInput(b: Body): CreateOrderInput {
  return {
    outTradeNo: requiredString(b, 'outTradeNo'),
    amount: requiredInt(b, 'amount'),
    ...optional({
      subMchid: string(b, 'subMchid'),
      subAppid: string(b, 'subAppid'),
      appid: string(b, 'appid'),
      createdAt: int(b, 'createdAt'),
      ageSeconds: int(b, 'ageSeconds'),
      notifyUrl: string(b, 'notifyUrl'),
      attach: string(b, 'attach'),
    }),
  };
}

function payInput(b: Body): PayInput {
  return {
    outTradeNo: requiredString(b, 'outTradeNo'),
    ...notifyOverrides(b),
    ...optional({
      amount: int(b, 'amount'),
      subMchid: string(b, 'subMchid'),
      subAppid: string(b, 'subAppid'),
      appid: string(b, 'appid'),
      force: bool(b, 'force'),
    }),
  };
}

function refundInput(b: Body): RefundInput {
  const status = oneOf(b, 'status', ['SUCCESS', 'CLOSED', 'ABNORMAL'] as const);
  return {
    outTradeNo: requiredString(b, 'outTradeNo'),
    outRefundNo: requiredString(b, 'outRefundNo'),
    amount: requiredInt(b, 'amount'),
    ...notifyOverrides(b),
    ...optional({ status, subMchid: string(b, 'subMchid') }),
  };
}

function couponInput(b: Body): CouponInput {
  const { signer, notifyUrl, wait } = notifyOverrides(b);
  return optional({
    stockId: string(b, 'stockId'),
    couponCode: string(b, 'couponCode'),
    openid: string(b, 'openid'),
    signer,
    notifyUrl,
    wait,
  });
}

function fundsInput(kind: FundsSend['kind'], b: Body): FundsSend & { signer?: V3Signer; notifyUrl?: string } {
  const { signer, notifyUrl, wait } = notifyOverrides(b);
  const state = string(b, 'state');
  if (state !== undefined && state !== 'SUCCESS' && state !== 'FAIL' && state !== 'CANCELLED')
    throw new SimError('INVALID', 'state must be SUCCESS, FAIL or CANCELLED');
  return {
    kind,
    ...optional({
      outNo: string(b, 'outNo'),
      amount: int(b, 'amount'),
      state,
      eventType: string(b, 'eventType'),
      signer,
      notifyUrl,
      wait,
    }),
  } as FundsSend & { signer?: V3Signer; notifyUrl?: string };
}

function replayInput(b: Body): { times?: number; concurrent?: boolean; url?: string } {
  return optional({ times: int(b, 'times'), concurrent: bool(b, 'concurrent'), url: string(b, 'url') });
}

function configInput(b: Body): Partial<SimConfig> & { timeScale?: number; replyTimeoutMs?: number } {
  const timeScale = number(b, 'timeScale');
  if (timeScale !== undefined && timeScale < 0) throw new SimError('INVALID', 'timeScale must be non-negative');
  const replyTimeoutMs = number(b, 'replyTimeoutMs');
  if (replyTimeoutMs !== undefined && replyTimeoutMs <= 0)
    throw new SimError('INVALID', 'replyTimeoutMs must be positive');
  const { protocol, signer, signType } = notifyOverrides(b);
  return optional({
    protocol,
    signer,
    signType,
    paymentNotifyUrl: string(b, 'paymentNotifyUrl'),
    refundNotifyUrl: string(b, 'refundNotifyUrl'),
    timeScale,
    replyTimeoutMs,
  });
}

function notifyOverrides(b: Body): NotifyOverrides {
  const protocol = oneOf(b, 'protocol', ['v2', 'v3'] as const);
  const signer = oneOf(b, 'signer', ['platform', 'publicKey'] as const);
  const signType = oneOf(b, 'signType', ['MD5', 'HMAC-SHA256'] as const);
  const wait = oneOf(b, 'wait', ['none', 'first', 'all'] as const);
  return optional({ protocol, signer, signType, wait, notifyUrl: string(b, 'notifyUrl') });
}

function planFault(faults: FaultPlan, b: Body): HttpReply {
  const endpoint = b.endpoint ?? '*';
  const kind = b.kind;
  if (!isFaultEndpoint(endpoint)) throw new SimError('INVALID', `unknown fault endpoint ${String(endpoint)}`);
  if (!isFaultKind(kind)) throw new SimError('INVALID', `unknown fault kind ${String(kind)}`);
  try {
    faults.next(endpoint, kind, int(b, 'count') ?? 1, optional({ hangMs: number(b, 'hangMs') }));
  } catch (error) {
    throw new SimError('INVALID', error instanceof Error ? error.message : String(error));
  }
  return jsonReply(200, { faults: faults.pending() });
}

function string(b: Body, name: string): string | undefined {
  const value = b[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new SimError('INVALID', `${name} must be a string`);
  return value;
}

function requiredString(b: Body, name: string): string {
  const value = string(b, name);
  if (value === undefined || value === '') throw new SimError('INVALID', `${name} is required`);
  return value;
}

function number(b: Body, name: string): number | undefined {
  const value = b[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new SimError('INVALID', `${name} must be a number`);
  return value;
}

function int(b: Body, name: string): number | undefined {
  const value = number(b, name);
  if (value !== undefined && !Number.isSafeInteger(value)) throw new SimError('INVALID', `${name} must be an integer`);
  return value;
}

function requiredInt(b: Body, name: string): number {
  const value = int(b, name);
  if (value === undefined) throw new SimError('INVALID', `${name} is required`);
  return value;
}

function bool(b: Body, name: string): boolean | undefined {
  const value = b[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new SimError('INVALID', `${name} must be a boolean`);
  return value;
}

function oneOf<T extends string>(b: Body, name: string, allowed: readonly T[]): T | undefined {
  const value = string(b, name);
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value))
    throw new SimError('INVALID', `${name} must be one of ${allowed.join(', ')}`);
  return value as T;
}

/** Drops undefined members, so optional properties stay absent rather than present-but-undefined. */
function optional<T extends Record<string, unknown>>(values: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
