/**
 * The stream consumer core and the deployed example (functions/streamConsumer.ts): records decoded
 * into domain events handed to `onEvent` in order, the first failing record reported so only it and
 * what follows are retried, nothing thrown. The records are shaped as Lambda delivers them (the
 * decoder itself is tested on real DynamoDB Local stream records in test/lib/orders/events.test.ts).
 */
import middy from '@middy/core';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../../functions/streamConsumer';
import { entryPoint } from '../../../lib/lambda/entry';
import { streamCore, streamMiddlewares, type StreamDeps } from '../../../lib/lambda/stream';
import { createLogger } from '../../../lib/log';
import type { DomainEvent } from '../../../lib/orders/events';

afterEach(() => {
  vi.restoreAllMocks();
});

/** A MODIFY record taking order `no` from NOTPAY to PAID, as Lambda's stream event carries it. */
function paidRecord(no: string, seq: string): DynamoDBRecord {
  const image = (state: string) => ({
    pk: { S: `ORDER#1900000109#${no}` },
    entity: { S: 'ORDER' },
    merchantId: { S: '1900000109' },
    outTradeNo: { S: no },
    state: { S: state },
    ...(state === 'PAID'
      ? { transactionId: { S: `42${no}` }, paidFen: { N: '100' }, paidAt: { S: '2026-11-30T00:00:00.000Z' } }
      : {}),
  });
  return {
    eventID: `e-${seq}`,
    eventName: 'MODIFY',
    dynamodb: { SequenceNumber: seq, OldImage: image('NOTPAY'), NewImage: image('PAID') },
  };
}

const batch = (...records: DynamoDBRecord[]): DynamoDBStreamEvent => ({ Records: records });

function consumer(onEvent: (e: DomainEvent) => Promise<void>) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ service: 'test', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  const invoke = entryPoint(
    middy(
      streamCore<StreamDeps>((e) => onEvent(e)),
      { timeoutEarlyInMillis: 0 },
    ).use(streamMiddlewares((l): StreamDeps => ({ logger: l }), logger)),
  );
  return { invoke, lines };
}

describe('streamCore', () => {
  it('hands every event to onEvent in order and reports no failure', async () => {
    const seen: string[] = [];
    const c = consumer(async (e) => void seen.push(`${e.type}:${e.outTradeNo}`));
    expect(await c.invoke(batch(paidRecord('A1', '1'), paidRecord('A2', '2')))).toEqual({ batchItemFailures: [] });
    expect(seen).toEqual(['PAYMENT_SUCCEEDED:A1', 'PAYMENT_SUCCEEDED:A2']);
  });

  it('reports the first failing record and stops there: it and what follows are retried', async () => {
    const seen: string[] = [];
    const c = consumer(async (e) => {
      if (e.outTradeNo === 'B2') throw new RangeError('ledger refused');
      seen.push(e.outTradeNo);
    });
    const r = await c.invoke(batch(paidRecord('B1', '11'), paidRecord('B2', '12'), paidRecord('B3', '13')), {
      awsRequestId: 'req-b',
    });
    expect(r).toEqual({ batchItemFailures: [{ itemIdentifier: '12' }] });
    expect(seen).toEqual(['B1']);
    // the line carries the invocation's request id (Powertools' middleware, through the consumer's logger)
    expect(c.lines).toEqual([
      expect.objectContaining({
        level: 'error',
        message: 'consumer failed',
        eventID: 'e-12',
        cause: 'RangeError',
        request_id: 'req-b',
      }),
    ]);
    expect(JSON.stringify(c.lines)).not.toContain('ledger refused');
  });

  it('a thrown non-Error and a record without a sequence number are still reported', async () => {
    const c = consumer(async () => {
      throw 'nope';
    });
    const record = paidRecord('C1', '21');
    delete record.dynamodb?.SequenceNumber;
    expect(await c.invoke(batch(record))).toEqual({ batchItemFailures: [{ itemIdentifier: '' }] });
    expect(c.lines[0]).toMatchObject({ cause: 'unknown' });
  });
});

describe('functions/streamConsumer.ts', () => {
  it('logs one line per domain event and reports no failure; an empty batch is fine', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(
      (chunk: string | Uint8Array) => (lines.push(String(chunk)), true),
    );
    expect(await handler(batch(paidRecord('D1', '31')), { getRemainingTimeInMillis: () => 60_000 })).toEqual({
      batchItemFailures: [],
    });
    expect(await handler(batch())).toEqual({ batchItemFailures: [] });
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toEqual([
      expect.objectContaining({
        service: 'wechatpay-lambda-consumer',
        message: 'domain event',
        type: 'PAYMENT_SUCCEEDED',
        outTradeNo: 'D1',
        idempotencyKey: 'ORDER#1900000109#D1#PAID',
      }),
    ]);
  });
});
