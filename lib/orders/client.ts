/** The DynamoDB client as the functions use it: bounded timeouts so a reply always beats WeChat's 5 s. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface DynamoClientOptions {
  /** DynamoDB Local or the embedded store; unset in AWS. */
  endpoint?: string | undefined;
  region?: string | undefined;
  /** Per-attempt connect and request timeouts; the defaults keep three attempts inside WeChat's 5 s. */
  timeouts?: { connectMs: number; requestMs: number };
}

/** Creates a client with short timeouts and few retries: WeChat retries for us, for 24 hours. */
export function createDynamoClient(opts: DynamoClientOptions = {}): DynamoDBClient {
  const client = new DynamoDBClient({
    region: opts.region ?? process.env.AWS_REGION ?? 'us-east-1',
    maxAttempts: 3,
    // the middleware stack resolved once per command class, not on every send: about 40 µs of CPU per
    // request on Node 20 (scripts/perf/sdk.ts). The price: middleware added after the first send is
    // never run, so anything that adds middleware (tests, the bench) does it before the client is used
    cacheMiddleware: true,
    // throwOnRequestTimeout: without it the handler only logs a warning and the request hangs on
    requestHandler: {
      connectionTimeout: opts.timeouts?.connectMs ?? 1000,
      requestTimeout: opts.timeouts?.requestMs ?? 1500,
      throwOnRequestTimeout: true,
    },
    ...(opts.endpoint
      ? { endpoint: opts.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
      : {}),
  });
  // the SDK's logger middleware builds a sensitive-data-filtered copy of every input and output for its
  // logger, which is a no-op here (the service logs each delivery itself): removed, that work is gone
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}
