/**
 * Orders checked where they enter: registerOrder against DynamoDB Local with generated bad inputs.
 * Every one is refused with a MALFORMED error that says what is wrong, and the table holds exactly
 * what it held before (read back with a scan of this file's own table).
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../../lib/errors';
import type { OrderRegistration } from '../../../lib/orders/model';
import { checkRegistration, utcInstant } from '../../../lib/orders/registration';
import { createHarness, orderNo, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

async function itemCount(): Promise<number> {
  const res = await h.client.send(new ScanCommand({ TableName: h.tableName, Select: 'COUNT', ConsistentRead: true }));
  return res.Count ?? 0;
}

const good = (): OrderRegistration => ({ outTradeNo: orderNo('RG'), amountFen: 980, merchantId: h.keys.mchid });

// one field made bad at a time, every other field good: the refusal must come from that field
const badAmount = fc.oneof(
  fc.double({ noNaN: false }).filter((n) => !Number.isSafeInteger(n) || n <= 0),
  fc.integer({ max: 0 }),
  fc.constantFrom(9.8 * 100, 0.1, -1, 2 ** 53, Number.MAX_VALUE, Number.POSITIVE_INFINITY, Number.NaN, -0),
  fc.constantFrom<unknown>('980', null, undefined, true, [980], { fen: 980 }, 980n),
);
const badOutTradeNo = fc.oneof(
  fc.constantFrom<unknown>('', 'a'.repeat(33), 'has space', 'semi;colon', '订单1', 'a/b', 'x\n', 42, null, undefined),
  fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/^[0-9A-Za-z_\-|*@]{1,32}$/.test(s)),
);
const badMerchantId = fc.oneof(
  fc.constantFrom<unknown>('', '12a', ' 1900000109', '1'.repeat(33), 1900000109, null, undefined, '-1'),
  fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/^[0-9]{1,32}$/.test(s)),
);
const badCreatedAt = fc.oneof(
  fc.constantFrom<unknown>(
    '',
    '2026-11-23',
    '2026-11-23T10:00:00',
    '2026/11/23 10:00:00+08:00',
    '2026-02-30T10:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-11-23T24:00:00Z',
    '2026-11-23T10:60:00Z',
    '2026-11-23T10:00:00+25:00',
    'Mon, 23 Nov 2026 10:00:00 GMT',
    '1795428000000',
    1795428000000,
    new Date(0),
    null,
  ),
  fc.string({ maxLength: 30 }),
);
const badExpiresAt = fc.constantFrom<unknown>(0, -5, 1.5, Number.NaN, '1795428000', 2 ** 60, null);

type Bad = { field: keyof OrderRegistration; value: unknown };
const badInput: fc.Arbitrary<Bad> = fc.oneof(
  badAmount.map((value) => ({ field: 'amountFen' as const, value })),
  badOutTradeNo.map((value) => ({ field: 'outTradeNo' as const, value })),
  badMerchantId.map((value) => ({ field: 'merchantId' as const, value })),
  badCreatedAt.map((value) => ({ field: 'createdAt' as const, value })),
  badExpiresAt.map((value) => ({ field: 'expiresAt' as const, value })),
);

describe('registerOrder refuses bad input and writes nothing', () => {
  it('for every generated bad field: a MALFORMED error naming it, and the table unchanged', async () => {
    await h.store.registerOrder(good()); // a table with something in it
    const before = await itemCount();
    await fc.assert(
      fc.asyncProperty(badInput, async ({ field, value }) => {
        // a string fast-check happens to generate as a valid time is not a bad input
        if (field === 'createdAt' && typeof value === 'string') {
          try {
            utcInstant(value);
            return;
          } catch {}
        }
        const input = { ...good(), [field]: value } as OrderRegistration;
        const err = await h.store.registerOrder(input).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(PayError);
        expect(err).toMatchObject({ kind: 'MALFORMED', detail: { field } });
        expect((err as PayError).reason).toMatch(new RegExp(`^${field} must`));
      }),
      { numRuns: 300 },
    );
    expect(await itemCount()).toBe(before);
  });

  it('refuses 9.8 * 100 fen, the float that made authentic payments mismatch forever', async () => {
    await expect(h.store.registerOrder({ ...good(), amountFen: 9.8 * 100 })).rejects.toMatchObject({
      kind: 'MALFORMED',
      reason: 'amountFen must be a whole, positive number of fen (a safe integer)',
    });
  });

  it('refuses something that is not a registration at all', () => {
    for (const input of [null, undefined, 'order', 42]) {
      expect(() => checkRegistration(input as unknown as OrderRegistration, () => 'now')).toThrow(
        'the registration must be an object',
      );
    }
  });
});

describe('registerOrder stores createdAt as a UTC instant', () => {
  it.each([
    ['2026-11-23T10:00:00+08:00', '2026-11-23T02:00:00.000Z'],
    ['2026-11-23T10:00:00.5+0800', '2026-11-23T02:00:00.500Z'],
    ['2026-11-23 02:00:00Z', '2026-11-23T02:00:00.000Z'],
    ['2026-11-22t20:30:00-05:30', '2026-11-23T02:00:00.000Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
  ])('%s is stored and listed as %s', async (given, stored) => {
    const input = { ...good(), createdAt: given };
    expect((await h.store.registerOrder(input)).order.createdAt).toBe(stored);
    const listed = await h.store.listPending({ createdAfter: stored, createdBefore: stored, limit: 100 });
    expect(listed.orders.map((o) => o.outTradeNo)).toContain(input.outTradeNo);
  });

  it('uses the injected clock when no time is given', () => {
    expect(checkRegistration({ ...good() }, () => '2026-11-23T00:00:00.000Z').createdAt).toBe(
      '2026-11-23T00:00:00.000Z',
    );
  });

  it('passes fields it does not check through unchanged (so a new one slots in)', () => {
    const input = { ...good(), expiresAt: 2_000_000_000, note: 'kept' } as OrderRegistration;
    expect(checkRegistration(input, () => 'now')).toMatchObject({ expiresAt: 2_000_000_000, note: 'kept' });
  });
});
