/**
 * The core of a DynamoDB stream consumer: each record decoded into domain events and handed, in order,
 * to the merchant's `onEvent`. Streams deliver at least once, so `onEvent` must dedupe on
 * `event.idempotencyKey`. The first record that fails is reported (ReportBatchItemFailures), so only
 * it and what follows are retried; nothing is thrown.
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import type { MiddlewareObj } from '@middy/core';
import { createLogger, type Logger, type ServiceLogger } from '../log';
import { dependencies, type WithDeps } from '../middleware/dependencies';
import { observability } from '../middleware/observability';
import { decodeStreamRecord, type DomainEvent } from '../orders/events';

/** What a consumer needs at least: a logger; the merchant's own clients ride along. */
export interface StreamDeps {
  logger: Logger;
}

/** The merchant's business step for one event; idempotent on `event.idempotencyKey`. */
export type OnEvent<D extends StreamDeps> = (event: DomainEvent, deps: D) => Promise<void>;

/** The consumer core around `onEvent`, reading its dependencies from `context.deps`. */
export function streamCore<D extends StreamDeps>(onEvent: OnEvent<D>) {
  return async (event: DynamoDBStreamEvent, context: WithDeps<D>): Promise<DynamoDBBatchResponse> => {
    const deps = context.deps;
    for (const record of event.Records) {
      try {
        for (const e of decodeStreamRecord(record)) await onEvent(e, deps);
      } catch (err) {
        deps.logger.log('error', 'consumer failed', {
          eventID: record.eventID,
          cause: err instanceof Error ? err.name : 'unknown',
        });
        return { batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }] };
      }
    }
    return { batchItemFailures: [] };
  };
}

/**
 * A consumer's middlewares, in `use` order: Powertools' logging and metrics (the request id on every
 * line), then the merchant's dependencies, built once per container around the function's logger.
 */
export function streamMiddlewares<D extends StreamDeps>(
  build: (logger: Logger) => D | Promise<D>,
  logger: ServiceLogger = createLogger(),
): Array<MiddlewareObj<DynamoDBStreamEvent, DynamoDBBatchResponse, Error, WithDeps<D>>> {
  return [
    ...observability<DynamoDBStreamEvent, DynamoDBBatchResponse, WithDeps<D>>(logger),
    dependencies<D, DynamoDBStreamEvent, DynamoDBBatchResponse>({ build: () => build(logger) }),
  ];
}
