/** POST /notify/coupon: merchant-coupon COUPON.SEND and cash-coupon COUPON.USE callbacks (APIv3). */
import middy from '@middy/core';
import { entryPoint } from '../lib/lambda/entry';
import { handleNotification } from '../lib/notify/handle';
import { HTTP_TIMING, httpCore, httpMiddlewares, wechatFormat } from '../lib/notify/lambda';

const ROUTE = '/notify/coupon';

export const handler = entryPoint(
  middy(httpCore(ROUTE, handleNotification), HTTP_TIMING).use(httpMiddlewares(ROUTE, wechatFormat)),
);
