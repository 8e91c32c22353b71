/**
 * closeOrder end to end, called exactly as a merchant's function calls it: the AWS SDK's
 * InvokeCommand (RequestResponse) against serverless-offline's Lambda endpoint, the esbuild bundle
 * running in a worker, DynamoDB Local behind it and the WeChat Pay simulator (five-minute rule on)
 * as its API base URL.
 */
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CALLER_ACTIONS,
  type CloseOrderEvent,
  type CloseOrderOutcome,
  InvokeError,
  invokeCloseOrder,
} from '../../lib/client';
import type { OrderStore } from '../../lib/orders/store';
import type { TestKeys } from '../../scripts/simulator/keys';
import type { Simulator } from '../../scripts/simulator/server';
import { startE2eStack, type E2eStack } from '../support/e2e';
import { orderNo } from '../support/harness';

const FUNCTION = 'wechatpay-lambda-local-closeOrder';
const SUB = '1230000109';

let stack: E2eStack;
let keys: TestKeys;
let store: OrderStore;
let sim: Simulator;
let lambda: LambdaClient;

beforeAll(async () => {
  stack = await startE2eStack({ simulator: { timeScale: 0.001, closeMinAgeSeconds: 300 } });
  ({ keys, store, sim, lambda } = stack);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

/** What a merchant's function does: invoke closeOrder through the typed client (lib/client.ts). */
async function closeOrder(event: Record<string, unknown>): Promise<CloseOrderOutcome> {
  try {
    return await invokeCloseOrder(event as unknown as CloseOrderEvent, { client: lambda, functionName: FUNCTION });
  } catch (err) {
    throw new Error(`${String(err)}\n${stack.output}`);
  }
}

/** An order registered here (`localAge` seconds ago) and created at WeChat (`simAge` seconds ago). */
async function order(o: { localAge?: number; simAge?: number; sub?: string; amount?: number } = {}) {
  const no = orderNo('E');
  const merchantId = o.sub ?? keys.mchid;
  const amount = o.amount ?? 1999;
  await store.registerOrder({
    outTradeNo: no,
    amountFen: amount,
    merchantId,
    createdAt: new Date(Date.now() - (o.localAge ?? 600) * 1000).toISOString(),
  });
  sim.control.createOrder({
    outTradeNo: no,
    amount,
    ageSeconds: o.simAge ?? 600,
    ...(o.sub ? { subMchid: o.sub } : {}),
  });
  return { no, merchantId, amount };
}

describe('closeOrder through InvokeCommand', () => {
  it('CLOSED (APIv3, the default with merchant keys), then ALREADY_CLOSED', async () => {
    const { no } = await order();
    expect(await closeOrder({ outTradeNo: no })).toEqual({ status: 'CLOSED', outTradeNo: no, merchantId: keys.mchid });
    expect((await store.getOrder(keys.mchid, no))?.state).toBe('CLOSED');
    expect(sim.state.findOrder(keys.mchid, no)?.state).toBe('CLOSED');
    expect(await closeOrder({ outTradeNo: no })).toEqual({
      status: 'ALREADY_CLOSED',
      outTradeNo: no,
      merchantId: keys.mchid,
    });
  });

  it('the cloud-function shape, service provider, APIv2: CLOSED; ORDERCLOSED at WeChat: ALREADY_CLOSED', async () => {
    const { no } = await order({ sub: SUB });
    expect(await closeOrder({ out_trade_no: no, sub_mch_id: SUB, nonce_str: 'Ab12Cd34', protocol: 'v2' })).toEqual({
      status: 'CLOSED',
      outTradeNo: no,
      merchantId: SUB,
    });
    expect((await store.getOrder(SUB, no))?.state).toBe('CLOSED');

    const other = await order();
    sim.state.close(keys.mchid, other.no, 0); // closed at WeChat by someone else
    expect(await closeOrder({ out_trade_no: other.no, nonce_str: 'x1' })).toMatchObject({ status: 'ALREADY_CLOSED' });
    expect((await store.getOrder(keys.mchid, other.no))?.state).toBe('CLOSED');
  });

  it("TOO_EARLY: within five minutes of registration (no WeChat call), and by WeChat's own rule", async () => {
    const young = await order({ localAge: 30, simAge: 30 });
    const a = await closeOrder({ outTradeNo: young.no });
    expect(a).toMatchObject({ status: 'TOO_EARLY', outTradeNo: young.no });
    expect((a as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThan(260);
    expect((a as { retryAfterSeconds: number }).retryAfterSeconds).toBeLessThanOrEqual(270);

    const youngAtWechat = await order({ localAge: 600, simAge: 30 });
    expect(await closeOrder({ outTradeNo: youngAtWechat.no, protocol: 'v2' })).toMatchObject({
      status: 'TOO_EARLY',
      retryAfterSeconds: 300,
    });
    for (const o of [young, youngAtWechat]) {
      expect((await store.getOrder(keys.mchid, o.no))?.state).toBe('NOTPAY');
      expect(sim.state.findOrder(keys.mchid, o.no)?.state).toBe('NOTPAY');
    }
  });

  it('PAID: the notification came first, then the close answers from the table', async () => {
    const { no, amount } = await order({ amount: 880 });
    const paid = await sim.control.pay({ outTradeNo: no, protocol: 'v3', wait: 'first' });
    expect(paid.delivery.accepted, stack.output).toBe(true);
    expect(await closeOrder({ outTradeNo: no })).toMatchObject({
      status: 'PAID',
      transaction: { transactionId: paid.order.transactionId, amountFen: amount },
    });
    expect(await store.getOrder(keys.mchid, no)).toMatchObject({ state: 'PAID', paidVia: 'v3' });
  });

  it.each(['v2', 'v3'] as const)(
    'PAID (%s): paid at WeChat, notification not yet arrived: ORDERPAID, the query, and the table shows PAID',
    async (protocol) => {
      const { no, amount } = await order({ amount: 4321 });
      sim.control.suppress(true); // the payment's notification is held back
      try {
        const paid = await sim.control.pay({ outTradeNo: no, protocol, wait: 'first' });
        const outcome = await closeOrder({ outTradeNo: no, protocol });
        expect(outcome).toMatchObject({
          status: 'PAID',
          outTradeNo: no,
          transaction: { transactionId: paid.order.transactionId, amountFen: amount },
        });
        expect(await store.getOrder(keys.mchid, no)).toMatchObject({
          state: 'PAID',
          transactionId: paid.order.transactionId,
          paidFen: amount,
          paidVia: 'query',
        });
        expect(sim.state.findOrder(keys.mchid, no)?.state).toBe('SUCCESS');
      } finally {
        sim.control.suppress(false);
      }
      // the notification arrives late: a duplicate, acknowledged, nothing changes
      const [late] = await sim.control.replay({ times: 1 });
      expect(late?.accepted, stack.output).toBe(true);
      expect((await store.getOrder(keys.mchid, no))?.paidVia).toBe('query');
    },
  );

  it('UNKNOWN_ORDER and PARAM_ERROR are outcomes, never Lambda errors', async () => {
    const no = orderNo('U');
    expect(await closeOrder({ outTradeNo: no })).toEqual({
      status: 'UNKNOWN_ORDER',
      outTradeNo: no,
      merchantId: keys.mchid,
    });
    expect(await closeOrder({ out_trade_no: 'not/valid' })).toMatchObject({
      status: 'FAILED',
      code: 'PARAM_ERROR',
      retryable: false,
    });
    expect(await closeOrder({})).toMatchObject({ status: 'FAILED', code: 'PARAM_ERROR' });
  });
});

describe('the typed client against the local Lambda endpoint', () => {
  it('sends only the action the caller policy allows, and names a missing function as a CONFIG InvokeError', async () => {
    const sent: string[] = [];
    lambda.middlewareStack.add(
      (next, context) => async (args) => {
        // IAM names the Invoke operation's action lambda:InvokeFunction
        const operation = String(context.commandName).replace(/Command$/, '');
        sent.push(`lambda:${operation === 'Invoke' ? 'InvokeFunction' : operation}`);
        return next(args);
      },
      { step: 'initialize', name: 'recordActions' },
    );
    try {
      const no = orderNo('U');
      expect(await closeOrder({ outTradeNo: no })).toMatchObject({ status: 'UNKNOWN_ORDER' });
      const err = await invokeCloseOrder(
        { outTradeNo: no },
        { client: lambda, functionName: 'no-such-function' },
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvokeError);
      expect(err).toMatchObject({ functionName: 'no-such-function' });
      expect((err as InvokeError).kind, String(err)).toBe('CONFIG');
      expect([...new Set(sent)]).toEqual([...CALLER_ACTIONS.invokeCloseOrder]);
    } finally {
      lambda.middlewareStack.remove('recordActions');
    }
  });
});
