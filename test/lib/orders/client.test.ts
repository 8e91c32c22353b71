/**
 * The functions' DynamoDB client: the local endpoint (with its fixed local credentials) only when one
 * is configured, the region from the options, then AWS_REGION, then us-east-1, and few attempts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDynamoClient } from '../../../lib/orders/client';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('createDynamoClient', () => {
  it('points at the local endpoint with the local credentials when one is given', async () => {
    const client = createDynamoClient({ endpoint: 'http://127.0.0.1:8000', region: 'ap-east-1' });
    const endpoint = await client.config.endpoint?.();
    expect(endpoint).toMatchObject({ hostname: '127.0.0.1', port: 8000, protocol: 'http:' });
    expect(await client.config.credentials()).toMatchObject({ accessKeyId: 'local', secretAccessKey: 'local' });
    expect(await client.config.region()).toBe('ap-east-1');
    expect(await client.config.maxAttempts()).toBe(3);
    client.destroy();
  });

  it('in AWS (no endpoint) sets no endpoint and takes the region from AWS_REGION, else us-east-1', async () => {
    vi.stubEnv('AWS_REGION', 'cn-north-1');
    const aws = createDynamoClient();
    expect(aws.config.endpoint).toBeUndefined();
    expect(await aws.config.region()).toBe('cn-north-1');
    aws.destroy();
    vi.stubEnv('AWS_REGION', undefined);
    const fallback = createDynamoClient({ endpoint: undefined });
    expect(await fallback.config.region()).toBe('us-east-1');
    fallback.destroy();
  });

  it("drops the SDK's logger middleware (it only filtered copies for a no-op logger), keeping the rest of the stack", () => {
    const client = createDynamoClient({ endpoint: 'http://127.0.0.1:8000' });
    const stack = client.middlewareStack.identify().map((entry) => entry.split(' - ')[0]);
    expect(stack).not.toContain('loggerMiddleware');
    expect(stack).toEqual(
      expect.arrayContaining(['serializerMiddleware', 'retryMiddleware', 'deserializerMiddleware']),
    );
    client.destroy();
  });

  it('resolves its middleware stack once per command class (cacheMiddleware), not on every send', () => {
    const client = createDynamoClient({ endpoint: 'http://127.0.0.1:8000' });
    expect(client.config.cacheMiddleware).toBe(true);
    client.destroy();
  });
});
