/**
 * The minimal handler (bench section e's floor, scripts/perf/store.ts's and cpu.ts's reference) and the
 * plain APIv3 read it shares with section a's floor. Its one conditional write: NOTPAY → PAID with the
 * transaction, the amount pinned, the pending entry removed; a refused write hands back the item
 * (ALL_OLD) so a duplicate is told apart.
 */
import { createDecipheriv, type KeyObject, verify } from 'node:crypto';
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

/** The `resource` of an APIv3 notification, as the hand-written readers take it. */
export interface PlainResource {
  ciphertext: string;
  nonce: string;
  associated_data: string;
}

/** The transaction fields the minimal handler reads. */
export interface PlainTransaction {
  out_trade_no: string;
  transaction_id: string;
  mchid: string;
  amount: { total: number };
}

/**
 * The envelope's resource opened the plain way (the floor's and the minimal handler's): JSON.parse of
 * the body, AES-256-GCM with its tag, JSON.parse of the plaintext; no check of any field.
 */
export function openPlain<T>(body: string, aesKey: Buffer): T {
  const r = (JSON.parse(body) as { resource: PlainResource }).resource;
  const data = Buffer.from(r.ciphertext, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', aesKey, Buffer.from(r.nonce));
  decipher.setAuthTag(data.subarray(data.length - 16));
  decipher.setAAD(Buffer.from(r.associated_data));
  const plain = Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]);
  return JSON.parse(plain.toString('utf8')) as T;
}

/**
 * The minimal handler's read of an APIv3 notification: RSA by the one-shot crypto.verify with a
 * prebuilt key over `timestamp\nnonce\nbody\n`, then {@link openPlain}; undefined when the signature fails.
 */
export function minimalV3Read(
  headers: Readonly<Record<string, string | undefined>>,
  body: string,
  platformKey: KeyObject,
  aesKey: Buffer,
): PlainTransaction | undefined {
  const msg = Buffer.from(`${headers['wechatpay-timestamp']}\n${headers['wechatpay-nonce']}\n${body}\n`);
  if (!verify('sha256', msg, platformKey, Buffer.from(headers['wechatpay-signature'] ?? '', 'base64')))
    return undefined;
  return openPlain<PlainTransaction>(body, aesKey);
}
