/**
 * TEST-ONLY: a pass-through HTTP proxy between the local functions and DynamoDB that can answer the
 * next N requests the way DynamoDB answers a throttled one (HTTP 400,
 * ProvisionedThroughputExceededException). Local DynamoDB never throttles, so this is the one place a
 * throttle can come from; everything else is forwarded untouched to the real local store.
 */
import { randomUUID } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running proxy. */
export interface StoreFaults {
  /** The endpoint to give the functions as DYNAMODB_ENDPOINT. */
  endpoint: string;
  /** Makes the next `count` requests fail as throttled. */
  throttle(count: number): void;
  /** Throttled answers still to give. */
  remaining(): number;
  /** Drops the planned throttles. */
  clear(): void;
  close(): Promise<void>;
}

const THROTTLE_BODY = JSON.stringify({
  __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
  message: 'The level of configured provisioned throughput for the table was exceeded (injected by the local console)',
});

/** Starts the proxy on 127.0.0.1 in front of `target` (e.g. http://127.0.0.1:8000). */
export async function startStoreFaults(target: string, onChange: () => void = () => {}): Promise<StoreFaults> {
  const upstream = new URL(target);
  let throttles = 0;
  const server: Server = createServer((req, res) => {
    if (throttles > 0) {
      throttles -= 1;
      onChange();
      req.resume();
      res.writeHead(400, { 'Content-Type': 'application/x-amz-json-1.0', 'x-amzn-RequestId': randomUUID() });
      res.end(THROTTLE_BODY);
      return;
    }
    const forward = request(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end('store unreachable');
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    throttle(count) {
      if (!Number.isSafeInteger(count) || count < 1 || count > 1000)
        throw new RangeError('count must be an integer from 1 to 1000');
      throttles += count;
      onChange();
    },
    remaining: () => throttles,
    clear() {
      throttles = 0;
      onChange();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
