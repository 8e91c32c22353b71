/**
 * Reconciling a sub-order of a combine order: the order is asked about through the combine-order
 * query (GET /v3/combine-transactions/out-trade-no/{combine_out_trade_no}), its own sub-order is
 * found by out_trade_no and merchant, and read through the single payment's checks, then settled
 * (DynamoDB Local). The checks are driven by a fetch playing WeChat's part (signed with the test
 * platform key and verified by the real client); reconciliation itself runs against the simulator's
 * combine-order query, as does an order made through a further appid over APIv2.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config';
import { createLogger } from '../../../lib/log';
import { reconcileOne, type ReconcileDeps } from '../../../lib/reconcile/reconcile';
import { queryOrder } from '../../../lib/notify/query';
import { settlePayment } from '../../../lib/settle/settle';
import { createWechatPayClient } from '../../../lib/wechatpay/client';
import type { FetchLike } from '../../../lib/wechatpay/http';
import { signV3Message, v3CombineResource, type V3CombineParams } from '../../../scripts/simulator/messages';
import { startSimulator, type Simulator } from '../../../scripts/simulator/server';
import { secondAppid } from '../../../scripts/simulator/shapes';
import { createHarness, orderNo, type Harness } from '../../support/harness';

let h: Harness;
let sim: Simulator;
beforeAll(async () => {
  h = await createHarness();
  // WeChat's side: nothing is notified, so only reconciliation can learn of the payments
  sim = await startSimulator({ keys: h.keys, port: 0 });
  sim.control.suppress(true);
});
afterAll(async () => {
  await sim.close();
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

describe('reconciliation through the simulator', () => {
  function reconcileDeps(): { deps: ReconcileDeps; paths: string[] } {
    const paths: string[] = [];
    const config = loadConfig({ ...h.env, WECHATPAY_APPIDS: secondAppid(h.keys), WECHATPAY_API_BASE_URL: sim.url });
    const client = createWechatPayClient({
      config,
      fetch: (url, init) => {
        paths.push(new URL(url).pathname);
        return fetch(url, init);
      },
    });
    const logger = createLogger({ service: 'test', write: () => undefined });
    return { paths, deps: { config, store: h.store, client, logger, now: Date.now } };
  }

  it('recovers every sub-order of a direct and of a provider combine order through the combine-order query', async () => {
    const combineNo = orderNo('RC');
    const subs = [
      { no: orderNo('RA'), fen: 100, merchantId: h.keys.mchid },
      { no: orderNo('RB'), fen: 200, merchantId: h.keys.mchid },
      { no: orderNo('RS'), fen: 300, merchantId: '1900000201' },
    ];
    for (const s of subs)
      await h.store.registerOrder({
        outTradeNo: s.no,
        amountFen: s.fen,
        merchantId: s.merchantId,
        combineOutTradeNo: combineNo,
      });
    await sim.shapes.payCombine({
      combineOutTradeNo: combineNo,
      subOrders: subs.map((s) => ({
        outTradeNo: s.no,
        amount: s.fen,
        ...(s.merchantId === h.keys.mchid ? {} : { subMchid: s.merchantId }),
      })),
    });
    const { deps, paths } = reconcileDeps();
    for (const s of subs) {
      const { result, after } = await reconcileOne(
        { merchantId: s.merchantId, outTradeNo: s.no },
        { protocol: 'v3' },
        deps,
      );
      expect(result.action).toBe('RECOVERED');
      expect(after).toMatchObject({ state: 'PAID', paidFen: s.fen });
      const paid = sim.state.findOrder(s.merchantId, s.no);
      expect(after?.transactionId).toBe(paid?.transactionId);
    }
    expect(new Set(paths)).toEqual(new Set([`/v3/combine-transactions/out-trade-no/${combineNo}`]));
    // a second run finds them paid: nothing changes
    const again = await reconcileOne(
      { merchantId: h.keys.mchid, outTradeNo: subs[0]?.no ?? '' },
      { protocol: 'v3' },
      deps,
    );
    expect(again.result.action).toBe('ALREADY_PAID');
  });

  it('asks WeChat over APIv2 about an order made through a further appid under that appid', async () => {
    const no = orderNo('R2');
    await h.store.registerOrder({
      outTradeNo: no,
      amountFen: 450,
      merchantId: h.keys.mchid,
      appid: secondAppid(h.keys),
    });
    await sim.control.pay({ outTradeNo: no, amount: 450, appid: secondAppid(h.keys) });
    const { deps, paths } = reconcileDeps();
    const { result, after } = await reconcileOne(
      { merchantId: h.keys.mchid, outTradeNo: no },
      { protocol: 'v2' },
      deps,
    );
    expect(paths).toEqual(['/pay/orderquery']);
    expect(result.action).toBe('RECOVERED');
    expect(after).toMatchObject({ state: 'PAID', paidVia: 'query' });
  });
});
