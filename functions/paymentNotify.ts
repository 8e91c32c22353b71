/** POST /notify/payment: WeChat Pay payment results, APIv2 (XML) and APIv3 (JSON), chosen by content. */
import middy from '@middy/core';
import { notifyRuntime } from '../lib/lambda/deps';
import { entryPoint } from '../lib/lambda/entry';
import { handleNotification } from '../lib/notify/handle';
import { HTTP_TIMING, httpCore, httpMiddlewares, wechatFormat } from '../lib/notify/lambda';

const ROUTE = '/notify/payment';

// one per container: it holds the secrets' cache and the key ring
const runtime = notifyRuntime();

export const handler = entryPoint(
  middy(httpCore(ROUTE, runtime.pipeline(handleNotification)), HTTP_TIMING).use(
    httpMiddlewares(ROUTE, wechatFormat, runtime.deps),
  ),
);
