/**
 * Profiling aid (issue 17): the DynamoDB client's own CPU per UpdateItem, by client setting. The HTTP
 * exchange is answered at once by a canned reply inside the SDK's request handler (no network), so
 * what is left is the SDK's work around it: resolving the middleware stack, serialising, signing,
 * retry bookkeeping, parsing. Interleaved round by round; median µs per request.
 *
 *   npx tsx scripts/perf/sdk.ts [rounds=14] [requests=500]
 *
 * The canned reply is a stub of the transport, the one way to take the network out; the figures are
 * for comparing client settings on this machine.
 */
import { performance } from 'node:perf_hooks';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../../lib/orders/client';
import { answerDynamoWith } from './canned';

const rounds = Number(process.argv[2] ?? 14);
const requests = Number(process.argv[3] ?? 500);

answerDynamoWith(() => '{}');

const endpoint = 'http://127.0.0.1:9';
const plain = (settings: { cacheMiddleware?: boolean; withoutLogger?: boolean }): DynamoDBClient => {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    cacheMiddleware: settings.cacheMiddleware === true,
  });
  if (settings.withoutLogger) client.middlewareStack.remove('loggerMiddleware');
  return client;
};
const clients: Record<string, DynamoDBClient> = {
  'SDK defaults': plain({}),
  'logger middleware removed': plain({ withoutLogger: true }),
  cacheMiddleware: plain({ cacheMiddleware: true }),
  'both (createDynamoClient)': createDynamoClient({ endpoint }),
};
const input = {
  TableName: 'perf-sdk',
  Key: { pk: { S: 'ORDER#1900000109#PERF0001' } },
  UpdateExpression: 'SET #s = :paid',
  ConditionExpression: '#s = :notpay',
  ExpressionAttributeNames: { '#s': 'state' },
  ExpressionAttributeValues: { ':paid': { S: 'PAID' }, ':notpay': { S: 'NOTPAY' } },
};

async function main(): Promise<void> {
  const perRound: Record<string, number[]> = {};
  for (let r = 0; r < rounds + 1; r++)
    for (const [name, client] of Object.entries(clients)) {
      const t0 = performance.now();
      for (let i = 0; i < requests; i++) await client.send(new UpdateItemCommand(input));
      // the first round warms up
      if (r > 0) (perRound[name] ??= []).push(((performance.now() - t0) * 1000) / requests);
    }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  for (const [name, xs] of Object.entries(perRound))
    process.stdout.write(`${name.padEnd(28)} ${median(xs).toFixed(1).padStart(7)} µs per UpdateItem\n`);
}

void main();
