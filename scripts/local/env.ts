/** The configuration a local command-line tool runs with: the caller's variables, or the running `npm start`'s. */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { join } from 'node:path';
import { readKeysFile } from '../simulator/keyfile';
import { toEnv } from '../simulator/keys';
import { LOCAL_DIR, readStackState } from './state';

/**
 * `process.env` when it names a merchant (WECHATPAY_MCHID); otherwise the running `npm start`'s table,
 * its simulator as the WeChat Pay API and its test keys. With no stack running: an error when
 * `required`, else `process.env` as it is (the tool then reports what is missing itself).
 */
export function localEnvironment(required: boolean): Record<string, string | undefined> {
  if (process.env.WECHATPAY_MCHID) return process.env;
  const state = readStackState();
  if (!state?.simulatorUrl) {
    if (!required) return process.env;
    throw new Error('set the WECHATPAY_* variables (and PAYMENTS_TABLE), or run npm start (with its simulator)');
  }
  const keys = readKeysFile(join(LOCAL_DIR, 'wechatpay-test-keys.json'));
  return {
    ...toEnv(keys),
    PAYMENTS_TABLE: state.tableName,
    DYNAMODB_ENDPOINT: state.dynamoEndpoint,
    WECHATPAY_API_BASE_URL: state.simulatorUrl,
  };
}

/** A Lambda client for the running `npm start`'s local Lambda endpoint (its invoke API), and the stage's function names. */
export function localLambda(): { client: LambdaClient; functionName: (name: string) => string } {
  const state = readStackState();
  if (!state) throw new Error('npm start is not running (no .local/stack.json)');
  const client = new LambdaClient({
    endpoint: state.lambdaUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  return { client, functionName: (name) => `wechatpay-lambda-local-${name}` };
}

/** Runs a command's `main`, exiting with its code; a thrown error prints its message and exits 1. */
export function runCommand(main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
