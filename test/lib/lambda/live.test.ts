/**
 * Secrets at run time in the functions' dependencies: re-resolved on every invocation through one
 * source per container, the dependencies rebuilt only when a value changed, so a key rotated in SSM
 * takes effect once the cache ages out, without a deploy. The SSM source is the real one (Powertools
 * and the SDK) over a fake Parameter Store transport: there is no local SSM server, the one place a
 * stub is right. The notify runtime goes through the real handler chain and DynamoDB Local.
 */
import { Readable } from 'node:stream';
import { SSMClient } from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../../lib/errors';
import middy from '@middy/core';
import { liveBuild, liveDependencies, notifyRuntime } from '../../../lib/lambda/deps';
import { entryPoint } from '../../../lib/lambda/entry';
import type { WithDeps } from '../../../lib/middleware/dependencies';
import { handleNotification } from '../../../lib/notify/handle';
import { httpHandler, wechatFormat } from '../../../lib/notify/lambda';
import { ssmSource, valuesSource } from '../../../lib/secrets';
import { randomString, ALPHANUMERIC } from '../../../scripts/simulator/random';
import { v3Notification, v3TransactionResource } from '../../../scripts/simulator/messages';
import { createHarness, orderNo, toEvent, type Harness } from '../../support/harness';

const KEY_PATH = '/wechatpay-lambda/prod/WECHATPAY_APIV3_KEY';

/** A Parameter Store answering GetParameter from `values` (JSON 1.1, as the service does); counts requests. */
function fakeParameterStore(values: Map<string, string>): { client: SSMClient; requests: string[] } {
  const requests: string[] = [];
  const client = new SSMClient({
    region: 'ap-southeast-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler: {
      async handle(request: { body: string | Uint8Array }) {
        const { Name } = JSON.parse(Buffer.from(request.body).toString('utf8')) as { Name: string };
        requests.push(Name);
        const value = values.get(Name);
        const [statusCode, body] =
          value === undefined
            ? [400, { __type: 'ParameterNotFound', message: '' }]
            : [200, { Parameter: { Name, Type: 'SecureString', Value: value, Version: 1 } }];
        return {
          response: {
            statusCode,
            reason: '',
            headers: { 'content-type': 'application/x-amz-json-1.1' },
            body: Readable.from([Buffer.from(JSON.stringify(body))]),
          },
        };
      },
    },
  });
  return { client, requests };
}

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

describe('liveBuild', () => {
  it('re-resolves on every call (cache hits), rebuilds only when a value changed after the cache aged', async () => {
    let clock = 1_000_000;
    const values = new Map([[KEY_PATH, 'a'.repeat(32)]]);
    const ssm = fakeParameterStore(values);
    const source = ssmSource({ client: ssm.client, now: () => clock, maxAgeSeconds: 300 });
    const builds: string[] = [];
    const current = liveBuild((env) => (builds.push(env.WECHATPAY_APIV3_KEY ?? ''), { key: env.WECHATPAY_APIV3_KEY }), {
      env: { WECHATPAY_APIV3_KEY_PARAM: KEY_PATH },
      source,
    });
    const first = await current();
    expect(await current()).toBe(first);
    // an environment given by the caller may change under it: never taken as standing
    expect(current.ready()).toBeUndefined();
    expect(ssm.requests).toEqual([KEY_PATH]);
    // rotated in SSM: the cached value serves until it ages out, then the next call rebuilds
    values.set(KEY_PATH, 'b'.repeat(32));
    clock += 299_000;
    expect(await current()).toBe(first);
    clock += 2_000;
    const rotated = await current();
    expect(rotated).not.toBe(first);
    expect(rotated.key).toBe('b'.repeat(32));
    expect(ssm.requests).toHaveLength(2);
    // the same value read again after another expiry: no rebuild
    clock += 301_000;
    expect(await current()).toBe(rotated);
    expect(builds).toEqual(['a'.repeat(32), 'b'.repeat(32)]);
  });

  it('keeps no failed build: a CONFIG error now, the fixed value on the next call', async () => {
    const values: Record<string, string> = { [KEY_PATH]: 'short' };
    const source = { get: (path: string) => valuesSource(values).get(path) };
    const current = liveBuild(
      (env) => {
        if ((env.WECHATPAY_APIV3_KEY ?? '').length !== 32)
          throw new PayError('CONFIG', 'WECHATPAY_APIV3_KEY must be 32 bytes');
        return { ok: true };
      },
      { env: { WECHATPAY_APIV3_KEY_PARAM: KEY_PATH }, source },
    );
    await expect(current()).rejects.toMatchObject({ kind: 'CONFIG', reason: 'WECHATPAY_APIV3_KEY must be 32 bytes' });
    values[KEY_PATH] = 'c'.repeat(32);
    expect(await current()).toEqual({ ok: true });
    // a hostile environment: both the value and its path
    const both = liveBuild(() => 1, { env: { WECHATPAY_APIV3_KEY: 'x', WECHATPAY_APIV3_KEY_PARAM: KEY_PATH }, source });
    await expect(both()).rejects.toMatchObject({ kind: 'CONFIG' });
  });
  it('without an env, SSM-configured: warm calls read nothing and keep the result; a value back unchanged keeps it, a rotated one rebuilds', async () => {
    let clock = 5_000_000;
    const values = new Map([[KEY_PATH, 'f'.repeat(32)]]);
    const ssm = fakeParameterStore(values);
    const source = ssmSource({ client: ssm.client, now: () => clock, maxAgeSeconds: 300 });
    const name = 'WECHATPAY_APIV3_KEY_PARAM';
    const saved = process.env[name];
    process.env[name] = KEY_PATH;
    try {
      const builds: string[] = [];
      const current = liveBuild(
        (env) => (builds.push(env.WECHATPAY_APIV3_KEY ?? ''), { key: env.WECHATPAY_APIV3_KEY }),
        {
          source,
        },
      );
      // a second user of the same source (the function's other dependencies share its cache)
      const other = liveBuild((env) => ({ key: env.WECHATPAY_APIV3_KEY }), { source });
      expect(current.ready()).toBeUndefined(); // nothing built yet
      const first = await current();
      const otherFirst = await other();
      for (let i = 0; i < 5; i++) expect(await current()).toBe(first);
      expect(current.ready()).toBe(first); // current without waiting
      expect(ssm.requests).toEqual([KEY_PATH]);
      // the cache ages out: not ready (it must be read again), then the same value, the same result
      clock += 301_000;
      expect(current.ready()).toBeUndefined();
      expect(await current()).toBe(first);
      expect(ssm.requests).toHaveLength(2);
      // rotated: the next read after the cache ages out rebuilds
      values.set(KEY_PATH, 'g'.repeat(32));
      clock += 301_000;
      const rotated = await current();
      expect(rotated.key).toBe('g'.repeat(32));
      expect(builds).toEqual(['f'.repeat(32), 'g'.repeat(32)]);
      // the other one finds the new value fresh in the cache, unlike what it was built from: it rebuilds too
      const otherRotated = await other();
      expect(otherRotated).not.toBe(otherFirst);
      expect(otherRotated.key).toBe('g'.repeat(32));
    } finally {
      if (saved === undefined) delete process.env[name];
      else process.env[name] = saved;
    }
  });

  it('without an env, copies process.env at the first call: later edits of it are not read (Lambda never makes any)', async () => {
    const name = 'WECHATPAY_APIV3_KEY';
    const saved = process.env[name];
    process.env[name] = 'd'.repeat(32);
    try {
      const builds: string[] = [];
      const current = liveBuild((env) => (builds.push(env[name] ?? ''), { key: env[name] }), {
        source: valuesSource({}),
      });
      const first = await current();
      expect(first.key).toBe('d'.repeat(32));
      process.env[name] = 'e'.repeat(32);
      expect(await current()).toBe(first);
      expect(builds).toEqual(['d'.repeat(32)]);
    } finally {
      if (saved === undefined) delete process.env[name];
      else process.env[name] = saved;
    }
  });
});

describe('notifyRuntime through the handler', () => {
  it('an APIv3 key rotated in SSM decrypts the next deliveries without a new container; verifiedBy is logged', async () => {
    let clock = Date.now();
    const oldKey = h.keys.apiV3Key;
    const newKey = randomString(ALPHANUMERIC, 32);
    const values = new Map([[KEY_PATH, oldKey]]);
    const ssm = fakeParameterStore(values);
    const { WECHATPAY_APIV3_KEY: _given, ...env } = h.env;
    const runtime = notifyRuntime({
      env: { ...env, WECHATPAY_APIV3_KEY_PARAM: KEY_PATH },
      source: ssmSource({ client: ssm.client, now: () => clock }),
      logger: h.logger,
    });
    const invoke = httpHandler('/notify/payment', runtime.pipeline(handleNotification), wechatFormat, runtime.deps);
    const paid = (apiV3Key: string) =>
      toEvent(
        v3Notification(
          { ...h.keys, apiV3Key },
          {
            eventType: 'TRANSACTION.SUCCESS',
            originalType: 'transaction',
            resource: v3TransactionResource({ ...h.keys, apiV3Key }, { outTradeNo: orderNo('L'), total: 1 }),
          },
        ),
      );
    expect((await invoke(paid(oldKey))).statusCode).toBe(204);
    expect(h.logs.filter((l) => l.message === 'delivery').at(-1)).toMatchObject({ verifiedBy: 'platform-certificate' });
    // the delivery is counted by the kind of key that verified it, {service, stage, verifiedBy}
    const record = h.logs.filter((l) => 'VerifiedDelivery' in l).at(-1);
    expect(record).toMatchObject({ verifiedBy: 'platform-certificate', VerifiedDelivery: 1 });
    expect(JSON.stringify(record?._aws)).toContain('"Dimensions":[["service","stage","verifiedBy"]]');
    // WeChat's side changes the key; ours is changed in SSM: within the cache's age, the old one serves
    values.set(KEY_PATH, newKey);
    expect((await invoke(paid(newKey))).statusCode).toBe(401);
    clock += 301_000;
    expect((await invoke(paid(newKey))).statusCode).toBe(204);
    expect((await invoke(paid(oldKey))).statusCode).toBe(401);
    expect(ssm.requests).toEqual([KEY_PATH, KEY_PATH]);
  });

  it('a parameter that vanished is a retryable failure reply, never a thrown error', async () => {
    const ssm = fakeParameterStore(new Map());
    const runtime = notifyRuntime({
      env: { ...h.env, WECHATPAY_APIV3_KEY: undefined, WECHATPAY_APIV3_KEY_PARAM: KEY_PATH },
      source: ssmSource({ client: ssm.client }),
      logger: h.logger,
    });
    const invoke = httpHandler('/notify/payment', runtime.pipeline(handleNotification), wechatFormat, runtime.deps);
    const reply = await invoke(
      toEvent(
        v3Notification(h.keys, {
          eventType: 'TRANSACTION.SUCCESS',
          originalType: 'transaction',
          resource: v3TransactionResource(h.keys, { outTradeNo: orderNo('L'), total: 1 }),
        }),
      ),
    );
    expect(reply.statusCode).toBe(500);
  });
});

describe('notifyRuntime without WeChat keys (the aggregator)', () => {
  it('hands the pipeline the configured dependencies as they are, with no key ring', async () => {
    const runtime = notifyRuntime({ env: h.env, source: valuesSource({}), logger: h.logger, verifiesWechatPay: false });
    const seen: unknown[] = [];
    const pipeline = runtime.pipeline(async (_req, deps) => {
      seen.push(deps.config.keyRing);
      return { statusCode: 204, headers: {}, body: '' };
    });
    const deps = await runtime.deps();
    await pipeline(
      { route: '/notify/aggregator', headers: { 'wechatpay-serial': 'ABC' }, body: Buffer.alloc(0) },
      deps,
    );
    expect(seen).toEqual([deps.config.keyRing]);
    expect(await runtime.deps()).toBe(deps);
  });
});

describe('liveDependencies', () => {
  it('puts the current dependencies on the context on every invocation', async () => {
    let n = 0;
    const handler = entryPoint(
      middy(async (_event: unknown, context: WithDeps<number>) => context.deps).use(
        liveDependencies<number, unknown, number>(async () => ++n),
      ),
    );
    expect(await handler({})).toBe(1);
    expect(await handler({})).toBe(2);
  });
});
