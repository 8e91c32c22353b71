/**
 * The table is defined twice: in serverless.yml (what AWS creates) and in lib/orders/table.ts (what
 * DynamoDB Local and the tests create). These cases read serverless.yml with a YAML reader and hold
 * the two to the same keys, attribute types, indexes with their projections, stream view type and
 * TTL attribute, so a change to one that forgets the other fails here instead of in production.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { DEFAULT_PENDING_SHARDS, orderKey, PENDING_INDEX, tableDefinition } from '../../../lib/orders/table';
import { createHarness, orderNo, type Harness } from '../../support/harness';

interface AttributeDefinition {
  AttributeName: string;
  AttributeType: string;
}
interface KeyElement {
  AttributeName: string;
  KeyType: string;
}
interface TableProperties {
  BillingMode?: string;
  AttributeDefinitions: AttributeDefinition[];
  KeySchema: KeyElement[];
  GlobalSecondaryIndexes?: Array<{
    IndexName: string;
    KeySchema: KeyElement[];
    Projection: { ProjectionType: string; NonKeyAttributes?: string[] };
  }>;
  TimeToLiveSpecification?: { AttributeName: string; Enabled: boolean };
  StreamSpecification?: { StreamViewType: string };
}

/** The one AWS::DynamoDB::Table of serverless.yml; CloudFormation tags (!GetAtt, !Sub …) read as plain values. */
function serverlessTable(): TableProperties {
  const text = readFileSync(join(__dirname, '../../../serverless.yml'), 'utf8');
  const doc = parseDocument(text, { logLevel: 'silent' });
  expect(doc.errors).toEqual([]);
  const resources = (doc.toJS() as { resources: { Resources: Record<string, { Type: string; Properties: unknown }> } })
    .resources.Resources;
  const tables = Object.values(resources).filter((r) => r.Type === 'AWS::DynamoDB::Table');
  expect(tables).toHaveLength(1);
  return (tables[0] as { Properties: TableProperties }).Properties;
}

const byName = <T extends { AttributeName?: string | undefined }>(list: readonly T[]) =>
  [...list].sort((a, b) => String(a.AttributeName).localeCompare(String(b.AttributeName)));

describe('lib/orders/table.ts and serverless.yml', () => {
  const yml = serverlessTable();
  const code = tableDefinition('any-name');

  it('declare the same attributes with the same types, and the same primary key', () => {
    expect(byName(code.AttributeDefinitions ?? [])).toEqual(byName(yml.AttributeDefinitions));
    expect(code.KeySchema).toEqual(yml.KeySchema);
    expect(code.BillingMode).toBe(yml.BillingMode);
  });

  it('declare the same indexes, key schemas and projections (non-key attributes in any order)', () => {
    const norm = (indexes: TableProperties['GlobalSecondaryIndexes']) =>
      (indexes ?? [])
        .map((i) => ({
          IndexName: i.IndexName,
          KeySchema: i.KeySchema,
          Projection: {
            ProjectionType: i.Projection.ProjectionType,
            NonKeyAttributes: [...(i.Projection.NonKeyAttributes ?? [])].sort(),
          },
        }))
        .sort((a, b) => a.IndexName.localeCompare(b.IndexName));
    expect(norm(code.GlobalSecondaryIndexes as TableProperties['GlobalSecondaryIndexes'])).toEqual(
      norm(yml.GlobalSecondaryIndexes),
    );
    expect(norm(yml.GlobalSecondaryIndexes).map((i) => i.IndexName)).toContain(PENDING_INDEX);
  });

  it('declare only attributes some key uses (DynamoDB refuses any other), in both', () => {
    for (const t of [yml, code as unknown as TableProperties]) {
      const keyed = new Set(
        [...t.KeySchema, ...(t.GlobalSecondaryIndexes ?? []).flatMap((i) => i.KeySchema)].map((k) => k.AttributeName),
      );
      expect(new Set(t.AttributeDefinitions.map((a) => a.AttributeName))).toEqual(keyed);
    }
  });

  it('stream the same view of each change', () => {
    expect(code.StreamSpecification).toEqual({
      StreamEnabled: true,
      StreamViewType: yml.StreamSpecification?.StreamViewType,
    });
    expect(yml.StreamSpecification?.StreamViewType).toBe('NEW_AND_OLD_IMAGES');
  });
});

// The TTL attribute is not part of a CreateTable input, so the code side is what the store writes: an
// order registered with an expiry, read back raw from DynamoDB Local, must carry it under the very name
// serverless.yml enables TTL on (and as a number, which is all DynamoDB's TTL reads).
describe('the TTL attribute', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });

  it('is the one the store writes an unpaid order expiry to', async () => {
    const ttl = serverlessTable().TimeToLiveSpecification;
    expect(ttl?.Enabled).toBe(true);
    const name = ttl?.AttributeName as string;
    const outTradeNo = orderNo('TTL');
    const merchantId = h.config.mchid;
    const expiresAt = 2_000_000_000;
    await h.store.registerOrder({ outTradeNo, merchantId, amountFen: 100, expiresAt });
    const { Item } = await h.client.send(
      new GetItemCommand({
        TableName: h.tableName,
        Key: { pk: { S: orderKey(merchantId, outTradeNo) } },
        ConsistentRead: true,
      }),
    );
    expect(Item?.[name]).toEqual({ N: String(expiresAt) });
  });
});

// The shard count is configuration with a default on both sides: serverless.yml's parameter (what a
// deployed stage writes and reads) and the code's default (what a store built without it uses, the
// merchant's createOrderStore included). They must be the same number, and every function must see it.
describe('the pending-index shard count', () => {
  const text = readFileSync(join(__dirname, '../../../serverless.yml'), 'utf8');
  const params = (
    parseDocument(text, { logLevel: 'silent' }).toJS() as { params: { default: Record<string, unknown> } }
  ).params.default;

  it('defaults to the same number in serverless.yml and lib/orders/table.ts, read count unset', () => {
    // a string: CloudFormation outputs and environment variables are strings
    expect(params.pendingShards).toBe(String(DEFAULT_PENDING_SHARDS));
    expect(params.pendingShardsRead).toBe('');
  });

  it.each(['aws', 'local'])('reaches every function of the %s environment file', (file) => {
    const env = parseDocument(readFileSync(join(__dirname, `../../../env/${file}.yml`), 'utf8')).toJS() as {
      common: Record<string, string>;
    };
    // serverless variables, not template strings
    const variable = (inner: string) => `\${${inner}}`;
    expect(env.common.PENDING_SHARDS).toBe(variable('param:pendingShards'));
    expect(env.common.PENDING_SHARDS_READ).toBe(variable("param:pendingShardsRead, ''"));
  });
});
