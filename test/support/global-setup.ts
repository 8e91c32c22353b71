/** Starts one real DynamoDB (DynamoDB Local, or dynalite without Java) for the whole test run. */
import type { TestProject } from 'vitest/node';
import { startLocalDynamo, type LocalDynamo } from '../../scripts/local/dynamodb';

let dynamo: LocalDynamo | undefined;

export async function setup(project: TestProject): Promise<void> {
  dynamo = await startLocalDynamo({ engine: process.env.TEST_DYNAMO_ENGINE === 'dynalite' ? 'dynalite' : undefined });
  project.provide('dynamoEndpoint', dynamo.endpoint);
  project.provide('dynamoEngine', dynamo.engine);
  process.stdout.write(`test store: ${dynamo.engine} at ${dynamo.endpoint}\n`);
}

export async function teardown(): Promise<void> {
  await dynamo?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    dynamoEngine: 'dynamodb-local' | 'dynalite';
  }
}
