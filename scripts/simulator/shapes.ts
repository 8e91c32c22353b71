/**
 * TEST-ONLY: the shapes real merchants have, as WeChat Pay sends them (the README's "Real merchants'
 * shapes"): payments through a further appid bound to the same merchant id, combine payments (合单支付)
 * direct and service-provider with the combine-order query, and any other APIv3 event (complaints,
 * types added later). Transfers and profit sharing are in control.ts. Imports nothing from lib/.
 *
 * Control endpoints: `POST /_sim/combine/pay`, `GET /_sim/combine`, `POST /_sim/events/send`.
 * API: `GET /v3/combine-transactions/out-trade-no/{combine_out_trade_no}` (docs/protocol.md D).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { ControlDeps } from './control';
import type { DeliveryRecord, DeliveryWait } from './deliveries';
import { decodeSegment, header, jsonReply, type HttpReply, type SimRequest } from './http';
import type { TestKeys } from './keys';
import { rfc3339Beijing, v3CombineResource, v3Notification, type V3NotificationParams } from './messages';
import { freshlySigned } from './outgoing';
import { DIGITS, randomString } from './random';
import { MERCHANT_NO_PATTERN, SimError, type SimOrder } from './state';
import { responseSigner, signedResponseHeaders, verifyAuthorization, type V3Signer } from './v3auth';

/** A further appid bound to the test merchant (a mini program beside the official account), derived from the keys. */
export function secondAppid(keys: Pick<TestKeys, 'appid'>): string {
  return `wx${createHash('sha256').update(`second:${keys.appid}`).digest('hex').slice(0, 16)}`;
}

/** One sub-order of a combine payment to make. */
export interface CombineSubOrderInput {
  outTradeNo: string;
  amount: number;
  /** Service-provider combine: the sub-merchant the sub-order belongs to. */
  subMchid?: string;
}

/** Parameters of {@link SimShapes.payCombine}. */
export interface CombinePayInput {
  combineOutTradeNo: string;
  subOrders: CombineSubOrderInput[];
  /** The app the payer paid in (default the merchant's first appid). */
  appid?: string;
  signer?: V3Signer;
  notifyUrl?: string;
  wait?: DeliveryWait;
}

/** Parameters of {@link SimShapes.sendEvent}: any APIv3 event, signed and encrypted. */
export interface EventInput {
  eventType?: string;
  originalType?: string;
  summary?: string;
  /** The plaintext resource (default: a complaint notice). */
  resource?: Record<string, unknown>;
  /** The notification id (default a fresh one). */
  id?: string;
  signer?: V3Signer;
  notifyUrl?: string;
  wait?: DeliveryWait;
}

/** A combine order as the simulator keeps it: the initiator's app and its sub-orders' keys. */
interface SimCombine {
  combineOutTradeNo: string;
  appid: string;
  parts: { merchantId: string; outTradeNo: string }[];
}

const COMBINE_QUERY = /^\/v3\/combine-transactions\/out-trade-no\/([^/]+)$/;
/** WeChat takes at most 50 sub-orders in one combine order (docs/protocol.md D). */
const MAX_SUB_ORDERS = 50;

/** Combine payments, further appids and other events, over the simulator's state and deliveries. */
export class SimShapes {
  private readonly combines = new Map<string, SimCombine>();
  /** Every appid the merchant's apps use: the keys' own first. */
  readonly appids: readonly string[];

  constructor(
    private readonly deps: ControlDeps,
    extraAppids: readonly string[],
  ) {
    this.appids = [deps.keys.appid, ...extraAppids.filter((a) => a !== deps.keys.appid)];
  }

  /** The payer pays every sub-order at once; one TRANSACTION.SUCCESS names them all. */
  async payCombine(input: CombinePayInput): Promise<{ combine: Record<string, unknown>; delivery: DeliveryRecord }> {
    const { keys, state } = this.deps;
    checkNo('combineOutTradeNo', input.combineOutTradeNo);
    if (this.combines.has(input.combineOutTradeNo))
      throw new SimError('DUPLICATE', `combine order ${input.combineOutTradeNo} already exists`);
    if (input.subOrders.length === 0 || input.subOrders.length > MAX_SUB_ORDERS)
      throw new SimError('INVALID', `a combine order has 1 to ${MAX_SUB_ORDERS} sub-orders`);
    const appid = input.appid ?? keys.appid;
    if (!this.appids.includes(appid)) throw new SimError('INVALID', `appid ${appid} is not bound to ${keys.mchid}`);
    const parts = input.subOrders.map((s) => ({ merchantId: s.subMchid ?? keys.mchid, outTradeNo: s.outTradeNo }));
    if (new Set(parts.map((p) => `${p.merchantId}/${p.outTradeNo}`)).size !== parts.length)
      throw new SimError('INVALID', 'a sub-order is named twice');
    // check every sub-order first, so a refused one leaves nothing made or half paid
    for (const [i, s] of input.subOrders.entries()) {
      checkNo(`subOrders[${i}].outTradeNo`, s.outTradeNo);
      if (!Number.isSafeInteger(s.amount) || s.amount <= 0)
        throw new SimError('INVALID', `subOrders[${i}].amount must be a positive integer (fen)`);
    }
    for (const s of input.subOrders) {
      const existing = state.findOrder(s.subMchid ?? keys.mchid, s.outTradeNo);
      if (existing !== undefined && existing.amount !== s.amount)
        throw new SimError('AMOUNT_MISMATCH', `order ${s.outTradeNo} is for ${existing.amount} fen, not ${s.amount}`);
    }
    for (const s of input.subOrders) {
      if (state.findOrder(s.subMchid ?? keys.mchid, s.outTradeNo) === undefined)
        state.createOrder({
          outTradeNo: s.outTradeNo,
          amount: s.amount,
          mchid: keys.mchid,
          appid,
          ...(s.subMchid === undefined ? {} : { subMchid: s.subMchid }),
        });
    }
    for (const p of parts) state.pay(p.merchantId, p.outTradeNo);
    const combine: SimCombine = { combineOutTradeNo: input.combineOutTradeNo, appid, parts };
    this.combines.set(combine.combineOutTradeNo, combine);
    const resource = this.resource(combine);
    const delivery = await this.deliverV3(
      { eventType: 'TRANSACTION.SUCCESS', originalType: 'transaction', resource },
      input,
    );
    return { combine: resource, delivery };
  }

  /** Any APIv3 event (default a complaint, COMPLAINT.CREATE) to the call's URL or the payment URL. */
  async sendEvent(input: EventInput): Promise<{ id: string; delivery: DeliveryRecord }> {
    const { keys } = this.deps;
    const eventType = input.eventType ?? 'COMPLAINT.CREATE';
    if (!/^[A-Z0-9_]+(\.[A-Z0-9_]+)+$/.test(eventType) || eventType.length > 32)
      throw new SimError('INVALID', 'eventType must look like KIND.EVENT (upper case, at most 32 characters)');
    const id = input.id ?? randomUUID();
    const delivery = await this.deliverV3(
      {
        id,
        eventType,
        originalType: input.originalType ?? (eventType.startsWith('COMPLAINT.') ? 'complaint' : 'event'),
        summary: input.summary ?? (eventType.startsWith('COMPLAINT.') ? '投诉通知' : eventType),
        resource: input.resource ?? complaintResource(keys, eventType),
      },
      input,
    );
    return { id, delivery };
  }

  /**
   * Signs an APIv3 notification with the call's signer (else the rotation's, else the configured one)
   * and delivers it to the call's URL or the payment URL, re-signed on every attempt.
   */
  private deliverV3(
    params: Omit<V3NotificationParams, 'signer'>,
    input: { signer?: V3Signer; notifyUrl?: string; wait?: DeliveryWait },
  ): Promise<DeliveryRecord> {
    const { keys, config } = this.deps;
    const signer = input.signer ?? this.deps.rotation.pick() ?? config.signer;
    const wire = v3Notification(keys, { ...params, signer });
    const url = input.notifyUrl ?? config.paymentNotifyUrl;
    return this.deps.deliveries.deliver('payment', url, freshlySigned(keys, wire, signer), input.wait ?? 'first');
  }

  /** The combine order as the query answers it, or undefined. */
  findCombine(combineOutTradeNo: string): Record<string, unknown> | undefined {
    const combine = this.combines.get(combineOutTradeNo);
    return combine === undefined ? undefined : this.resource(combine);
  }

  /** Answers `/_sim/combine…` and `/_sim/events/send`; undefined for any other path. */
  async control(req: SimRequest): Promise<HttpReply | undefined> {
    const route = `${req.method} ${req.path}`;
    if (route !== 'POST /_sim/combine/pay' && route !== 'GET /_sim/combine' && route !== 'POST /_sim/events/send')
      return undefined;
    try {
      if (route === 'GET /_sim/combine') {
        const found = this.findCombine(req.query.get('combineOutTradeNo') ?? '');
        return found === undefined
          ? jsonReply(404, { error: 'NOT_FOUND', message: 'no such combine order' })
          : jsonReply(200, { combine: found });
      }
      const body = jsonBody(req);
      if (route === 'POST /_sim/events/send') return jsonReply(200, await this.sendEvent(eventInput(body)));
      return jsonReply(200, await this.payCombine(combineInput(body)));
    } catch (error) {
      if (!(error instanceof SimError)) throw error;
      const status = error.code === 'NOT_FOUND' ? 404 : error.code === 'INVALID' ? 400 : 409;
      return jsonReply(status, { error: error.code, message: error.message });
    }
  }

  /** Serves the combine-order query (signed like every APIv3 answer); undefined for any other path. */
  v3(req: SimRequest, wallSeconds: number): HttpReply | undefined {
    const match = COMBINE_QUERY.exec(req.path);
    if (match === null) return undefined;
    const { keys } = this.deps;
    const signer = responseSigner(keys, header(req, 'wechatpay-serial'));
    const answer = (status: number, json: unknown) =>
      jsonReply(status, json, signedResponseHeaders(keys, signer, JSON.stringify(json), wallSeconds));
    if (req.method !== 'GET') return answer(405, { code: 'INVALID_REQUEST', message: '请求方法错误' });
    if (!header(req, 'accept') || !header(req, 'user-agent'))
      return answer(400, { code: 'INVALID_REQUEST', message: 'Http头缺少Accept或User-Agent' });
    const auth = verifyAuthorization(
      keys,
      { header: header(req, 'authorization'), method: req.method, url: req.url, body: req.body },
      wallSeconds,
    );
    if (!auth.ok) return answer(401, { code: 'SIGN_ERROR', message: auth.message });
    const no = decodeSegment(match[1] ?? '');
    if (no === undefined || !MERCHANT_NO_PATTERN.test(no))
      return answer(400, { code: 'PARAM_ERROR', message: 'combine_out_trade_no格式错误' });
    const found = this.findCombine(no);
    if (found === undefined) return answer(404, { code: 'ORDER_NOT_EXIST', message: '订单不存在' });
    return answer(200, found);
  }

  /** The combine resource from the sub-orders' current state (a refunded or unpaid one says so). */
  private resource(combine: SimCombine): Record<string, unknown> {
    const { keys, state } = this.deps;
    const orders = combine.parts.map((p) => state.findOrder(p.merchantId, p.outTradeNo)) as SimOrder[];
    const paidAt = orders.find((o) => o.successTime !== undefined)?.successTime;
    const resource = v3CombineResource(keys, {
      combineOutTradeNo: combine.combineOutTradeNo,
      combineAppid: combine.appid,
      ...(paidAt === undefined ? {} : { successTime: rfc3339Beijing(new Date(paidAt)) }),
      subOrders: orders.map((o) => ({
        outTradeNo: o.outTradeNo,
        total: o.amount,
        tradeState: o.state,
        ...(o.transactionId === undefined ? {} : { transactionId: o.transactionId }),
        ...(o.subMchid === undefined ? {} : { subMchid: o.subMchid }),
      })),
    });
    // one payer paid them all: the same payer on the notification and on every later query
    const openid = orders.find((o) => o.openid !== undefined)?.openid;
    return openid === undefined ? resource : { ...resource, combine_payer_info: { openid } };
  }
}

/** A complaint notice's resource: which complaint, and what happened to it. */
function complaintResource(keys: TestKeys, eventType: string): Record<string, unknown> {
  return {
    complaint_id: `2002${randomString(DIGITS, 23)}`,
    action_type: eventType === 'COMPLAINT.CREATE' ? 'CREATE_COMPLAINT' : 'CONTINUE_COMPLAINT',
    complainted_mchid: keys.mchid,
  };
}

type Body = Record<string, unknown>;

function jsonBody(req: SimRequest): Body {
  let value: unknown;
  try {
    value = JSON.parse(req.body || '{}');
  } catch {
    throw new SimError('INVALID', 'request body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new SimError('INVALID', 'request body must be a JSON object');
  return value as Body;
}

function checkNo(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || !MERCHANT_NO_PATTERN.test(value))
    throw new SimError('INVALID', `${name} must match ${MERCHANT_NO_PATTERN}`);
}

function optionalString(b: Body, name: string): string | undefined {
  const v = b[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new SimError('INVALID', `${name} must be a string`);
  return v;
}

function common(b: Body): { signer?: V3Signer; notifyUrl?: string; wait?: DeliveryWait } {
  const signer = optionalString(b, 'signer');
  if (signer !== undefined && signer !== 'platform' && signer !== 'publicKey')
    throw new SimError('INVALID', 'signer must be platform or publicKey');
  const wait = optionalString(b, 'wait');
  if (wait !== undefined && wait !== 'none' && wait !== 'first' && wait !== 'all')
    throw new SimError('INVALID', 'wait must be none, first or all');
  const notifyUrl = optionalString(b, 'notifyUrl');
  return {
    ...(signer === undefined ? {} : { signer }),
    ...(wait === undefined ? {} : { wait }),
    ...(notifyUrl === undefined ? {} : { notifyUrl }),
  };
}

function combineInput(b: Body): CombinePayInput {
  const combineOutTradeNo = b.combineOutTradeNo;
  checkNo('combineOutTradeNo', combineOutTradeNo);
  if (!Array.isArray(b.subOrders)) throw new SimError('INVALID', 'subOrders must be a list');
  const subOrders = b.subOrders.map((s: unknown, i): CombineSubOrderInput => {
    if (typeof s !== 'object' || s === null) throw new SimError('INVALID', `subOrders[${i}] must be an object`);
    const o = s as Body;
    checkNo(`subOrders[${i}].outTradeNo`, o.outTradeNo);
    if (typeof o.amount !== 'number' || !Number.isSafeInteger(o.amount) || o.amount <= 0)
      throw new SimError('INVALID', `subOrders[${i}].amount must be a positive integer (fen)`);
    const subMchid = optionalString(o, 'subMchid');
    return { outTradeNo: o.outTradeNo, amount: o.amount, ...(subMchid === undefined ? {} : { subMchid }) };
  });
  const appid = optionalString(b, 'appid');
  return { combineOutTradeNo, subOrders, ...(appid === undefined ? {} : { appid }), ...common(b) };
}

function eventInput(b: Body): EventInput {
  const resource = b.resource;
  if (resource !== undefined && (typeof resource !== 'object' || resource === null || Array.isArray(resource)))
    throw new SimError('INVALID', 'resource must be a JSON object');
  const out: EventInput = { ...common(b) };
  for (const name of ['eventType', 'originalType', 'summary', 'id'] as const) {
    const v = optionalString(b, name);
    if (v !== undefined) out[name] = v;
  }
  if (resource !== undefined) out.resource = resource as Record<string, unknown>;
  return out;
}
