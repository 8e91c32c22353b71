/** POST /notify/refund: WeChat Pay refund results, APIv2 (XML, req_info) and APIv3 (REFUND.*), chosen by content. */
import middy from '@middy/core';
import { notifyRuntime } from '../lib/lambda/deps';
import { entryPoint } from '../lib/lambda/entry';
import { createLogger } from '../lib/log';
import { handleNotification } from '../lib/notify/handle';
import { HTTP_TIMING, httpCore, httpMiddlewares, wechatFormat } from '../lib/notify/lambda';

const ROUTE = '/notify/refund';

// one per container: it holds the secrets' cache and the key ring
// the pipeline's logger is the middlewares' own, so its delivery line carries the request id
const logger = createLogger();
const runtime = notifyRuntime({ logger });

export const handler = entryPoint(
  middy(httpCore(ROUTE, runtime.pipeline(handleNotification)), HTTP_TIMING).use(
    httpMiddlewares(ROUTE, wechatFormat, runtime.deps, logger),
  ),
);
