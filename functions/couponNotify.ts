/** POST /notify/coupon: merchant-coupon COUPON.SEND and cash-coupon COUPON.USE callbacks (APIv3). */
import middy from '@middy/core';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { notifyHandler } from '../lib/notify/lambda';
import type { HttpEvent } from '../lib/runtime';

export const handler = middy<HttpEvent, APIGatewayProxyResultV2>().handler(notifyHandler('/notify/coupon'));
