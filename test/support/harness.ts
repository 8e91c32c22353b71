/**
 * Shared test wiring: keys generated for the run, a fresh table on the real local DynamoDB per test
 * file, the service's dependencies built from those keys, and a counter of DynamoDB requests.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../lib/config';
import { createLogger, type Logger } from '../../lib/log';
import { createDynamoClient } from '../../lib/orders/client';
import { createDynamoOrderStore } from '../../lib/orders/dynamodb';
import type { OrderStore, UnknownOrderPolicy } from '../../lib/orders/store';
import type { NotifyDeps } from '../../lib/notify/handle';
import type { HttpEvent } from '../../lib/lambda/http';
import { ensureTable } from '../../scripts/local/dynamodb';
import { generateTestKeys, toEnv, type TestKeys } from '../../scripts/simulator/keys';
import type { WireRequest } from '../../scripts/simulator/messages';

export interface Harness {
  keys: TestKeys;
  env: Record<string, string>;
  config: Config;
  client: DynamoDBClient;
  store: OrderStore;
  tableName: string;
  /** Every log line written, parsed. */
  logs: Array<Record<string, unknown>>;
  logger: Logger;
  /** DynamoDB requests sent since the last reset, by command name. */
  requests: string[];
  deps(overrides?: Partial<NotifyDeps> & { policy?: UnknownOrderPolicy }): NotifyDeps;
  /**
   * A store on the same table whose first `failures` DynamoDB requests fail with `make()` before
   * reaching the store (no SDK retries): throttling, timeouts, crashes on demand.
   */
  faultyStore(failures: number, make: () => Error): OrderStore;
}

/** Builds a harness with a new table; call once per test file (in beforeAll). */
export async function createHarness(opts: { keys?: TestKeys; env?: Record<string, string> } = {}): Promise<Harness> {
  const endpoint = inject('dynamoEndpoint');
  const keys = opts.keys ?? generateTestKeys();
  const tableName = `payments-${randomUUID().slice(0, 8)}`;
  await ensureTable(endpoint, tableName);
  const env = { ...toEnv(keys), PAYMENTS_TABLE: tableName, DYNAMODB_ENDPOINT: endpoint, ...opts.env };
  const config = loadConfig(env);
  // generous timeouts: a loaded local store (two test files at once) is slower than DynamoDB, and
  // these tests are about outcomes, not latency (store faults are injected explicitly)
  const client = createDynamoClient({ endpoint, timeouts: { connectMs: 20_000, requestMs: 20_000 } });
  const requests: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      requests.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    service: 'test',
    write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
  });
  const store = createDynamoOrderStore({ client, tableName });
  return {
    keys,
    env,
    config,
    client,
    store,
    tableName,
    logs,
    logger,
    requests,
    faultyStore: (failures, make) => {
      const faulty = new DynamoDBClient({
        endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        maxAttempts: 1,
      });
      let left = failures;
      faulty.middlewareStack.add(
        (next) => async (args) => {
          if (left-- > 0) throw make();
          return next(args);
        },
        { step: 'finalizeRequest', name: 'injectFault' },
      );
      return createDynamoOrderStore({ client: faulty, tableName });
    },
    deps: (o = {}) => ({
      config: o.policy ? { ...config, unknownOrderPolicy: o.policy } : (o.config ?? config),
      store: o.store ?? store,
      logger: o.logger ?? logger,
      now: o.now ?? Date.now,
    }),
  };
}

/** A unique order number for a test. */
export function orderNo(prefix = 'T'): string {
  return `${prefix}${Date.now().toString(36)}${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

/** The API Gateway event WeChat's request becomes (headers lower-cased, as HTTP APIs deliver them). */
export function toEvent(wire: WireRequest, opts: { base64?: boolean } = {}): HttpEvent {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(wire.headers)) headers[k.toLowerCase()] = v;
  return opts.base64
    ? { headers, body: Buffer.from(wire.body, 'utf8').toString('base64'), isBase64Encoded: true }
    : { headers, body: wire.body, isBase64Encoded: false };
}
