/** AEAD_AES_256_GCM, the cipher of every APIv3 encrypted resource. */
import { createDecipheriv } from 'node:crypto';
import { configError, malformed, unauthentic } from '../../errors';
import { decodeUtf8 } from '../../text';

export const AEAD_ALGORITHM = 'AEAD_AES_256_GCM';
const TAG_BYTES = 16;

/** The `resource` object of an APIv3 notification (and of encrypted certificates). */
export interface EncryptedResource {
  algorithm: string;
  ciphertext: string;
  associated_data?: string;
  nonce: string;
  original_type?: string;
}

/**
 * Decrypts a resource with the APIv3 key (its 32 bytes as they are). The algorithm is checked and the
 * GCM tag verified; a wrong key or a tampered ciphertext is UNAUTHENTIC.
 */
export function decryptResource(resource: EncryptedResource, apiV3Key: Buffer): string {
  // otherwise createDecipheriv throws a raw RangeError that would pass for a transient fault
  if (apiV3Key.length !== 32) throw configError('WECHATPAY_APIV3_KEY must be exactly 32 bytes');
  if (resource.algorithm !== AEAD_ALGORITHM) throw malformed('unsupported resource algorithm');
  const nonce = Buffer.from(resource.nonce, 'utf8');
  const data = Buffer.from(resource.ciphertext, 'base64');
  if (nonce.length !== 12) throw malformed('resource nonce must be 12 bytes');
  if (data.length <= TAG_BYTES) throw malformed('resource ciphertext too short');
  const decipher = createDecipheriv('aes-256-gcm', apiV3Key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
  decipher.setAAD(Buffer.from(resource.associated_data ?? '', 'utf8'));
  // GCM is a stream mode: update() returns every plaintext byte and final() only checks the tag, so
  // the plaintext is update()'s buffer as it is, not a concatenation with final()'s empty one
  let plain: Buffer;
  try {
    plain = decipher.update(data.subarray(0, data.length - TAG_BYTES));
    decipher.final();
  } catch {
    throw unauthentic('resource decryption failed');
  }
  return decodeUtf8(plain, 'resource');
}
