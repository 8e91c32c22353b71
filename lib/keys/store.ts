/**
 * Platform certificates kept in the payments table, where every notify function reads them: one item
 * per serial (public data: the PEM and its validity, with a TTL a week after expiry) and one directory
 * item listing the serials, so reading them all is a GetItem and a BatchGetItem, never a Scan of orders.
 * Keys start with `KEYS#`, which no order, refund or coupon key (lib/orders/table.ts) can.
 */
import {
  BatchGetItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { X509Certificate } from 'node:crypto';
import { unavailable } from '../errors';
import type { PlatformCertificate } from '../wechatpay/v3/certificates';
import { normaliseSerial } from '../wechatpay/v3/keyring';

/** Partition key of one stored platform certificate. */
export const certificateKey = (serial: string) => `KEYS#CERT#${normaliseSerial(serial)}`;
/** Partition key of the item listing the stored serials. */
export const CERTIFICATE_DIRECTORY_KEY = 'KEYS#CERTS';
/** How long an expired certificate's item outlives it before DynamoDB's TTL removes it. */
export const CERTIFICATE_TTL_AFTER_EXPIRY_SECONDS = 7 * 24 * 60 * 60;

/** Reads and writes the platform certificates in the table. */
export interface CertificateStore {
  /** Stores each certificate (overwriting its own serial's item) and lists its serial. */
  put(certificates: readonly PlatformCertificate[]): Promise<void>;
  /** Every stored certificate whose item is intact; damaged or vanished ones are left out. */
  list(): Promise<PlatformCertificate[]>;
}

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });
const MAX_BATCH = 100;

/** The DynamoDB certificate store on the payments table. */
export function createCertificateStore(opts: {
  client: DynamoDBClient;
  tableName: string;
  now?: () => number;
}): CertificateStore {
  const { client, tableName } = opts;
  const now = opts.now ?? Date.now;
  return {
    async put(certificates) {
      if (certificates.length === 0) return;
      for (const c of certificates) {
        await send(() =>
          client.send(
            new PutItemCommand({
              TableName: tableName,
              Item: {
                pk: S(certificateKey(c.serial)),
                entity: S('PLATFORM_CERT'),
                serial: S(normaliseSerial(c.serial)),
                pem: S(c.pem),
                notBefore: S(new Date(c.notBefore).toISOString()),
                notAfter: S(new Date(c.notAfter).toISOString()),
                storedAt: S(new Date(now()).toISOString()),
                ttl: N(Math.floor(c.notAfter / 1000) + CERTIFICATE_TTL_AFTER_EXPIRY_SECONDS),
              },
            }),
          ),
        );
      }
      await send(() =>
        client.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: { pk: S(CERTIFICATE_DIRECTORY_KEY) },
            UpdateExpression: 'ADD serials :s SET entity = :e, updatedAt = :t',
            ExpressionAttributeValues: {
              ':s': { SS: certificates.map((c) => normaliseSerial(c.serial)) },
              ':e': S('PLATFORM_CERT_DIRECTORY'),
              ':t': S(new Date(now()).toISOString()),
            },
          }),
        ),
      );
    },
    async list() {
      const dir = await send(() =>
        client.send(
          new GetItemCommand({ TableName: tableName, Key: { pk: S(CERTIFICATE_DIRECTORY_KEY) }, ConsistentRead: true }),
        ),
      );
      const serials = (dir.Item?.serials?.SS ?? []).slice(-MAX_BATCH);
      if (serials.length === 0) return [];
      const res = await send(() =>
        client.send(
          new BatchGetItemCommand({
            RequestItems: {
              [tableName]: { Keys: serials.map((s) => ({ pk: S(certificateKey(s)) })), ConsistentRead: true },
            },
          }),
        ),
      );
      const items = res.Responses?.[tableName] ?? [];
      return items.flatMap((item) => {
        const c = readItem(item);
        return c === undefined ? [] : [c];
      });
    },
  };
}

/** An item back to a certificate, or undefined when its PEM does not parse or names another serial. */
function readItem(item: Record<string, AttributeValue>): PlatformCertificate | undefined {
  const pem = item.pem?.S;
  const serial = item.serial?.S;
  if (pem === undefined || serial === undefined) return undefined;
  try {
    const cert = new X509Certificate(pem);
    if (normaliseSerial(cert.serialNumber) !== normaliseSerial(serial)) return undefined;
    return {
      serial: normaliseSerial(serial),
      pem,
      notBefore: Date.parse(cert.validFrom),
      notAfter: Date.parse(cert.validTo),
    };
  } catch {
    return undefined;
  }
}

async function send<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw unavailable('certificate store unavailable', err);
  }
}
