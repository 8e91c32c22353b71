/**
 * Profiling aid: every DynamoDB request of this process answered at once, inside the SDK's HTTP
 * handler, with `reply()` as the JSON body (no network, no DynamoDB Local). A stub of the transport,
 * the one way to take the network out; for comparing code paths, never for what a delivery costs.
 */
import { HttpResponse } from '@smithy/core/transport';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export function answerDynamoWith(reply: () => string): void {
  (NodeHttpHandler.prototype as unknown as { handle: () => Promise<unknown> }).handle = async () => ({
    response: new HttpResponse({
      statusCode: 200,
      headers: { 'content-type': 'application/x-amz-json-1.0' },
      body: Buffer.from(reply()),
    }),
  });
}
