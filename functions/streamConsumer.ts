/**
 * An example downstream consumer of the payments table's stream (disabled by default in
 * serverless.yml): this is where a merchant's business code goes (fulfil the order, notify the
 * customer, post to the ledger). Streams deliver at least once: dedupe on `event.idempotencyKey`.
 * A thrown error makes Lambda retry the batch; the failed record is reported so only it and what
 * follows are retried.
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { createLogger } from '../lib/log';
import { decodeStreamRecord, type DomainEvent } from '../lib/orders/events';

const logger = createLogger({ service: 'wechatpay-lambda-consumer' });

/** Replace with your business logic; it must be idempotent on `event.idempotencyKey`. */
async function onEvent(event: DomainEvent): Promise<void> {
  logger.log('info', 'domain event', {
    type: event.type,
    outTradeNo: event.outTradeNo,
    idempotencyKey: event.idempotencyKey,
  });
}

export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  for (const record of event.Records) {
    try {
      for (const e of decodeStreamRecord(record)) await onEvent(e);
    } catch (err) {
      logger.log('error', 'consumer failed', {
        eventID: record.eventID,
        cause: err instanceof Error ? err.name : 'unknown',
      });
      return { batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }] };
    }
  }
  return { batchItemFailures: [] };
};
