/**
 * `npm run refund -- <outTradeNo> <outRefundNo> <fen> [--reason TEXT] [--sub-mchid ID] [--v2|--v3]`:
 * invokes the refund function on the running `npm start` stack exactly as a merchant's function
 * would, with the AWS SDK's InvokeCommand; the simulator answers and later notifies the result.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { parseArgs } from 'node:util';
import { readStackState } from './local/state';

const USAGE = 'usage: npm run refund -- <outTradeNo> <outRefundNo> <fen> [--reason TEXT] [--sub-mchid ID] [--v2|--v3]';

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      reason: { type: 'string' },
      'sub-mchid': { type: 'string' },
      v2: { type: 'boolean' },
      v3: { type: 'boolean' },
    },
  });
  const [outTradeNo, outRefundNo, fen] = positionals;
  if (!outTradeNo || !outRefundNo || !fen || !/^[0-9]+$/.test(fen)) {
    console.error(USAGE);
    return 2;
  }
  const state = readStackState();
  if (!state) throw new Error('npm start is not running (no .local/stack.json)');
  const lambda = new LambdaClient({
    endpoint: state.lambdaUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const event = {
    outTradeNo,
    outRefundNo,
    refundFen: Number(fen),
    ...(values.reason ? { reason: values.reason } : {}),
    ...(values['sub-mchid'] ? { subMchId: values['sub-mchid'] } : {}),
    ...(values.v2 ? { protocol: 'v2' } : values.v3 ? { protocol: 'v3' } : {}),
  };
  const res = await lambda.send(
    new InvokeCommand({
      FunctionName: 'wechatpay-lambda-local-refund',
      InvocationType: 'RequestResponse',
      Payload: JSON.stringify(event),
    }),
  );
  console.log(JSON.stringify(JSON.parse(Buffer.from(res.Payload ?? new Uint8Array()).toString('utf8')), null, 2));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
