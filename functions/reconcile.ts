/** reconcile: on a schedule, settles orders whose notification never arrived, by order query (lib/reconcile). */
import middy from '@middy/core';
import { reconcileHandler } from '../lib/reconcile/lambda';
import type { ReconcileSummary } from '../lib/reconcile/reconcile';

// the core stops by itself a margin before the deadline (context.getRemainingTimeInMillis), so no early-timeout response
export const handler = middy<unknown, ReconcileSummary>().handler(reconcileHandler());
