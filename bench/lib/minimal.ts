/**
 * The minimal handler's one conditional write (bench section e's floor, and scripts/perf/store.ts's
 * reference): NOTPAY → PAID with the transaction, the amount pinned, the pending entry removed; a
 * refused write hands back the item (ALL_OLD) so a duplicate is told apart.
 */
import type { UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';

export function minimalPaymentWrite(
  tableName: string,
  pk: string,
  transactionId: string,
  totalFen: number,
): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { pk: { S: pk } },
    ConditionExpression: '#s = :notpay AND amountFen = :fen',
    UpdateExpression: 'SET #s = :paid, transactionId = :tx REMOVE pending',
    ExpressionAttributeNames: { '#s': 'state' },
    ExpressionAttributeValues: {
      ':notpay': { S: 'NOTPAY' },
      ':paid': { S: 'PAID' },
      ':tx': { S: transactionId },
      ':fen': { N: String(totalFen) },
    },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}
