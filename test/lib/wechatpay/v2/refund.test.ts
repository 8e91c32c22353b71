/** req_info decryption: known answers against the independent sender, and the key rule. */
import { createCipheriv, createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PayError } from '../../../../lib/errors';
import { decryptReqInfo, reqInfoKey } from '../../../../lib/wechatpay/v2/refund';
import { encryptReqInfo } from '../../../../scripts/simulator/messages';

const apiV2Key = '192006250b4c09247ec02edce69f6a2d';

describe('req_info', () => {
  it('uses the 32 ASCII bytes of the lower-case hex MD5 of the APIv2 key', () => {
    const hex = createHash('md5').update(apiV2Key).digest('hex');
    expect(reqInfoKey(apiV2Key).toString('latin1')).toBe(hex);
    expect(hex).toBe(hex.toLowerCase());
  });

  it('round-trips with the independent sender for any plaintext length', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (inner) => {
        const plain = `<root><a><![CDATA[${inner}]]></a></root>`;
        expect(decryptReqInfo(encryptReqInfo(plain, apiV2Key), reqInfoKey(apiV2Key))).toBe(plain);
      }),
    );
  });

  it('fails with an upper-case hex key, as WeChat documents', () => {
    const upper = Buffer.from(createHash('md5').update(apiV2Key).digest('hex').toUpperCase(), 'latin1');
    const c = createCipheriv('aes-256-ecb', upper, null);
    const wrong = Buffer.concat([c.update('<root><a>1</a></root>'), c.final()]).toString('base64');
    expect(() => decryptReqInfo(wrong, reqInfoKey(apiV2Key))).toThrow(PayError);
  });

  it('rejects partial blocks, non-base64 and empty input as UNAUTHENTIC', () => {
    for (const bad of ['', 'AAAA', '***', Buffer.alloc(17).toString('base64')]) {
      try {
        decryptReqInfo(bad, reqInfoKey(apiV2Key));
        expect.unreachable();
      } catch (err) {
        expect((err as PayError).kind).toBe('UNAUTHENTIC');
      }
    }
  });
});
