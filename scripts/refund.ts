/**
 * `npm run refund -- <outTradeNo> <outRefundNo> <fen> [--reason TEXT] [--sub-mchid ID] [--v2|--v3]`:
 * invokes the refund function on the running `npm start` stack exactly as a merchant's function
 * would, through the typed client (lib/client.ts); the simulator answers and later notifies the result.
 */
import { parseArgs } from 'node:util';
import { invokeRefund } from '../lib/client';
import { localLambda, runCommand } from './local/env';

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
  const { client, functionName } = localLambda();
  const outcome = await invokeRefund(
    {
      outTradeNo,
      outRefundNo,
      refundFen: Number(fen),
      ...(values.reason ? { reason: values.reason } : {}),
      ...(values['sub-mchid'] ? { subMchId: values['sub-mchid'] } : {}),
      ...(values.v2 ? { protocol: 'v2' as const } : values.v3 ? { protocol: 'v3' as const } : {}),
    },
    { client, functionName: functionName('refund') },
  );
  console.log(JSON.stringify(outcome, null, 2));
  return 0;
}

runCommand(main);
