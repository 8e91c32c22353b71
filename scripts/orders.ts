/**
 * `npm run orders -- <command>`: what the merchant's own functions do with the table, against the
 * running `npm start` stack: register an order, show one, list the table.
 *
 *   register <outTradeNo> <amountFen> [--sub-mchid ID] [--age SECONDS]
 *   show <outTradeNo> [--sub-mchid ID]
 *   refund <outRefundNo> [--sub-mchid ID]
 *   list
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { parseArgs } from 'node:util';
import { createDynamoClient } from '../lib/orders/client';
import { createDynamoOrderStore } from '../lib/orders/dynamodb';
import { readStackState } from './local/state';
import { runCommand } from './local/env';

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'sub-mchid': { type: 'string' }, age: { type: 'string' } },
  });
  const state = readStackState();
  if (!state) throw new Error('npm start is not running (no .local/stack.json)');
  const client = createDynamoClient({ endpoint: state.dynamoEndpoint });
  const store = createDynamoOrderStore({ client, tableName: state.tableName });
  const merchantId = values['sub-mchid'] ?? state.mchid;
  const [command, a, b] = positionals;
  const print = (v: unknown) => console.log(JSON.stringify(v, null, 2));
  switch (command) {
    case 'register': {
      if (!a || !b || !merchantId) break;
      const age = Number(values.age ?? 0);
      print(
        await store.registerOrder({
          outTradeNo: a,
          amountFen: Number(b),
          merchantId,
          createdAt: new Date(Date.now() - age * 1000).toISOString(),
        }),
      );
      return 0;
    }
    case 'show':
      if (!a || !merchantId) break;
      print((await store.getOrder(merchantId, a)) ?? { error: 'no such order' });
      return 0;
    case 'refund':
      if (!a || !merchantId) break;
      print((await store.getRefund(merchantId, a)) ?? { error: 'no such refund' });
      return 0;
    case 'list': {
      // a development aid on the local table only: the service itself never scans
      const res = await client.send(new ScanCommand({ TableName: state.tableName, Limit: 100 }));
      for (const item of res.Items ?? [])
        console.log(Object.fromEntries(Object.entries(item).map(([k, v]) => [k, Object.values(v)[0]])));
      return 0;
    }
  }
  console.error(
    'usage: npm run orders -- register <outTradeNo> <amountFen> [--sub-mchid ID] [--age S] | show <outTradeNo> | refund <outRefundNo> | list',
  );
  return 2;
}

runCommand(main);
