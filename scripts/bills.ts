/**
 * `npm run bills -- <yyyy-MM-dd> [--dry-run] [--sub-mchid ID]`: fetch the day's trade bill, check it,
 * compare it with the table, apply what it proves (not with --dry-run) and write the day's JSON report
 * to .local/bills/ (lib/bills/run.ts). Exit 0 when done, 3 when WeChat has no bill yet.
 *
 * Configuration comes from the WECHATPAY_* variables (with PAYMENTS_TABLE, and AWS credentials or
 * DYNAMODB_ENDPOINT for the table); without them, from the running `npm start`: its table, its
 * simulator as the WeChat Pay API, and its test keys.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { billClientDeps } from '../lib/bills/fetch';
import { billReportRecorder } from '../lib/bills/reportItem';
import { folderSink, runBill } from '../lib/bills/run';
import { loadConfig } from '../lib/config';
import { PayError } from '../lib/errors';
import { createLogger } from '../lib/log';
import { createDynamoClient } from '../lib/orders/client';
import { createDynamoOrderStore } from '../lib/orders/dynamodb';
import { pendingShardsFromEnv } from '../lib/orders/table';
import { localEnvironment } from './local/env';
import { LOCAL_DIR } from './local/state';

const USAGE = 'usage: npm run bills -- <yyyy-MM-dd> [--dry-run] [--sub-mchid ID]';

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'dry-run': { type: 'boolean' }, 'sub-mchid': { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help === true || positionals.length !== 1) {
    console.log(USAGE);
    return values.help === true ? 0 : 2;
  }
  const env = localEnvironment(true);
  const config = loadConfig(env);
  const pendingShards = pendingShardsFromEnv(env);
  const logger = createLogger({
    service: 'bills-command',
    write: (line) => /^\{"level":"(warn|error)"/.test(line) && process.stderr.write(`${line}\n`),
  });
  const scratch = join(LOCAL_DIR, 'bills', 'downloads');
  mkdirSync(scratch, { recursive: true });
  const dynamo = createDynamoClient({ endpoint: config.dynamodbEndpoint });
  const result = await runBill(
    {
      fetch: { client: billClientDeps(config), dir: scratch },
      store: createDynamoOrderStore({ client: dynamo, tableName: config.tableName, pendingShards }),
      table: { client: dynamo, tableName: config.tableName, shards: pendingShards.read },
      logger,
      sink: folderSink(join(LOCAL_DIR, 'bills')),
      // the day's report item, as the scheduled function writes it
      recordReport: billReportRecorder(dynamo, config.tableName),
      now: Date.now,
    },
    { billDate: positionals[0] as string, ...(values['sub-mchid'] ? { subMchid: values['sub-mchid'] } : {}) },
    { dryRun: values['dry-run'] === true },
  );
  if (result.kind === 'NOT_READY') {
    console.log(`no bill for ${positionals[0]} yet (${result.reason}): try again later`);
    return 3;
  }
  const { totals } = result.report;
  console.log(JSON.stringify({ rows: totals.rows, repaired: totals.repaired, counts: totals.counts }, null, 2));
  console.log(`report: ${result.path}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    // 2: a usage or configuration mistake; 1: a bad bill, or the table or WeChat Pay unreachable
    process.exit(err instanceof PayError && err.kind === 'CONFIG' ? 2 : 1);
  },
);
