/**
 * The public library surface the merchant's own functions use: an order store on the payments table,
 * from explicit options or from the same environment the service reads, against DynamoDB Local.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createOrderStore, fenToYuan, yuanToFen } from '../../lib/index';
import { createHarness, orderNo, type Harness } from '../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('createOrderStore', () => {
  it('refuses to guess the table: neither tableName nor PAYMENTS_TABLE is an error naming both', () => {
    vi.stubEnv('PAYMENTS_TABLE', '');
    expect(() => createOrderStore()).toThrow('createOrderStore: tableName or PAYMENTS_TABLE is required');
    expect(() => createOrderStore({ endpoint: h.env.DYNAMODB_ENDPOINT })).toThrow('tableName or PAYMENTS_TABLE');
  });

  it('registers and reads orders on the table and endpoint given', async () => {
    const store = createOrderStore({ tableName: h.tableName, endpoint: h.env.DYNAMODB_ENDPOINT });
    const no = orderNo('IX');
    expect((await store.registerOrder({ outTradeNo: no, amountFen: 1230, merchantId: h.keys.mchid })).kind).toBe(
      'REGISTERED',
    );
    expect(await h.store.getOrder(h.keys.mchid, no)).toMatchObject({ state: 'NOTPAY', amountFen: 1230 });
  });

  it('reads PAYMENTS_TABLE and DYNAMODB_ENDPOINT from the environment when not given', async () => {
    vi.stubEnv('PAYMENTS_TABLE', h.tableName);
    vi.stubEnv('DYNAMODB_ENDPOINT', h.env.DYNAMODB_ENDPOINT as string);
    const no = orderNo('IX');
    await h.store.registerOrder({ outTradeNo: no, amountFen: 5, merchantId: h.keys.mchid });
    expect(await createOrderStore().getOrder(h.keys.mchid, no)).toMatchObject({ outTradeNo: no, amountFen: 5 });
  });

  it('uses the DynamoDB client it is handed', async () => {
    const no = orderNo('IX');
    await h.store.registerOrder({ outTradeNo: no, amountFen: 7, merchantId: h.keys.mchid });
    h.requests.length = 0;
    expect(
      (await createOrderStore({ tableName: h.tableName, client: h.client }).getOrder(h.keys.mchid, no))?.amountFen,
    ).toBe(7);
    expect(h.requests).toEqual(['GetItemCommand']);
  });
});

it('exports the exact money conversions', () => {
  expect(yuanToFen('12.30', 'amount')).toBe(1230);
  expect(fenToYuan(1230)).toBe('12.30');
});
