/**
 * The transport's answer size bound: an answer over 1 MiB is refused as MALFORMED_RESPONSE (never
 * buffered into a verifier, never retried), while one at the bound is read as exact bytes.
 */
import { describe, expect, it } from 'vitest';
import { WechatPayApiError } from '../../../lib/wechatpay/apiError';
import { createTransport, type FetchLike } from '../../../lib/wechatpay/http';

const MIB = 1024 * 1024;

function transport(size: number) {
  let calls = 0;
  const fetch: FetchLike = async () => {
    calls += 1;
    return new Response(new Uint8Array(size).fill(0x61), { status: 200 });
  };
  return { t: createTransport({ fetch, sleep: async () => undefined }), calls: () => calls };
}

describe('answer size', () => {
  it('refuses an answer over 1 MiB as MALFORMED_RESPONSE, keeping its status, not retried', async () => {
    const { t, calls } = transport(MIB + 1);
    const e = await t
      .run(({ timeoutMs }) => t.send({ method: 'GET', url: 'http://127.0.0.1:9/x', headers: {} }, timeoutMs))
      .catch((err: unknown) => err);
    expect(e).toBeInstanceOf(WechatPayApiError);
    expect(e).toMatchObject({ code: 'MALFORMED_RESPONSE', status: 200, retryable: false, message: 'answer too large' });
    expect(calls()).toBe(1);
  });

  it('reads an answer of exactly 1 MiB', async () => {
    const { t } = transport(MIB);
    const res = await t.send({ method: 'GET', url: 'http://127.0.0.1:9/x', headers: {} }, 5000);
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(MIB);
  });
});
