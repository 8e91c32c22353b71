/**
 * Profiling aid (issue 17): what the payment's one conditional write costs the handler, piece by piece,
 * against a DynamoDB Local it starts: the minimal four-attribute UpdateItem on a default client, the
 * same on the functions' client (bounded timeouts), the whole-item payment write sent raw with and
 * without ALL_NEW, and store.applyPayment itself (a registered order: only what the payment changes). Median own time (wall minus the HTTP exchange) per write,
 * variants interleaved round by round.
 *
 *   npx tsx scripts/perf/store.ts [rounds=7] [perRound=60]
 */
import { DynamoDBClient, UpdateItemCommand, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { performance } from 'node:perf_hooks';
import { minimalPaymentWrite } from '../../bench/lib/minimal';
import { hookClientClass, resetWaitClock, waitClock } from '../../bench/lib/sendtime';
import { createDynamoClient } from '../../lib/orders/client';
import { createDynamoOrderStore } from '../../lib/orders/dynamodb';
import { orderKey } from '../../lib/orders/table';
import { ensureTable, startLocalDynamo } from '../local/dynamodb';

const rounds = Number(process.argv[2] ?? 7);
const perRound = Number(process.argv[3] ?? 60);
const TABLE = 'perf-store';
const MCHID = '1900000109';

async function main(): Promise<void> {
  const dynamo = await startLocalDynamo();
  try {
    await ensureTable(dynamo.endpoint, TABLE);
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });
    hookClientClass(DynamoDBClient.prototype);
    const plain = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const functions = createDynamoClient({ endpoint: dynamo.endpoint, region: 'us-east-1' });
    const store = createDynamoOrderStore({ client: functions, tableName: TABLE });
    const minimal = (no: string) => minimalPaymentWrite(TABLE, orderKey(MCHID, no), `TX${no}`, 100);
    // the whole-item payment write (lib/orders/dynamo/orders.ts paymentWrite's form for a key with no
    // order, and its form for every payment before the registered write was slimmed), written out
    const full = (no: string, returnValues: 'ALL_NEW' | 'NONE'): UpdateItemCommandInput => ({
      TableName: TABLE,
      Key: { pk: { S: orderKey(MCHID, no) } },
      UpdateExpression:
        'SET #state = :paid, transactionId = :tx, paidFen = :fen, paidAt = :paidAt, paidVia = :via, appliedAt = :now, ' +
        'previousState = if_not_exists(#state, :unregistered), amountFen = if_not_exists(amountFen, :fen), ' +
        'amountUnverified = if_not_exists(amountUnverified, :true), outTradeNo = :otn, merchantId = :mid, entity = :entity, ' +
        '#channel = if_not_exists(#channel, :channel), paidDay = :paidDay REMOVE pending, #ttl',
      ConditionExpression:
        '#state IN (:was_NOTPAY, :was_CLOSED) AND amountFen = :was_amountFen AND (attribute_not_exists(#channel) OR #channel = :was_channel)',
      ExpressionAttributeNames: { '#state': 'state', '#ttl': 'ttl', '#channel': 'channel' },
      ExpressionAttributeValues: {
        ':paid': { S: 'PAID' },
        ':unregistered': { S: 'UNREGISTERED' },
        ':tx': { S: `TX${no}` },
        ':fen': { N: '100' },
        ':paidAt': { S: new Date().toISOString() },
        ':via': { S: 'v3' },
        ':now': { S: new Date().toISOString() },
        ':true': { BOOL: true },
        ':otn': { S: no },
        ':mid': { S: MCHID },
        ':entity': { S: 'ORDER' },
        ':channel': { S: 'wechatpay' },
        ':paidDay': { S: `PAIDDAY#20261130#0` },
        ':was_NOTPAY': { S: 'NOTPAY' },
        ':was_CLOSED': { S: 'CLOSED' },
        ':was_amountFen': { N: '100' },
        ':was_channel': { S: 'wechatpay' },
      },
      ReturnValues: returnValues,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    const variants: Array<[string, (no: string) => Promise<unknown>]> = [
      ['minimal write, default client', (no) => plain.send(new UpdateItemCommand(minimal(no)))],
      ['minimal write, functions client', (no) => functions.send(new UpdateItemCommand(minimal(no)))],
      ['whole-item write, ALL_NEW', (no) => functions.send(new UpdateItemCommand(full(no, 'ALL_NEW')))],
      ['whole-item write, NONE', (no) => functions.send(new UpdateItemCommand(full(no, 'NONE')))],
      [
        'store.applyPayment',
        (no) =>
          store.applyPayment(
            {
              outTradeNo: no,
              merchantId: MCHID,
              transactionId: `TX${no}`,
              amountFen: 100,
              paidAt: new Date().toISOString(),
              channel: 'v3',
            },
            'reject',
          ),
      ],
    ];
    const own = new Map<string, number[]>(variants.map(([name]) => [name, []]));
    let seq = 0;
    for (let r = 0; r <= rounds; r++) {
      for (const [name, write] of variants) {
        const nos: string[] = [];
        for (let i = 0; i < perRound; i++) {
          const no = `PS${Date.now().toString(36)}${seq++}`;
          const reg = await store.registerOrder({ outTradeNo: no, amountFen: 100, merchantId: MCHID });
          if (reg.kind !== 'REGISTERED') throw new Error(reg.kind);
          nos.push(no);
        }
        const samples: number[] = [];
        for (const no of nos) {
          resetWaitClock();
          const t0 = performance.now();
          await write(no);
          samples.push(performance.now() - t0 - waitClock.httpMs);
        }
        samples.sort((a, b) => a - b);
        if (r > 0) own.get(name)?.push(samples[samples.length >> 1] as number);
      }
    }
    for (const [name, xs] of own) {
      xs.sort((a, b) => a - b);
      process.stdout.write(`${name.padEnd(34)} ${(xs[xs.length >> 1] as number).toFixed(3)} ms own per write\n`);
    }
    plain.destroy();
    functions.destroy();
  } finally {
    await dynamo.stop();
  }
}

void main();
