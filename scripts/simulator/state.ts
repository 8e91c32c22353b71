/**
 * TEST-ONLY: WeChat Pay's own view of orders and refunds, as the local simulator keeps it.
 *
 * Pure in-memory model with an injected clock (milliseconds), so that rules that depend on time
 * (the five-minute close rule) are testable without waiting. Imports nothing from lib/.
 */
import { randomOpenid } from './random';
import { randomRefundId, randomTransactionId } from './messages';

/** WeChat Pay trade states (docs/protocol.md D, `trade_state`). */
export type TradeState = 'NOTPAY' | 'SUCCESS' | 'REFUND' | 'CLOSED' | 'REVOKED' | 'USERPAYING' | 'PAYERROR';

/** Refund states the simulator can settle a refund in (docs/protocol.md D, `refund_status`). */
export type RefundStatus = 'SUCCESS' | 'CLOSED' | 'ABNORMAL';

/** One order as WeChat Pay knows it. */
export interface SimOrder {
  /** Owner of the order number: the sub-merchant in partner mode, else the merchant itself. */
  merchantId: string;
  /** The direct merchant, or the service provider in partner mode. */
  mchid: string;
  subMchid?: string;
  appid: string;
  subAppid?: string;
  outTradeNo: string;
  /** Order total in fen. */
  amount: number;
  /** Creation instant (ms since epoch, simulator clock). */
  createdAt: number;
  state: TradeState;
  transactionId?: string;
  /** Payment instant (ms), set when paid. */
  successTime?: number;
  closedAt?: number;
  /** The payer, fixed at payment so that notifications and queries agree. */
  openid?: string;
  notifyUrl?: string;
  attach?: string;
  /** Fen refunded successfully so far. */
  refunded: number;
}

/** One refund as WeChat Pay knows it (keyed by merchant + out_refund_no). */
export interface SimRefund {
  merchantId: string;
  outTradeNo: string;
  outRefundNo: string;
  refundId: string;
  transactionId: string;
  /** Refund amount in fen. */
  amount: number;
  /** The order total in fen. */
  total: number;
  status: RefundStatus;
  createdAt: number;
  successTime?: number;
}

/** Parameters of {@link SimState.createOrder}. */
export interface NewOrder {
  outTradeNo: string;
  amount: number;
  mchid: string;
  appid: string;
  subMchid?: string;
  subAppid?: string;
  /** Creation instant in ms; defaults to the clock's now. */
  createdAt?: number;
  notifyUrl?: string;
  attach?: string;
}

/** Parameters of {@link SimState.refund}. */
export interface NewRefund {
  merchantId: string;
  outTradeNo: string;
  outRefundNo: string;
  amount: number;
  status: RefundStatus;
  /** WeChat's refund id, when the refund APIs handed it out already (else a fresh one). */
  refundId?: string;
}

/** The result of a close attempt, mapped to protocol codes by the v2/v3 handlers. */
export type CloseOutcome =
  | { kind: 'closed'; order: SimOrder }
  | { kind: 'already-closed'; order: SimOrder }
  | { kind: 'paid'; order: SimOrder }
  | { kind: 'not-found' }
  | { kind: 'too-early'; order: SimOrder; waitSeconds: number };

/** Why a simulator control operation was refused. */
export type SimErrorCode =
  | 'INVALID'
  | 'NOT_FOUND'
  | 'DUPLICATE'
  | 'AMOUNT_MISMATCH'
  | 'ORDER_CLOSED'
  | 'NOT_PAID'
  | 'REFUND_EXCEEDS'
  | 'REFUND_CONFLICT'
  | 'NO_NOTIFICATION';

/** A refused control operation (never thrown for protocol-level outcomes, which are results). */
export class SimError extends Error {
  constructor(
    readonly code: SimErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SimError';
  }
}

/** WeChat's out_trade_no / out_refund_no alphabet: at most 32 of digits, letters, `_-|*@`. */
export const MERCHANT_NO_PATTERN = /^[0-9A-Za-z_\-|*@]{1,32}$/;

const PAID_STATES: ReadonlySet<TradeState> = new Set(['SUCCESS', 'REFUND']);
const CLOSED_STATES: ReadonlySet<TradeState> = new Set(['CLOSED', 'REVOKED']);

/** In-memory orders and refunds with an injected clock. */
export class SimState {
  private readonly orders = new Map<string, SimOrder>();
  private readonly refunds = new Map<string, SimRefund>();

  constructor(readonly now: () => number = Date.now) {}

  /** Registers a new unpaid order; refuses a second order with the same merchant and number. */
  createOrder(input: NewOrder): SimOrder {
    checkMerchantNo('outTradeNo', input.outTradeNo);
    checkFen('amount', input.amount);
    const merchantId = input.subMchid ?? input.mchid;
    const key = orderKey(merchantId, input.outTradeNo);
    if (this.orders.has(key)) throw new SimError('DUPLICATE', `order ${input.outTradeNo} already exists`);
    const order: SimOrder = {
      merchantId,
      mchid: input.mchid,
      ...(input.subMchid === undefined ? {} : { subMchid: input.subMchid }),
      appid: input.appid,
      ...(input.subAppid === undefined ? {} : { subAppid: input.subAppid }),
      outTradeNo: input.outTradeNo,
      amount: input.amount,
      createdAt: input.createdAt ?? this.now(),
      state: 'NOTPAY',
      ...(input.notifyUrl === undefined ? {} : { notifyUrl: input.notifyUrl }),
      ...(input.attach === undefined ? {} : { attach: input.attach }),
      refunded: 0,
    };
    this.orders.set(key, order);
    return { ...order };
  }

  /** The order, or undefined. */
  findOrder(merchantId: string, outTradeNo: string): SimOrder | undefined {
    const order = this.orders.get(orderKey(merchantId, outTradeNo));
    return order === undefined ? undefined : { ...order };
  }

  /** The order with this WeChat transaction id, or undefined. */
  findByTransactionId(merchantId: string, transactionId: string): SimOrder | undefined {
    for (const order of this.orders.values()) {
      if (order.merchantId === merchantId && order.transactionId === transactionId) return { ...order };
    }
    return undefined;
  }

  /** Marks the order paid (idempotent for paid orders); `force` pays even a closed order. */
  pay(merchantId: string, outTradeNo: string, opts: { force?: boolean } = {}): SimOrder {
    const order = this.mustFind(merchantId, outTradeNo);
    if (PAID_STATES.has(order.state)) return { ...order };
    // A real closed order cannot be paid; `force` exists to stage the close/pay race in tests.
    if (CLOSED_STATES.has(order.state) && opts.force !== true) {
      throw new SimError('ORDER_CLOSED', `order ${outTradeNo} is ${order.state}`);
    }
    order.state = 'SUCCESS';
    order.transactionId = randomTransactionId();
    order.successTime = this.now();
    order.openid = randomOpenid();
    delete order.closedAt;
    return { ...order };
  }

  /** Applies WeChat's close rules: paid and closed orders stay, young orders wait `minAgeSeconds`. */
  close(merchantId: string, outTradeNo: string, minAgeSeconds: number): CloseOutcome {
    const order = this.orders.get(orderKey(merchantId, outTradeNo));
    if (order === undefined) return { kind: 'not-found' };
    // State comes before age: a paid order must be reported paid however young it is.
    if (PAID_STATES.has(order.state)) return { kind: 'paid', order: { ...order } };
    if (CLOSED_STATES.has(order.state)) return { kind: 'already-closed', order: { ...order } };
    const ageMs = this.now() - order.createdAt;
    if (ageMs < minAgeSeconds * 1000) {
      return { kind: 'too-early', order: { ...order }, waitSeconds: Math.ceil((minAgeSeconds * 1000 - ageMs) / 1000) };
    }
    order.state = 'CLOSED';
    order.closedAt = this.now();
    return { kind: 'closed', order: { ...order } };
  }

  /** Records a refund settled in `status`; a repeated out_refund_no is idempotent when it agrees. */
  refund(input: NewRefund): { refund: SimRefund; order: SimOrder } {
    checkMerchantNo('outRefundNo', input.outRefundNo);
    checkFen('amount', input.amount);
    const order = this.mustFind(input.merchantId, input.outTradeNo);
    if (!PAID_STATES.has(order.state) || order.transactionId === undefined) {
      throw new SimError('NOT_PAID', `order ${input.outTradeNo} is ${order.state}, not paid`);
    }
    const key = orderKey(input.merchantId, input.outRefundNo);
    const existing = this.refunds.get(key);
    if (existing !== undefined) return { refund: this.settleExisting(existing, order, input), order: { ...order } };
    this.checkRefundable(order, input.amount, input.status);
    const refund: SimRefund = {
      merchantId: input.merchantId,
      outTradeNo: input.outTradeNo,
      outRefundNo: input.outRefundNo,
      refundId: input.refundId ?? randomRefundId(),
      transactionId: order.transactionId,
      amount: input.amount,
      total: order.amount,
      status: input.status,
      createdAt: this.now(),
    };
    this.refunds.set(key, refund);
    this.applyRefundStatus(refund, order);
    return { refund: { ...refund }, order: { ...order } };
  }

  /** Every order, oldest first. */
  listOrders(): SimOrder[] {
    return [...this.orders.values()].map((order) => ({ ...order }));
  }

  /** Every refund, oldest first. */
  listRefunds(): SimRefund[] {
    return [...this.refunds.values()].map((refund) => ({ ...refund }));
  }

  private mustFind(merchantId: string, outTradeNo: string): SimOrder {
    const order = this.orders.get(orderKey(merchantId, outTradeNo));
    if (order === undefined) throw new SimError('NOT_FOUND', `order ${outTradeNo} does not exist`);
    return order;
  }

  private settleExisting(existing: SimRefund, order: SimOrder, input: NewRefund): SimRefund {
    if (existing.outTradeNo !== input.outTradeNo || existing.amount !== input.amount) {
      throw new SimError('REFUND_CONFLICT', `refund ${input.outRefundNo} exists with other values`);
    }
    // ABNORMAL is not final (docs/protocol.md D): it may still move on; SUCCESS and CLOSED are final.
    if (existing.status === 'ABNORMAL' && input.status !== 'ABNORMAL') {
      if (input.status === 'SUCCESS') this.checkRefundable(order, input.amount, input.status);
      existing.status = input.status;
      this.applyRefundStatus(existing, order);
    }
    return { ...existing };
  }

  private checkRefundable(order: SimOrder, amount: number, status: RefundStatus): void {
    if (status === 'SUCCESS' && order.refunded + amount > order.amount) {
      throw new SimError('REFUND_EXCEEDS', `refund of ${amount} exceeds the ${order.amount - order.refunded} left`);
    }
  }

  private applyRefundStatus(refund: SimRefund, order: SimOrder): void {
    if (refund.status !== 'SUCCESS') return;
    refund.successTime = this.now();
    const stored = this.orders.get(orderKey(order.merchantId, order.outTradeNo));
    if (stored === undefined) return;
    stored.refunded += refund.amount;
    stored.state = 'REFUND';
    order.refunded = stored.refunded;
    order.state = stored.state;
  }
}

function orderKey(merchantId: string, number: string): string {
  // NUL cannot occur in either part (both are validated identifiers), so the key is unambiguous.
  return `${merchantId}\u0000${number}`;
}

function checkMerchantNo(name: string, value: string): void {
  if (!MERCHANT_NO_PATTERN.test(value)) throw new SimError('INVALID', `${name} must match ${MERCHANT_NO_PATTERN}`);
}

function checkFen(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new SimError('INVALID', `${name} must be a positive integer (fen)`);
}
