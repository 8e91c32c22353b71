/** POST /notify/aggregator: the payment aggregator's notifications (form or JSON), answered `success` or `fail`. */
import middy from '@middy/core';
import { entryPoint } from '../lib/lambda/entry';
import { handleAggregatorNotification } from '../lib/notify/aggregator';
import { aggregatorFormat, HTTP_TIMING, httpCore, httpMiddlewares } from '../lib/notify/lambda';

const ROUTE = '/notify/aggregator';

export const handler = entryPoint(
  middy(httpCore(ROUTE, handleAggregatorNotification), HTTP_TIMING).use(httpMiddlewares(ROUTE, aggregatorFormat)),
);
