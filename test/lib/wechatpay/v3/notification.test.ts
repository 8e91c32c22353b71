/**
 * The APIv3 notification envelope and its encrypted resource, built by the independent sender: the
 * envelope's required fields refused by name, optional ones defaulted, the resource decrypted with
 * the APIv3 key and refused unless it is a JSON object.
 */
import { thrownPayError as thrown } from '../../../support/errors';
import { describe, expect, it } from 'vitest';
import { openResource, parseEnvelope } from '../../../../lib/wechatpay/v3/notification';
import { generateTestKeys } from '../../../../scripts/simulator/keys';
import { v3Encrypt, v3Notification } from '../../../../scripts/simulator/messages';

const keys = generateTestKeys();
const apiV3Key = Buffer.from(keys.apiV3Key, 'utf8');

const wire = (resource: object | string = { out_trade_no: 'T1', n: 1 }) =>
  v3Notification(keys, {
    eventType: 'TRANSACTION.SUCCESS',
    originalType: 'transaction',
    resource,
    id: 'EV-2026-0001',
    createTime: '2026-11-23T10:00:00+08:00',
  });
const doc = () => JSON.parse(wire().body) as Record<string, unknown> & { resource: Record<string, unknown> };
const body = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');

describe('parseEnvelope', () => {
  it('reads every field of an envelope as WeChat sends it', () => {
    const env = parseEnvelope(Buffer.from(wire().body, 'utf8'));
    expect(env).toMatchObject({
      id: 'EV-2026-0001',
      create_time: '2026-11-23T10:00:00+08:00',
      event_type: 'TRANSACTION.SUCCESS',
      resource_type: 'encrypt-resource',
      summary: '支付成功',
      resource: { algorithm: 'AEAD_AES_256_GCM', associated_data: 'transaction', original_type: 'transaction' },
    });
    expect(env.resource.nonce).toHaveLength(12);
  });

  it('defaults the optional fields to empty when absent', () => {
    const d = doc();
    delete d.create_time;
    delete d.resource_type;
    delete d.summary;
    delete d.resource.associated_data;
    delete d.resource.original_type;
    const env = parseEnvelope(body(d));
    expect(env.create_time).toBe('');
    expect(env.resource_type).toBe('');
    expect(env.summary).toBe('');
    expect(env.resource.associated_data).toBe('');
    expect(env.resource.original_type).toBeUndefined();
  });

  it.each([
    ['id', 'notification.id missing or malformed'],
    ['event_type', 'notification.event_type missing or malformed'],
    ['resource', 'notification.resource missing'],
  ])('refuses an envelope without %s', (field, reason) => {
    const d = doc();
    delete d[field];
    const e = thrown(() => parseEnvelope(body(d)));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe(reason);
  });

  it.each([
    ['algorithm', 'resource.algorithm missing or malformed'],
    ['ciphertext', 'resource.ciphertext missing or malformed'],
    ['nonce', 'resource.nonce missing or malformed'],
  ])('refuses a resource without %s', (field, reason) => {
    const d = doc();
    delete d.resource[field];
    const e = thrown(() => parseEnvelope(body(d)));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe(reason);
  });

  it.each([
    ['id as a number', { id: 1 }, 'notification.id missing or malformed'],
    ['an id over 64 characters', { id: 'x'.repeat(65) }, 'notification.id missing or malformed'],
    ['a summary over 256 characters', { summary: 's'.repeat(257) }, 'notification.summary missing or malformed'],
    ['create_time as a number', { create_time: 20261123 }, 'notification.create_time missing or malformed'],
    ['resource as a string', { resource: 'ciphertext' }, 'notification.resource missing'],
    ['resource as an array', { resource: [] }, 'notification.resource missing'],
  ])('refuses %s', (_name, over, reason) => {
    const e = thrown(() => parseEnvelope(body({ ...doc(), ...over })));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe(reason);
  });

  it.each([
    ['a JSON array', '[]', 'notification is not a JSON object'],
    ['a JSON string', '"x"', 'notification is not a JSON object'],
    ['null', 'null', 'notification is not a JSON object'],
    ['not JSON', '<xml/>', 'notification is not valid JSON'],
    ['empty', '', 'notification is not valid JSON'],
  ])('refuses a body that is %s', (_name, text, reason) => {
    const e = thrown(() => parseEnvelope(Buffer.from(text, 'utf8')));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe(reason);
  });

  it('refuses a body that is not UTF-8', () => {
    const e = thrown(() => parseEnvelope(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])));
    expect(e.kind).toBe('MALFORMED');
    expect(e.reason).toBe('notification is not valid UTF-8');
  });

  it('refuses an envelope with a repeated key (JSON.parse would keep only the last)', () => {
    const text = wire().body.replace('{"id":"EV-2026-0001",', '{"id":"EV-2026-0001","id":"EV-2026-0002",');
    expect(thrown(() => parseEnvelope(Buffer.from(text, 'utf8'))).reason).toBe('notification repeats a key');
  });
});

describe('openResource', () => {
  it('decrypts the resource with the APIv3 key into the object the sender encrypted', () => {
    const env = parseEnvelope(Buffer.from(wire({ out_trade_no: 'T1', amount: { total: 5 } }).body, 'utf8'));
    expect(openResource(env, apiV3Key)).toEqual({ out_trade_no: 'T1', amount: { total: 5 } });
  });

  it('decrypts a resource whose associated data is absent (empty)', () => {
    const enc = v3Encrypt(keys.apiV3Key, '{"a":1}', '');
    const d = doc();
    d.resource = { algorithm: enc.algorithm, ciphertext: enc.ciphertext, nonce: enc.nonce };
    expect(openResource(parseEnvelope(body(d)), apiV3Key)).toEqual({ a: 1 });
  });

  it('refuses a decrypted resource that is not a JSON object', () => {
    for (const plain of ['[1,2]', '"text"', '42']) {
      const e = thrown(() => openResource(parseEnvelope(Buffer.from(wire(plain).body, 'utf8')), apiV3Key));
      expect(e.kind).toBe('MALFORMED');
      expect(e.reason).toBe('resource is not a JSON object');
    }
  });

  it('refuses a decrypted resource that is not JSON, or holds a prototype key', () => {
    expect(
      thrown(() => openResource(parseEnvelope(Buffer.from(wire('{not json').body, 'utf8')), apiV3Key)).reason,
    ).toBe('resource is not valid JSON');
    expect(
      thrown(() => openResource(parseEnvelope(Buffer.from(wire('{"__proto__":{}}').body, 'utf8')), apiV3Key)).reason,
    ).toBe('resource holds a forbidden key');
  });

  it('is UNAUTHENTIC under another APIv3 key, and refuses another algorithm', () => {
    const env = parseEnvelope(Buffer.from(wire().body, 'utf8'));
    expect(thrown(() => openResource(env, Buffer.from('Q'.repeat(32)))).kind).toBe('UNAUTHENTIC');
    const other = { ...env, resource: { ...env.resource, algorithm: 'AEAD_SM4_GCM' } };
    expect(thrown(() => openResource(other, apiV3Key)).reason).toBe('unsupported resource algorithm');
  });
});
