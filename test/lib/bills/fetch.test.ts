/**
 * Fetching bills from the real simulator: APIv3 tradebill + signed download with the digest checked,
 * APIv2 downloadbill, "not yet generated" as an outcome, and every spoiled file refused with nothing left.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  billClientDeps,
  fetchTradeBill,
  fetchTradeBillV2,
  fetchTradeBillV3,
  openBill,
  type BillFetchDeps,
} from '../../../lib/bills/fetch';
import { checkBill } from '../../../lib/bills/reader';
import { loadConfig } from '../../../lib/config';
import { PayError } from '../../../lib/errors';
import { beijingDay } from '../../../scripts/simulator/bills';
import { runCli } from '../../../scripts/simulator/cli';
import { generateTestKeys, toEnv } from '../../../scripts/simulator/keys';
import { startSimulator, type Simulator } from '../../../scripts/simulator/server';

const keys = generateTestKeys();
let sim: Simulator;
let dir: string;
let v3: BillFetchDeps;
let v2: BillFetchDeps;
const today = beijingDay(Date.now());

beforeAll(async () => {
  sim = await startSimulator({ keys });
  dir = await mkdtemp(join(tmpdir(), 'bills-fetch-'));
  const config = loadConfig({ ...toEnv(keys), PAYMENTS_TABLE: 't', WECHATPAY_API_BASE_URL: sim.url });
  v3 = { client: billClientDeps(config, { sleep: async () => undefined }), dir };
  v2 = { client: billClientDeps({ ...config, merchant: undefined }, { sleep: async () => undefined }), dir };
  for (let i = 0; i < 5; i += 1) {
    sim.state.createOrder({ outTradeNo: `fetch-${i}`, amount: 100 * (i + 1), mchid: keys.mchid, appid: keys.appid });
    sim.state.pay(keys.mchid, `fetch-${i}`);
  }
  sim.state.refund({
    merchantId: keys.mchid,
    outTradeNo: 'fetch-0',
    outRefundNo: 'fr-0',
    amount: 50,
    status: 'SUCCESS',
  });
});

afterAll(async () => {
  await sim.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  sim.bills.clear();
  sim.bills.readiness = 'always';
});

async function refusal(p: Promise<unknown>): Promise<PayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PayError);
  return err as PayError;
}

describe('fetchTradeBill', () => {
  it('APIv3: downloads, checks the digest and leaves a readable bill', async () => {
    const got = await fetchTradeBill(v3, { billDate: today });
    if (got.kind !== 'READY') throw new Error('expected a bill');
    expect(got).toMatchObject({ protocol: 'v3' });
    expect(await checkBill(openBill(got.path))).toMatchObject({ count: 6, totalFen: 1500, refundFen: 50 });
  });

  it('APIv2: downloadbill answers the bill text', async () => {
    const got = await fetchTradeBill(v2, { billDate: today });
    if (got.kind !== 'READY') throw new Error('expected a bill');
    expect(got.protocol).toBe('v2');
    expect(await checkBill(openBill(got.path))).toMatchObject({ count: 6 });
  });

  it('a bill not yet generated is NOT_READY for both generations, by the clock as well', async () => {
    sim.bills.readiness = 'never';
    expect(await fetchTradeBill(v3, { billDate: today })).toEqual({ kind: 'NOT_READY', reason: 'NO_STATEMENT_EXIST' });
    expect(await fetchTradeBill(v2, { billDate: today })).toEqual({ kind: 'NOT_READY', reason: 'No Bill Exist' });
    sim.bills.readiness = 'clock';
    expect((await fetchTradeBill(v3, { billDate: today })).kind).toBe('NOT_READY');
  });

  it('a one-bit change after the digest fails the check and leaves no file', async () => {
    const before = await readdir(dir);
    sim.bills.corruption = 'digest';
    const err = await refusal(fetchTradeBill(v3, { billDate: today }));
    expect(err.kind).toBe('UNAUTHENTIC');
    expect(err.reason).toMatch(/digest/);
    expect(await readdir(dir)).toEqual(before);
  });

  it('a broken gzip stream is refused (retryable) and leaves no file', async () => {
    const before = await readdir(dir);
    sim.bills.corruption = 'gzip';
    const err = await refusal(fetchTradeBill(v3, { billDate: today }));
    expect(err).toMatchObject({ code: 'MALFORMED_RESPONSE', retryable: true });
    expect(await readdir(dir)).toEqual(before);
  });

  it('refuses a malformed day, a bad sub-merchant and missing credentials before any request', async () => {
    expect((await refusal(fetchTradeBill(v3, { billDate: '2026-02-30' }))).kind).toBe('MALFORMED');
    expect((await refusal(fetchTradeBill(v3, { billDate: '20261129' }))).kind).toBe('MALFORMED');
    expect((await refusal(fetchTradeBill(v3, { billDate: today, subMchid: 'x1' }))).kind).toBe('MALFORMED');
    const none = { ...v2, client: { ...v2.client, config: { ...v2.client.config, apiV2Key: undefined } } };
    expect((await refusal(fetchTradeBill(none, { billDate: today }))).kind).toBe('CONFIG');
  });

  it('an APIv2 refusal other than "no bill" is an error', async () => {
    const wrongKey = { ...v2, client: { ...v2.client, config: { ...v2.client.config, apiV2Key: 'k'.repeat(32) } } };
    const err = await refusal(fetchTradeBill(wrongKey, { billDate: today }));
    expect(err.reason).toMatch(/签名错误/);
  });

  it('a bill larger than the limit is refused and leaves no file', async () => {
    const before = await readdir(dir);
    const err = await refusal(fetchTradeBill({ ...v3, maxBytes: 100 }, { billDate: today }));
    expect(err.kind).toBe('MALFORMED');
    expect(await readdir(dir)).toEqual(before);
  });
});

describe('simulator bill switches (control endpoint and CLI)', () => {
  const cli = async (...argv: string[]) => {
    const out: string[] = [];
    const code = await runCli(['--sim', sim.url, ...argv], {
      env: {},
      out: (t) => out.push(t),
      err: (t) => out.push(t),
    });
    return { code, json: code === 0 ? (JSON.parse(out.join('\n')) as Record<string, unknown>) : out.join('\n') };
  };

  it('injects, shows, corrupts and clears through npm run sim -- bill …', async () => {
    expect((await cli('bill', 'inject', 'amount', '--count', '2')).code).toBe(0);
    const shown = await cli('bill', 'show', today);
    expect(shown.json).toMatchObject({ rows: 6, switches: { counts: { amount: 2 } } });
    expect((shown.json as { alterations: unknown[] }).alterations).toHaveLength(2);
    const made = await cli('bill', 'inject', 'unknown-payment');
    expect((made.json as { changed: unknown[] }).changed).toHaveLength(1);
    expect((await cli('bill', 'corrupt', 'summary')).json).toMatchObject({ switches: { corrupt: 'summary' } });
    expect((await cli('bill', 'ready', 'never')).json).toMatchObject({ switches: { ready: 'never' } });
    expect((await cli('bill', 'clear')).json).toMatchObject({
      switches: { counts: {}, corrupt: 'none', ready: 'clock' },
    });
  });

  it('refuses unknown switches and malformed control calls', async () => {
    expect((await cli('bill', 'inject', 'nonsense')).code).not.toBe(0);
    expect((await cli('bill', 'corrupt', 'everything')).code).not.toBe(0);
    expect((await cli('bill', 'show', 'yesterday')).code).not.toBe(0);
    expect((await cli('bill', 'dance')).code).not.toBe(0);
    const res = await fetch(`${sim.url}/_sim/bill`, { method: 'POST', body: '[1]' });
    expect(res.status).toBe(400);
  });
});

describe('each generation called without its key', () => {
  it('is a CONFIG error before any request', async () => {
    const noMerchant = { ...v3, client: { ...v3.client, config: { ...v3.client.config, merchant: undefined } } };
    expect((await refusal(fetchTradeBillV3(noMerchant, { billDate: today }))).kind).toBe('CONFIG');
    const noV2 = { ...v2, client: { ...v2.client, config: { ...v2.client.config, apiV2Key: undefined } } };
    expect((await refusal(fetchTradeBillV2(noV2, { billDate: today }))).kind).toBe('CONFIG');
  });

  it('asks APIv2 for one sub-merchant', async () => {
    const got = await fetchTradeBill(v2, { billDate: today, subMchid: '1900009995' });
    expect(got.kind).toBe('READY');
  });
});

describe('a download_url the signed request must not follow', () => {
  it('refuses another origin before any request, and a URL that is not one', async () => {
    let fetched = 0;
    const counting = {
      ...v3,
      fetch: async (input: string | URL | Request, init?: RequestInit) => {
        fetched += 1;
        return fetch(input, init);
      },
    };
    const before = await readdir(dir);
    sim.bills.downloadOrigin = 'https://attacker.example';
    expect(await refusal(fetchTradeBill(counting, { billDate: today }))).toMatchObject({ kind: 'UNAUTHENTIC' });
    sim.bills.downloadOrigin = 'not a url';
    expect(await refusal(fetchTradeBill(counting, { billDate: today }))).toMatchObject({ kind: 'MALFORMED' });
    // the Authorization never left: no download was attempted, and no file is left
    expect(fetched).toBe(0);
    expect(await readdir(dir)).toEqual(before);
  });

  it('an APIv3 refusal other than "no bill" is an error', async () => {
    const other = { ...v3, client: { ...v3.client, config: { ...v3.client.config, mchid: '1900000001' } } };
    // the simulator refuses a request signed for another merchant: an error, not NOT_READY
    await refusal(fetchTradeBill(other, { billDate: today }));
  });
});

describe('download faults a real simulator cannot produce', () => {
  // stubs only for the download's transport: a dead connection and an expired URL
  it('a failed connection is a retryable NETWORK_ERROR; a non-200 download or downloadbill is an HTTP error', async () => {
    const dead = { ...v3, fetch: async () => Promise.reject(new Error('socket hang up')) };
    expect(await refusal(fetchTradeBill(dead, { billDate: today }))).toMatchObject({
      code: 'NETWORK_ERROR',
      retryable: true,
    });
    const gone = { ...v3, fetch: async () => new Response('{"code":"NOT_FOUND"}', { status: 404 }) };
    expect(await refusal(fetchTradeBill(gone, { billDate: today }))).toMatchObject({ status: 404 });
    const busy = { ...v2, fetch: async () => new Response('busy', { status: 503 }) };
    expect(await refusal(fetchTradeBill(busy, { billDate: today }))).toMatchObject({ status: 503, retryable: true });
  });
});

describe('hostile answers', () => {
  it('a tradebill answer that is no object, names another hash, or a hash that is no SHA1 is MALFORMED, with nothing downloaded', async () => {
    const before = await readdir(dir);
    const url = `${sim.url}/v3/billdownload/file?token=x`;
    for (const [answer, reason] of [
      [[1, 2], /not a JSON object/],
      [{ hash_type: 'MD5', hash_value: 'a'.repeat(32), download_url: url }, /hash_type MD5/],
      [{ hash_type: 'SHA1', hash_value: 'xyz', download_url: url }, /not a SHA1/],
      [{ hash_type: 'SHA1', download_url: url }, /hash_value/],
    ] as const) {
      sim.bills.tradebillAnswer = answer;
      const err = await refusal(fetchTradeBill(v3, { billDate: today }));
      expect(err.kind, JSON.stringify(answer)).toBe('MALFORMED');
      expect(err.reason).toMatch(reason);
    }
    expect(await readdir(dir)).toEqual(before);
  });

  it('APIv3 without the merchant key is a CONFIG error before any request', async () => {
    const noKey = { ...v3, client: { ...v3.client, config: { ...v3.client.config, merchant: undefined } } };
    expect((await refusal(fetchTradeBillV3(noKey, { billDate: today }))).kind).toBe('CONFIG');
  });

  // downloadbill bodies the simulator never sends (a huge refusal, one with no message, a body cut
  // off, an error whose body cannot be read): the download's transport is stubbed to answer them
  it('an oversized or wordless downloadbill refusal, a cut-off body and an unreadable error body are errors that leave no file', async () => {
    const before = await readdir(dir);
    const answering = (body: BodyInit, status = 200) => ({ ...v2, fetch: async () => new Response(body, { status }) });
    const huge = `<xml><return_code>FAIL</return_code><return_msg>${'x'.repeat(70_000)}</return_msg></xml>`;
    expect(await refusal(fetchTradeBillV2(answering(huge), { billDate: today }))).toMatchObject({
      kind: 'MALFORMED',
      reason: expect.stringMatching(/too large/),
    });
    expect(
      await refusal(fetchTradeBillV2(answering('<xml><return_code>FAIL</return_code></xml>'), { billDate: today })),
    ).toMatchObject({ code: 'RETURN_FAIL', message: 'downloadbill refused' });
    const cut = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('交易时间,公众账号ID\n'));
        controller.error(new Error('connection reset'));
      },
    });
    expect(await refusal(fetchTradeBillV2(answering(cut), { billDate: today }))).toMatchObject({
      code: 'MALFORMED_RESPONSE',
      message: 'bill download was cut off',
      retryable: true,
    });
    const unreadable = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.error(new Error('connection reset'));
      },
    });
    expect(await refusal(fetchTradeBillV2(answering(unreadable, 502), { billDate: today }))).toMatchObject({
      status: 502,
    });
    expect(await readdir(dir)).toEqual(before);
  });
});
