/** POST /notify/refund: WeChat Pay refund results, APIv2 (XML, req_info) and APIv3 (REFUND.*), chosen by content. */
import middy from '@middy/core';
import { entryPoint } from '../lib/lambda/entry';
import { handleNotification } from '../lib/notify/handle';
import { HTTP_TIMING, httpCore, httpMiddlewares, wechatFormat } from '../lib/notify/lambda';

const ROUTE = '/notify/refund';

export const handler = entryPoint(
  middy(httpCore(ROUTE, handleNotification), HTTP_TIMING).use(httpMiddlewares(ROUTE, wechatFormat)),
);
