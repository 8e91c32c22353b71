/** POST /notify/aggregator: the payment aggregator's notifications (form or JSON), answered `success` or `fail`. */
import middy from '@middy/core';
import { notifyRuntime } from '../lib/lambda/deps';
import { entryPoint } from '../lib/lambda/entry';
import { createLogger } from '../lib/log';
import { handleAggregatorNotification } from '../lib/notify/aggregator';
import { aggregatorFormat, HTTP_TIMING, httpCore, httpMiddlewares } from '../lib/notify/lambda';

const ROUTE = '/notify/aggregator';

// one per container: it holds the secrets' cache and the key ring
// the pipeline's logger is the middlewares' own, so its delivery line carries the request id
const logger = createLogger();
const runtime = notifyRuntime({ verifiesWechatPay: false, logger });

export const handler = entryPoint(
  middy(httpCore(ROUTE, runtime.pipeline(handleAggregatorNotification)), HTTP_TIMING).use(
    httpMiddlewares(ROUTE, aggregatorFormat, runtime.deps, logger),
  ),
);
