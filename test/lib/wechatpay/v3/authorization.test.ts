import { generateKeyPairSync, verify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildAuthorization, requestSigningString } from '../../../../lib/wechatpay/v3/authorization';
import { generateTestKeys } from '../../../../scripts/simulator/keys';
import { parseAuthorization, verifyAuthorization } from '../../../../scripts/simulator/v3auth';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const FIXED = {
  mchid: '1900009191',
  serialNo: '408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB',
  privateKey,
  method: 'POST',
  url: '/v3/pay/transactions/out-trade-no/1217752501201407033233368018/close',
  body: '{"mchid":"1900009191"}',
  timestamp: 1554208460,
  nonce: '593BEC0C930BF1AFEB40B4A08C8FB242',
};

function signatureOf(header: string): string {
  const m = /signature="([^"]+)"/.exec(header);
  if (!m?.[1]) throw new Error('no signature');
  return m[1];
}

describe('buildAuthorization', () => {
  it('signs METHOD\\nURL\\nts\\nnonce\\nbody\\n with SHA256withRSA and lays the header out as WeChat documents', () => {
    const header = buildAuthorization(FIXED);
    const message = `POST\n${FIXED.url}\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{"mchid":"1900009191"}\n`;
    expect(requestSigningString(FIXED.method, FIXED.url, FIXED.timestamp, FIXED.nonce, FIXED.body)).toBe(message);
    const signature = signatureOf(header);
    expect(verify('sha256', Buffer.from(message), publicKey, Buffer.from(signature, 'base64'))).toBe(true);
    expect(header).toBe(
      `WECHATPAY2-SHA256-RSA2048 mchid="1900009191",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",` +
        `signature="${signature}",timestamp="1554208460",serial_no="408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB"`,
    );
    // PKCS#1 v1.5 is deterministic: the same input gives the same header
    expect(buildAuthorization(FIXED)).toBe(header);
  });

  it('keeps the trailing newline for an empty GET body and signs the query exactly as given', () => {
    const url = '/v3/pay/transactions/out-trade-no/A%7C1?mchid=1900009191';
    const header = buildAuthorization({ ...FIXED, method: 'GET', url, body: '' });
    const message = Buffer.from(`GET\n${url}\n1554208460\n${FIXED.nonce}\n\n`);
    expect(verify('sha256', message, publicKey, Buffer.from(signatureOf(header), 'base64'))).toBe(true);
    const decoded = Buffer.from(
      `GET\n/v3/pay/transactions/out-trade-no/A|1?mchid=1900009191\n1554208460\n${FIXED.nonce}\n\n`,
    );
    expect(verify('sha256', decoded, publicKey, Buffer.from(signatureOf(header), 'base64'))).toBe(false);
  });

  it('is accepted by the simulator for any method, path and UTF-8 body', () => {
    const keys = generateTestKeys();
    fc.assert(
      fc.property(
        fc.constantFrom('GET', 'POST'),
        fc.stringMatching(/^\/v3\/[A-Za-z0-9%_\-/]{0,40}(\?[A-Za-z0-9=&%_-]{0,30})?$/),
        fc.string({ unit: 'grapheme', maxLength: 60 }),
        fc.stringMatching(/^[A-Za-z0-9]{1,32}$/),
        (method, url, body, nonce) => {
          const now = 1_700_000_000;
          const header = buildAuthorization({
            mchid: keys.mchid,
            serialNo: keys.merchant.serial,
            privateKey: keys.merchant.privateKey,
            method,
            url,
            body,
            timestamp: now,
            nonce,
          });
          expect(parseAuthorization(header)).toMatchObject({
            mchid: keys.mchid,
            nonce_str: nonce,
            timestamp: String(now),
          });
          expect(verifyAuthorization(keys, { header, method, url, body }, now)).toEqual({
            ok: true,
            mchid: keys.mchid,
          });
          // any other byte of the request breaks it
          expect(verifyAuthorization(keys, { header, method, url, body: `${body} ` }, now).ok).toBe(false);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('refuses millisecond-looking fractions and header-breaking tokens', () => {
    expect(() => buildAuthorization({ ...FIXED, timestamp: 1554208460.5 })).toThrow(TypeError);
    expect(() => buildAuthorization({ ...FIXED, nonce: 'a"b' })).toThrow(TypeError);
    expect(() => buildAuthorization({ ...FIXED, serialNo: 'A,B' })).toThrow(TypeError);
    expect(() => buildAuthorization({ ...FIXED, mchid: '' })).toThrow(TypeError);
  });
});
