/** The one reading of a delivery as the Delivery metric's outcome: every label and every error kind. */
import { describe, expect, it } from 'vitest';
import { configError, inconsistent, malformed, PayError, unauthentic, unavailable } from '../../../lib/errors';
import { deliveryOutcome } from '../../../lib/notify/outcome';

describe('deliveryOutcome', () => {
  it('an acknowledged delivery is applied unless an earlier one had recorded it', () => {
    for (const label of [
      'APPLIED',
      'APPLIED_FROM_CLOSED',
      'REFUND_SUCCESS',
      'REFUND_CLOSED',
      'COUPON_SENT_RECORDED',
      'IGNORED',
    ])
      expect([label, deliveryOutcome(label)]).toEqual([label, 'applied']);
    for (const label of ['ALREADY_APPLIED', 'REFUND_ALREADY_APPLIED', 'REFUND_STALE', 'COUPON_USED_ALREADY_RECORDED'])
      expect([label, deliveryOutcome(label)]).toEqual([label, 'duplicate']);
  });

  it('a refused delivery is named after its error kind, whatever the label says', () => {
    expect(deliveryOutcome('pending', unauthentic('bad signature'))).toBe('rejected-forged');
    expect(deliveryOutcome('pending', malformed('not XML'))).toBe('rejected-forged');
    expect(deliveryOutcome('CONFLICT', inconsistent('amount'))).toBe('rejected-inconsistent');
    expect(deliveryOutcome('ALREADY_APPLIED', new PayError('UNKNOWN_ORDER', 'unknown'))).toBe('rejected-inconsistent');
    expect(deliveryOutcome('APPLIED', unavailable('store down'))).toBe('failed-retryable');
    expect(deliveryOutcome('pending', configError('WECHATPAY_MCHID is not set'))).toBe('failed-retryable');
  });

  it('hostile labels are never a duplicate by accident', () => {
    for (const label of ['', 'ALREADY', 'ALREADY_APPLIEDX', 'STALEMATE', 'already_applied', 'X ALREADY_APPLIED'])
      expect([label, deliveryOutcome(label)]).toEqual([label, 'applied']);
  });
});
