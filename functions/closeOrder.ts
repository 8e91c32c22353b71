/** closeOrder: invoked with InvokeCommand (RequestResponse) by the merchant's functions; answers a typed outcome, never an error. */
import middy from '@middy/core';
import { closeOrderHandler, deadlineOutcome } from '../lib/close/lambda';
import type { CloseOrderOutcome } from '../lib/close/closeOrder';

// a second before the Lambda timeout, answer a retryable FAILED instead of letting middy throw
export const handler = middy<unknown, CloseOrderOutcome>({
  timeoutEarlyInMillis: 1000,
  timeoutEarlyResponse: deadlineOutcome,
}).handler(closeOrderHandler());
