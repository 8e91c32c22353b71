/** bills: every morning, reconciles the previous Beijing day's trade bill with the table (lib/bills). */
import middy from '@middy/core';
import { BILLS_TIMING, billsCore, billsMiddlewares } from '../lib/bills/lambda';
import { entryPoint } from '../lib/lambda/entry';

export const handler = entryPoint(middy(billsCore, BILLS_TIMING).use(billsMiddlewares()));
