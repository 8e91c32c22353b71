/**
 * An example downstream consumer of the payments table's stream (disabled by default in
 * serverless.yml): this is where a merchant's business code goes (fulfil the order, notify the
 * customer, post to the ledger). Streams deliver at least once: dedupe on `event.idempotencyKey`.
 * A failed record is reported so only it and what follows are retried (lib/lambda/stream.ts).
 */
import middy from '@middy/core';
import { entryPoint } from '../lib/lambda/entry';
import { streamCore, streamMiddlewares, type StreamDeps } from '../lib/lambda/stream';
import { createLogger, type Logger } from '../lib/log';
import type { DomainEvent } from '../lib/orders/events';

/** Replace with your business logic; it must be idempotent on `event.idempotencyKey`. */
async function onEvent(event: DomainEvent, deps: StreamDeps): Promise<void> {
  switch (event.type) {
    case 'PAYMENT_SUCCEEDED':
      // checked against the registration (amount, channel): fulfil the order here
      break;
    case 'PAYMENT_UNVERIFIED':
      // paid, but for an order never registered: nothing was checked, so nothing is fulfilled by default
      break;
    case 'TRANSFER_SUCCEEDED':
    case 'TRANSFER_FAILED':
    case 'TRANSFER_CANCELLED':
      // a payout's final result, keyed by your out_bill_no
      break;
    case 'WECHATPAY_EVENT':
      // any other verified event (complaints, new types); event.resource is decrypted: never log it
      break;
    default:
      break;
  }
  deps.logger.log('info', 'domain event', {
    type: event.type,
    outTradeNo: event.outTradeNo,
    idempotencyKey: event.idempotencyKey,
  });
}

/** Your clients (a queue, your own database) go here: built once per container, on the first batch. */
const build = (logger: Logger): StreamDeps => ({ logger });

// no early timeout: a batch cut short by the deadline is a function error, so Lambda retries (and bisects) it
export const handler = entryPoint(
  middy(streamCore(onEvent), { timeoutEarlyInMillis: 0 }).use(
    streamMiddlewares(build, createLogger({ service: 'wechatpay-lambda-consumer' })),
  ),
);
