/**
 * The notify functions' runtime: dependencies built from the environment once per cold start (a
 * broken configuration is not cached, so a fixed one is picked up), the exact request bytes from an
 * API Gateway event, and the result shape. The store is the real DynamoDB Local.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../lib/errors';
import { createLogger } from '../../lib/log';
import { notifyDeps, rawBody, toResult } from '../../lib/runtime';
import { createHarness, orderNo, type Harness } from '../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const quiet = createLogger({ service: 'test', write: () => {} });

describe('notifyDeps', () => {
  it('refuses a broken environment with a CONFIG error naming the variable, caching nothing; then builds once and reuses', async () => {
    let err: unknown;
    try {
      notifyDeps({ ...h.env, WECHATPAY_MCHID: 'not-digits' }, quiet);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PayError);
    expect((err as PayError).kind).toBe('CONFIG');
    expect((err as PayError).reason).toBe('WECHATPAY_MCHID must be digits');

    // the fixed configuration is picked up on the next invocation
    const deps = notifyDeps(h.env, quiet);
    expect(deps.config.mchid).toBe(h.keys.mchid);
    expect(deps.config.tableName).toBe(h.tableName);
    expect(deps.logger).toBe(quiet);
    expect(typeof deps.now()).toBe('number');

    // the store it built works against the configured table
    const no = orderNo('RT');
    expect((await deps.store.registerOrder({ outTradeNo: no, amountFen: 1, merchantId: h.keys.mchid })).kind).toBe(
      'REGISTERED',
    );
    expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('NOTPAY');

    // warm invocations reuse it, whatever they pass
    expect(notifyDeps({}, quiet)).toBe(deps);
    expect(notifyDeps()).toBe(deps);
  });
});

describe('rawBody', () => {
  it('is empty for a missing, null or empty body', () => {
    expect(rawBody({}).length).toBe(0);
    expect(rawBody({ body: null }).length).toBe(0);
    expect(rawBody({ body: '', isBase64Encoded: true }).length).toBe(0);
  });

  it('decodes a base64 body to its exact bytes, invalid UTF-8 included', () => {
    const bytes = Buffer.from([0x3c, 0x78, 0xff, 0xfe, 0x00, 0x3e]);
    expect(rawBody({ body: bytes.toString('base64'), isBase64Encoded: true })).toEqual(bytes);
  });

  it('encodes a text body as UTF-8', () => {
    expect(rawBody({ body: '支付', isBase64Encoded: false })).toEqual(Buffer.from('支付', 'utf8'));
    expect(rawBody({ body: 'abc' })).toEqual(Buffer.from('abc'));
  });
});

describe('toResult', () => {
  it('carries status, headers and body as API Gateway expects them', () => {
    expect(toResult({ statusCode: 204, headers: {}, body: '' })).toEqual({ statusCode: 204, headers: {}, body: '' });
    expect(toResult({ statusCode: 400, headers: { 'content-type': 'application/json' }, body: '{}' })).toEqual({
      statusCode: 400,
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
  });
});
