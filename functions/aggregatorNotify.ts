/** POST /notify/aggregator: the payment aggregator's notifications (form or JSON), answered `success` or `fail`. */
import middy from '@middy/core';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { aggregatorHandler } from '../lib/notify/aggregator';
import type { HttpEvent } from '../lib/runtime';

export const handler = middy<HttpEvent, APIGatewayProxyResultV2>().handler(aggregatorHandler('/notify/aggregator'));
