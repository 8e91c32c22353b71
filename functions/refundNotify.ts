/** POST /notify/refund: WeChat Pay refund results, APIv2 (XML, req_info) and APIv3 (REFUND.*), chosen by content. */
import middy from '@middy/core';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { notifyHandler } from '../lib/notify/lambda';
import type { HttpEvent } from '../lib/runtime';

export const handler = middy<HttpEvent, APIGatewayProxyResultV2>().handler(notifyHandler('/notify/refund'));
