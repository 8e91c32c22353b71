/**
 * `npm start`: the whole service locally with no AWS account. DynamoDB Local (or the embedded store
 * where Java is missing), the payments table, the functions on http://127.0.0.1:3000 (PORT
 * overrides), and a local WeChat Pay simulator that the functions call and that delivers signed
 * notifications to them. WECHATPAY_* variables set in the environment are used as given (then no
 * simulator runs: it cannot sign as your WeChat Pay); otherwise test keys are generated once into
 * .local/ and reused, and a console page (scripts/console, http://127.0.0.1:3020, CONSOLE_PORT
 * overrides) shows the table and the deliveries live.
 */
import { join } from 'node:path';
import { hasJava } from './local/dynamodb';
import { loadOrCreateKeys } from './local/keys';
import { startStack } from './local/stack';
import { clearStackState, LOCAL_DIR, writeStackState } from './local/state';
import { toEnv, type TestKeys } from './simulator/keys';

const KEYS_FILE = join(LOCAL_DIR, 'wechatpay-test-keys.json');

async function main(): Promise<void> {
  const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
  const configured = Object.keys(process.env).some((k) => k.startsWith('WECHATPAY_') && k !== 'WECHATPAY_SIM_URL');
  let env: Record<string, string> = {};
  let keys: TestKeys | undefined;
  if (configured) {
    console.log(
      'Using the WECHATPAY_* variables from the environment (no simulator: it cannot sign as your WeChat Pay).',
    );
  } else {
    const loaded = loadOrCreateKeys(KEYS_FILE);
    keys = loaded.keys;
    env = toEnv(keys);
    console.log(
      `${loaded.created ? 'Generated' : 'Reusing'} local TEST keys: ${KEYS_FILE} (mchid ${keys.mchid}, appid ${keys.appid})`,
    );
  }
  if (!hasJava())
    console.log(
      'Notice: java was not found, so the embedded pure-JS DynamoDB (dynalite) is used instead of DynamoDB Local.',
    );

  const stack = await startStack({
    httpPort: port('PORT', 3000),
    lambdaPort: port('LAMBDA_PORT', 3002),
    dynamoPort: port('DYNAMODB_PORT', 8000),
    env,
    simulator: keys
      ? { keys, port: port('SIM_PORT', 3010), timeScale: Number(process.env.SIM_TIME_SCALE ?? 0.01) }
      : undefined,
    // the console drives the simulator, so it runs only with it
    console: keys ? { port: port('CONSOLE_PORT', 3020) } : undefined,
    onOutput: (s) => process.stdout.write(s),
  });
  writeStackState({
    httpUrl: stack.httpUrl,
    lambdaUrl: stack.lambdaUrl,
    dynamoEndpoint: stack.dynamoEndpoint,
    tableName: stack.tableName,
    simulatorUrl: stack.simulator?.url,
    mchid: keys?.mchid ?? process.env.WECHATPAY_MCHID,
  });
  console.log(
    [
      '',
      'wechatpay-lambda is running locally:',
      `  notifications   POST ${stack.httpUrl}/notify/payment   POST ${stack.httpUrl}/notify/refund`,
      `  Lambda invoke   ${stack.lambdaUrl} (function names wechatpay-lambda-local-<function>)`,
      `  DynamoDB        ${stack.dynamoEndpoint} (${stack.engine}, in memory), table ${stack.tableName}`,
      stack.simulator
        ? `  WeChat Pay sim  ${stack.simulator.url} (the functions' API base URL; notifications go to the routes above)`
        : '',
      stack.console
        ? `  Console         ${stack.console.url}/  (orders and deliveries live; buttons for every step below)`
        : '',
      '',
      'Try it (README, "Running locally"):',
      '  npm run orders -- register DEMO001 1999     # your order function registers an order',
      '  npm run sim -- pay DEMO001 1999 --v3         # WeChat Pay takes the payment and notifies',
      '  npm run orders -- show DEMO001               # the order is PAID',
      'Press Ctrl-C to stop everything.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping…');
    clearStackState();
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
