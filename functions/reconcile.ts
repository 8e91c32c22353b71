/** reconcile: on a schedule, settles orders whose notification never arrived, by order query (lib/reconcile). */
import middy from '@middy/core';
import { entryPoint } from '../lib/lambda/entry';
import { RECONCILE_TIMING, reconcileCore, reconcileMiddlewares } from '../lib/reconcile/lambda';

export const handler = entryPoint(middy(reconcileCore, RECONCILE_TIMING).use(reconcileMiddlewares()));
