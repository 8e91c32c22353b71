/**
 * The merchant's typed client (lib/client.ts): the IAM actions its calls really send, held to the
 * stack's CallerPolicy; its package entry; outcomes read strictly; and invocation failures as
 * InvokeErrors. closeOrder itself never fails an invocation, so a Lambda that does (a crash, an out-
 * of-memory, a timeout) is played by a small HTTP server speaking the Invoke API to the real SDK;
 * test/e2e/closeOrder.e2e.test.ts invokes the real function through serverless-offline.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import {
  CALLER_ACTIONS,
  type CloseOrderOutcome,
  createOrderStore,
  InvokeError,
  invokeCloseOrder,
  invokeRefund,
  PayError,
  readCloseOrderOutcome,
  readRefundOutcome,
  REFUND_CALLER_ACTIONS,
} from '../../lib/client';
import { createHarness, orderNo, type Harness } from '../support/harness';

const ROOT = join(__dirname, '../..');

interface Statement {
  Sid: string;
  Action: string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** The statements of a managed policy as serverless.yml declares it (CallerPolicy by default). */
function callerPolicy(id = 'CallerPolicy'): Statement[] {
  const doc = parseDocument(readFileSync(join(ROOT, 'serverless.yml'), 'utf8'), { logLevel: 'silent' }).toJS() as {
    resources: {
      Resources: Record<string, { Type: string; Properties: { PolicyDocument: { Statement: Statement[] } } }>;
    };
  };
  const policy = doc.resources.Resources[id];
  expect(policy?.Type).toBe('AWS::IAM::ManagedPolicy');
  return policy?.Properties.PolicyDocument.Statement ?? [];
}

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

describe("the caller's IAM policy", () => {
  it('allows exactly the DynamoDB actions registering orders sends (new, repeated, conflicting), on order keys only', async () => {
    const store = createOrderStore({ tableName: h.tableName, client: h.client });
    const no = orderNo('CP');
    h.requests.length = 0;
    await store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid });
    await store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: h.keys.mchid });
    await store.registerOrder({ outTradeNo: no, amountFen: 200, merchantId: h.keys.mchid });
    const sent = [...new Set(h.requests.map((c) => `dynamodb:${c.replace(/Command$/, '')}`))];
    expect(sent).toEqual([...CALLER_ACTIONS.registerOrder]);

    const register = callerPolicy().find((s) => s.Sid === 'RegisterOrders');
    expect(register?.Action).toEqual([...CALLER_ACTIONS.registerOrder]);
    expect(register?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['ORDER#*'] } });
  });

  it('allows invoking closeOrder and nothing else besides', () => {
    const statements = callerPolicy();
    const close = statements.find((s) => s.Sid === 'CloseOrders');
    expect(close?.Action).toEqual([...CALLER_ACTIONS.invokeCloseOrder]);
    expect(JSON.stringify(close?.Resource)).toContain('CloseOrderLambdaFunction');
    expect(statements.flatMap((s) => s.Action).sort()).toEqual(Object.values(CALLER_ACTIONS).flat().sort());
  });
});

describe("the refund caller's IAM policy", () => {
  it('is a policy of its own that allows invoking the refund function only', () => {
    const statements = callerPolicy('RefundCallerPolicy');
    expect(statements.flatMap((s) => s.Action)).toEqual([...REFUND_CALLER_ACTIONS]);
    expect(JSON.stringify(statements[0]?.Resource)).toContain('RefundLambdaFunction');
    expect(JSON.stringify(callerPolicy())).not.toContain('RefundLambdaFunction');
  });
});

describe('the package entry', () => {
  it('is lib/client.ts, for types and code', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      types: string;
      exports: Record<string, { types: string; default: string }>;
      peerDependencies: Record<string, string>;
    };
    expect(pkg.types).toBe('./lib/client.ts');
    expect(pkg.exports['.']).toEqual({ types: './lib/client.ts', default: './lib/client.ts' });
    // the Lambda runtime provides the SDK: a peer, never bundled twice
    expect(Object.keys(pkg.peerDependencies)).toContain('@aws-sdk/client-lambda');
  });

  it('refuses a store with no table, and one with a malformed shard setting', () => {
    expect(() => createOrderStore({ tableName: '' })).toThrow('createOrderStore: tableName or PAYMENTS_TABLE');
    expect(() => createOrderStore({ tableName: 't', client: h.client, pendingShards: { write: 9, read: 2 } })).toThrow(
      'pendingShards must satisfy',
    );
  });
});

describe('readCloseOrderOutcome', () => {
  const ids = { outTradeNo: 'T1', merchantId: '1900000109' };
  it.each([
    { status: 'CLOSED', ...ids },
    { status: 'ALREADY_CLOSED', ...ids },
    { status: 'UNKNOWN_ORDER', ...ids },
    { status: 'TOO_EARLY', ...ids, retryAfterSeconds: 120 },
    { status: 'PAID', ...ids, transaction: { transactionId: '42', amountFen: 1, paidAt: '2026-11-23T00:00:00Z' } },
    { status: 'FAILED', code: 'PARAM_ERROR', message: 'out_trade_no is required', retryable: false },
  ])('reads %j', (outcome) => {
    expect(readCloseOrderOutcome(outcome)).toEqual(outcome);
  });

  it.each([
    null,
    'CLOSED',
    [],
    {},
    { status: 'OPEN', ...ids },
    { status: 'CLOSED', outTradeNo: 'T1' },
    { status: 'TOO_EARLY', ...ids, retryAfterSeconds: '120' },
    { status: 'PAID', ...ids },
    { status: 'PAID', ...ids, transaction: { transactionId: '42', amountFen: '1', paidAt: 'x' } },
    { status: 'FAILED', code: 'X', message: 'y' },
  ])('refuses %j', (value) => {
    expect(readCloseOrderOutcome(value)).toBeUndefined();
  });
});

describe('readRefundOutcome', () => {
  const ids = { outTradeNo: 'T1', outRefundNo: 'R1', merchantId: '1900000109' };
  it.each([
    { status: 'ACCEPTED', ...ids, refundId: '50', wechatStatus: 'PROCESSING' },
    { status: 'SUCCESS', ...ids, refundId: '50' },
    { status: 'ALREADY_REQUESTED', ...ids, state: 'REQUESTED' },
    { status: 'EXCEEDS_REFUNDABLE', ...ids, refundableFen: 10 },
    { status: 'ORDER_NOT_PAID', ...ids, orderState: 'NOTPAY' },
    { status: 'FAILED', code: 'NOT_ENOUGH', message: 'balance', retryable: false },
  ])('reads %j', (outcome) => {
    expect(readRefundOutcome(outcome)).toEqual(outcome);
  });

  it.each([
    null,
    { status: 'CLOSED', ...ids },
    { status: 'SUCCESS', ...ids },
    { status: 'SUCCESS', outTradeNo: 'T1', refundId: '50' },
    { status: 'ALREADY_REQUESTED', ...ids },
    { status: 'EXCEEDS_REFUNDABLE', ...ids, refundableFen: '10' },
    { status: 'ORDER_NOT_PAID', ...ids },
    { status: 'FAILED', code: 'X', message: 'y', retryable: 'no' },
  ])('refuses %j', (value) => {
    expect(readRefundOutcome(value)).toBeUndefined();
  });
});

/** A stand-in for Lambda's Invoke API: each request is answered by the next scripted reply. */
describe('invokeCloseOrder when the invocation fails', () => {
  type Reply = { status: number; headers?: Record<string, string>; body: string };
  const replies: Reply[] = [];
  const paths: string[] = [];
  let server: Server;
  let lambda: LambdaClient;

  beforeAll(async () => {
    server = createServer((req, res) => {
      paths.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => {
        const r = replies.shift() ?? { status: 500, body: '{}' };
        res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
        res.end(r.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    lambda = new LambdaClient({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    lambda?.destroy();
    await new Promise((resolve) => server?.close(resolve));
  });

  const attempt = async (reply: Reply, functionName = 'closeOrder') => {
    replies.push(reply);
    return invokeCloseOrder({ outTradeNo: 'T1' }, { client: lambda, functionName }).then(
      (outcome): { outcome?: CloseOrderOutcome; error?: unknown } => ({ outcome }),
      (error: unknown): { outcome?: CloseOrderOutcome; error?: unknown } => ({ error }),
    );
  };

  it('answers a typed outcome, invoking the function by name', async () => {
    paths.length = 0;
    const outcome = { status: 'CLOSED', outTradeNo: 'T1', merchantId: '1900000109' };
    expect(await attempt({ status: 200, body: JSON.stringify(outcome) })).toEqual({ outcome });
    expect(paths).toEqual(['POST /2015-03-31/functions/closeOrder/invocations']);
  });

  it("maps Lambda's FunctionError to a retryable InvokeError naming the error type", async () => {
    const { error } = await attempt({
      status: 200,
      headers: { 'x-amz-function-error': 'Unhandled' },
      body: JSON.stringify({ errorType: 'Runtime.ExitError', errorMessage: 'exited with signal: killed' }),
    });
    expect(error).toBeInstanceOf(InvokeError);
    expect(error).toBeInstanceOf(PayError);
    expect(error).toMatchObject({
      kind: 'UNAVAILABLE',
      functionName: 'closeOrder',
      functionError: 'Unhandled',
      errorType: 'Runtime.ExitError',
      reason: 'closeOrder failed (Unhandled: Runtime.ExitError)',
    });
  });

  it('a FunctionError without a readable body still throws, without an error type', async () => {
    const { error } = await attempt({ status: 200, headers: { 'x-amz-function-error': 'Unhandled' }, body: 'oops' });
    expect(error).toMatchObject({ kind: 'UNAVAILABLE', functionError: 'Unhandled', errorType: undefined });
  });

  it('an answer that is not an outcome is MALFORMED', async () => {
    const { error } = await attempt({ status: 200, body: JSON.stringify({ status: 'MAYBE' }) });
    expect(error).toMatchObject({ kind: 'MALFORMED', reason: 'closeOrder answered something that is not an outcome' });
    expect((await attempt({ status: 200, body: 'not json' })).error).toMatchObject({ kind: 'MALFORMED' });
  });

  it('no such function is a CONFIG InvokeError; a service failure is retryable', async () => {
    const missing = await attempt({
      status: 404,
      headers: { 'x-amzn-errortype': 'ResourceNotFoundException' },
      body: JSON.stringify({ Type: 'User', message: 'Function not found' }),
    });
    expect(missing.error).toMatchObject({
      kind: 'CONFIG',
      reason: 'closeOrder could not be invoked (ResourceNotFoundException)',
    });
    const down = await attempt({
      status: 503,
      headers: { 'x-amzn-errortype': 'ServiceException' },
      body: JSON.stringify({ Type: 'Service', message: 'down' }),
    });
    expect(down.error).toMatchObject({ kind: 'UNAVAILABLE' });
  });

  it('invokeRefund: a typed outcome, and the same InvokeErrors', async () => {
    const outcome = {
      status: 'SUCCESS',
      outTradeNo: 'T1',
      outRefundNo: 'R1',
      merchantId: '1900000109',
      refundId: '50',
    };
    const event = { outTradeNo: 'T1', outRefundNo: 'R1', refundFen: 1 } as unknown as Parameters<
      typeof invokeRefund
    >[0];
    replies.push({ status: 200, body: JSON.stringify(outcome) });
    expect(await invokeRefund(event, { client: lambda, functionName: 'refund' })).toEqual(outcome);
    replies.push({
      status: 200,
      headers: { 'x-amz-function-error': 'Unhandled' },
      body: '{"errorType":"Sandbox.Timedout"}',
    });
    await expect(invokeRefund(event, { client: lambda, functionName: 'refund' })).rejects.toMatchObject({
      kind: 'UNAVAILABLE',
      reason: 'refund failed (Unhandled: Sandbox.Timedout)',
    });
    replies.push({ status: 200, body: '{"status":"CLOSED"}' });
    await expect(invokeRefund(event, { client: lambda, functionName: 'refund' })).rejects.toMatchObject({
      kind: 'MALFORMED',
      reason: 'refund answered something that is not an outcome',
    });
    const saved = process.env.REFUND_FUNCTION;
    delete process.env.REFUND_FUNCTION;
    try {
      await expect(invokeRefund(event, { client: lambda })).rejects.toMatchObject({ kind: 'CONFIG' });
    } finally {
      if (saved !== undefined) process.env.REFUND_FUNCTION = saved;
    }
  });

  it('needs a function name: given, or CLOSE_ORDER_FUNCTION', async () => {
    const saved = process.env.CLOSE_ORDER_FUNCTION;
    delete process.env.CLOSE_ORDER_FUNCTION;
    try {
      await expect(invokeCloseOrder({ outTradeNo: 'T1' }, { client: lambda })).rejects.toMatchObject({
        kind: 'CONFIG',
        reason: 'functionName or CLOSE_ORDER_FUNCTION is required',
      });
    } finally {
      if (saved !== undefined) process.env.CLOSE_ORDER_FUNCTION = saved;
    }
  });
});
