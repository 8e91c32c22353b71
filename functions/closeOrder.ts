/** closeOrder: invoked with InvokeCommand (RequestResponse) by the merchant's functions; answers a typed outcome, never an error. */
import middy from '@middy/core';
import { entryPoint } from '../lib/lambda/entry';
import { CLOSE_TIMING, closeOrderCore, closeOrderMiddlewares } from '../lib/close/lambda';

export const handler = entryPoint(middy(closeOrderCore, CLOSE_TIMING).use(closeOrderMiddlewares()));
