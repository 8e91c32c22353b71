/** refund: invoked with InvokeCommand (RequestResponse) by the merchant's functions; answers a typed outcome, never an error. */
import middy from '@middy/core';
import { entryPoint } from '../lib/lambda/entry';
import { REFUND_TIMING, refundCore, refundMiddlewares } from '../lib/refund/lambda';

export const handler = entryPoint(middy(refundCore, REFUND_TIMING).use(refundMiddlewares()));
