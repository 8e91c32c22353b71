/**
 * Reliability: faults at the DynamoDB client (throttling, timeouts, a write whose reply is lost, a
 * Lambda that dies between its write and its reply), then WeChat's retries replayed: again, several
 * times, and concurrently. Every event must end applied exactly once and nothing may be lost: the
 * final items equal the model (state, transactionId, refund counted once), for APIv2 and APIv3
 * payments and refunds, through the real handler against the real DynamoDB Local.
 *
 * DESIGN.md invariants 1 (exactly once) and 2 (durable before success).
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDynamoClient } from '../../lib/orders/client';
import { createDynamoOrderStore } from '../../lib/orders/dynamodb';
import { orderKey, refundKey } from '../../lib/orders/table';
import {
  randomRefundId,
  randomTransactionId,
  v2PaymentNotification,
  v2RefundNotification,
  v3Notification,
  v3RefundResource,
  v3TransactionResource,
  type WireRequest,
} from '../../scripts/simulator/messages';
import { createHarness, orderNo, type Harness } from '../support/harness';
import {
  deliver,
  faultyStore,
  isSuccess,
  isTransientFailure,
  itemText,
  rawItem,
  rng,
  seedFrom,
  type Fault,
  type Protocol,
  type Reply,
} from './support';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

type Kind = 'payment' | 'refund';

/** One event WeChat notifies, with the model of what the table must hold once it is applied. */
interface Event {
  protocol: Protocol;
  kind: Kind;
  wire: WireRequest;
  route: string;
  outTradeNo: string;
  /** The item whose conditional write is the event's transition, and its write stamp. */
  transitionKey: string;
  stamp: 'appliedAt' | 'updatedAt';
  /** The DynamoDB requests of one clean first delivery (payment: 1; successful refund: 2). */
  requests: number;
  /** Asserts the final items against the model. */
  verifyApplied(): Promise<void>;
  /** Asserts that nothing of the event is in the table yet (the state before the first write). */
  verifyUntouched(): Promise<void>;
  /** For a refund: whether the order's tally counts it (after a fault on the second write). */
  tallied(): Promise<boolean>;
}

async function prepare(protocol: Protocol, kind: Kind): Promise<Event> {
  const outTradeNo = orderNo(`F${protocol}`);
  const mchid = h.keys.mchid;
  if (kind === 'payment') {
    const fen = 1 + Math.floor(Math.random() * 99_999);
    const transactionId = randomTransactionId();
    await h.store.registerOrder({ outTradeNo, amountFen: fen, merchantId: mchid });
    const wire =
      protocol === 'v2'
        ? v2PaymentNotification(h.keys, { outTradeNo, totalFee: fen, transactionId })
        : v3Notification(h.keys, {
            eventType: 'TRANSACTION.SUCCESS',
            originalType: 'transaction',
            resource: v3TransactionResource(h.keys, { outTradeNo, total: fen, transactionId }),
          });
    const key = orderKey(mchid, outTradeNo);
    return {
      protocol,
      kind,
      wire,
      route: '/notify/payment',
      outTradeNo,
      transitionKey: key,
      stamp: 'appliedAt',
      requests: 1,
      async verifyApplied() {
        const item = await rawItem(h, key);
        expect(item, `order ${outTradeNo}`).toBeDefined();
        expect({
          state: item?.state?.S,
          transactionId: item?.transactionId?.S,
          paidFen: item?.paidFen?.N,
          amountFen: item?.amountFen?.N,
          previousState: item?.previousState?.S,
          paidVia: item?.paidVia?.S,
          amountUnverified: item?.amountUnverified?.BOOL,
          pending: item?.pending,
        }).toEqual({
          state: 'PAID',
          transactionId,
          paidFen: String(fen),
          amountFen: String(fen),
          previousState: 'NOTPAY',
          paidVia: protocol,
          amountUnverified: false,
          pending: undefined,
        });
      },
      async verifyUntouched() {
        const item = await rawItem(h, key);
        expect(item?.state?.S).toBe('NOTPAY');
        expect(item?.transactionId).toBeUndefined();
      },
      tallied: async () => false,
    };
  }
  // a refund of a paid order: 300 of 1000
  await h.store.registerOrder({ outTradeNo, amountFen: 1000, merchantId: mchid });
  await h.store.applyPayment(
    {
      outTradeNo,
      merchantId: mchid,
      transactionId: randomTransactionId(),
      amountFen: 1000,
      paidAt: new Date().toISOString(),
      channel: 'v2',
    },
    'record',
  );
  const outRefundNo = orderNo('R');
  const refundId = randomRefundId();
  const wire =
    protocol === 'v2'
      ? v2RefundNotification(h.keys, {
          outTradeNo,
          outRefundNo,
          refundId,
          refundStatus: 'SUCCESS',
          refundFee: 300,
          totalFee: 1000,
        })
      : v3Notification(h.keys, {
          eventType: 'REFUND.SUCCESS',
          originalType: 'refund',
          resource: v3RefundResource(h.keys, {
            outTradeNo,
            outRefundNo,
            refundId,
            refundStatus: 'SUCCESS',
            refund: 300,
            total: 1000,
          }),
        });
  const rKey = refundKey(mchid, outRefundNo);
  const oKey = orderKey(mchid, outTradeNo);
  return {
    protocol,
    kind,
    wire,
    route: '/notify/refund',
    outTradeNo,
    transitionKey: rKey,
    stamp: 'updatedAt',
    requests: 2,
    async verifyApplied() {
      const refund = await rawItem(h, rKey);
      expect({
        state: refund?.state?.S,
        refundId: refund?.refundId?.S,
        refundFen: refund?.refundFen?.N,
        totalFen: refund?.totalFen?.N,
        previousState: refund?.previousState?.S,
        lastVia: refund?.lastVia?.S,
      }).toEqual({
        state: 'SUCCESS',
        refundId,
        refundFen: '300',
        totalFen: '1000',
        previousState: 'PROCESSING',
        lastVia: protocol,
      });
      const order = await rawItem(h, oKey);
      // counted exactly once: the tally and its guard
      expect({ state: order?.state?.S, refundedFen: order?.refundedFen?.N, refundNos: order?.refundNos?.SS }).toEqual({
        state: 'PAID',
        refundedFen: '300',
        refundNos: [outRefundNo],
      });
    },
    async verifyUntouched() {
      expect(await rawItem(h, rKey)).toBeUndefined();
      expect((await rawItem(h, oKey))?.refundedFen).toBeUndefined();
    },
    async tallied() {
      const order = await rawItem(h, oKey);
      return order?.refundNos?.SS?.includes(outRefundNo) === true && order.refundedFen?.N === '300';
    },
  };
}

/** The outcomes logged for this event's deliveries that claim to have made its transition. */
function appliedOutcomes(e: Event): number {
  const applied = e.kind === 'payment' ? 'APPLIED' : 'REFUND_SUCCESS';
  return h.logs.filter((l) => l.message === 'delivery' && l.outTradeNo === e.outTradeNo && l.outcome === applied)
    .length;
}

const CASES = [
  ['v2', 'payment'],
  ['v3', 'payment'],
  ['v2', 'refund'],
  ['v3', 'refund'],
] as const;
const FAULTS: Fault[] = ['throttle', 'timeout', 'lostReply', 'die'];
const MATRIX = CASES.flatMap(([protocol, kind]) =>
  FAULTS.flatMap((fault) =>
    Array.from({ length: kind === 'payment' ? 1 : 2 }, (_, at) => ({ protocol, kind, fault, at })),
  ),
);
const seed = seedFrom('FAULTS_SEED', 'faults.test.ts flaky retries');

describe('a fault on one DynamoDB request of the first delivery, then WeChat retries', () => {
  it.concurrent.each(MATRIX)('$protocol $kind: $fault on request #$at', async ({ protocol, kind, fault, at }) => {
    const e = await prepare(protocol, kind);
    const faulty = faultyStore(h, (attempt) => (attempt === at ? fault : undefined));
    const deps = h.deps({ store: faulty.store });

    // the first delivery meets the fault
    if (fault === 'die') {
      let replied = false;
      void deliver(deps, e.wire, e.route).then(() => (replied = true));
      await faulty.died; // its write reached DynamoDB; the Lambda is gone and never answers
      await new Promise((r) => setTimeout(r, 20));
      expect(replied, 'a delivery that died must not reply').toBe(false);
    } else {
      const first = await deliver(deps, e.wire, e.route);
      // durable before success: a delivery whose write may not have landed never says "received"
      expect(isTransientFailure(protocol, first), first.body).toBe(true);
    }
    expect(faulty.attempts.length).toBe(at + 1); // the fault hit the request it was aimed at
    expect(at).toBeLessThan(e.requests);

    // what the fault left behind: nothing before the write, the write itself after it
    const wrote = fault === 'lostReply' || fault === 'die';
    if (at === 0 && !wrote) await e.verifyUntouched();
    else expect(await rawItem(h, e.transitionKey), 'the write reached DynamoDB').toBeDefined();
    if (e.kind === 'refund' && at === 1) expect(await e.tallied()).toBe(wrote);

    // WeChat retries: one first, whose success must already be durable
    const clean = h.deps();
    const retry = await deliver(clean, e.wire, e.route);
    expect(isSuccess(retry), retry.body).toBe(true);
    await e.verifyApplied();
    const stamp = (await rawItem(h, e.transitionKey))?.[e.stamp]?.S;
    expect(stamp).toBeDefined();

    // then a concurrent burst on flaky instances (random faults on any request), then a clean burst
    const r = rng(
      seed ^ MATRIX.findIndex((m) => m.protocol === protocol && m.kind === kind && m.fault === fault && m.at === at),
    );
    const flaky = faultyStore(h, () =>
      r.chance(0.3) ? r.pick(['throttle', 'timeout', 'lostReply'] as const) : undefined,
    );
    const flakyReplies = await Promise.all(
      Array.from({ length: 3 }, () => deliver(h.deps({ store: flaky.store }), e.wire, e.route)),
    );
    for (const reply of flakyReplies)
      expect(isSuccess(reply) || isTransientFailure(protocol, reply), reply.body).toBe(true);
    const cleanReplies = await Promise.all(Array.from({ length: 3 }, () => deliver(clean, e.wire, e.route)));
    expect(cleanReplies.filter((x) => !isSuccess(x))).toEqual([]);

    // exactly once: the model holds, the transition was written once and never again
    await e.verifyApplied();
    expect((await rawItem(h, e.transitionKey))?.[e.stamp]?.S).toBe(stamp);
    expect(appliedOutcomes(e)).toBe(at === 0 && !wrote ? 1 : 0);
  });
});

describe("with the service's own client (3 attempts): the SDK's retry meets the write it lost", () => {
  it.each(CASES)(
    '%s %s: one throttle, timeout or lost reply is absorbed; the delivery succeeds; applied once',
    async (protocol, kind) => {
      await Promise.all(
        (['throttle', 'timeout', 'lostReply'] as const).map(async (fault) => {
          const e = await prepare(protocol, kind);
          const faulty = faultyStore(h, (attempt) => (attempt === 0 ? fault : undefined), { sdk: 'production' });
          const r = await deliver(h.deps({ store: faulty.store }), e.wire, e.route);
          expect(isSuccess(r), `${fault}: ${r.body}`).toBe(true);
          expect(faulty.attempts[0]).toBe(faulty.attempts[1]); // the same request, retried by the SDK
          await e.verifyApplied();
          const stamp = itemText(await rawItem(h, e.transitionKey));
          for (const reply of await Promise.all(Array.from({ length: 3 }, () => deliver(h.deps(), e.wire, e.route))))
            expect(isSuccess(reply)).toBe(true);
          await e.verifyApplied();
          expect(itemText(await rawItem(h, e.transitionKey))).toBe(stamp);
          expect(appliedOutcomes(e)).toBe(fault === 'lostReply' ? 0 : 1);
        }),
      );
    },
  );

  it.each(CASES)(
    '%s %s: every attempt lost after the write: a retryable failure, and the retry finds it applied',
    async (protocol, kind) => {
      const e = await prepare(protocol, kind);
      const faulty = faultyStore(h, (attempt) => (attempt < 3 ? 'lostReply' : undefined), { sdk: 'production' });
      const first = await deliver(h.deps({ store: faulty.store }), e.wire, e.route);
      expect(isTransientFailure(protocol, first), first.body).toBe(true);
      expect(faulty.attempts).toHaveLength(3);
      expect(await rawItem(h, e.transitionKey)).toBeDefined();
      const replies = await Promise.all(Array.from({ length: 3 }, () => deliver(h.deps(), e.wire, e.route)));
      expect(replies.filter((x) => !isSuccess(x))).toEqual([]);
      await e.verifyApplied();
      expect(appliedOutcomes(e)).toBe(0);
    },
  );
});

/**
 * A real network timeout: a proxy in front of DynamoDB Local forwards the request (the write
 * lands), then withholds the reply until the SDK's socket timeout fires.
 */
describe('a real socket timeout after the write reached DynamoDB', () => {
  let proxy: Server;
  let proxyUrl = '';
  let withhold = 0;
  const forward = (req: IncomingMessage, body: Buffer, target: URL) =>
    new Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }>((resolve, reject) => {
      const up = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 500, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      up.on('error', reject);
      up.end(body);
    });

  beforeAll(async () => {
    const target = new URL(inject('dynamoEndpoint'));
    proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const hold = withhold > 0;
        if (hold) withhold--;
        forward(req, Buffer.concat(chunks), target).then(
          (up) => {
            if (hold) return; // applied by DynamoDB; the reply never comes back
            res.writeHead(up.status, up.headers);
            res.end(up.body);
          },
          () => res.destroy(),
        );
      });
      res.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
  });

  /** A client whose request timeout really fires (the SDK only warns unless asked to throw). */
  const storeViaProxy = () =>
    createDynamoOrderStore({
      client: new DynamoDBClient({
        endpoint: proxyUrl,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        maxAttempts: 3,
        requestHandler: { connectionTimeout: 1000, requestTimeout: 300, throwOnRequestTimeout: true },
      }),
      tableName: h.tableName,
    });

  it.each(CASES)(
    '%s %s: the SDK retries after the timeout, finds the write applied, and the delivery succeeds once',
    async (protocol, kind) => {
      const e = await prepare(protocol, kind);
      withhold = 1;
      const r: Reply = await deliver(h.deps({ store: storeViaProxy() }), e.wire, e.route);
      expect(withhold).toBe(0);
      expect(isSuccess(r), r.body).toBe(true);
      await e.verifyApplied();
      for (const reply of await Promise.all(Array.from({ length: 3 }, () => deliver(h.deps(), e.wire, e.route))))
        expect(isSuccess(reply)).toBe(true);
      await e.verifyApplied();
      // the write that timed out was the transition; nobody logs it as applied, nobody applies it twice
      expect(appliedOutcomes(e)).toBe(0);
    },
  );

  /**
   * Regression (lib/orders/client.ts): the SDK's NodeHttpHandler only logs a warning on
   * `requestTimeout` unless `throwOnRequestTimeout` is set, and a DynamoDB request that stalls after
   * connecting was then never abandoned: the delivery got no reply at all. Now the stalled attempt is
   * abandoned and retried, and the delivery is answered. The stalled request never ends on its own,
   * so "a reply arrives" is the whole assertion; the generous bound only keeps a regression from
   * hanging the suite (it is not a latency check).
   */
  it("with the service's own client, a stalled DynamoDB request is abandoned and the delivery is answered", async () => {
    const e = await prepare('v2', 'payment');
    withhold = 1;
    const store = createDynamoOrderStore({
      client: createDynamoClient({ endpoint: proxyUrl, timeouts: { connectMs: 1000, requestMs: 300 } }),
      tableName: h.tableName,
    });
    const BOUND_MS = 20_000; // a hang detector, not a latency check
    const reply = await Promise.race([
      deliver(h.deps({ store }), e.wire, e.route),
      new Promise<'no reply'>((r) => setTimeout(() => r('no reply'), BOUND_MS)),
    ]);
    withhold = 0;
    expect(reply).not.toBe('no reply');
  });
});
