/** WeChat Pay's trade states, the same vocabulary in both generations (docs/protocol.md D, `trade_state`). */

/** Every state an order query or a transaction resource may report. */
export const TRADE_STATES = ['SUCCESS', 'REFUND', 'NOTPAY', 'CLOSED', 'REVOKED', 'USERPAYING', 'PAYERROR'] as const;
export type TradeState = (typeof TRADE_STATES)[number];

const KNOWN: ReadonlySet<string> = new Set(TRADE_STATES);

/** Whether a received `trade_state` is one WeChat documents. */
export function isTradeState(s: unknown): s is TradeState {
  return typeof s === 'string' && KNOWN.has(s);
}

/** States of an order that was paid: REFUND means paid first, then (partly) refunded. */
export const PAID_TRADE_STATES: ReadonlySet<TradeState> = new Set(['SUCCESS', 'REFUND']);
