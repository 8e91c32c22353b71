/**
 * The named condition parts the store's transitions are built from: each reads as the legal
 * predecessors of its transition, combined parts keep their grouping, and the names and values they
 * use travel with them (a part never collides with an update's own placeholders).
 */
import { describe, expect, it } from 'vitest';
import {
  allOf,
  amountIsWriteValue,
  anyOf,
  channelIs,
  NO_STATE,
  notCounted,
  paidIs,
  stateIn,
} from '../../../../lib/orders/dynamo/transition';

describe('condition parts', () => {
  it('parts combined: no order yet, or NOTPAY/CLOSED with a pinned amount, their names and values merged', () => {
    const c = anyOf(NO_STATE, allOf(stateIn('NOTPAY', 'CLOSED'), paidIs(100)));
    expect(c.expression).toBe(
      'attribute_not_exists(#state) OR (#state IN (:was_NOTPAY, :was_CLOSED) AND paidFen = :was_paidFen)',
    );
    expect(c.names).toEqual({ '#state': 'state' });
    expect(c.values).toEqual({
      ':was_NOTPAY': { S: 'NOTPAY' },
      ':was_CLOSED': { S: 'CLOSED' },
      ':was_paidFen': { N: '100' },
    });
  });

  it('a single part stays as it is; every placeholder is prefixed so it cannot meet an update value', () => {
    expect(allOf(stateIn('NOTPAY'))).toEqual({
      expression: '#state IN (:was_NOTPAY)',
      names: { '#state': 'state' },
      values: { ':was_NOTPAY': { S: 'NOTPAY' } },
    });
    const c = notCounted('R1');
    expect(c).toEqual({
      expression: 'NOT contains(refundNos, :was_counted)',
      names: {},
      values: { ':was_counted': { S: 'R1' } },
    });
    for (const part of [NO_STATE, stateIn('PROCESSING', 'ABNORMAL'), paidIs(1), c])
      for (const v of Object.keys(part.values)) expect(v.startsWith(':was_')).toBe(true);
  });

  it('groups an OR inside an AND, so precedence never changes what a condition admits', () => {
    expect(allOf(anyOf(NO_STATE, stateIn('NOTPAY')), paidIs(5)).expression).toBe(
      '(attribute_not_exists(#state) OR #state IN (:was_NOTPAY)) AND paidFen = :was_paidFen',
    );
  });

  it("parts that compare the write's own values send none of their own; the channel's own value otherwise", () => {
    expect(amountIsWriteValue(':fen')).toEqual({ expression: 'amountFen = :fen', names: {}, values: {} });
    expect(channelIs('wechatpay', ':channel')).toEqual({
      expression: 'attribute_not_exists(#channel) OR #channel = :channel',
      names: { '#channel': 'channel' },
      values: {},
    });
    expect(channelIs('aggregator', ':channel').expression).toBe('#channel = :channel');
    expect(channelIs('aggregator')).toEqual({
      expression: '#channel = :was_channel',
      names: { '#channel': 'channel' },
      values: { ':was_channel': { S: 'aggregator' } },
    });
  });
});
