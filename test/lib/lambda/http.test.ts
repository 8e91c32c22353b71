/**
 * API Gateway's side of the HTTP functions: the exact request bytes from an event (base64 or text),
 * the headers (null from REST APIs), and the result shape.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { headersOf, rawBody, toResult } from '../../../lib/lambda/http';
import { bodyByteLength, bodyText, decodeUtf8 } from '../../../lib/text';

describe('rawBody', () => {
  it('is empty for a missing, null or empty body', () => {
    expect(rawBody({}).length).toBe(0);
    expect(rawBody({ body: null }).length).toBe(0);
    expect(rawBody({ body: '', isBase64Encoded: true }).length).toBe(0);
  });

  it('decodes a base64 body to its exact bytes, invalid UTF-8 included', () => {
    const bytes = Buffer.from([0x3c, 0x78, 0xff, 0xfe, 0x00, 0x3e]);
    expect(rawBody({ body: bytes.toString('base64'), isBase64Encoded: true })).toEqual(bytes);
  });

  it('hands a text body over as the text (its UTF-8 encoding is the bytes: lib/text.ts bodyText)', () => {
    expect(rawBody({ body: '支付', isBase64Encoded: false })).toBe('支付');
    expect(rawBody({ body: 'abc' })).toBe('abc');
  });

  it('property: any bytes API Gateway base64-encodes come back exactly', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        const body = Buffer.from(bytes).toString('base64');
        expect(Buffer.from(rawBody({ body, isBase64Encoded: true }))).toEqual(Buffer.from(bytes));
      }),
    );
  });

  it('property: any text body has the size and the reading of its UTF-8 bytes, whatever the flag when it is absent', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 256 }), fc.constantFrom(false, undefined), (text, flag) => {
        const body = rawBody({ body: text, isBase64Encoded: flag });
        const bytes = Buffer.from(text, 'utf8');
        expect(bodyByteLength(body)).toBe(bytes.length);
        expect(bodyText(body)).toBe(decodeUtf8(bytes));
      }),
    );
  });
});

describe('headersOf', () => {
  it('is the event headers, or an empty set for null or missing ones', () => {
    expect(headersOf({ headers: { 'content-type': 'text/xml' } })).toEqual({ 'content-type': 'text/xml' });
    expect(headersOf({ headers: null })).toEqual({});
    expect(headersOf({})).toEqual({});
  });
});

describe('toResult', () => {
  it('carries status, headers and body as API Gateway expects them', () => {
    expect(toResult({ statusCode: 204, headers: {}, body: '' })).toEqual({ statusCode: 204, headers: {}, body: '' });
    expect(toResult({ statusCode: 400, headers: { 'content-type': 'application/json' }, body: '{}' })).toEqual({
      statusCode: 400,
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
  });
});
