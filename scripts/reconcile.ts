/**
 * `npm run reconcile -- [<outTradeNo>] [--all] [--sub-mchid ID] [--dry-run]`: ask WeChat Pay about one
 * order now, or about every pending order, and record what a notification would have recorded.
 * Prints what WeChat reported and what changed (lib/reconcile/command.ts).
 *
 * Configuration comes from the WECHATPAY_* variables (with PAYMENTS_TABLE, and AWS credentials or
 * DYNAMODB_ENDPOINT for the table); without them, from the running `npm start`: its table, its
 * simulator as the WeChat Pay API, and its test keys.
 */
import { loadConfig } from '../lib/config';
import { PayError } from '../lib/errors';
import { createLogger } from '../lib/log';
import { createDynamoClient } from '../lib/orders/client';
import { createDynamoOrderStore } from '../lib/orders/dynamodb';
import { CLOSE_CLIENT_TIMEOUTS } from '../lib/close/lambda';
import { parseReconcileArgs, RECONCILE_USAGE, runReconcileCommand } from '../lib/reconcile/command';
import { createWechatPayClient } from '../lib/wechatpay/client';
import { localEnvironment } from './local/env';

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
    console.log(RECONCILE_USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  const command = parseReconcileArgs(argv);
  const config = loadConfig(localEnvironment(true));
  // the command's output is what it prints; only warnings and errors (anomalies included) go to stderr as JSON
  const logger = createLogger({
    service: 'reconcile-command',
    write: (line) => /^\{"level":"(warn|error)"/.test(line) && process.stderr.write(`${line}\n`),
  });
  const deps = {
    config,
    store: createDynamoOrderStore({
      client: createDynamoClient({ endpoint: config.dynamodbEndpoint }),
      tableName: config.tableName,
    }),
    client: createWechatPayClient({ config, ...CLOSE_CLIENT_TIMEOUTS }),
    logger,
    now: Date.now,
  };
  return runReconcileCommand(command, deps, (line) => console.log(line));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    // 2: a usage or configuration mistake; 1: the table or WeChat Pay could not be reached
    process.exit(err instanceof PayError && err.kind === 'CONFIG' ? 2 : 1);
  },
);
