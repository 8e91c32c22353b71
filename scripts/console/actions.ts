/**
 * The console's buttons, each a thin call into what the terminal tools already use: the order store
 * (`npm run orders`), the simulator's control surface (`npm run sim`), the closeOrder Lambda through
 * InvokeCommand (`npm run close`) and the reconcile command (`npm run reconcile`). Input comes from a
 * form; anything malformed is refused with a message before anything is touched.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { PayError } from '../../lib/errors';
import { yuanToFen } from '../../lib/money';
import { isOutTradeNo } from '../../lib/orders/model';
import type { OrderStore } from '../../lib/orders/store';
import { parseReconcileArgs, runReconcileCommand } from '../../lib/reconcile/command';
import type { ReconcileDeps } from '../../lib/reconcile/reconcile';
import { FAULT_ENDPOINTS, FAULT_KINDS, isFaultEndpoint, isFaultKind } from '../simulator/faults';
import type { V2SignType } from '../simulator/messages';
import type { Simulator } from '../simulator/server';
import { SimError } from '../simulator/state';
import type { StoreFaults } from './storeFaults';

/** What an action needs. */
export interface ActionDeps {
  store: OrderStore;
  simulator: Simulator;
  lambda: LambdaClient;
  /** The closeOrder function's name on the local stack. */
  closeFunction: string;
  merchantId: string;
  storeFaults: StoreFaults | undefined;
  /** Builds what the reconcile command needs (the same wiring as scripts/reconcile.ts). */
  reconcileDeps: (log: (line: string) => void) => ReconcileDeps;
  /** Remembers which order a delivery is about (the outbox does not record it). */
  noteDelivery: (deliveryId: number, outTradeNo: string) => void;
  now: () => number;
}

/** An action's outcome. */
export interface ActionResult {
  ok: boolean;
  title: string;
  detail: string;
}

/** A refused input: shown to the user, nothing was changed. */
export class ActionInputError extends Error {}

/** The action names the console serves under POST /actions/<name>. */
export const ACTIONS = ['register', 'pay', 'refund', 'close', 'replay', 'fault', 'reconcile'] as const;

/** An action name. */
export type ActionName = (typeof ACTIONS)[number];

/** Whether `name` is an action. */
export function isAction(name: string): name is ActionName {
  return (ACTIONS as readonly string[]).includes(name);
}

/** Runs one action; input mistakes and refusals (the simulator's, the service's) come back as `ok: false`. */
export async function runAction(name: ActionName, form: URLSearchParams, deps: ActionDeps): Promise<ActionResult> {
  try {
    return await ACTION_RUNNERS[name](form, deps);
  } catch (error) {
    if (error instanceof ActionInputError || error instanceof SimError || error instanceof PayError)
      return { ok: false, title: `${name} refused`, detail: error.message };
    return { ok: false, title: `${name} failed`, detail: error instanceof Error ? error.message : String(error) };
  }
}

const ACTION_RUNNERS: Readonly<Record<ActionName, (f: URLSearchParams, d: ActionDeps) => Promise<ActionResult>>> = {
  register,
  pay,
  refund,
  close,
  replay,
  fault,
  reconcile,
};

async function register(f: URLSearchParams, d: ActionDeps): Promise<ActionResult> {
  const outTradeNo = orderNo(f);
  const amountFen = amount(f, 'amount');
  const age = wholeNumber(f, 'age', 0, 86_400) ?? 0;
  if (amountFen < 1) throw new ActionInputError('amount must be at least ¥0.01');
  const createdAt = d.now() - age * 1000;
  // the merchant's function places the order with WeChat (unified order), then records it
  d.simulator.control.createOrder({ outTradeNo, amount: amountFen, createdAt });
  const outcome = await d.store.registerOrder({
    outTradeNo,
    amountFen,
    merchantId: d.merchantId,
    createdAt: new Date(createdAt).toISOString(),
  });
  return { ok: true, title: `register ${outTradeNo}`, detail: JSON.stringify(outcome) };
}

async function pay(f: URLSearchParams, d: ActionDeps): Promise<ActionResult> {
  const outTradeNo = orderNo(f);
  const mode = oneOf(f, 'mode', ['v3-platform', 'v3-publicKey', 'v2-MD5', 'v2-HMAC-SHA256'] as const);
  const order = await d.store.getOrder(d.merchantId, outTradeNo);
  if (order === undefined) throw new ActionInputError(`order ${outTradeNo} is not registered: register it first`);
  const [protocol, style] = mode.split('-', 2) as ['v2' | 'v3', string];
  const { delivery } = await d.simulator.control.pay({
    outTradeNo,
    amount: order.amountFen,
    protocol,
    ...(protocol === 'v3' ? { signer: style as 'platform' | 'publicKey' } : { signType: mode.slice(3) as V2SignType }),
  });
  d.noteDelivery(delivery.id, outTradeNo);
  return {
    ok: true,
    title: `pay ${outTradeNo} (${mode})`,
    detail: `delivery #${delivery.id}: first attempt ${describeAttempt(delivery.attempts[0])}`,
  };
}

async function refund(f: URLSearchParams, d: ActionDeps): Promise<ActionResult> {
  const outTradeNo = orderNo(f);
  const outRefundNo = text(
    f,
    'outRefundNo',
    /^[0-9A-Za-z_\-|*@]{1,64}$/,
    'refund number: 1-64 of 0-9 A-Z a-z _ - | * @',
  );
  const refundFen = amount(f, 'amount');
  if (refundFen < 1) throw new ActionInputError('refund amount must be at least ¥0.01');
  const status = oneOf(f, 'status', ['SUCCESS', 'CLOSED', 'ABNORMAL'] as const);
  const protocol = oneOf(f, 'protocol', ['v3', 'v2'] as const);
  const { delivery } = await d.simulator.control.refund({
    outTradeNo,
    outRefundNo,
    amount: refundFen,
    status,
    protocol,
  });
  d.noteDelivery(delivery.id, outTradeNo);
  return {
    ok: true,
    title: `refund ${outRefundNo} of ${outTradeNo} (${status})`,
    detail: `delivery #${delivery.id}: first attempt ${describeAttempt(delivery.attempts[0])}`,
  };
}

async function close(f: URLSearchParams, d: ActionDeps): Promise<ActionResult> {
  const outTradeNo = orderNo(f);
  const protocol = oneOf(f, 'protocol', ['v3', 'v2'] as const);
  const res = await d.lambda.send(
    new InvokeCommand({
      FunctionName: d.closeFunction,
      InvocationType: 'RequestResponse',
      Payload: JSON.stringify({ outTradeNo, protocol }),
    }),
  );
  const payload = Buffer.from(res.Payload ?? new Uint8Array()).toString('utf8');
  return { ok: res.FunctionError === undefined, title: `close ${outTradeNo}`, detail: payload };
}

async function replay(f: URLSearchParams, d: ActionDeps): Promise<ActionResult> {
  const times = wholeNumber(f, 'times', 1, 1000) ?? 1;
  const results = await d.simulator.control.replay({ times, concurrent: f.get('sequential') !== 'on' });
  const acked = results.filter((r) => r.accepted).length;
  const failures = new Map<string, number>();
  for (const r of results.filter((x) => !x.accepted)) {
    const why = r.error ?? `HTTP ${r.status}`;
    failures.set(why, (failures.get(why) ?? 0) + 1);
  }
  const failed = [...failures].map(([why, n]) => `${n} × ${why}`).join(', ');
  return {
    ok: true,
    title: `replay ×${times}${f.get('sequential') === 'on' ? ' one after another' : ' at once'}`,
    detail: `${acked} of ${results.length} acknowledged${failed ? `; not acknowledged: ${failed}` : ''}`,
  };
}

async function fault(f: URLSearchParams, d: ActionDeps): Promise<ActionResult> {
  const which = oneOf(f, 'fault', ['store-throttle', 'api', 'suppress-on', 'suppress-off', 'clear'] as const);
  const count = wholeNumber(f, 'count', 1, 1000) ?? 1;
  switch (which) {
    case 'store-throttle':
      if (d.storeFaults === undefined) throw new ActionInputError('this stack has no store proxy to throttle');
      d.storeFaults.throttle(count);
      return {
        ok: true,
        title: `store throttling ×${count}`,
        detail: `the functions' next ${count} DynamoDB requests are answered ProvisionedThroughputExceededException`,
      };
    case 'api': {
      const endpoint = f.get('endpoint') ?? '';
      const kind = f.get('kind') ?? '';
      if (!isFaultEndpoint(endpoint))
        throw new ActionInputError(`endpoint must be one of ${FAULT_ENDPOINTS.join(', ')}`);
      if (!isFaultKind(kind)) throw new ActionInputError(`kind must be one of ${FAULT_KINDS.join(', ')}`);
      d.simulator.faults.next(endpoint, kind, count);
      return { ok: true, title: `WeChat API fault ${kind} ×${count}`, detail: `on ${endpoint}` };
    }
    case 'suppress-on':
    case 'suppress-off': {
      const on = which === 'suppress-on';
      d.simulator.control.suppress(on);
      return {
        ok: true,
        title: on ? 'notifications suppressed' : 'notifications on',
        detail: on ? 'payments and refunds are recorded by the simulator but not notified' : 'delivery resumed',
      };
    }
    case 'clear':
      d.simulator.faults.clear();
      d.simulator.control.suppress(false);
      d.storeFaults?.clear();
      return { ok: true, title: 'faults cleared', detail: 'no planned fault, notifications on' };
  }
}

async function reconcile(f: URLSearchParams, d: ActionDeps): Promise<ActionResult> {
  const no = (f.get('outTradeNo') ?? '').trim();
  if (no !== '' && !isOutTradeNo(no)) throw new ActionInputError('order number: 1-32 of 0-9 A-Z a-z _ - | * @');
  const lines: string[] = [];
  const command = parseReconcileArgs(no === '' ? ['--all'] : [no]);
  const code = await runReconcileCommand(
    command,
    d.reconcileDeps((line) => lines.push(line)),
    (line) => lines.push(line),
  );
  return { ok: code === 0, title: `reconcile ${no === '' ? 'every pending order' : no}`, detail: lines.join('\n') };
}

function describeAttempt(a: { status: number | null; accepted: boolean; error?: string } | undefined): string {
  if (a === undefined) return 'not sent (suppressed, or still in flight)';
  return `HTTP ${a.status ?? '—'}${a.error ? ` (${a.error})` : ''}, ${a.accepted ? 'acknowledged' : 'not acknowledged: WeChat retries'}`;
}

function orderNo(f: URLSearchParams): string {
  const value = (f.get('outTradeNo') ?? '').trim();
  if (!isOutTradeNo(value)) throw new ActionInputError('order number: 1-32 of 0-9 A-Z a-z _ - | * @');
  return value;
}

function amount(f: URLSearchParams, name: string): number {
  const value = (f.get(name) ?? '').trim().replace(/^¥/, '');
  if (!/^\d{1,9}(\.\d{1,2})?$/.test(value))
    throw new ActionInputError(`${name}: yuan with at most two decimals, e.g. 19.99`);
  return yuanToFen(value, name);
}

function wholeNumber(f: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const value = (f.get(name) ?? '').trim();
  if (value === '') return undefined;
  if (!/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max)
    throw new ActionInputError(`${name} must be a whole number from ${min} to ${max}`);
  return Number(value);
}

function text(f: URLSearchParams, name: string, pattern: RegExp, rule: string): string {
  const value = (f.get(name) ?? '').trim();
  if (!pattern.test(value)) throw new ActionInputError(rule);
  return value;
}

function oneOf<T extends string>(f: URLSearchParams, name: string, allowed: readonly T[]): T {
  const value = f.get(name) ?? allowed[0];
  if (!(allowed as readonly (string | undefined)[]).includes(value ?? undefined))
    throw new ActionInputError(`${name} must be one of ${allowed.join(', ')}`);
  return value as T;
}
