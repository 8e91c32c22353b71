/** refund: invoked with InvokeCommand (RequestResponse) by the merchant's functions; answers a typed outcome, never an error. */
import middy from '@middy/core';
import { refundDeadlineOutcome, refundHandler } from '../lib/refund/lambda';
import type { RefundCallOutcome } from '../lib/refund/refund';

// a second before the Lambda timeout, answer a retryable FAILED instead of letting middy throw
export const handler = middy<unknown, RefundCallOutcome>({
  timeoutEarlyInMillis: 1000,
  timeoutEarlyResponse: refundDeadlineOutcome,
}).handler(refundHandler());
