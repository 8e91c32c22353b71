/**
 * Reconciling a sub-order of a combine order: the order is asked about through the combine-order
 * query (GET /v3/combine-transactions/out-trade-no/{combine_out_trade_no}), its own sub-order is
 * found by out_trade_no and merchant, and read through the single payment's checks, then settled
 * (DynamoDB Local). The answer is served by a fetch playing WeChat's part, signed with the test
 * platform key and verified by the real client (the simulator has no combine-order endpoint yet).
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config';
import { queryOrder } from '../../../lib/notify/query';
import { settlePayment } from '../../../lib/settle/settle';
import { createWechatPayClient } from '../../../lib/wechatpay/client';
import type { FetchLike } from '../../../lib/wechatpay/http';
import { signV3Message, v3CombineResource, type V3CombineParams } from '../../../scripts/simulator/messages';
import { createHarness, orderNo, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

/** A WeChat answering every request with `resource`, signed; the paths asked are kept. */
function wechat(resource: Record<string, unknown>): { fetch: FetchLike; paths: string[] } {
  const paths: string[] = [];
  return {
    paths,
    fetch: async (url) => {
      paths.push(new URL(url).pathname);
      const body = JSON.stringify(resource);
      const timestamp = String(Math.floor(Date.now() / 1000));
      const nonce = randomUUID().replace(/-/g, '');
      return new Response(body, {
        status: 200,
        headers: {
          'Content-Type': 'application/json',
          'Request-ID': randomUUID(),
          'Wechatpay-Serial': h.keys.platform.serial,
          'Wechatpay-Signature': signV3Message(h.keys.platform.privateKey, timestamp, nonce, body),
          'Wechatpay-Timestamp': timestamp,
          'Wechatpay-Nonce': nonce,
        },
      });
    },
  };
}

function deps(p: V3CombineParams) {
  const config = loadConfig({ ...h.env, WECHATPAY_API_BASE_URL: 'http://wechat.invalid' });
  const w = wechat(v3CombineResource(h.keys, p));
  return { config, paths: w.paths, client: createWechatPayClient({ config, fetch: w.fetch }) };
}

describe('the combine-order query for a sub-order', () => {
  it('finds the sub-order, reads it as a payment and settles it', async () => {
    const no = orderNo('Q');
    const combineNo = orderNo('QC');
    await h.store.registerOrder({
      outTradeNo: no,
      amountFen: 300,
      merchantId: h.keys.mchid,
      combineOutTradeNo: combineNo,
    });
    const d = deps({
      combineOutTradeNo: combineNo,
      subOrders: [
        { outTradeNo: orderNo('O'), total: 100 },
        { outTradeNo: no, total: 300 },
      ],
    });
    const answer = await queryOrder(
      { merchantId: h.keys.mchid, outTradeNo: no, combineOutTradeNo: combineNo },
      'v3',
      d,
    );
    expect(d.paths).toEqual([`/v3/combine-transactions/out-trade-no/${combineNo}`]);
    expect(answer).toMatchObject({ tradeState: 'SUCCESS', report: { outTradeNo: no, amountFen: 300 } });
    const settled = await settlePayment(answer.report!, 'reconcile', { ...h.deps(), config: d.config });
    expect(settled).toMatchObject({ status: 'PAID', recorded: true });
  });

  it.each([
    [
      'the order is not among the sub-orders',
      { subOrders: [{ outTradeNo: 'OTHER1', total: 100 }] },
      'combine order does not hold the order queried',
    ],
    ['another initiator', { combineMchid: '1900000999' }, 'combine_mchid does not match'],
    [
      'the sub-order under another merchant',
      { subOrders: [{ outTradeNo: 'SUB1', total: 100, mchid: '1900000999' }] },
      'combine order does not hold the order queried',
    ],
  ])('%s: INCONSISTENT', async (_name, over, reason) => {
    const d = deps({ combineOutTradeNo: 'COMB1', subOrders: [{ outTradeNo: 'SUB1', total: 100 }], ...over });
    await expect(
      queryOrder({ merchantId: h.keys.mchid, outTradeNo: 'SUB1', combineOutTradeNo: 'COMB1' }, 'v3', d),
    ).rejects.toThrow(reason);
  });
});
