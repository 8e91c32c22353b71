import { describe, it, expect } from 'vitest';
import { PayError, asPayError, type ErrorKind } from '../../lib/errors';
import { failureReply, publicReason, successReply } from '../../lib/replies';
import { parseXml } from '../../lib/wechatpay/v2/xml';

const KINDS: ErrorKind[] = ['UNAUTHENTIC', 'MALFORMED', 'INCONSISTENT', 'UNKNOWN_ORDER', 'UNAVAILABLE', 'CONFIG'];
const V3_STATUS: Record<ErrorKind, number> = {
  UNAUTHENTIC: 401,
  MALFORMED: 400,
  INCONSISTENT: 400,
  UNKNOWN_ORDER: 400,
  UNAVAILABLE: 500,
  CONFIG: 500,
};
const GENERIC_KINDS: ErrorKind[] = ['UNAVAILABLE', 'CONFIG'];

/** An error carrying internals that must never reach a reply. */
function errorOf(kind: ErrorKind): PayError {
  return new PayError(kind, `internal ${kind} reason: WECHATPAY_APIV2_KEY=s3cr3t at 10.0.0.1`, {
    cause: new Error('connect ECONNREFUSED 10.0.0.1:8000'),
    detail: { table: 'payments-prod', apiKey: 'detail-secret' },
  });
}

describe('successReply', () => {
  it('v2: the documented SUCCESS XML with status 200', () => {
    const reply = successReply('v2');
    expect(reply.statusCode).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^text\/xml/);
    expect(reply.body).toBe(
      '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>',
    );
  });

  it('v3: 204 with no body', () => {
    expect(successReply('v3')).toEqual({ statusCode: 204, headers: {}, body: '' });
  });

  it('aggregator: exactly "success", nothing else', () => {
    const reply = successReply('aggregator');
    expect(reply.statusCode).toBe(200);
    expect(reply.body).toBe('success');
    expect(reply.headers['content-type']).toMatch(/^text\/plain/);
  });

  it('hands out fresh header objects', () => {
    successReply('v2').headers['x-mutated'] = '1';
    expect(successReply('v2').headers['x-mutated']).toBeUndefined();
  });
});

describe('failureReply', () => {
  it.each(KINDS)('v2 %s: FAIL XML with status 200 and the public reason', (kind) => {
    const err = errorOf(kind);
    const reply = failureReply('v2', err);
    expect(reply.statusCode).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^text\/xml/);
    const fields = parseXml(reply.body);
    expect({ ...fields }).toEqual({ return_code: 'FAIL', return_msg: publicReason(err) });
  });

  it.each(KINDS)('v3 %s: its status with {code: FAIL, message}', (kind) => {
    const err = errorOf(kind);
    const reply = failureReply('v3', err);
    expect(reply.statusCode).toBe(V3_STATUS[kind]);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(reply.body)).toEqual({ code: 'FAIL', message: publicReason(err) });
  });

  it('v3 statuses in order: 401/400/400/400/500/500', () => {
    expect(KINDS.map((kind) => failureReply('v3', errorOf(kind)).statusCode)).toEqual([401, 400, 400, 400, 500, 500]);
  });

  it.each(KINDS)('aggregator %s: never "success", 4xx or 5xx', (kind) => {
    const reply = failureReply('aggregator', errorOf(kind));
    expect(reply.body).not.toBe('success');
    expect(reply.body).toBe('fail');
    expect(reply.statusCode).toBe(GENERIC_KINDS.includes(kind) ? 500 : 400);
  });

  it.each(GENERIC_KINDS)('%s replies with a generic reason in every format', (kind) => {
    const err = errorOf(kind);
    expect(publicReason(err)).not.toContain('internal');
    for (const format of ['v2', 'v3', 'aggregator'] as const) {
      const body = failureReply(format, err).body;
      expect(body).not.toContain('internal');
      expect(body).not.toContain('s3cr3t');
      expect(body).not.toContain('10.0.0.1');
    }
    expect(publicReason(errorOf('UNAVAILABLE'))).toMatch(/retry/);
    expect(publicReason(errorOf('CONFIG'))).not.toMatch(/WECHATPAY|PAYMENTS_TABLE/);
  });

  it.each(KINDS)('%s never leaks the detail or the cause', (kind) => {
    for (const format of ['v2', 'v3', 'aggregator'] as const) {
      const body = failureReply(format, errorOf(kind)).body;
      expect(body).not.toContain('detail-secret');
      expect(body).not.toContain('payments-prod');
      expect(body).not.toContain('ECONNREFUSED');
    }
  });

  it('keeps the sender-facing reason of expected failures', () => {
    expect(publicReason(new PayError('UNAUTHENTIC', 'sign mismatch'))).toBe('sign mismatch');
    expect(
      JSON.parse(failureReply('v3', new PayError('MALFORMED', 'total_fee is not an integer amount in fen')).body),
    ).toEqual({
      code: 'FAIL',
      message: 'total_fee is not an integer amount in fen',
    });
  });

  it('keeps the v2 reply well-formed whatever the reason holds', () => {
    const reason = 'bad <xml> & ]]> "quoted" 中文';
    const reply = failureReply('v2', new PayError('MALFORMED', reason));
    expect(parseXml(reply.body).return_msg).toBe(reason);
  });

  it('turns an unexpected raw error into a generic retryable reply', () => {
    const err = asPayError(new TypeError('Cannot read properties of undefined (reading "secret")'));
    const reply = failureReply('v3', err);
    expect(reply.statusCode).toBe(500);
    expect(reply.body).not.toContain('Cannot read');
    expect(failureReply('v2', err).statusCode).toBe(200);
    expect(parseXml(failureReply('v2', err).body).return_code).toBe('FAIL');
  });
});
