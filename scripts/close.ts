/**
 * `npm run close -- <outTradeNo> [--sub-mchid ID] [--v2|--v3]`: invokes closeOrder on the running
 * `npm start` stack exactly as a merchant's function would, with the AWS SDK's InvokeCommand.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { parseArgs } from 'node:util';
import { readStackState } from './local/state';

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'sub-mchid': { type: 'string' }, v2: { type: 'boolean' }, v3: { type: 'boolean' } },
  });
  const [outTradeNo] = positionals;
  const state = readStackState();
  if (!outTradeNo) {
    console.error('usage: npm run close -- <outTradeNo> [--sub-mchid ID] [--v2|--v3]');
    return 2;
  }
  if (!state) throw new Error('npm start is not running (no .local/stack.json)');
  const lambda = new LambdaClient({
    endpoint: state.lambdaUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const event = {
    outTradeNo,
    ...(values['sub-mchid'] ? { subMchId: values['sub-mchid'] } : {}),
    ...(values.v2 ? { protocol: 'v2' } : values.v3 ? { protocol: 'v3' } : {}),
  };
  const res = await lambda.send(
    new InvokeCommand({
      FunctionName: 'wechatpay-lambda-local-closeOrder',
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
