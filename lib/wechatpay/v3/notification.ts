/**
 * APIv3 notifications: envelope → check algorithm → decrypt → typed resource. The envelope and the
 * business payload are separate types; the signature is verified by verify.ts before any of this.
 */
import { malformed } from '../../errors';
import { bodyText, type ReceivedBody } from '../../text';
import { decryptResource, type EncryptedResource } from './aead';
import { isRecord, optStr, parseUntrustedJson, str } from './json';

/** The outer JSON of every APIv3 notification. */
export interface Envelope {
  id: string;
  create_time: string;
  event_type: string;
  resource_type: string;
  summary: string;
  resource: EncryptedResource;
}

/** Parses and shape-checks the envelope (after its signature was verified over the raw bytes). */
export function parseEnvelope(body: ReceivedBody): Envelope {
  const doc = parseUntrustedJson(bodyText(body, 'notification'), 'notification');
  if (!isRecord(doc)) throw malformed('notification is not a JSON object');
  const resource = doc.resource;
  if (!isRecord(resource)) throw malformed('notification.resource missing');
  return {
    id: str(doc, 'id', 'notification', 64),
    create_time: optStr(doc, 'create_time', 'notification', 64) ?? '',
    event_type: str(doc, 'event_type', 'notification', 64),
    resource_type: optStr(doc, 'resource_type', 'notification', 64) ?? '',
    summary: optStr(doc, 'summary', 'notification', 256) ?? '',
    resource: {
      algorithm: str(resource, 'algorithm', 'resource', 64),
      ciphertext: str(resource, 'ciphertext', 'resource', 1 << 20),
      associated_data: optStr(resource, 'associated_data', 'resource', 256) ?? '',
      nonce: str(resource, 'nonce', 'resource', 64),
      original_type: optStr(resource, 'original_type', 'resource', 64),
    },
  };
}

/** Decrypts the envelope's resource and parses it as a JSON object. */
export function openResource(envelope: Envelope, apiV3Key: Buffer): Record<string, unknown> {
  const plain = parseUntrustedJson(decryptResource(envelope.resource, apiV3Key), 'resource');
  if (!isRecord(plain)) throw malformed('resource is not a JSON object');
  return plain;
}
