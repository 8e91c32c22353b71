/**
 * What a notify function needs, built from the environment: configuration, key objects, the DynamoDB
 * client and the store. Each call builds afresh; the dependencies middleware (lib/middleware/
 * dependencies.ts) calls it once per container, on the first invocation, so that a configuration
 * error becomes a failure reply (WeChat retries) instead of a crashing init.
 */
import { loadConfig, type Env } from '../config';
import { createLogger, type Logger } from '../log';
import type { NotifyDeps } from '../notify/handle';
import { createDynamoClient } from '../orders/client';
import { createDynamoOrderStore } from '../orders/dynamodb';
import { pendingShardsFromEnv } from '../orders/table';

/** Builds the notify dependencies from `env`; throws a CONFIG PayError naming a missing or malformed variable. */
export function notifyDeps(
  env: Env = process.env,
  logger: Logger = createLogger({ service: 'wechatpay-lambda' }),
): NotifyDeps {
  const config = loadConfig(env);
  const client = createDynamoClient({ endpoint: config.dynamodbEndpoint });
  const pendingShards = pendingShardsFromEnv(env);
  const store = createDynamoOrderStore({ client, tableName: config.tableName, pendingShards });
  return { config, store, logger, now: Date.now };
}
