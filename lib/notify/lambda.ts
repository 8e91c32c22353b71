/** The Lambda adapter shared by the notify functions: event in, reply out, nothing ever thrown. */
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { asPayError } from '../errors';
import { failureReply } from '../replies';
import { notifyDeps, rawBody, toResult, type HttpEvent } from '../runtime';
import { handleNotification, type NotifyDeps } from './handle';
import { createLogger } from '../log';

/** Builds the handler for one route; `deps` is injectable for tests, the environment otherwise. */
export function notifyHandler(route: string, deps: () => NotifyDeps = () => notifyDeps()) {
  return async (event: HttpEvent): Promise<APIGatewayProxyResultV2> => {
    let resolved: NotifyDeps;
    try {
      resolved = deps();
    } catch (err) {
      // configuration is broken: answer failure so WeChat keeps the notification and retries
      const e = asPayError(err);
      createLogger({ service: 'wechatpay-lambda' }).log('error', 'configuration', { route, reason: e.reason });
      const v3 = Object.keys(event.headers ?? {}).some((h) => h.toLowerCase().startsWith('wechatpay-'));
      return toResult(failureReply(v3 ? 'v3' : 'v2', e));
    }
    const reply = await handleNotification({ route, headers: event.headers ?? {}, body: rawBody(event) }, resolved);
    return toResult(reply);
  };
}
