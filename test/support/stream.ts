/** The table's stream on DynamoDB Local, read from its start as the stream consumer would get it. */
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { inject } from 'vitest';
import type { StreamRecordLike } from '../../lib/orders/events';
import type { Harness } from './harness';

/** Every record in the harness table's stream so far, in shard order. */
export async function readStream(h: Harness): Promise<StreamRecordLike[]> {
  const streams = new DynamoDBStreamsClient({
    endpoint: inject('dynamoEndpoint'),
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    return await streamRecords(h.client, streams, h.tableName);
  } finally {
    streams.destroy();
  }
}

/** Every record in `tableName`'s stream so far, in shard order, read with the clients given. */
export async function streamRecords(
  dynamo: DynamoDBClient,
  streams: DynamoDBStreamsClient,
  tableName: string,
): Promise<StreamRecordLike[]> {
  const arn = (await dynamo.send(new DescribeTableCommand({ TableName: tableName }))).Table?.LatestStreamArn;
  const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription?.Shards ?? [];
  const records: StreamRecordLike[] = [];
  for (const shard of shards) {
    let iterator = (
      await streams.send(
        new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }),
      )
    ).ShardIterator;
    for (let page = 0; iterator !== undefined && page < 1000; page++) {
      const got = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      records.push(...((got.Records ?? []) as StreamRecordLike[]));
      if ((got.Records ?? []).length === 0) break;
      iterator = got.NextShardIterator;
    }
  }
  return records;
}
