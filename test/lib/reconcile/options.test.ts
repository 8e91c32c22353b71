/** The RECONCILE_* variables: defaults, ranges, and errors that name the variable. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PayError } from '../../../lib/errors';
import { DEFAULT_RECONCILE_OPTIONS, readReconcileOptions, reconcileOptions } from '../../../lib/reconcile/options';

const configErrorOf = (f: () => unknown): PayError => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(PayError);
    expect((err as PayError).kind).toBe('CONFIG');
    return err as PayError;
  }
  throw new Error('no error');
};

describe('readReconcileOptions', () => {
  it('defaults: 5 minutes of grace, 48 hours of horizon, pages of 50, 500 queries, 4 at once, no auto-close', () => {
    expect(readReconcileOptions({})).toEqual(DEFAULT_RECONCILE_OPTIONS);
    expect(DEFAULT_RECONCILE_OPTIONS).toMatchObject({
      graceSeconds: 300,
      horizonHours: 48,
      pageSize: 50,
      budget: 500,
      concurrency: 4,
      closeAfterMinutes: undefined,
      dryRun: false,
    });
  });

  it('reads every variable; empty means default', () => {
    const env = {
      RECONCILE_GRACE_SECONDS: '120',
      RECONCILE_HORIZON_HOURS: '24',
      RECONCILE_PAGE_SIZE: '25',
      RECONCILE_BUDGET: '1000',
      RECONCILE_CONCURRENCY: '2',
      RECONCILE_CLOSE_AFTER_MINUTES: ' 30 ',
    };
    expect(readReconcileOptions(env)).toMatchObject({
      graceSeconds: 120,
      horizonHours: 24,
      pageSize: 25,
      budget: 1000,
      concurrency: 2,
      closeAfterMinutes: 30,
    });
    expect(readReconcileOptions({ RECONCILE_CLOSE_AFTER_MINUTES: '', RECONCILE_BUDGET: '  ' })).toEqual(
      DEFAULT_RECONCILE_OPTIONS,
    );
  });

  it.each([
    ['RECONCILE_PAGE_SIZE', '0'],
    ['RECONCILE_PAGE_SIZE', '1001'],
    ['RECONCILE_BUDGET', '-1'],
    ['RECONCILE_BUDGET', '1e3'],
    ['RECONCILE_CONCURRENCY', '33'],
    ['RECONCILE_CONCURRENCY', 'four'],
    ['RECONCILE_HORIZON_HOURS', '0'],
    ['RECONCILE_GRACE_SECONDS', '2.5'],
    ['RECONCILE_CLOSE_AFTER_MINUTES', '4'],
  ])('%s=%s is refused, naming the variable', (name, value) => {
    expect(configErrorOf(() => readReconcileOptions({ [name]: value })).reason).toContain(name);
  });

  it('refuses a grace period or a payment timeout that the horizon would never reach', () => {
    expect(
      configErrorOf(() => readReconcileOptions({ RECONCILE_GRACE_SECONDS: '7200', RECONCILE_HORIZON_HOURS: '2' }))
        .reason,
    ).toContain('RECONCILE_GRACE_SECONDS');
    expect(
      configErrorOf(() => readReconcileOptions({ RECONCILE_CLOSE_AFTER_MINUTES: '120', RECONCILE_HORIZON_HOURS: '2' }))
        .reason,
    ).toContain('RECONCILE_CLOSE_AFTER_MINUTES');
  });

  it('any text either reads as options in range or is a CONFIG error; it never throws anything else', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (budget, pageSize) => {
        try {
          const o = readReconcileOptions({ RECONCILE_BUDGET: budget, RECONCILE_PAGE_SIZE: pageSize });
          expect(o.budget).toBeGreaterThanOrEqual(1);
          expect(o.pageSize).toBeLessThanOrEqual(1000);
        } catch (err) {
          expect((err as PayError).kind).toBe('CONFIG');
        }
      }),
    );
  });
});

describe('reconcileOptions (options built in code)', () => {
  it('fills defaults and ignores undefined values', () => {
    expect(reconcileOptions({ budget: 7, concurrency: undefined })).toEqual({
      ...DEFAULT_RECONCILE_OPTIONS,
      budget: 7,
    });
  });

  it('validates like the environment', () => {
    expect(configErrorOf(() => reconcileOptions({ concurrency: 0 })).reason).toContain('concurrency');
    expect(configErrorOf(() => reconcileOptions({ protocol: 'v4' as 'v3' })).reason).toContain('protocol');
  });
});
