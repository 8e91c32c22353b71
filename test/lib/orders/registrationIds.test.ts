/**
 * The two optional ids a registration may carry: the appid the order was created with (the v2 client
 * then sends it) and the combine order it is a sub-order of. Stored on the order and listed by the
 * pending index (DynamoDB Local); malformed ones refused with nothing written.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../../lib/errors';
import { loadConfig } from '../../../lib/config';
import { createWechatPayClient } from '../../../lib/wechatpay/client';
import { createHarness, orderNo, type Harness } from '../../support/harness';
import { rawItem } from '../../reliability/support';
import { orderKey } from '../../../lib/orders/table';

const SECOND = 'wx00000000000000a2';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ env: { WECHATPAY_APPIDS: SECOND } });
});

describe('registration: appid and combineOutTradeNo', () => {
  it('are stored on the order and listed by the pending index', async () => {
    const no = orderNo('R');
    const createdAt = new Date(Date.UTC(2031, 0, 1, 0, 0, 0)).toISOString();
    const out = await h.store.registerOrder({
      outTradeNo: no,
      amountFen: 100,
      merchantId: h.keys.mchid,
      createdAt,
      appid: SECOND,
      combineOutTradeNo: 'COMBINE_1',
    });
    expect(out.order).toMatchObject({ appid: SECOND, combineOutTradeNo: 'COMBINE_1' });
    const page = await h.store.listPending({ createdAfter: createdAt, createdBefore: createdAt, limit: 10 });
    expect(page.orders.find((o) => o.outTradeNo === no)).toEqual({
      merchantId: h.keys.mchid,
      outTradeNo: no,
      createdAt,
      appid: SECOND,
      combineOutTradeNo: 'COMBINE_1',
    });
  });

  it.each([
    ['an appid with a slash', { appid: 'wx/1' }],
    ['an empty appid', { appid: '' }],
    ['a combineOutTradeNo with a space', { combineOutTradeNo: 'A B' }],
    ['a combineOutTradeNo over 32 characters', { combineOutTradeNo: 'C'.repeat(33) }],
  ])('refuses %s, writing nothing', async (_name, over) => {
    const no = orderNo('R');
    const err = await h.store
      .registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid, ...over })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayError);
    expect((err as PayError).kind).toBe('MALFORMED');
    expect(await rawItem(h, orderKey(h.keys.mchid, no))).toBeUndefined();
  });
});

describe('the v2 client sends an order its own appid', () => {
  const sent: string[] = [];
  const client = () =>
    createWechatPayClient({
      config: loadConfig({ ...h.env, WECHATPAY_API_BASE_URL: 'http://127.0.0.1:9' }),
      fetch: async (_url, init) => {
        sent.push(String(init.body));
        return new Response('<xml><return_code>FAIL</return_code><return_msg>stop</return_msg></xml>', { status: 200 });
      },
    }).v2;

  it('sends the given configured appid, and the default one otherwise', async () => {
    sent.length = 0;
    await expect(client().queryOrderV2({ outTradeNo: 'A1', appId: SECOND })).rejects.toThrow('stop');
    await expect(client().closeOrderV2({ outTradeNo: 'A1' })).rejects.toThrow('stop');
    expect(sent[0]).toContain(`<appid><![CDATA[${SECOND}]]></appid>`);
    expect(sent[1]).toContain(`<appid><![CDATA[${h.keys.appid}]]></appid>`);
  });

  it('refuses an appid that is not configured before sending anything', async () => {
    sent.length = 0;
    await expect(client().queryOrderV2({ outTradeNo: 'A1', appId: 'wx00000000000000ff' })).rejects.toThrow(
      'appId is not one of the configured appids',
    );
    expect(sent).toEqual([]);
  });
});
