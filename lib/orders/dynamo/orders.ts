/**
 * Orders in the DynamoDB store: registration, payment and close, each one conditional write whose
 * condition names the states it may start from.
 */
import {
  judgePayment,
  type Channel,
  type CloseOutcome,
  type CloseReason,
  type Order,
  type OrderRegistration,
  type OrderState,
  type PaymentOutcome,
  type PaymentReport,
  type RegisterOutcome,
} from '../model';
import type { UnknownOrderPolicy } from '../store';
import { orderKey } from '../table';
import {
  allOf,
  amountIs,
  anyOf,
  N,
  NO_STATE,
  read,
  reader,
  S,
  stateIn,
  transition,
  withOptional,
  type Item,
  type Table,
} from './transition';

/** Registers an unpaid order; a key with no state yet is the only legal predecessor. */
export async function registerOrder(table: Table, input: OrderRegistration): Promise<RegisterOutcome> {
  const ttl = input.expiresAt !== undefined;
  // an UpdateItem, not a PutItem: a refund that arrived first may have left its tally on the key
  return transition<RegisterOutcome>(
    table,
    {
      pk: orderKey(input.merchantId, input.outTradeNo),
      update:
        'SET entity = :entity, outTradeNo = :otn, merchantId = :mid, #state = :notpay, amountFen = :fen, amountUnverified = :false, createdAt = :created, pending = :notpay' +
        (ttl ? ', #ttl = :ttl' : ''),
      when: NO_STATE,
      names: ttl ? { '#ttl': 'ttl' } : {},
      values: {
        ':entity': S('ORDER'),
        ':otn': S(input.outTradeNo),
        ':mid': S(input.merchantId),
        ':notpay': S('NOTPAY'),
        ':fen': N(input.amountFen),
        ':false': { BOOL: false },
        ':created': S(input.createdAt ?? table.iso()),
        ...(input.expiresAt !== undefined ? { ':ttl': N(input.expiresAt) } : {}),
      },
    },
    (item) => ({ kind: 'REGISTERED', order: toOrder(item) as Order }),
    (item) => {
      const current = item && toOrder(item);
      if (!current) return 'RETRY';
      const same = current.state === 'NOTPAY' && current.amountFen === input.amountFen;
      return { kind: same ? 'ALREADY_REGISTERED' : 'CONFLICT', order: current };
    },
  );
}

/**
 * Applies a payment: from NOTPAY or a local CLOSED with the registered amount, or (policy `record`)
 * onto a key that holds no order yet.
 */
export async function applyPayment(
  table: Table,
  report: PaymentReport,
  policy: UnknownOrderPolicy,
): Promise<PaymentOutcome> {
  const registered = allOf(stateIn('NOTPAY', 'CLOSED'), amountIs(report.amountFen));
  return transition(
    table,
    {
      pk: orderKey(report.merchantId, report.outTradeNo),
      update:
        'SET #state = :paid, transactionId = :tx, paidFen = :fen, paidAt = :paidAt, paidVia = :via, appliedAt = :now, ' +
        'previousState = if_not_exists(#state, :unregistered), amountFen = if_not_exists(amountFen, :fen), ' +
        'amountUnverified = if_not_exists(amountUnverified, :true), outTradeNo = :otn, merchantId = :mid, entity = :entity ' +
        'REMOVE pending, #ttl',
      when: policy === 'record' ? anyOf(NO_STATE, registered) : registered,
      names: { '#state': 'state', '#ttl': 'ttl' },
      values: {
        ':paid': S('PAID'),
        ':unregistered': S('UNREGISTERED'),
        ':tx': S(report.transactionId),
        ':fen': N(report.amountFen),
        ':paidAt': S(report.paidAt),
        ':via': S(report.channel),
        ':now': S(table.iso()),
        ':true': { BOOL: true },
        ':otn': S(report.outTradeNo),
        ':mid': S(report.merchantId),
        ':entity': S('ORDER'),
      },
    },
    (item): PaymentOutcome => {
      const order = toOrder(item) as Order;
      return { kind: 'APPLIED', previous: order.previousState ?? 'UNREGISTERED', order };
    },
    (item) => {
      const current = item && toOrder(item);
      if (!current && policy === 'reject') return { kind: 'UNKNOWN_ORDER' };
      const verdict = judgePayment(current, report);
      return verdict === 'APPLY' ? 'RETRY' : verdict;
    },
  );
}

/** Closes an order: from NOTPAY only, so a payment recorded first always wins. */
export async function applyClose(
  table: Table,
  merchantId: string,
  outTradeNo: string,
  reason: CloseReason = 'CLOSED',
): Promise<CloseOutcome> {
  return transition<CloseOutcome>(
    table,
    {
      pk: orderKey(merchantId, outTradeNo),
      update: 'SET #state = :closed, closedAt = :now, closedReason = :reason REMOVE pending',
      when: stateIn('NOTPAY'),
      values: { ':closed': S('CLOSED'), ':now': S(table.iso()), ':reason': S(reason) },
    },
    (item) => ({ kind: 'CLOSED', order: toOrder(item) as Order }),
    (item) => {
      const current = item && toOrder(item);
      if (!current) return { kind: 'UNKNOWN_ORDER' };
      if (current.state === 'PAID') return { kind: 'PAID', order: current };
      if (current.state === 'CLOSED') return { kind: 'ALREADY_CLOSED', order: current };
      return 'RETRY';
    },
  );
}

/** Reads an order with a consistent read. */
export async function getOrder(table: Table, merchantId: string, outTradeNo: string): Promise<Order | undefined> {
  const item = await read(table, orderKey(merchantId, outTradeNo));
  return item && toOrder(item);
}

/** Reads an order item; undefined for a key that holds no order yet (only an early refund tally). */
export function toOrder(item: Item): Order | undefined {
  const { s, n } = reader(item);
  const state = s('state') as OrderState | undefined;
  if (state === undefined) return undefined;
  return withOptional<Order>(
    {
      outTradeNo: s('outTradeNo') ?? '',
      merchantId: s('merchantId') ?? '',
      state,
      amountFen: n('amountFen') ?? 0,
      amountUnverified: item.amountUnverified?.BOOL === true,
    },
    {
      createdAt: s('createdAt'),
      transactionId: s('transactionId'),
      paidFen: n('paidFen'),
      paidAt: s('paidAt'),
      paidVia: s('paidVia') as Channel | undefined,
      previousState: s('previousState') as Order['previousState'],
      closedAt: s('closedAt'),
      closedReason: s('closedReason') as Order['closedReason'],
      refundedFen: n('refundedFen'),
      reservedFen: n('reservedFen'),
    },
  );
}
