/**
 * The typed client for the merchant's own code (the package's one entry point, package.json
 * `exports`): register orders before the customer pays, and ask the deployed closeOrder function to
 * close one, with every answer typed. The caller's IAM policy is the stack's CallerPolicy (its ARN is
 * the CallerPolicyArn output); CALLER_ACTIONS names what it must allow. the README's "Registering an order" shows the use.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from '@aws-sdk/client-lambda';
import type { CloseOrderEvent, CloseOrderOutcome } from './close/closeOrder';
import type { RefundCallOutcome, RefundEvent } from './refund/refund';
import { configError, InvokeError } from './errors';
import { createDynamoClient } from './orders/client';
import { createDynamoOrderStore } from './orders/dynamodb';
import type { OrderStore } from './orders/store';
import { pendingShardsFromEnv, type PendingShards } from './orders/table';

export type { CloseOrderEvent, CloseOrderOutcome, CloseOrderStatus, PaidTransaction } from './close/closeOrder';
export type { RefundCallOutcome, RefundCallStatus, RefundEvent } from './refund/refund';
export type {
  CloseOutcome,
  Order,
  OrderRegistration,
  OrderState,
  PaymentOutcome,
  PaymentReport,
  RegisterOutcome,
} from './orders/model';
export type { OrderStore, UnknownOrderPolicy } from './orders/store';
export type { PendingShards } from './orders/table';
export { InvokeError, PayError, type ErrorKind } from './errors';
export { fenToYuan, yuanToFen } from './money';

/**
 * Every IAM action the client's calls send, by call: what the stack's CallerPolicy allows
 * (test/lib/client.test.ts records the real commands and holds both to this list).
 */
export const CALLER_ACTIONS = {
  registerOrder: ['dynamodb:UpdateItem'],
  invokeCloseOrder: ['lambda:InvokeFunction'],
} as const;

/** What invokeRefund sends: the stack's separate RefundCallerPolicy (refunds move money; not every caller may). */
export const REFUND_CALLER_ACTIONS = ['lambda:InvokeFunction'] as const;

/** Where createOrderStore finds the table and how many pending-index shards the stack uses. */
export interface OrderStoreOptions {
  /** The PaymentsTableName output; default PAYMENTS_TABLE. */
  tableName?: string;
  client?: DynamoDBClient;
  /** DynamoDB Local; default DYNAMODB_ENDPOINT (unset in AWS). */
  endpoint?: string;
  /** The stack's shard counts (the PendingShards output); default PENDING_SHARDS / PENDING_SHARDS_READ, else 8. */
  pendingShards?: PendingShards;
}

/** The order store on the payments table, for the merchant's functions (registerOrder checks every field). */
export function createOrderStore(opts: OrderStoreOptions = {}): OrderStore {
  const tableName = opts.tableName ?? process.env.PAYMENTS_TABLE;
  if (!tableName) throw configError('createOrderStore: tableName or PAYMENTS_TABLE is required');
  const client = opts.client ?? createDynamoClient({ endpoint: opts.endpoint ?? process.env.DYNAMODB_ENDPOINT });
  const pendingShards = opts.pendingShards ?? pendingShardsFromEnv(process.env);
  return createDynamoOrderStore({ client, tableName, pendingShards });
}

/** How invokeCloseOrder reaches the function. */
export interface InvokeOptions {
  /** The Lambda client (region, credentials, endpoint); the caller owns it. */
  client: LambdaClient;
  /** The CloseOrderFunctionArn output (or the function's name); default CLOSE_ORDER_FUNCTION. */
  functionName?: string;
}

/**
 * Invokes the deployed closeOrder function and returns its typed outcome. Business results (PAID,
 * TOO_EARLY, FAILED …) are outcomes; an invocation that fails (Lambda's FunctionError), never reaches
 * the function or answers something that is not an outcome throws an InvokeError.
 */
export async function invokeCloseOrder(event: CloseOrderEvent, opts: InvokeOptions): Promise<CloseOrderOutcome> {
  const functionName = opts.functionName ?? process.env.CLOSE_ORDER_FUNCTION;
  if (!functionName) {
    throw new InvokeError('CONFIG', 'functionName or CLOSE_ORDER_FUNCTION is required', { functionName: '' });
  }
  const payload = await invoke(opts.client, functionName, event);
  const outcome = readCloseOrderOutcome(payload);
  if (outcome === undefined) {
    throw new InvokeError('MALFORMED', 'closeOrder answered something that is not an outcome', { functionName });
  }
  return outcome;
}

/**
 * Invokes the deployed refund function (the RefundFunctionArn output, default REFUND_FUNCTION) and
 * returns its typed outcome; failures to get one throw an InvokeError, as for invokeCloseOrder.
 */
export async function invokeRefund(event: RefundEvent, opts: InvokeOptions): Promise<RefundCallOutcome> {
  const functionName = opts.functionName ?? process.env.REFUND_FUNCTION;
  if (!functionName) {
    throw new InvokeError('CONFIG', 'functionName or REFUND_FUNCTION is required', { functionName: '' });
  }
  const outcome = readRefundOutcome(await invoke(opts.client, functionName, event, 'refund'));
  if (outcome === undefined) {
    throw new InvokeError('MALFORMED', 'refund answered something that is not an outcome', { functionName });
  }
  return outcome;
}

const REFUND_STATUSES = new Set([
  'ACCEPTED',
  'SUCCESS',
  'ALREADY_REQUESTED',
  'EXCEEDS_REFUNDABLE',
  'ORDER_NOT_PAID',
  'FAILED',
]);

/** Reads the refund function's answer as a RefundCallOutcome; undefined when it is not one. */
export function readRefundOutcome(value: unknown): RefundCallOutcome | undefined {
  if (!isObject(value) || typeof value.status !== 'string' || !REFUND_STATUSES.has(value.status)) return undefined;
  const text = (k: string) => typeof value[k] === 'string';
  if (value.status === 'FAILED') {
    return text('code') && text('message') && typeof value.retryable === 'boolean'
      ? (value as RefundCallOutcome)
      : undefined;
  }
  if (!(text('outTradeNo') && text('outRefundNo') && text('merchantId'))) return undefined;
  const ok =
    value.status === 'ACCEPTED' || value.status === 'SUCCESS'
      ? text('refundId')
      : value.status === 'ALREADY_REQUESTED'
        ? text('state')
        : value.status === 'EXCEEDS_REFUNDABLE'
          ? typeof value.refundableFen === 'number'
          : text('orderState');
  return ok ? (value as RefundCallOutcome) : undefined;
}

// what Lambda's Invoke API answers with these error names will not change by calling again
const PERMANENT: Record<string, 'CONFIG' | 'MALFORMED'> = {
  ResourceNotFoundException: 'CONFIG',
  AccessDeniedException: 'CONFIG',
  InvalidParameterValueException: 'CONFIG',
  InvalidRequestContentException: 'MALFORMED',
  RequestTooLargeException: 'MALFORMED',
};

/** One synchronous invocation; the parsed JSON answer, or an InvokeError. */
async function invoke(
  client: LambdaClient,
  functionName: string,
  event: unknown,
  label = 'closeOrder',
): Promise<unknown> {
  let res: InvokeCommandOutput;
  try {
    res = await client.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'RequestResponse',
        Payload: Buffer.from(JSON.stringify(event), 'utf8'),
      }),
    );
  } catch (err) {
    const name = err instanceof Error ? err.name : '';
    throw new InvokeError(PERMANENT[name] ?? 'UNAVAILABLE', `${label} could not be invoked (${name || 'error'})`, {
      functionName,
      cause: err,
    });
  }
  const text = Buffer.from(res.Payload ?? new Uint8Array()).toString('utf8');
  const body = parseJson(text);
  if (res.FunctionError !== undefined) {
    // the function failed (crash, out of memory, Lambda's own timeout): its outcome is unknown, so the
    // order may or may not be closed (refunded) at WeChat; both functions are safe to call again
    const errorType = isObject(body) && typeof body.errorType === 'string' ? body.errorType : undefined;
    throw new InvokeError('UNAVAILABLE', `${label} failed (${res.FunctionError}${errorType ? `: ${errorType}` : ''})`, {
      functionName,
      functionError: res.FunctionError,
      ...(errorType === undefined ? {} : { errorType }),
    });
  }
  return body;
}

const STATUSES = new Set(['CLOSED', 'ALREADY_CLOSED', 'PAID', 'TOO_EARLY', 'UNKNOWN_ORDER', 'FAILED']);

/** Reads closeOrder's answer as a CloseOrderOutcome; undefined when it is not one. */
export function readCloseOrderOutcome(value: unknown): CloseOrderOutcome | undefined {
  if (!isObject(value) || typeof value.status !== 'string' || !STATUSES.has(value.status)) return undefined;
  const text = (k: string) => typeof value[k] === 'string';
  switch (value.status) {
    case 'FAILED':
      return text('code') && text('message') && typeof value.retryable === 'boolean'
        ? (value as CloseOrderOutcome)
        : undefined;
    case 'TOO_EARLY':
      return text('outTradeNo') && text('merchantId') && typeof value.retryAfterSeconds === 'number'
        ? (value as CloseOrderOutcome)
        : undefined;
    case 'PAID': {
      const t = value.transaction;
      const paid =
        isObject(t) &&
        typeof t.transactionId === 'string' &&
        typeof t.amountFen === 'number' &&
        typeof t.paidAt === 'string';
      return text('outTradeNo') && text('merchantId') && paid ? (value as CloseOrderOutcome) : undefined;
    }
    default:
      return text('outTradeNo') && text('merchantId') ? (value as CloseOrderOutcome) : undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
