/** The Lambda adapter shared by the notify functions: event in, reply out, nothing ever thrown. */
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { asPayError } from '../errors';
import { createLogger } from '../log';
import { failureReply, type HttpReply, type ReplyFormat } from '../replies';
import { notifyDeps, rawBody, toResult, type HttpEvent } from '../runtime';
import { handleNotification, type NotifyDeps, type NotifyRequest } from './handle';

/** A notification pipeline: one request in, its protocol's reply out (it never throws). */
export type Pipeline = (req: NotifyRequest, deps: NotifyDeps) => Promise<HttpReply>;

/**
 * Builds the handler for one route around a pipeline. When the dependencies cannot be built (broken
 * configuration) the sender gets its protocol's failure reply, so it keeps the message and retries.
 */
export function httpHandler(
  route: string,
  pipeline: Pipeline,
  failureFormat: (event: HttpEvent) => ReplyFormat,
  deps: () => NotifyDeps = () => notifyDeps(),
) {
  return async (event: HttpEvent): Promise<APIGatewayProxyResultV2> => {
    let resolved: NotifyDeps;
    try {
      resolved = deps();
    } catch (err) {
      const e = asPayError(err);
      createLogger({ service: 'wechatpay-lambda' }).log('error', 'configuration', { route, reason: e.reason });
      return toResult(failureReply(failureFormat(event), e));
    }
    return toResult(await pipeline({ route, headers: event.headers ?? {}, body: rawBody(event) }, resolved));
  };
}

/** WeChat's generation, as far as it can be told without parsing: APIv3 requests carry Wechatpay-* headers. */
function wechatFormat(event: HttpEvent): ReplyFormat {
  return Object.keys(event.headers ?? {}).some((h) => h.toLowerCase().startsWith('wechatpay-')) ? 'v3' : 'v2';
}

/** The handler of a WeChat Pay notification route; `deps` is injectable for tests, the environment otherwise. */
export function notifyHandler(route: string, deps?: () => NotifyDeps) {
  return httpHandler(route, handleNotification, wechatFormat, deps);
}
