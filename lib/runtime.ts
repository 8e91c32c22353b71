/**
 * What a notify function needs, built once per cold start from the environment: configuration,
 * key objects, the DynamoDB client and the store. Built lazily on the first invocation so that a
 * configuration error becomes a failure reply (WeChat retries) instead of a crashing init.
 */
import type { HttpReply } from './replies';
import { loadConfig, type Env } from './config';
import { createLogger, type Logger } from './log';
import { createDynamoClient } from './orders/client';
import { createDynamoOrderStore } from './orders/dynamodb';
import type { NotifyDeps } from './notify/handle';

let cached: NotifyDeps | undefined;

/** The process-wide dependencies; the same object for every warm invocation. */
export function notifyDeps(
  env: Env = process.env,
  logger: Logger = createLogger({ service: 'wechatpay-lambda' }),
): NotifyDeps {
  if (cached) return cached;
  const config = loadConfig(env);
  const client = createDynamoClient({ endpoint: config.dynamodbEndpoint });
  cached = { config, store: createDynamoOrderStore({ client, tableName: config.tableName }), logger, now: Date.now };
  return cached;
}

/** The minimal API Gateway (HTTP API v2 or REST v1) event the notify functions read. */
export interface HttpEvent {
  headers?: Record<string, string | undefined> | null;
  body?: string | null;
  isBase64Encoded?: boolean;
}

/** The exact bytes of the request body, base64-decoded where API Gateway encoded it. */
export function rawBody(event: HttpEvent): Buffer {
  if (!event.body) return Buffer.alloc(0);
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
}

/** API Gateway's result shape for a reply. */
export function toResult(reply: HttpReply): { statusCode: number; headers: Record<string, string>; body: string } {
  return { statusCode: reply.statusCode, headers: reply.headers, body: reply.body };
}
