/** The table's stream on DynamoDB Local, read from its start as the stream consumer would get it. */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
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
  const arn = (await h.client.send(new DescribeTableCommand({ TableName: h.tableName }))).Table?.LatestStreamArn;
  const streams = new DynamoDBStreamsClient({
    endpoint: inject('dynamoEndpoint'),
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription?.Shards ?? [];
  const records: StreamRecordLike[] = [];
  for (const shard of shards) {
    let iterator = (
      await streams.send(
        new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }),
      )
    ).ShardIterator;
    for (let i = 0; iterator && i < 50; i++) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
      records.push(...((page.Records ?? []) as StreamRecordLike[]));
      if (!page.Records?.length) break;
      iterator = page.NextShardIterator;
    }
  }
  streams.destroy();
  return records;
}
