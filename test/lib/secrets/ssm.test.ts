/**
 * The SSM source through its interface. There is no local SSM server (no Docker, no LocalStack), so
 * this is the one place a stub is right: a real SSMClient and the real Powertools provider, with only
 * the HTTP transport replaced by a fake Parameter Store that answers like the service does (JSON 1.1,
 * `__type` error names), so the SDK's own error decoding runs.
 */
import { Readable } from 'node:stream';
import { SSMClient } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { PayError } from '../../../lib/errors';
import { MAX_CACHE_SECONDS, ssmSource } from '../../../lib/secrets/ssm';

interface FakeStore {
  values: Map<string, string>;
  /** Paths whose KMS key the caller may not use. */
  undecryptable: Set<string>;
  /** Paths answered with a throttling error. */
  throttled: Set<string>;
  requests: string[];
}

function fakeParameterStore(): { client: SSMClient; store: FakeStore } {
  const store: FakeStore = { values: new Map(), undecryptable: new Set(), throttled: new Set(), requests: [] };
  const reply = (statusCode: number, body: unknown) => ({
    response: {
      statusCode,
      reason: '',
      headers: { 'content-type': 'application/x-amz-json-1.1' },
      body: Readable.from([Buffer.from(JSON.stringify(body))]),
    },
  });
  const client = new SSMClient({
    region: 'ap-southeast-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler: {
      async handle(request: { headers: Record<string, string>; body: string | Uint8Array }) {
        const target = request.headers['x-amz-target'];
        const { Name, WithDecryption } = JSON.parse(Buffer.from(request.body).toString('utf8')) as {
          Name: string;
          WithDecryption?: boolean;
        };
        store.requests.push(Name);
        if (target !== 'AmazonSSM.GetParameter') return reply(400, { __type: 'InvalidAction', message: target });
        if (store.throttled.has(Name)) return reply(400, { __type: 'ThrottlingException', message: 'Rate exceeded' });
        const value = store.values.get(Name);
        if (value === undefined) return reply(400, { __type: 'ParameterNotFound', message: '' });
        if (WithDecryption && store.undecryptable.has(Name))
          return reply(400, {
            __type: 'AccessDeniedException',
            message: `not authorized to perform kms:Decrypt on ${Name}`,
          });
        return reply(200, { Parameter: { Name, Type: 'SecureString', Value: value, Version: 1 } });
      },
    },
  });
  return { client, store };
}

const PATH = '/wechatpay-lambda/prod/WECHATPAY_APIV3_KEY';
const SECRET = 'k'.repeat(32);

async function rejection(p: Promise<unknown>): Promise<PayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PayError);
  return err as PayError;
}

describe('ssmSource', () => {
  it('reads a SecureString with decryption and serves it from the cache until it expires', async () => {
    const { client, store } = fakeParameterStore();
    store.values.set(PATH, SECRET);
    let clock = 1_000_000;
    const source = ssmSource({ client, now: () => clock, maxAgeSeconds: 300 });

    expect(await source.get(PATH)).toBe(SECRET);
    clock += 299_999;
    store.values.set(PATH, 'r'.repeat(32));
    expect(await source.get(PATH)).toBe(SECRET);
    expect(store.requests).toHaveLength(1);

    // a rotation in SSM is seen once the cached value is five minutes old
    clock += 1;
    expect(await source.get(PATH)).toBe('r'.repeat(32));
    expect(store.requests).toHaveLength(2);
  });

  it('shares one request between concurrent reads of a path', async () => {
    const { client, store } = fakeParameterStore();
    store.values.set(PATH, SECRET);
    const source = ssmSource({ client, now: () => 0 });
    const values = await Promise.all([source.get(PATH), source.get(PATH), source.get(PATH)]);
    expect(values).toEqual([SECRET, SECRET, SECRET]);
    expect(store.requests).toEqual([PATH]);
  });

  it('names the path of a missing parameter in a CONFIG error', async () => {
    const { client } = fakeParameterStore();
    const err = await rejection(ssmSource({ client }).get(PATH));
    expect(err.kind).toBe('CONFIG');
    expect(err.reason).toBe(`SSM parameter ${PATH} does not exist`);
  });

  it('names the path, never the value, when decryption is refused, and reads again on the next call', async () => {
    const { client, store } = fakeParameterStore();
    store.values.set(PATH, SECRET);
    store.undecryptable.add(PATH);
    const source = ssmSource({ client });
    const err = await rejection(source.get(PATH));
    expect(err.kind).toBe('CONFIG');
    expect(err.reason).toContain(PATH);
    expect(err.reason).toContain('AccessDeniedException');
    expect(JSON.stringify({ reason: err.reason, detail: err.detail })).not.toContain(SECRET);

    // a failure is not cached: once the key policy is fixed the next read succeeds
    store.undecryptable.clear();
    expect(await source.get(PATH)).toBe(SECRET);
  });

  it('treats throttling as transient (UNAVAILABLE: the sender retries), not a broken deployment', async () => {
    const { client, store } = fakeParameterStore();
    store.values.set(PATH, SECRET);
    store.throttled.add(PATH);
    const err = await rejection(ssmSource({ client }).get(PATH));
    expect(err.kind).toBe('UNAVAILABLE');
    expect(err.reason).toContain(PATH);
  });

  it('names a network failure by its code, as transient', async () => {
    // the fake transport fails like a socket would: the SDK passes the error through
    const client = new SSMClient({
      region: 'ap-southeast-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
      requestHandler: {
        async handle() {
          throw Object.assign(new Error('getaddrinfo ENOTFOUND ssm.ap-southeast-1.amazonaws.com'), {
            code: 'ENOTFOUND',
          });
        },
      },
    });
    const err = await rejection(ssmSource({ client }).get(PATH));
    expect(err.kind).toBe('UNAVAILABLE');
    expect(err.reason).toBe(`SSM parameter ${PATH} is temporarily unreadable (ENOTFOUND)`);
  });

  it('refuses a cache longer than five minutes or a negative one', () => {
    expect(() => ssmSource({ maxAgeSeconds: MAX_CACHE_SECONDS + 1 })).toThrow(PayError);
    expect(() => ssmSource({ maxAgeSeconds: -1 })).toThrow(PayError);
    expect(() => ssmSource({ maxAgeSeconds: Number.NaN })).toThrow(PayError);
  });
});
