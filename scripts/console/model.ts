/**
 * What the console shows, as plain data: order rows read from the table, delivery rows from the
 * simulator's outbox, and the log of actions taken. Pure functions only, shared by the server (which
 * renders the first page and computes what changed) and the browser script (which applies changes).
 */
import type { Order, Refund } from '../../lib/orders/model';

/** A state change the console saw in the table (polling: it sees where an order is, not every write). */
export interface Transition {
  from: string;
  to: string;
  /** ISO instant the console noticed it. */
  seenAt: string;
}

/** One order with its refunds, anomalies and the transitions seen so far. */
export interface OrderRow extends Order {
  /** Table partition key: the row's identity. */
  key: string;
  refunds: Refund[];
  anomalies: string[];
  transitions: Transition[];
}

/** One attempt of a delivery or a replay, as shown. */
export interface AttemptRow {
  attempt: number;
  /** The scheduled wait before this attempt (already compressed by the simulator's time scale), ms. */
  delayMs: number;
  status: number | null;
  accepted: boolean;
  error?: string;
  latencyMs?: number;
  reply?: string;
}

/** A batch of replays of one delivery's notification. */
export interface ReplayRow {
  /** ISO instant the batch finished. */
  at: string;
  attempts: AttemptRow[];
}

/** One notification the simulator sent (or suppressed), its attempts and replays. */
export interface DeliveryRow {
  id: number;
  kind: 'payment' | 'refund' | 'coupon';
  protocol: 'v2' | 'v3';
  url: string | null;
  /** The order it is about, when the console started it (the outbox itself does not say). */
  outTradeNo?: string;
  skipped: 'suppressed' | 'no-notify-url' | null;
  /** Retries ended (acknowledged, or the schedule ran out). */
  done: boolean;
  /** WeChat counts the delivery as received. */
  accepted: boolean;
  /** WeChat's retry gaps for this kind, e.g. "15s 15s 30s 3m …", and the compression in force. */
  schedule: string;
  attempts: AttemptRow[];
  replays: ReplayRow[];
}

/** An action's outcome, as shown in the activity log. */
export interface LogEntry {
  id: number;
  at: string;
  ok: boolean;
  title: string;
  detail: string;
}

/** Test knobs in force, as shown next to the fault form. */
export interface KnobsRow {
  suppressed: boolean;
  storeThrottles: number;
  apiFaults: string[];
}

/** Everything on the page. */
export interface ConsoleSnapshot {
  orders: OrderRow[];
  deliveries: DeliveryRow[];
  log: LogEntry[];
  knobs: KnobsRow;
}

/** A change pushed to the browser over server-sent events. */
export type ConsoleEvent =
  | { type: 'snapshot'; snapshot: ConsoleSnapshot }
  | { type: 'order'; row: OrderRow }
  | { type: 'delivery'; row: DeliveryRow }
  | { type: 'log'; row: LogEntry }
  | { type: 'knobs'; row: KnobsRow };

/** Order states with WeChat's own names (trade_state and its Chinese label). */
export const ORDER_STATE_LABELS: Readonly<Record<string, { zh: string; en: string }>> = {
  NOTPAY: { zh: '未支付', en: 'NOTPAY' },
  PAID: { zh: '支付成功', en: 'PAID (SUCCESS)' },
  CLOSED: { zh: '已关闭', en: 'CLOSED' },
};

/** Refund states with WeChat's Chinese labels. */
export const REFUND_STATE_LABELS: Readonly<Record<string, { zh: string; en: string }>> = {
  PROCESSING: { zh: '退款处理中', en: 'PROCESSING' },
  SUCCESS: { zh: '退款成功', en: 'SUCCESS' },
  CLOSED: { zh: '退款关闭', en: 'CLOSED' },
  ABNORMAL: { zh: '退款异常', en: 'ABNORMAL' },
};

/** The channel that reported a payment. */
export const CHANNEL_LABELS: Readonly<Record<string, string>> = {
  v2: 'APIv2 通知 (XML)',
  v3: 'APIv3 通知 (JSON)',
  aggregator: 'aggregator 聚合',
  query: '查单 order query',
};

/** Acknowledged attempts of a delivery, replays included. */
export function acknowledgedAttempts(row: DeliveryRow): number {
  const count = (attempts: AttemptRow[]) => attempts.filter((a) => a.accepted).length;
  return count(row.attempts) + row.replays.reduce((sum, batch) => sum + count(batch.attempts), 0);
}

/** All attempts of a delivery, replays included. */
export function totalAttempts(row: DeliveryRow): number {
  return row.attempts.length + row.replays.reduce((sum, batch) => sum + batch.attempts.length, 0);
}

/**
 * Anomalies an order item itself shows (the service logs the rest, which the console collects from
 * the functions' output): a payment for an order nobody registered, a payment after a local close,
 * a paid amount differing from the registered one, refunds beyond the total.
 */
export function itemAnomalies(order: Order): string[] {
  const found: string[] = [];
  if (order.previousState === 'UNREGISTERED' || order.amountUnverified) found.push('UNREGISTERED_ORDER');
  if (order.previousState === 'CLOSED' && order.state === 'PAID') found.push('PAID_AFTER_CLOSE');
  if (order.paidFen !== undefined && order.paidFen !== order.amountFen) found.push('AMOUNT_MISMATCH');
  if ((order.refundedFen ?? 0) > (order.paidFen ?? order.amountFen)) found.push('REFUND_EXCEEDS_TOTAL');
  return found;
}

/**
 * The transitions to add when an order is read again: a state differing from the last one read, or,
 * the first time an order is read in a later state, the move its `previousState` records.
 */
export function nextTransitions(previous: OrderRow | undefined, order: Order, seenAt: string): Transition[] {
  const earlier = previous?.transitions ?? [];
  if (previous === undefined) {
    const from = order.previousState;
    return from !== undefined && from !== order.state ? [{ from, to: order.state, seenAt }] : [];
  }
  if (previous.state === order.state) return earlier;
  return [...earlier, { from: previous.state, to: order.state, seenAt }];
}

/** Where two lists of rows differ: the rows of `next` that are new or changed, by key. */
export function changedRows<T>(previous: ReadonlyMap<string, string>, next: readonly T[], key: (row: T) => string) {
  const changed: T[] = [];
  const seen = new Map<string, string>();
  for (const row of next) {
    const k = key(row);
    const text = JSON.stringify(row);
    seen.set(k, text);
    if (previous.get(k) !== text) changed.push(row);
  }
  return { changed, seen };
}
