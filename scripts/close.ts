/**
 * `npm run close -- <outTradeNo> [--sub-mchid ID] [--v2|--v3]`: invokes closeOrder on the running
 * `npm start` stack exactly as a merchant's function would, through the typed client (lib/client.ts).
 */
import { parseArgs } from 'node:util';
import { invokeCloseOrder } from '../lib/client';
import { localLambda, runCommand } from './local/env';

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'sub-mchid': { type: 'string' }, v2: { type: 'boolean' }, v3: { type: 'boolean' } },
  });
  const [outTradeNo] = positionals;
  if (!outTradeNo) {
    console.error('usage: npm run close -- <outTradeNo> [--sub-mchid ID] [--v2|--v3]');
    return 2;
  }
  const { client, functionName } = localLambda();
  const outcome = await invokeCloseOrder(
    {
      outTradeNo,
      ...(values['sub-mchid'] ? { subMchId: values['sub-mchid'] } : {}),
      ...(values.v2 ? { protocol: 'v2' as const } : values.v3 ? { protocol: 'v3' as const } : {}),
    },
    { client, functionName: functionName('closeOrder') },
  );
  console.log(JSON.stringify(outcome, null, 2));
  return 0;
}

runCommand(main);
