import { X509Certificate, createDecipheriv, createHash, generateKeyPairSync, verify } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { selfSignedCertificate } from '../../scripts/simulator/cert';
import { generateTestKeys, toEnv } from '../../scripts/simulator/keys';
import {
  beijingCompact,
  beijingDateTime,
  decryptReqInfo,
  encryptReqInfo,
  rfc3339Beijing,
  signV3Message,
  v2PaymentNotification,
  v2RefundNotification,
  v2Sign,
  v2Xml,
  v3Decrypt,
  v3Encrypt,
  v3Notification,
  v3RefundResource,
  v3TransactionResource,
} from '../../scripts/simulator/messages';

const keys = generateTestKeys();

/** Reads the direct children of a flat XML document, joining split CDATA sections. */
function readXmlFields(xml: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of xml.matchAll(/<([A-Za-z_][\w.-]*)>((?:(?!<\/\1>)[\s\S])*)<\/\1>/g)) {
    const [, name = '', raw = ''] = match;
    if (name === 'xml' || name === 'root') continue;
    fields[name] = raw.replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, '$1');
  }
  return fields;
}

function rootFields(xml: string): Record<string, string> {
  const inner = /^<(xml|root)>([\s\S]*)<\/\1>$/.exec(xml);
  expect(inner).not.toBeNull();
  return readXmlFields(inner?.[2] ?? '');
}

function decryptGcmIndependently(
  key: string,
  resource: { ciphertext: string; nonce: string; associated_data: string },
): string {
  const data = Buffer.from(resource.ciphertext, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(key, 'ascii'), Buffer.from(resource.nonce, 'ascii'));
  decipher.setAAD(Buffer.from(resource.associated_data, 'ascii'));
  decipher.setAuthTag(data.subarray(-16));
  return Buffer.concat([decipher.update(data.subarray(0, -16)), decipher.final()]).toString('utf8');
}

describe('APIv2 signature', () => {
  const official = {
    appid: 'wxd930ea5d5a258f4f',
    mch_id: '10000100',
    device_info: '1000',
    body: 'test',
    nonce_str: 'ibuaiVcKdpRxkhJA',
  };
  const officialKey = '192006250b4c09247ec02edce69f6a2d';

  it('matches the official MD5 known answer', () => {
    expect(v2Sign(official, officialKey, 'MD5')).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
  });

  it('matches the official HMAC-SHA256 known answer', () => {
    expect(v2Sign(official, officialKey, 'HMAC-SHA256')).toBe(
      '6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6',
    );
  });

  it('ignores sign, empty values and input order', () => {
    const shuffled = { sign: 'X', attach: '', ...Object.fromEntries(Object.entries(official).reverse()) };
    expect(v2Sign(shuffled, officialKey, 'MD5')).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
  });

  it('sorts by ASCII byte order (upper case before lower case)', () => {
    const expected = createHash('md5').update('B=2&a=1&key=k').digest('hex').toUpperCase();
    expect(v2Sign({ a: '1', B: '2' }, 'k', 'MD5')).toBe(expected);
  });
});

describe('APIv2 XML', () => {
  it('wraps every value in CDATA and splits "]]>" safely', () => {
    const xml = v2Xml({ a: 'x]]>y', b: '<&>' });
    expect(xml).toBe('<xml><a><![CDATA[x]]]]><![CDATA[>y]]></a><b><![CDATA[<&>]]></b></xml>');
    expect(rootFields(xml)).toEqual({ a: 'x]]>y', b: '<&>' });
  });

  it('rejects element names that would break the document', () => {
    expect(() => v2Xml({ 'a><b': '1' })).toThrow();
  });
});

describe('APIv2 payment notification', () => {
  it('is signed with MD5 by default over every field, coupon fields included', () => {
    const wire = v2PaymentNotification(keys, {
      outTradeNo: 'T123',
      totalFee: 101,
      extra: { coupon_count: '1', coupon_type_0: 'CASH', coupon_fee_0: '1', attach: '附加' },
    });
    expect(wire.headers['Content-Type']).toBe('text/xml');
    const fields = rootFields(wire.body);
    expect(fields).toMatchObject({
      return_code: 'SUCCESS',
      result_code: 'SUCCESS',
      appid: keys.appid,
      mch_id: keys.mchid,
      sign_type: 'MD5',
      out_trade_no: 'T123',
      total_fee: '101',
      coupon_type_0: 'CASH',
      attach: '附加',
    });
    expect(fields.time_end).toMatch(/^\d{14}$/);
    expect(fields.sign).toMatch(/^[0-9A-F]{32}$/);
    expect(v2Sign(fields, keys.apiV2Key, 'MD5')).toBe(fields.sign);
  });

  it('can be HMAC-SHA256 signed without a sign_type field', () => {
    const wire = v2PaymentNotification(keys, {
      outTradeNo: 'T124',
      totalFee: 1,
      signType: 'HMAC-SHA256',
      includeSignType: false,
    });
    const fields = rootFields(wire.body);
    expect(fields.sign_type).toBeUndefined();
    expect(fields.sign).toMatch(/^[0-9A-F]{64}$/);
    expect(v2Sign(fields, keys.apiV2Key, 'HMAC-SHA256')).toBe(fields.sign);
  });

  it('lets extra override the signature for forged-notification tests', () => {
    const fields = rootFields(
      v2PaymentNotification(keys, { outTradeNo: 'T', totalFee: 1, extra: { sign: 'BAD' } }).body,
    );
    expect(fields.sign).toBe('BAD');
  });
});

describe('APIv2 refund notification', () => {
  it('round-trips req_info through AES-256-ECB for every padding length', () => {
    for (let length = 0; length <= 48; length += 1) {
      const plain = `<root>${'x'.repeat(length)}</root>`;
      expect(decryptReqInfo(encryptReqInfo(plain, keys.apiV2Key), keys.apiV2Key)).toBe(plain);
    }
  });

  it('keys ECB with the lower-case hex MD5 of the APIv2 key', () => {
    const reqInfo = encryptReqInfo('<root><a>1</a></root>', keys.apiV2Key);
    const key = Buffer.from(createHash('md5').update(keys.apiV2Key).digest('hex'), 'ascii');
    const decipher = createDecipheriv('aes-256-ecb', key, null);
    const plain = Buffer.concat([decipher.update(Buffer.from(reqInfo, 'base64')), decipher.final()]);
    expect(plain.toString('utf8')).toBe('<root><a>1</a></root>');
  });

  it('has no outer sign and carries the refund in req_info', () => {
    const wire = v2RefundNotification(keys, {
      outTradeNo: 'T1',
      outRefundNo: 'R1',
      totalFee: 300,
      refundFee: 100,
      refundStatus: 'SUCCESS',
      subMchId: '1900000001',
    });
    const outer = rootFields(wire.body);
    expect(outer.sign).toBeUndefined();
    expect(outer).toMatchObject({ return_code: 'SUCCESS', mch_id: keys.mchid, sub_mch_id: '1900000001' });
    const inner = rootFields(decryptReqInfo(outer.req_info ?? '', keys.apiV2Key));
    expect(inner).toMatchObject({
      out_trade_no: 'T1',
      out_refund_no: 'R1',
      total_fee: '300',
      refund_fee: '100',
      refund_status: 'SUCCESS',
      refund_recv_accout: '支付用户零钱',
    });
    expect(inner.success_time).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  });

  it('omits success_time for refunds that did not succeed', () => {
    const wire = v2RefundNotification(keys, {
      outTradeNo: 'T1',
      outRefundNo: 'R1',
      totalFee: 1,
      refundFee: 1,
      refundStatus: 'REFUNDCLOSE',
    });
    const inner = rootFields(decryptReqInfo(rootFields(wire.body).req_info ?? '', keys.apiV2Key));
    expect(inner.success_time).toBeUndefined();
  });
});

describe('APIv3 AEAD_AES_256_GCM', () => {
  it('round-trips and matches an independent decryption', () => {
    const plain = JSON.stringify({ hello: '世界' });
    const resource = v3Encrypt(keys.apiV3Key, plain, 'transaction', 'abcdefghijkl');
    expect(resource).toMatchObject({
      algorithm: 'AEAD_AES_256_GCM',
      associated_data: 'transaction',
      nonce: 'abcdefghijkl',
    });
    expect(Buffer.from(resource.ciphertext, 'base64').length).toBe(Buffer.byteLength(plain) + 16);
    expect(v3Decrypt(keys.apiV3Key, resource)).toBe(plain);
    expect(decryptGcmIndependently(keys.apiV3Key, resource)).toBe(plain);
  });

  it('fails on wrong associated data or a flipped tag bit', () => {
    const resource = v3Encrypt(keys.apiV3Key, 'secret', 'refund');
    expect(() => v3Decrypt(keys.apiV3Key, { ...resource, associated_data: 'transaction' })).toThrow();
    const bytes = Buffer.from(resource.ciphertext, 'base64');
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
    expect(() => v3Decrypt(keys.apiV3Key, { ...resource, ciphertext: bytes.toString('base64') })).toThrow();
  });

  it('requires a 32-byte APIv3 key', () => {
    expect(() => v3Encrypt('short', 'x', '')).toThrow(/32 bytes/);
  });
});

describe('APIv3 notification', () => {
  const message = (ts: string, nonce: string, body: string) => Buffer.from(`${ts}\n${nonce}\n${body}\n`, 'utf8');

  it('is signed by the platform certificate over the exact body bytes', () => {
    const resource = v3TransactionResource(keys, { outTradeNo: 'T9', total: 888 });
    const wire = v3Notification(keys, { eventType: 'TRANSACTION.SUCCESS', originalType: 'transaction', resource });
    const h = wire.headers;
    expect(h['Wechatpay-Serial']).toBe(keys.platform.serial);
    expect(h['Wechatpay-Signature-Type']).toBe('WECHATPAY2-SHA256-RSA2048');
    expect(h['Content-Type']).toBe('application/json');
    expect(Math.abs(Number(h['Wechatpay-Timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    const signed = message(h['Wechatpay-Timestamp'] ?? '', h['Wechatpay-Nonce'] ?? '', wire.body);
    const cert = new X509Certificate(keys.platform.certPem);
    expect(verify('sha256', signed, cert.publicKey, Buffer.from(h['Wechatpay-Signature'] ?? '', 'base64'))).toBe(true);
    expect(
      verify(
        'sha256',
        Buffer.concat([signed, Buffer.from(' ')]),
        cert.publicKey,
        Buffer.from(h['Wechatpay-Signature'] ?? '', 'base64'),
      ),
    ).toBe(false);
  });

  it('carries the PROTOCOL.md D envelope and decrypts to the resource', () => {
    const resource = v3RefundResource(keys, {
      outTradeNo: 'T9',
      outRefundNo: 'R9',
      refundStatus: 'SUCCESS',
      total: 10,
      refund: 5,
    });
    const wire = v3Notification(keys, { eventType: 'REFUND.SUCCESS', originalType: 'refund', resource, id: 'EV-1' });
    const envelope = JSON.parse(wire.body) as Record<string, unknown> & { resource: Record<string, string> };
    expect(Object.keys(envelope)).toEqual(['id', 'create_time', 'resource_type', 'event_type', 'summary', 'resource']);
    expect(envelope).toMatchObject({
      id: 'EV-1',
      resource_type: 'encrypt-resource',
      event_type: 'REFUND.SUCCESS',
      summary: '退款成功',
    });
    expect(envelope.create_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
    expect(envelope.resource).toMatchObject({
      original_type: 'refund',
      algorithm: 'AEAD_AES_256_GCM',
      associated_data: 'refund',
    });
    expect(envelope.resource.nonce).toHaveLength(12);
    const decrypted = JSON.parse(
      decryptGcmIndependently(keys.apiV3Key, {
        ciphertext: envelope.resource.ciphertext ?? '',
        nonce: envelope.resource.nonce ?? '',
        associated_data: envelope.resource.associated_data ?? '',
      }),
    ) as unknown;
    expect(decrypted).toEqual(resource);
  });

  it('can be signed by the WeChat Pay public key with fixed timestamp and nonce', () => {
    const wire = v3Notification(keys, {
      eventType: 'COUPON.SEND',
      originalType: 'coupon',
      resource: { event_type: 'EVENT_TYPE_BUSICOUPON_SEND', coupon_code: 'C1', stock_id: 'S1' },
      signer: 'publicKey',
      timestamp: 1700000000,
      nonce: 'N1',
    });
    const h = wire.headers;
    expect(h['Wechatpay-Serial']).toBe(keys.publicKey.id);
    expect(h['Wechatpay-Timestamp']).toBe('1700000000');
    expect(h['Wechatpay-Nonce']).toBe('N1');
    const signature = Buffer.from(h['Wechatpay-Signature'] ?? '', 'base64');
    expect(verify('sha256', message('1700000000', 'N1', wire.body), keys.publicKey.publicKeyPem, signature)).toBe(true);
    expect(verify('sha256', message('1700000000', 'N1', wire.body), keys.platform.publicKey, signature)).toBe(false);
  });

  it('signV3Message signs timestamp, nonce and body with trailing newlines', () => {
    const signature = signV3Message(keys.merchant.privateKey, '1', 'n', '');
    expect(verify('sha256', Buffer.from('1\nn\n\n'), keys.merchant.publicKey, Buffer.from(signature, 'base64'))).toBe(
      true,
    );
  });
});

describe('APIv3 resources', () => {
  it('builds a direct-merchant TRANSACTION.SUCCESS resource', () => {
    const r = v3TransactionResource(keys, { outTradeNo: 'T1', total: 100, successTime: '2026-11-23T10:00:00+08:00' });
    expect(r).toMatchObject({
      appid: keys.appid,
      mchid: keys.mchid,
      out_trade_no: 'T1',
      trade_state: 'SUCCESS',
      trade_state_desc: '支付成功',
      success_time: '2026-11-23T10:00:00+08:00',
      amount: { total: 100, payer_total: 100, currency: 'CNY', payer_currency: 'CNY' },
    });
    expect(r.transaction_id).toMatch(/^\d{28}$/);
    expect((r.payer as Record<string, string>).openid).toMatch(/^o.{27}$/);
  });

  it('builds the partner shape', () => {
    const partner = { spMchid: '1900000100', subMchid: '1900000109', spAppid: 'wxsp', subAppid: 'wxsub' };
    const r = v3TransactionResource(keys, { outTradeNo: 'T1', total: 1, partner });
    expect(r).toMatchObject({ sp_appid: 'wxsp', sp_mchid: '1900000100', sub_appid: 'wxsub', sub_mchid: '1900000109' });
    expect(r.appid).toBeUndefined();
    expect(Object.keys(r.payer as object).sort()).toEqual(['sp_openid', 'sub_openid']);
    const refund = v3RefundResource(keys, {
      outTradeNo: 'T1',
      outRefundNo: 'R1',
      refundStatus: 'ABNORMAL',
      total: 1,
      refund: 1,
      partner,
    });
    expect(refund).toMatchObject({ sp_mchid: '1900000100', sub_mchid: '1900000109', refund_status: 'ABNORMAL' });
    expect(refund.mchid).toBeUndefined();
    expect(refund.success_time).toBeUndefined();
  });
});

describe('self-signed certificate', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

  it.each([
    ['high bit set', 'F157F09EFDC096DE15EBE81A47057A7232F1B8E1'],
    ['high bit clear', '5157F09EFDC096DE15EBE81A47057A7232F1B8E1'],
    ['leading zero nibble', '0A57F09EFDC096DE15EBE81A47057A7232F1B8E1'],
  ])('parses and verifies with serial %s', (_label, serialHex) => {
    const cert = new X509Certificate(
      selfSignedCertificate({ privateKey, publicKey, serialHex, commonName: '测试 Platform' }),
    );
    expect(cert.serialNumber).toBe(serialHex);
    expect(cert.verify(publicKey)).toBe(true);
    expect(cert.subject).toContain('测试 Platform');
    expect(cert.publicKey.export({ type: 'spki', format: 'der' })).toEqual(
      publicKey.export({ type: 'spki', format: 'der' }),
    );
  });

  it('accepts lower-case serials and reports them upper-case', () => {
    const cert = new X509Certificate(
      selfSignedCertificate({ privateKey, publicKey, serialHex: 'abcdef01', commonName: 'x' }),
    );
    expect(cert.serialNumber).toBe('ABCDEF01');
  });

  it('encodes validity with UTCTime before 2050 and GeneralizedTime after', () => {
    const notBefore = new Date('2026-01-02T03:04:05Z');
    const notAfter = new Date('2051-06-07T08:09:10Z');
    const cert = new X509Certificate(
      selfSignedCertificate({ privateKey, publicKey, serialHex: '01', commonName: 'x', notBefore, notAfter }),
    );
    expect(new Date(cert.validFrom).toISOString()).toBe(notBefore.toISOString());
    expect(new Date(cert.validTo).toISOString()).toBe(notAfter.toISOString());
  });

  it('rejects a non-hex serial', () => {
    expect(() => selfSignedCertificate({ privateKey, publicKey, serialHex: 'XYZ', commonName: 'x' })).toThrow();
  });
});

describe('generated test keys', () => {
  it('have the documented shapes and a platform certificate matching its serial', () => {
    expect(keys.mchid).toMatch(/^\d{10}$/);
    expect(keys.appid).toMatch(/^wx[0-9a-f]{16}$/);
    expect(keys.apiV2Key).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(keys.apiV3Key).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(keys.platform.serial).toMatch(/^[0-9A-F]{40}$/);
    expect(keys.merchant.serial).toMatch(/^[0-9A-F]{40}$/);
    expect(keys.publicKey.id).toMatch(/^PUB_KEY_ID_\d+$/);
    const cert = new X509Certificate(keys.platform.certPem);
    expect(cert.serialNumber).toBe(keys.platform.serial);
    expect(cert.verify(keys.platform.publicKey)).toBe(true);
    expect(new Date(cert.validFrom).getTime()).toBeLessThan(Date.now());
  });

  it('export every configuration variable', () => {
    const env = toEnv(keys);
    expect(Object.keys(env).sort()).toEqual([
      'WECHATPAY_APIV2_KEY',
      'WECHATPAY_APIV3_KEY',
      'WECHATPAY_APPID',
      'WECHATPAY_MCHID',
      'WECHATPAY_MERCHANT_PRIVATE_KEY',
      'WECHATPAY_MERCHANT_SERIAL_NO',
      'WECHATPAY_PLATFORM_CERTS',
      'WECHATPAY_PUBLIC_KEY',
      'WECHATPAY_PUBLIC_KEY_ID',
    ]);
    expect(env.WECHATPAY_MERCHANT_PRIVATE_KEY).toContain('-----BEGIN PRIVATE KEY-----');
    expect(env.WECHATPAY_PUBLIC_KEY).toContain('-----BEGIN PUBLIC KEY-----');
    expect(env.WECHATPAY_PLATFORM_CERTS).toContain('-----BEGIN CERTIFICATE-----');
  });
});

describe('Beijing time formats', () => {
  const instant = new Date('2026-11-23T02:00:00Z');

  it('shift UTC by eight hours', () => {
    expect(beijingCompact(instant)).toBe('20261123100000');
    expect(beijingDateTime(instant)).toBe('2026-11-23 10:00:00');
    expect(rfc3339Beijing(instant)).toBe('2026-11-23T10:00:00+08:00');
  });
});
