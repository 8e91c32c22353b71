/**
 * TEST-ONLY: WeChat Pay's refund apply and refund query, both generations (docs/protocol.md I).
 *
 * An applied refund is PROCESSING first; a moment later (`settleAfterMs`) it settles, by default
 * SUCCESS, through the simulator's own refund state and refund notification sender, so the
 * notification follows asynchronously as WeChat's does. One refund per merchant and out_refund_no:
 * a repeated apply answers the refund that exists. The desk counts what it was asked for, so a test
 * can check at the simulator that no refund was made twice and that no more fen was requested than paid.
 * Imports nothing from lib/.
 */
import type { SimControl } from './control';
import { beijingDateTime, randomRefundId, rfc3339Beijing } from './messages';
import type { RefundStatus, SimRefund, SimState } from './state';

/** A refund as the refund APIs report it: PROCESSING until it settles. */
export interface DeskRefund {
  merchantId: string;
  /** The service provider's merchant id in partner mode. */
  subMchid?: string;
  outTradeNo: string;
  outRefundNo: string;
  refundId: string;
  transactionId: string;
  amount: number;
  total: number;
  status: RefundStatus | 'PROCESSING';
  createdAt: number;
  successTime?: number;
}

/** What an apply call asks for. */
export interface RefundApplyInput {
  merchantId: string;
  subMchid?: string;
  outTradeNo: string;
  outRefundNo: string;
  amount: number;
  /** The order total the caller states; WeChat refuses one that does not match. */
  total: number;
  notifyUrl?: string;
}

/** The business result of an apply call, mapped to codes by each generation. */
export type RefundApplyResult =
  | { kind: 'ok'; refund: DeskRefund }
  | { kind: 'not-found' }
  | { kind: 'not-paid' }
  | { kind: 'total-mismatch' }
  | { kind: 'exceeds'; left: number }
  | { kind: 'conflict' };

interface Pending extends DeskRefund {
  notifyUrl?: string;
  timer: NodeJS.Timeout;
}

/** Refunds in flight and the counts tests read. */
export class RefundDesk {
  private readonly processing = new Map<string, Pending>();
  /** Apply calls received (every attempt, repeats included). */
  applyCalls = 0;
  /** Refunds created: one per new out_refund_no. */
  created = 0;
  /** Fen of the refunds created, summed. */
  requestedFen = 0;
  /** The results the next refunds settle in, in order; SUCCESS when empty. */
  readonly outcomes: RefundStatus[] = [];
  /** How many of the next refund notifications are lost (the refund settles, nothing is delivered). */
  lostNotifications = 0;

  constructor(
    private readonly state: SimState,
    private readonly control: SimControl,
    /** How long a refund stays PROCESSING, in ms of real time; 0: the apply answer carries the result. */
    public settleAfterMs = 20,
  ) {}

  /** Applies for a refund; a repeated out_refund_no with the same order and amount answers the existing one. */
  apply(input: RefundApplyInput): RefundApplyResult {
    this.applyCalls += 1;
    const key = keyOf(input.merchantId, input.outRefundNo);
    const existing = this.find(input.merchantId, input.outRefundNo);
    if (existing !== undefined) {
      const same = existing.outTradeNo === input.outTradeNo && existing.amount === input.amount;
      return same ? { kind: 'ok', refund: existing } : { kind: 'conflict' };
    }
    const order = this.state.findOrder(input.merchantId, input.outTradeNo);
    if (order === undefined) return { kind: 'not-found' };
    if (order.transactionId === undefined || (order.state !== 'SUCCESS' && order.state !== 'REFUND'))
      return { kind: 'not-paid' };
    if (input.total !== order.amount) return { kind: 'total-mismatch' };
    // WeChat holds refunds in flight against the order too
    let inFlight = 0;
    for (const p of this.processing.values())
      if (p.merchantId === input.merchantId && p.outTradeNo === input.outTradeNo) inFlight += p.amount;
    const left = order.amount - order.refunded - inFlight;
    if (input.amount > left) return { kind: 'exceeds', left };
    const refund: DeskRefund = {
      merchantId: input.merchantId,
      ...(input.subMchid === undefined ? {} : { subMchid: input.subMchid }),
      outTradeNo: input.outTradeNo,
      outRefundNo: input.outRefundNo,
      refundId: randomRefundId(),
      transactionId: order.transactionId,
      amount: input.amount,
      total: order.amount,
      status: 'PROCESSING',
      createdAt: this.state.now(),
    };
    this.created += 1;
    this.requestedFen += input.amount;
    const timer = setTimeout(() => void this.settle(key), Math.max(0, this.settleAfterMs));
    this.processing.set(key, {
      ...refund,
      ...(input.notifyUrl === undefined ? {} : { notifyUrl: input.notifyUrl }),
      timer,
    });
    if (this.settleAfterMs > 0) return { kind: 'ok', refund };
    // 0: WeChat settles at once and answers the result itself (the state changes before settle's first await)
    void this.settle(key);
    return { kind: 'ok', refund: this.find(input.merchantId, input.outRefundNo) ?? refund };
  }

  /** The refund with this out_refund_no, PROCESSING or settled; undefined when WeChat has none. */
  find(merchantId: string, outRefundNo: string): DeskRefund | undefined {
    const pending = this.processing.get(keyOf(merchantId, outRefundNo));
    if (pending !== undefined) {
      const { timer: _timer, notifyUrl: _url, ...refund } = pending;
      return refund;
    }
    const settled = this.state.listRefunds().find((r) => r.merchantId === merchantId && r.outRefundNo === outRefundNo);
    return settled === undefined ? undefined : fromState(settled);
  }

  /** Every refund of an order (any merchant), PROCESSING or settled: what WeChat holds for it. */
  listFor(outTradeNo: string): DeskRefund[] {
    const pending = [...this.processing.values()]
      .filter((p) => p.outTradeNo === outTradeNo)
      .map(({ timer: _timer, notifyUrl: _url, ...refund }) => refund);
    const settled = this.state
      .listRefunds()
      .filter((r) => r.outTradeNo === outTradeNo)
      .map(fromState);
    return [...pending, ...settled];
  }

  /** Settles every refund still PROCESSING now (tests that do not want to wait). */
  async settleAll(): Promise<void> {
    await Promise.all([...this.processing.keys()].map((key) => this.settle(key)));
  }

  /** Stops the settle timers (the simulator is closing). */
  close(): void {
    for (const p of this.processing.values()) clearTimeout(p.timer);
    this.processing.clear();
  }

  private async settle(key: string): Promise<void> {
    const pending = this.processing.get(key);
    if (pending === undefined) return;
    clearTimeout(pending.timer);
    this.processing.delete(key);
    const status = this.outcomes.shift() ?? 'SUCCESS';
    const input = {
      merchantId: pending.merchantId,
      outTradeNo: pending.outTradeNo,
      outRefundNo: pending.outRefundNo,
      amount: pending.amount,
      status,
      refundId: pending.refundId,
    };
    try {
      if (this.lostNotifications > 0) {
        this.lostNotifications -= 1;
        this.state.refund(input);
        return;
      }
      await this.control.refund({
        ...input,
        ...(pending.subMchid === undefined ? {} : { subMchid: pending.subMchid }),
        ...(pending.notifyUrl === undefined ? {} : { notifyUrl: pending.notifyUrl }),
        wait: 'none',
      });
    } catch (error) {
      process.stderr.write(`wechatpay simulator: refund ${pending.outRefundNo} did not settle: ${String(error)}\n`);
    }
  }
}

function fromState(refund: SimRefund): DeskRefund {
  return {
    merchantId: refund.merchantId,
    outTradeNo: refund.outTradeNo,
    outRefundNo: refund.outRefundNo,
    refundId: refund.refundId,
    transactionId: refund.transactionId,
    amount: refund.amount,
    total: refund.total,
    status: refund.status,
    createdAt: refund.createdAt,
    ...(refund.successTime === undefined ? {} : { successTime: refund.successTime }),
  };
}

function keyOf(merchantId: string, outRefundNo: string): string {
  return `${merchantId}\u0000${outRefundNo}`;
}

/** An APIv3 answer before signing. */
export interface RefundV3Answer {
  status: number;
  json?: unknown;
}

const V3_APPLY = '/v3/refund/domestic/refunds';
const V3_QUERY = /^\/v3\/refund\/domestic\/refunds\/([^/?]+)$/;

/** Which refund API an APIv3 method and path name, with the decoded out_refund_no of a query. */
export function v3RefundRoute(
  method: string,
  path: string,
): { endpoint: 'v3.refund' } | { endpoint: 'v3.refundquery'; outRefundNo: string } | undefined {
  if (method === 'POST' && path === V3_APPLY) return { endpoint: 'v3.refund' };
  const query = method === 'GET' ? V3_QUERY.exec(path) : null;
  if (query === null) return undefined;
  let outRefundNo: string;
  try {
    outRefundNo = decodeURIComponent(query[1] ?? '');
  } catch {
    outRefundNo = '';
  }
  return { endpoint: 'v3.refundquery', outRefundNo };
}

/** POST /v3/refund/domestic/refunds: the refund as it stands (a new one PROCESSING), or WeChat's refusal. */
export function v3RefundApply(desk: RefundDesk, mchid: string, body: Record<string, unknown>): RefundV3Answer {
  const subMchid = typeof body.sub_mchid === 'string' && body.sub_mchid !== '' ? body.sub_mchid : undefined;
  const amount = body.amount as Record<string, unknown> | undefined;
  const outTradeNo = body.out_trade_no;
  const outRefundNo = body.out_refund_no;
  if (typeof outTradeNo !== 'string' || !NO.test(outTradeNo)) return v3Param('out_trade_no');
  if (typeof outRefundNo !== 'string' || !NO.test(outRefundNo)) return v3Param('out_refund_no');
  if (typeof amount !== 'object' || amount === null) return v3Param('amount');
  const refund = amount.refund;
  const total = amount.total;
  if (!isFen(refund)) return v3Param('amount.refund');
  if (!isFen(total)) return v3Param('amount.total');
  if (amount.currency !== 'CNY') return v3Param('amount.currency');
  const notifyUrl = typeof body.notify_url === 'string' ? body.notify_url : undefined;
  const result = desk.apply({
    merchantId: subMchid ?? mchid,
    ...(subMchid === undefined ? {} : { subMchid }),
    outTradeNo,
    outRefundNo,
    amount: refund,
    total,
    ...(notifyUrl === undefined ? {} : { notifyUrl }),
  });
  switch (result.kind) {
    case 'ok':
      return { status: 200, json: v3RefundJson(result.refund) };
    case 'not-found':
      return v3Error(404, 'RESOURCE_NOT_EXISTS', '订单不存在');
    case 'not-paid':
      return v3Error(400, 'INVALID_REQUEST', '订单未支付，不能发起退款');
    case 'total-mismatch':
      return v3Error(400, 'INVALID_REQUEST', '订单金额与原订单金额不一致');
    case 'exceeds':
      return v3Error(400, 'INVALID_REQUEST', `申请退款金额超过订单可退金额，剩余可退${result.left}分`);
    case 'conflict':
      return v3Error(400, 'INVALID_REQUEST', '同一退款单号的请求参数与原请求不一致');
  }
}

/** GET /v3/refund/domestic/refunds/{out_refund_no}. */
export function v3RefundQuery(desk: RefundDesk, mchid: string, outRefundNo: string, subMchid?: string): RefundV3Answer {
  if (!NO.test(outRefundNo)) return v3Param('out_refund_no');
  const refund = desk.find(subMchid ?? mchid, outRefundNo);
  if (refund === undefined) return v3Error(404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
  return { status: 200, json: v3RefundJson(refund) };
}

function v3RefundJson(refund: DeskRefund): Record<string, unknown> {
  return {
    refund_id: refund.refundId,
    out_refund_no: refund.outRefundNo,
    transaction_id: refund.transactionId,
    out_trade_no: refund.outTradeNo,
    channel: 'ORIGINAL',
    user_received_account: '支付用户零钱',
    ...(refund.successTime === undefined ? {} : { success_time: rfc3339Beijing(new Date(refund.successTime)) }),
    create_time: rfc3339Beijing(new Date(refund.createdAt)),
    status: refund.status,
    funds_account: 'AVAILABLE',
    amount: {
      total: refund.total,
      refund: refund.amount,
      payer_total: refund.total,
      payer_refund: refund.amount,
      settlement_refund: refund.amount,
      settlement_total: refund.total,
      discount_refund: 0,
      currency: 'CNY',
    },
  };
}

// refundquery's words for the states (REFUNDCLOSE closed, CHANGE abnormal)
const V2_STATUS: Readonly<Record<DeskRefund['status'], string>> = {
  PROCESSING: 'PROCESSING',
  SUCCESS: 'SUCCESS',
  CLOSED: 'REFUNDCLOSE',
  ABNORMAL: 'CHANGE',
};

/** secapi/pay/refund: the business fields of the reply (result_code and err_code, or the refund). */
export function v2RefundApply(
  desk: RefundDesk,
  merchantId: string,
  fields: Record<string, string>,
): Record<string, string> {
  const { out_trade_no: outTradeNo, out_refund_no: outRefundNo } = fields;
  const refund = Number(fields.refund_fee);
  const total = Number(fields.total_fee);
  if (!outTradeNo || !NO.test(outTradeNo) || !outRefundNo || !NO.test(outRefundNo)) return v2Failure('PARAM_ERROR');
  if (
    !isFen(refund) ||
    !isFen(total) ||
    !/^\d+$/.test(fields.refund_fee ?? '') ||
    !/^\d+$/.test(fields.total_fee ?? '')
  )
    return v2Failure('PARAM_ERROR');
  const result = desk.apply({
    merchantId,
    ...(fields.sub_mch_id ? { subMchid: fields.sub_mch_id } : {}),
    outTradeNo,
    outRefundNo,
    amount: refund,
    total,
    ...(fields.notify_url ? { notifyUrl: fields.notify_url } : {}),
  });
  switch (result.kind) {
    case 'ok':
      return {
        result_code: 'SUCCESS',
        transaction_id: result.refund.transactionId,
        out_trade_no: result.refund.outTradeNo,
        out_refund_no: result.refund.outRefundNo,
        refund_id: result.refund.refundId,
        refund_fee: String(result.refund.amount),
        total_fee: String(result.refund.total),
        cash_fee: String(result.refund.total),
      };
    case 'not-found':
      return v2Failure('ORDERNOTEXIST');
    case 'not-paid':
    case 'total-mismatch':
    case 'conflict':
      return v2Failure('ERROR');
    case 'exceeds':
      return v2Failure('NOTENOUGH');
  }
}

/** pay/refundquery by out_refund_no: the business fields of the reply. */
export function v2RefundQuery(
  desk: RefundDesk,
  merchantId: string,
  fields: Record<string, string>,
): Record<string, string> {
  const outRefundNo = fields.out_refund_no;
  if (!outRefundNo || !NO.test(outRefundNo)) return v2Failure('PARAM_ERROR');
  const refund = desk.find(merchantId, outRefundNo);
  if (refund === undefined) return v2Failure('REFUNDNOTEXIST');
  return {
    result_code: 'SUCCESS',
    transaction_id: refund.transactionId,
    out_trade_no: refund.outTradeNo,
    total_fee: String(refund.total),
    cash_fee: String(refund.total),
    refund_count: '1',
    out_refund_no_0: refund.outRefundNo,
    refund_id_0: refund.refundId,
    refund_channel_0: 'ORIGINAL',
    refund_fee_0: String(refund.amount),
    refund_status_0: V2_STATUS[refund.status],
    refund_recv_accout_0: '支付用户零钱',
    ...(refund.successTime === undefined
      ? {}
      : { refund_success_time_0: beijingDateTime(new Date(refund.successTime)) }),
  };
}

const V2_DESCRIPTIONS: Readonly<Record<string, string>> = {
  PARAM_ERROR: '参数错误',
  ORDERNOTEXIST: '此交易订单号不存在',
  REFUNDNOTEXIST: '退款订单查询失败',
  NOTENOUGH: '余额不足',
  ERROR: '申请退款业务发生错误',
};

function v2Failure(code: string): Record<string, string> {
  return { result_code: 'FAIL', err_code: code, err_code_des: V2_DESCRIPTIONS[code] ?? code };
}

const NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;

function isFen(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function v3Error(status: number, code: string, message: string): RefundV3Answer {
  return { status, json: { code, message } };
}

function v3Param(field: string): RefundV3Answer {
  return {
    status: 400,
    json: { code: 'PARAM_ERROR', message: `${field}格式错误`, detail: { field, location: 'body' } },
  };
}
