/**
 * `npm start`: the whole service locally with no AWS account. DynamoDB Local (or the embedded store
 * where Java is missing), the payments table, and the functions on http://127.0.0.1:3000 (PORT
 * overrides). WECHATPAY_* variables set in the environment are used as given; otherwise test keys
 * are generated once into .local/ and reused.
 */
import { join, resolve } from 'node:path';
import { hasJava } from './local/dynamodb';
import { loadOrCreateKeys } from './local/keys';
import { startStack } from './local/stack';
import { toEnv } from './simulator/keys';

const ROOT = resolve(__dirname, '..');
const KEYS_FILE = join(ROOT, '.local', 'wechatpay-test-keys.json');

async function main(): Promise<void> {
  const httpPort = Number(process.env.PORT ?? 3000);
  const lambdaPort = Number(process.env.LAMBDA_PORT ?? 3002);
  const configured = Object.keys(process.env).some((k) => k.startsWith('WECHATPAY_') && k !== 'WECHATPAY_SIM_URL');
  let env: Record<string, string> = {};
  if (configured) {
    console.log('Using the WECHATPAY_* variables from the environment.');
  } else {
    const { keys, created } = loadOrCreateKeys(KEYS_FILE);
    env = toEnv(keys);
    console.log(`${created ? 'Generated' : 'Reusing'} local TEST keys: ${KEYS_FILE} (mchid ${keys.mchid}, appid ${keys.appid})`);
  }
  if (!hasJava()) console.log('Notice: java was not found, so the embedded pure-JS DynamoDB (dynalite) is used instead of DynamoDB Local.');

  const stack = await startStack({ httpPort, lambdaPort, env, onOutput: (s) => process.stdout.write(s) });
  console.log(
    [
      '',
      'wechatpay-lambda is running locally:',
      `  notifications  POST ${stack.httpUrl}/notify/payment   POST ${stack.httpUrl}/notify/refund`,
      `  Lambda invoke  ${stack.lambdaUrl} (function names wechatpay-lambda-local-<function>)`,
      `  DynamoDB       ${stack.dynamoEndpoint} (${stack.engine}, in memory), table ${stack.tableName}`,
      'Press Ctrl-C to stop everything.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping…');
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
