/**
 * Orders in the DynamoDB store: registration, payment and close, each one conditional write whose
 * condition names the states it may start from.
 */
import { unavailable } from '../../errors';
import {
  isPaid,
  judgePayment,
  orderChannelOf,
  type Channel,
  type OrderChannel,
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
import { checkRegistration } from '../registration';
import { orderKey, paidDayKey, pendingShardKey, pendingShardOf } from '../table';
import {
  allOf,
  amountIsWriteValue,
  channelIs,
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
  type Write,
} from './transition';

/**
 * Registers an unpaid order; a key with no state yet is the only legal predecessor. The registration
 * is checked first (a MALFORMED error writes nothing), and its pending entry goes to its shard of the
 * pending index (one of `shards`).
 */
export async function registerOrder(
  table: Table,
  registration: OrderRegistration,
  shards: number,
): Promise<RegisterOutcome> {
  const input = checkRegistration(registration, table.iso);
  const channel = input.channel ?? 'wechatpay';
  const ttl = input.expiresAt !== undefined;
  const extra = (
    [
      ['appid', input.appid],
      ['combineOutTradeNo', input.combineOutTradeNo],
    ] as const
  ).filter((e): e is [(typeof e)[0], string] => e[1] !== undefined);
  // an UpdateItem, not a PutItem: a refund that arrived first may have left its tally on the key
  return transition<RegisterOutcome>(
    table,
    {
      pk: orderKey(input.merchantId, input.outTradeNo),
      update:
        'SET entity = :entity, outTradeNo = :otn, merchantId = :mid, #state = :notpay, amountFen = :fen, amountUnverified = :false, createdAt = :created, pending = :shard, #channel = :channel' +
        (ttl ? ', #ttl = :ttl' : '') +
        extra.map(([name]) => `, ${name} = :${name}`).join(''),
      when: NO_STATE,
      names: { '#channel': 'channel', ...(ttl ? { '#ttl': 'ttl' } : {}) },
      values: {
        ':entity': S('ORDER'),
        ':otn': S(input.outTradeNo),
        ':mid': S(input.merchantId),
        ':notpay': S('NOTPAY'),
        ':shard': S(pendingShardKey(pendingShardOf(input.merchantId, input.outTradeNo, shards))),
        ':fen': N(input.amountFen),
        ':false': { BOOL: false },
        ':created': S(input.createdAt),
        ':channel': S(channel),
        ...(input.expiresAt !== undefined ? { ':ttl': N(input.expiresAt) } : {}),
        ...Object.fromEntries(extra.map(([name, value]) => [`:${name}`, S(value)])),
      },
    },
    (item) => ({ kind: 'REGISTERED', order: toOrder(item) as Order }),
    (item) => {
      const current = item && toOrder(item);
      if (!current) return 'RETRY';
      const same =
        current.state === 'NOTPAY' &&
        current.amountFen === input.amountFen &&
        (current.channel ?? 'wechatpay') === channel;
      return { kind: same ? 'ALREADY_REGISTERED' : 'CONFLICT', order: current };
    },
  );
}

/**
 * A registered payment's condition: NOTPAY or CLOSED, the registered amount, the report's channel. Its
 * text never varies, so it is joined once per channel; the amount and the channel it compares are the
 * payment write's own `:fen` and `:channel` (paymentWrite sets both), so they are sent once, not twice.
 */
const REGISTERED_PAYMENT = {
  wechatpay: allOf(stateIn('NOTPAY', 'CLOSED'), amountIsWriteValue(':fen'), channelIs('wechatpay', ':channel')),
  aggregator: allOf(stateIn('NOTPAY', 'CLOSED'), amountIsWriteValue(':fen'), channelIs('aggregator', ':channel')),
} as const;

/**
 * Applies a payment: from NOTPAY or a local CLOSED with the registered amount and the report's own
 * channel (PAID); or, under policy `record` and never for the aggregator, onto a key that holds no
 * order yet (PAID_UNVERIFIED). Each is one conditional write; the unregistered case is tried only
 * after the registered one found no order. The same write files a WeChat Pay payment under its
 * Beijing paid day, on one of `shards`, for the bill run (lib/bills).
 */
export async function applyPayment(
  table: Table,
  report: PaymentReport,
  policy: UnknownOrderPolicy,
  shards: number,
): Promise<PaymentOutcome> {
  const channel = orderChannelOf(report.channel);
  const registered = REGISTERED_PAYMENT[channel];
  const mayRecord = policy === 'record' && channel === 'wechatpay';
  const NOT_REGISTERED = 'NOT_REGISTERED' as const;
  for (let pass = 0; pass < 3; pass++) {
    const paid = await transition<PaymentOutcome | typeof NOT_REGISTERED>(
      table,
      paymentWrite(table, report, 'PAID', registered, shards),
      applied,
      (item) => {
        const current = item && toOrder(item);
        if (!current) return NOT_REGISTERED;
        const verdict = judgePayment(current, report);
        return verdict === 'APPLY' ? 'RETRY' : verdict;
      },
    );
    if (paid !== NOT_REGISTERED) return paid;
    if (!mayRecord) return { kind: 'UNKNOWN_ORDER' };
    const REGISTERED_MEANWHILE = 'REGISTERED_MEANWHILE' as const;
    const unverified = await transition<PaymentOutcome | typeof REGISTERED_MEANWHILE>(
      table,
      paymentWrite(table, report, 'PAID_UNVERIFIED', NO_STATE, shards),
      applied,
      (item) => {
        const current = item && toOrder(item);
        if (!current) return 'RETRY';
        const verdict = judgePayment(current, report);
        // registered between the two writes: the registered write applies it, on the next pass
        return verdict === 'APPLY' ? REGISTERED_MEANWHILE : verdict;
      },
    );
    if (unverified !== REGISTERED_MEANWHILE) return unverified;
  }
  throw unavailable('record changed concurrently, retry');
}

function applied(item: Item): PaymentOutcome {
  const order = toOrder(item) as Order;
  return { kind: 'APPLIED', previous: order.previousState ?? 'UNREGISTERED', order };
}

/**
 * The payment's one write: `state` PAID for a registered order, PAID_UNVERIFIED for a key with none.
 * A registered order already holds its number, merchant, entity and amount (the condition pins the
 * amount), so its write carries only what the payment changes; a key with no order gets the whole
 * item. Every value less is less for the SDK to serialise on each delivery.
 */
function paymentWrite(
  table: Table,
  report: PaymentReport,
  state: 'PAID' | 'PAID_UNVERIFIED',
  when: ReturnType<typeof allOf>,
  shards: number,
): Write {
  const credited = report.creditedFen !== undefined;
  const registered = state === 'PAID';
  // only WeChat Pay's own payments are in its trade bill: an aggregator's are not listed by day
  const paidDay =
    orderChannelOf(report.channel) === 'wechatpay'
      ? paidDayKey(report.paidAt, report.merchantId, report.outTradeNo, shards)
      : undefined;
  return {
    pk: orderKey(report.merchantId, report.outTradeNo),
    update:
      'SET #state = :paid, transactionId = :tx, paidFen = :fen, paidAt = :paidAt, paidVia = :via, appliedAt = :now, ' +
      '#channel = if_not_exists(#channel, :channel), ' +
      // the right-hand sides read the item as it was before this write
      (registered
        ? 'previousState = #state'
        : 'previousState = if_not_exists(#state, :unregistered), amountFen = if_not_exists(amountFen, :fen), ' +
          'amountUnverified = if_not_exists(amountUnverified, :true), outTradeNo = :otn, merchantId = :mid, entity = :entity') +
      (credited ? ', creditedFen = :credited' : '') +
      (paidDay === undefined ? '' : ', paidDay = :paidDay') +
      ' REMOVE pending, #ttl',
    when,
    names: { '#state': 'state', '#ttl': 'ttl', '#channel': 'channel' },
    values: paymentValues(table, report, state, paidDay),
  };
}

/** The values paymentWrite's expression names, the optional ones added one by one (no spreads per delivery). */
function paymentValues(
  table: Table,
  report: PaymentReport,
  state: 'PAID' | 'PAID_UNVERIFIED',
  paidDay: string | undefined,
): Item {
  const values: Item = {
    ':paid': S(state),
    ':tx': S(report.transactionId),
    ':fen': N(report.amountFen),
    ':paidAt': S(report.paidAt),
    ':via': S(report.channel),
    ':now': S(table.iso()),
    ':channel': S(orderChannelOf(report.channel)),
  };
  if (state === 'PAID_UNVERIFIED') {
    values[':unregistered'] = S('UNREGISTERED');
    values[':true'] = { BOOL: true };
    values[':otn'] = S(report.outTradeNo);
    values[':mid'] = S(report.merchantId);
    values[':entity'] = S('ORDER');
  }
  if (report.creditedFen !== undefined) values[':credited'] = N(report.creditedFen);
  if (paidDay !== undefined) values[':paidDay'] = S(paidDay);
  return values;
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
      if (isPaid(current.state)) return { kind: 'PAID', order: current };
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
      creditedFen: n('creditedFen'),
      channel: s('channel') as OrderChannel | undefined,
      previousState: s('previousState') as Order['previousState'],
      closedAt: s('closedAt'),
      closedReason: s('closedReason') as Order['closedReason'],
      refundedFen: n('refundedFen'),
      appid: s('appid'),
      combineOutTradeNo: s('combineOutTradeNo'),
      reservedFen: n('reservedFen'),
    },
  );
}
