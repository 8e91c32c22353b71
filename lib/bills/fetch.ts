/**
 * Getting the day's trade bill onto local disk (the README's "Next-day bill reconciliation"): APIv3 asks for a download URL and a
 * SHA1 of the bill, downloads it with a signed request, gunzips it while hashing and writing it to a
 * file, and only a matching digest hands the file on to be read. APIv2 `downloadbill` answers with
 * the bill's text itself (or an XML refusal) and carries no digest. The file keeps memory bounded
 * and lets the caller read the bill twice: once to check it, once to act on it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { configError, malformed, PayError, unauthentic } from '../errors';
import { isMerchantId } from '../orders/model';
import { decodeUtf8 } from '../text';
import { httpError, WechatPayApiError } from '../wechatpay/apiError';
import type { Config } from '../config';
import { type ClientDeps, createTransport, type FetchLike, type TransportOptions } from '../wechatpay/http';
import { USER_AGENT } from '../wechatpay/client';
import { signV2 } from '../wechatpay/v2/sign';
import { buildXml, parseXml, type Fields } from '../wechatpay/v2/xml';
import { buildAuthorization } from '../wechatpay/v3/authorization';
import { callV3 } from '../wechatpay/v3/client';
import { isRecord, parseUntrustedJson, str } from '../wechatpay/v3/json';

/** Which bill: a Beijing calendar day, and the sub-merchant in service-provider mode. */
export interface BillRequest {
  /** `yyyy-MM-dd`. */
  billDate: string;
  subMchid?: string;
}

/** A bill on disk, decompressed, its digest checked where the protocol gives one. */
export interface BillFile {
  kind: 'READY';
  protocol: 'v2' | 'v3';
  path: string;
  bytes: number;
  /** Hex SHA1 of the decompressed bill (checked against WeChat's for APIv3). */
  sha1: string;
}

/** WeChat has no bill for the day yet (it builds them after 09:00 Beijing time): try again later. */
export interface BillNotReady {
  kind: 'NOT_READY';
  /** WeChat's code or message, for the log. */
  reason: string;
}

export type BillFetch = BillFile | BillNotReady;

/** What fetching needs beyond the signed client: a streaming fetch, a scratch folder and limits. */
export interface BillFetchDeps {
  client: ClientDeps;
  /** Fetch used for the download itself (global fetch by default): its body is streamed, never buffered. */
  fetch?: FetchLike;
  /** Folder for the downloaded file (os.tmpdir() in a Lambda). */
  dir: string;
  /** Largest decompressed bill accepted (default 4 GiB). */
  maxBytes?: number;
  /** Timeout of the whole download (default 120 s). */
  downloadTimeoutMs?: number;
}

const BILL_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const SHA1_HEX = /^[0-9a-fA-F]{40}$/;
const DEFAULT_MAX_BYTES = 4 * 1024 ** 3;
const MAX_V2_ERROR_BYTES = 64 * 1024;
// APIv3 codes for "no bill for that day yet" (the README's "Next-day bill reconciliation"): a bill still being built, or none yet
const NOT_READY_V3 = new Set(['NO_STATEMENT_EXIST', 'STATEMENT_CREATING']);
// APIv2 says the same in its return_msg, in English or Chinese
const NOT_READY_V2 = /no bill exist|bill creating|账单.{0,4}(不存在|未生成|生成中)/i;

/** The signed client's parts built from configuration, as createWechatPayClient builds them. */
export function billClientDeps(config: Config, opts: TransportOptions & { nonce?: () => string } = {}): ClientDeps {
  return {
    config,
    transport: createTransport(opts),
    now: opts.now ?? Date.now,
    nonce: opts.nonce ?? (() => randomBytes(16).toString('hex').toUpperCase()),
    userAgent: USER_AGENT,
  };
}

/** Fetches with APIv3 when a merchant key is configured, else with APIv2, else fails with CONFIG. */
export function fetchTradeBill(deps: BillFetchDeps, req: BillRequest): Promise<BillFetch> {
  if (deps.client.config.merchant !== undefined) return fetchTradeBillV3(deps, req);
  if (deps.client.config.apiV2Key !== undefined) return fetchTradeBillV2(deps, req);
  return Promise.reject(configError('bill download needs the APIv3 merchant key or WECHATPAY_APIV2_KEY'));
}

/** APIv3: `GET /v3/bill/tradebill`, then the signed download; the digest is checked before anything is read. */
export async function fetchTradeBillV3(deps: BillFetchDeps, req: BillRequest): Promise<BillFetch> {
  checkRequest(req);
  const { mchid, merchant } = deps.client.config;
  if (merchant === undefined) throw configError('WECHATPAY_MERCHANT_PRIVATE_KEY is required for APIv3 calls');
  const query = new URLSearchParams({ bill_date: req.billDate, bill_type: 'ALL', tar_type: 'GZIP' });
  if (req.subMchid !== undefined) query.set('sub_mchid', req.subMchid);
  let answer: Buffer;
  try {
    const res = await callV3(deps.client, { method: 'GET', path: `/v3/bill/tradebill?${query.toString()}` });
    answer = res.body;
  } catch (err) {
    if (err instanceof WechatPayApiError && NOT_READY_V3.has(err.code)) return { kind: 'NOT_READY', reason: err.code };
    throw err;
  }
  const json = parseUntrustedJson(decodeUtf8(answer, 'tradebill'), 'tradebill');
  if (!isRecord(json)) throw malformed('tradebill answer is not a JSON object');
  const hashType = str(json, 'hash_type', 'tradebill', 32);
  const hashValue = str(json, 'hash_value', 'tradebill', 1024);
  const downloadUrl = str(json, 'download_url', 'tradebill', 2048);
  if (hashType !== 'SHA1') throw malformed(`tradebill hash_type ${hashType} is not supported`);
  if (!SHA1_HEX.test(hashValue)) throw malformed('tradebill hash_value is not a SHA1');
  const url = downloadTarget(deps.client.config.apiBaseUrl, downloadUrl);
  const pathAndQuery = `${url.pathname}${url.search}`;
  const authorization = buildAuthorization({
    mchid,
    serialNo: merchant.serialNo,
    privateKey: merchant.privateKey,
    method: 'GET',
    url: pathAndQuery,
    body: '',
    timestamp: Math.floor(deps.client.now() / 1000),
    nonce: deps.client.nonce(),
  });
  // the download answer carries no WeChat signature (the README's "Next-day bill reconciliation"): the digest is its only proof
  const res = await download(deps, url.toString(), {
    method: 'GET',
    headers: { Authorization: authorization, Accept: '*/*', 'User-Agent': deps.client.userAgent },
  });
  if (res.status !== 200 || res.body === null) throw httpError(res.status, await safeText(res));
  const file = await saveStream(deps, res.body, true);
  if (file.sha1 !== hashValue.toLowerCase()) {
    await unlink(file.path).catch(() => undefined);
    throw unauthentic('bill digest does not match the hash_value WeChat announced', {
      billDate: req.billDate,
      expected: hashValue.toLowerCase(),
      got: file.sha1,
    });
  }
  return { kind: 'READY', protocol: 'v3', ...file };
}

/** APIv2 `downloadbill`: a signed XML request; the answer is the bill's text or an XML refusal. */
export async function fetchTradeBillV2(deps: BillFetchDeps, req: BillRequest): Promise<BillFetch> {
  checkRequest(req);
  const key = deps.client.config.apiV2Key;
  if (key === undefined) throw configError('WECHATPAY_APIV2_KEY is required for APIv2 calls');
  const fields: Fields = {
    appid: deps.client.config.appid,
    mch_id: deps.client.config.mchid,
    ...(req.subMchid === undefined ? {} : { sub_mch_id: req.subMchid }),
    nonce_str: deps.client.nonce(),
    sign_type: 'HMAC-SHA256',
    bill_date: req.billDate.replaceAll('-', ''),
    bill_type: 'ALL',
  };
  const body = buildXml({ ...fields, sign: signV2(fields, key, 'HMAC-SHA256') });
  const res = await download(deps, `${deps.client.config.apiBaseUrl}/pay/downloadbill`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/xml; charset=utf-8', 'User-Agent': deps.client.userAgent },
    body,
  });
  if (res.status !== 200 || res.body === null) throw httpError(res.status, await safeText(res));
  const file = await saveStream(deps, res.body, false);
  const head = await readHead(file.path, MAX_V2_ERROR_BYTES + 1);
  if (head.subarray(0, 5).toString('latin1') !== '<xml>') return { kind: 'READY', protocol: 'v2', ...file };
  await unlink(file.path).catch(() => undefined);
  if (head.length > MAX_V2_ERROR_BYTES) throw malformed('downloadbill refusal is too large');
  // a refusal is unsigned by protocol: it decides "retry later" or "failed", never what a bill says
  const reply = parseXml(decodeUtf8(head, 'downloadbill reply'));
  const message = reply.return_msg ?? '';
  if (NOT_READY_V2.test(message)) return { kind: 'NOT_READY', reason: message };
  throw new WechatPayApiError({
    status: res.status,
    code: reply.error_code || reply.err_code || 'RETURN_FAIL',
    message: message || 'downloadbill refused',
    retryable: false,
    raw: head.toString('utf8'),
  });
}

/** Opens a fetched bill for reading, as a byte stream. */
export function openBill(path: string): AsyncIterable<Uint8Array> {
  return createReadStream(path, { highWaterMark: 256 * 1024 });
}

/** Deletes a fetched bill (missing is fine). */
export async function removeBill(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

function checkRequest(req: BillRequest): void {
  const m = BILL_DATE.exec(req.billDate);
  const day = m === null ? undefined : new Date(`${req.billDate}T00:00:00Z`);
  if (day === undefined || Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== req.billDate)
    throw malformed('billDate must be a calendar day yyyy-MM-dd');
  if (req.subMchid !== undefined && !isMerchantId(req.subMchid)) throw malformed('subMchid must be digits');
}

/** The download URL must point at the API origin we sign for: an Authorization is never sent elsewhere. */
function downloadTarget(apiBaseUrl: string, downloadUrl: string): URL {
  let url: URL;
  try {
    url = new URL(downloadUrl);
  } catch {
    throw malformed('tradebill download_url is not a URL');
  }
  if (url.origin !== new URL(apiBaseUrl).origin) {
    throw unauthentic('tradebill download_url points outside the WeChat Pay API', { origin: url.origin });
  }
  return url;
}

async function download(deps: BillFetchDeps, url: string, init: RequestInit): Promise<Response> {
  const fetchImpl: FetchLike = deps.fetch ?? ((input, i) => fetch(input, i));
  try {
    return await fetchImpl(url, {
      ...init,
      redirect: 'manual',
      signal: AbortSignal.timeout(deps.downloadTimeoutMs ?? 120_000),
    });
  } catch (err) {
    throw new WechatPayApiError({
      status: undefined,
      code: 'NETWORK_ERROR',
      message: 'bill download failed',
      retryable: true,
      cause: err,
    });
  }
}

async function safeText(res: Response): Promise<string> {
  try {
    return (await res.text()).slice(0, 2048);
  } catch {
    return '';
  }
}

/** Streams the body (gunzipped when asked) to a new file while hashing and counting it. */
async function saveStream(
  deps: BillFetchDeps,
  body: ReadableStream<Uint8Array>,
  gzipped: boolean,
): Promise<{ path: string; bytes: number; sha1: string }> {
  const path = join(deps.dir, `bill-${randomBytes(8).toString('hex')}.csv`);
  const hash = createHash('sha1');
  const limit = deps.maxBytes ?? DEFAULT_MAX_BYTES;
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > limit) {
        done(malformed(`bill is larger than ${limit} bytes`));
        return;
      }
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const source = Readable.fromWeb(body as WebReadableStream<Uint8Array>);
  try {
    if (gzipped) await pipeline(source, createGunzip(), tap, createWriteStream(path));
    else await pipeline(source, tap, createWriteStream(path));
  } catch (err) {
    await unlink(path).catch(() => undefined);
    if (err instanceof PayError) throw err;
    // a broken gzip stream or a cut connection: nothing was read, the run can simply be repeated
    throw new WechatPayApiError({
      status: 200,
      code: 'MALFORMED_RESPONSE',
      message: gzipped ? 'bill download is not a complete gzip stream' : 'bill download was cut off',
      retryable: true,
      cause: err,
    });
  }
  return { path, bytes, sha1: hash.digest('hex') };
}

async function readHead(path: string, n: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await handle.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
