/**
 * The black-box tests' wiring: the whole local stack (DynamoDB Local, serverless-offline with the
 * functions, the WeChat Pay simulator) started for one test file, with keys generated for it, the
 * order store on its table, clients for its Lambda endpoint and table stream, and its output kept.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { createDynamoClient } from '../../lib/orders/client';
import { createDynamoOrderStore } from '../../lib/orders/dynamodb';
import type { OrderStore } from '../../lib/orders/store';
import { startStack, type Stack } from '../../scripts/local/stack';
import { generateTestKeys, toEnv, type TestKeys } from '../../scripts/simulator/keys';
import type { Simulator } from '../../scripts/simulator/server';

export interface E2eStackOptions {
  /** The merchant's and WeChat's keys (generated when absent). */
  keys?: TestKeys;
  /** Service configuration on top of the keys' WECHATPAY_* variables. */
  env?: Record<string, string>;
  /** The simulator's settings besides its keys (time compression, the close rule). */
  simulator?: { timeScale?: number; closeMinAgeSeconds?: number };
  /** Keep only this many characters of serverless-offline's output, the latest (all by default). */
  keepOutput?: number;
}

export interface E2eStack {
  keys: TestKeys;
  sim: Simulator;
  /** The functions' HTTP endpoints (API Gateway). */
  httpUrl: string;
  /** DynamoDB Local, where the table lives. */
  dynamoEndpoint: string;
  tableName: string;
  /** The DynamoDB client behind `store`. */
  dynamo: DynamoDBClient;
  store: OrderStore;
  /** A client for serverless-offline's Lambda Invoke endpoint. */
  lambda: LambdaClient;
  /** A client for the table's stream. */
  streams: DynamoDBStreamsClient;
  /** serverless-offline's output so far (the latest `keepOutput` characters). */
  readonly output: string;
  stop(): Promise<void>;
}

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Starts the stack with the simulator on free ports; call once per test file (in beforeAll). */
export async function startE2eStack(opts: E2eStackOptions = {}): Promise<E2eStack> {
  const keys = opts.keys ?? generateTestKeys();
  let output = '';
  const stack: Stack = await startStack({
    httpPort: 0,
    lambdaPort: 0,
    env: { ...toEnv(keys), ...opts.env },
    simulator: { keys, ...opts.simulator },
    onOutput: (s) => {
      output = opts.keepOutput === undefined ? output + s : (output + s).slice(-opts.keepOutput);
    },
  });
  const sim = stack.simulator;
  if (sim === undefined) {
    await stack.stop();
    throw new Error('no simulator');
  }
  const dynamo = createDynamoClient({ endpoint: stack.dynamoEndpoint });
  const lambda = new LambdaClient({ endpoint: stack.lambdaUrl, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  const streams = new DynamoDBStreamsClient({
    endpoint: stack.dynamoEndpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  return {
    keys,
    sim,
    httpUrl: stack.httpUrl,
    dynamoEndpoint: stack.dynamoEndpoint,
    tableName: stack.tableName,
    dynamo,
    store: createDynamoOrderStore({ client: dynamo, tableName: stack.tableName }),
    lambda,
    streams,
    get output() {
      return output;
    },
    stop: async () => {
      lambda.destroy();
      streams.destroy();
      dynamo.destroy();
      await stack.stop();
    },
  };
}
