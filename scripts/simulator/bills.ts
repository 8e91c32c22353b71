/**
 * TEST-ONLY: WeChat Pay's trade bills as the simulator serves them (the README's "Next-day bill reconciliation"): APIv3
 * `GET /v3/bill/tradebill` and its signed download, APIv2 `downloadbill`. A bill is built from the
 * simulator's own record of the day (payments by success time, successful refunds by success time),
 * with switches that inject each discrepancy kind and corrupt the file, so the service's
 * reconciliation can be shown to find exactly what was injected. Imports nothing from lib/.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { header, jsonReply, type HttpReply, type SimRequest } from './http';
import type { TestKeys } from './keys';
import { randomTransactionId, v2Sign, v2Xml } from './messages';
import type { SimOrder, SimRefund, SimState } from './state';
import { responseSigner, signedResponseHeaders, verifyAuthorization } from './v3auth';
import { parseFlatXml } from './xml';

/** Discrepancies a bill can be made to carry; the first three change the record, the rest the text. */
export const BILL_INJECTIONS = [
  /** payments WeChat took for orders the service never heard of (created and paid silently) */
  'unknown-payment',
  /** unpaid orders paid silently: the service still holds them NOTPAY */
  'unpaid-here',
  /** successful refunds made silently (a merchant-console refund whose notification was lost) */
  'unknown-refund',
  /** payment rows left out of the bill */
  'missing-payment',
  /** payment rows with one fen more */
  'amount',
  /** payment rows with another transaction id */
  'transaction',
  /** refund rows with one fen less */
  'refund-amount',
  /** refund rows whose state reads ABNORMAL */
  'refund-state',
] as const;
export type BillInjection = (typeof BILL_INJECTIONS)[number];

/** How the served file is spoiled: a byte changed after the digest, a broken gzip, a wrong summary. */
export type BillCorruption = 'none' | 'digest' | 'gzip' | 'summary';

/** When a bill exists: by the clock (day D after 10:00 Beijing on D+1), always, or never. */
export type BillReadiness = 'clock' | 'always' | 'never';

/** One discrepancy the simulator put into a bill, for tests to check findings against. */
export interface BillAlteration {
  injection: BillInjection;
  merchantId: string;
  outTradeNo: string;
  outRefundNo?: string;
}

/** A built bill and what went into it. */
export interface BuiltBill {
  text: string;
  rows: number;
  alterations: BillAlteration[];
}

const HEADER =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,' +
  '应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,' +
  '手续费,费率,订单金额,申请退款金额,费率备注';
const SUMMARY_HEADER = '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额';
const BEIJING_MS = 8 * 3600 * 1000;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const TOKEN_TTL_MS = 30_000;
const TRADEBILL = '/v3/bill/tradebill';
const DOWNLOAD = '/v3/billdownload/file';
const DOWNLOADBILL = '/pay/downloadbill';

/** The bill endpoints' state: switches, injected record changes and live download tokens. */
export class SimBills {
  readonly counts = new Map<BillInjection, number>();
  corruption: BillCorruption = 'none';
  readiness: BillReadiness = 'clock';
  /** Serves download_url with this text in place of its own origin (a hostile answer for tests); undefined: its own. */
  downloadOrigin: string | undefined;
  /** Answers tradebill with this JSON, signed, in place of the real answer (a hostile answer for tests); undefined: the real one. */
  tradebillAnswer: unknown;
  /** Record changes made by the switches, so text alterations leave those orders alone. */
  private readonly recorded: BillAlteration[] = [];
  private readonly tokens = new Map<string, { gz: Buffer; expires: number }>();
  private sequence = 0;

  constructor(
    private readonly state: SimState,
    private readonly keys: TestKeys,
  ) {}

  /** Applies a switch: record switches act now (on `date`), text switches set how many rows to alter. */
  inject(injection: BillInjection, count: number, date?: string): BillAlteration[] {
    if (!Number.isSafeInteger(count) || count < 0) throw new Error('count must be a non-negative integer');
    if (injection === 'unknown-payment') return this.unknownPayments(count);
    if (injection === 'unpaid-here') return this.payUnpaid(count, date);
    if (injection === 'unknown-refund') return this.unknownRefunds(count, date);
    this.counts.set(injection, count);
    return [];
  }

  /** Clears every switch (record changes already made stay: WeChat does not forget payments). */
  clear(): void {
    this.counts.clear();
    this.corruption = 'none';
    this.downloadOrigin = undefined;
    this.tradebillAnswer = undefined;
    this.readiness = 'clock';
  }

  /** Builds the day's bill for a merchant (the sub-merchant in partner mode), switches applied. */
  build(date: string, merchantId: string): BuiltBill {
    const onDay = (ms: number | undefined) => ms !== undefined && beijingDay(ms) === date;
    const touched = new Set(this.recorded.map((a) => `${a.outTradeNo}\u0000${a.outRefundNo ?? ''}`));
    const payments = this.state
      .listOrders()
      .filter((o) => o.merchantId === merchantId && o.transactionId !== undefined && onDay(o.successTime))
      .sort((a, b) => cmp(a.outTradeNo, b.outTradeNo));
    const refunds = this.state
      .listRefunds()
      .filter((r) => r.merchantId === merchantId && r.status === 'SUCCESS' && onDay(r.successTime))
      .sort((a, b) => cmp(a.outRefundNo, b.outRefundNo));
    const alterations: BillAlteration[] = this.recorded.filter(
      (a) =>
        a.merchantId === merchantId &&
        (a.outRefundNo === undefined
          ? payments.some((o) => o.outTradeNo === a.outTradeNo)
          : refunds.some((r) => r.outRefundNo === a.outRefundNo)),
    );
    // each text switch takes the next untouched rows, so no row carries two discrepancies
    const pick = <T>(list: T[], key: (t: T) => string, injection: BillInjection, ids: (t: T) => BillAlteration) => {
      const chosen = new Set<T>();
      for (const item of list) {
        if (chosen.size >= (this.counts.get(injection) ?? 0)) break;
        if (touched.has(key(item))) continue;
        touched.add(key(item));
        chosen.add(item);
        alterations.push(ids(item));
      }
      return chosen;
    };
    const payKey = (o: SimOrder) => `${o.outTradeNo}\u0000`;
    const payIds = (injection: BillInjection) => (o: SimOrder) => ({
      injection,
      merchantId,
      outTradeNo: o.outTradeNo,
    });
    const missing = pick(payments, payKey, 'missing-payment', payIds('missing-payment'));
    const amount = pick(payments, payKey, 'amount', payIds('amount'));
    const transaction = pick(payments, payKey, 'transaction', payIds('transaction'));
    const refundKey = (r: SimRefund) => `${r.outTradeNo}\u0000${r.outRefundNo}`;
    const refundIds = (injection: BillInjection) => (r: SimRefund) => ({
      injection,
      merchantId,
      outTradeNo: r.outTradeNo,
      outRefundNo: r.outRefundNo,
    });
    const refundAmount = pick(refunds, refundKey, 'refund-amount', refundIds('refund-amount'));
    const refundState = pick(refunds, refundKey, 'refund-state', refundIds('refund-state'));

    const lines = [HEADER];
    const sums = [0, 0, 0, 0, 0, 0, 0];
    const add = (fields: string[], amounts: number[]) => {
      lines.push(fields.map((f) => `\`${f}`).join(','));
      sums[0] = (sums[0] as number) + 1;
      amounts.forEach((a, i) => {
        sums[i + 1] = (sums[i + 1] as number) + a;
      });
    };
    for (const o of payments) {
      if (missing.has(o)) continue;
      const total = o.amount + (amount.has(o) ? 1 : 0);
      const fee = Math.round((total * 6) / 1000);
      const tx = transaction.has(o) ? otherTransactionId(o.transactionId as string) : (o.transactionId as string);
      add(
        row(o, tx, o.successTime as number, 'SUCCESS', {
          settlement: total,
          total,
          fee,
          refundId: '',
          outRefundNo: '',
          refund: 0,
          refundState: '',
        }),
        [total, 0, 0, fee, total, 0],
      );
    }
    for (const r of refunds) {
      const order = this.state.findOrder(r.merchantId, r.outTradeNo);
      if (order === undefined) continue;
      const refund = r.amount - (refundAmount.has(r) ? 1 : 0);
      const fee = -Math.round((refund * 6) / 1000);
      add(
        row(order, r.transactionId, r.successTime as number, 'REFUND', {
          settlement: 0,
          total: 0,
          fee,
          refundId: r.refundId,
          outRefundNo: r.outRefundNo,
          refund,
          refundState: refundState.has(r) ? 'ABNORMAL' : 'SUCCESS',
        }),
        [0, refund, 0, fee, 0, refund],
      );
    }
    const count = sums[0] as number;
    const summary = [String(this.corruption === 'summary' ? count + 1 : count), ...sums.slice(1).map(yuan)];
    lines.push(SUMMARY_HEADER, summary.map((f) => `\`${f}`).join(','), '');
    return { text: lines.join('\r\n'), rows: count, alterations };
  }

  /** Serves `GET /v3/bill/tradebill` (signed JSON) and the download; undefined for other paths. */
  v3(req: SimRequest, wallSeconds: number): HttpReply | undefined {
    if (req.path !== TRADEBILL) return undefined;
    const signer = responseSigner(this.keys, header(req, 'wechatpay-serial'));
    const answer = (status: number, json: unknown) => {
      const body = JSON.stringify(json);
      return jsonReply(status, json, signedResponseHeaders(this.keys, signer, body, wallSeconds));
    };
    if (req.method !== 'GET') return answer(405, { code: 'INVALID_REQUEST', message: '请求方法错误' });
    if (!header(req, 'accept') || !header(req, 'user-agent'))
      return answer(400, { code: 'INVALID_REQUEST', message: 'Http头缺少Accept或User-Agent' });
    const auth = verifyAuthorization(
      this.keys,
      { header: header(req, 'authorization'), method: req.method, url: req.url, body: req.body },
      wallSeconds,
    );
    if (!auth.ok) return answer(401, { code: 'SIGN_ERROR', message: auth.message });
    const date = req.query.get('bill_date') ?? '';
    if (!DAY.test(date)) return answer(400, { code: 'PARAM_ERROR', message: 'bill_date格式错误' });
    if (req.query.get('bill_type') !== 'ALL' || req.query.get('tar_type') !== 'GZIP')
      return answer(400, { code: 'PARAM_ERROR', message: '模拟器只提供 bill_type=ALL, tar_type=GZIP' });
    if (!this.ready(date)) return answer(400, { code: 'NO_STATEMENT_EXIST', message: '账单文件不存在' });
    if (this.tradebillAnswer !== undefined) return answer(200, this.tradebillAnswer);
    const merchantId = req.query.get('sub_mchid') ?? this.keys.mchid;
    const { text } = this.build(date, merchantId);
    const plain = Buffer.from(text, 'utf8');
    const sha1 = createHash('sha1').update(plain).digest('hex');
    if (this.corruption === 'digest') flipByte(plain);
    const gz = gzipSync(plain);
    if (this.corruption === 'gzip') flipByte(gz);
    this.sequence += 1;
    const token = `${this.sequence}${randomBytes(12).toString('hex')}`;
    this.tokens.set(token, { gz, expires: Date.now() + TOKEN_TTL_MS });
    const origin = this.downloadOrigin ?? `http://${header(req, 'host') ?? '127.0.0.1'}`;
    return answer(200, { hash_type: 'SHA1', hash_value: sha1, download_url: `${origin}${DOWNLOAD}?token=${token}` });
  }

  /** Serves the download (raw bytes, unsigned like WeChat's) when the path is the download path. */
  download(req: SimRequest, res: ServerResponse, wallSeconds: number): boolean {
    if (req.path !== DOWNLOAD) return false;
    const auth = verifyAuthorization(
      this.keys,
      { header: header(req, 'authorization'), method: req.method, url: req.url, body: req.body },
      wallSeconds,
    );
    const file = this.tokens.get(req.query.get('token') ?? '');
    const status = !auth.ok ? 401 : file === undefined || file.expires < Date.now() ? 404 : 200;
    const body = status === 200 && file !== undefined ? file.gz : Buffer.from(JSON.stringify({ code: String(status) }));
    res.writeHead(status, {
      'Content-Type': status === 200 ? 'application/octet-stream' : 'application/json',
      'Content-Length': String(body.length),
    });
    res.end(body);
    return true;
  }

  /** Serves APIv2 `downloadbill`: the bill's text, or an unsigned XML refusal. */
  v2(req: SimRequest): HttpReply | undefined {
    if (req.path !== DOWNLOADBILL) return undefined;
    const fail = (msg: string, code?: string): HttpReply => ({
      status: 200,
      headers: { 'Content-Type': 'text/xml' },
      body: v2Xml({ return_code: 'FAIL', return_msg: msg, ...(code === undefined ? {} : { error_code: code }) }),
    });
    const fields = req.method === 'POST' ? parseFlatXml(req.body) : undefined;
    if (fields === undefined) return fail('XML_FORMAT_ERROR');
    if (fields.mch_id !== this.keys.mchid || fields.appid !== this.keys.appid) return fail('mch_id参数错误');
    const signType = fields.sign_type === 'HMAC-SHA256' ? 'HMAC-SHA256' : 'MD5';
    const expected = Buffer.from(v2Sign(fields, this.keys.apiV2Key, signType));
    const got = Buffer.from(fields.sign ?? '');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) return fail('签名错误');
    const compact = fields.bill_date ?? '';
    if (!/^\d{8}$/.test(compact)) return fail('invalid bill_date', '20001');
    const date = `${compact.slice(0, 4)}-${compact.slice(4, 6)}-${compact.slice(6)}`;
    if (!this.ready(date)) return fail('No Bill Exist', '20002');
    const { text } = this.build(date, fields.sub_mch_id || this.keys.mchid);
    return { status: 200, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: text };
  }

  /** `/_sim/bill` control: GET shows a day's bill plan, POST sets switches. */
  control(req: SimRequest): HttpReply {
    if (req.method === 'GET') {
      const date = req.query.get('date') ?? '';
      if (!DAY.test(date)) return jsonReply(400, { error: 'date=yyyy-MM-dd is required' });
      const built = this.build(date, req.query.get('subMchid') ?? this.keys.mchid);
      return jsonReply(200, { rows: built.rows, alterations: built.alterations, switches: this.switches() });
    }
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(req.body || '{}');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      return jsonReply(400, { error: 'body must be a JSON object' });
    }
    try {
      const changed: BillAlteration[] = [];
      if (body.clear === true) this.clear();
      if (typeof body.corrupt === 'string') {
        if (!['none', 'digest', 'gzip', 'summary'].includes(body.corrupt)) throw new Error('unknown corruption');
        this.corruption = body.corrupt as BillCorruption;
      }
      if (typeof body.ready === 'string') {
        if (!['clock', 'always', 'never'].includes(body.ready)) throw new Error('ready is clock, always or never');
        this.readiness = body.ready as BillReadiness;
      }
      if (typeof body.inject === 'string') {
        if (!(BILL_INJECTIONS as readonly string[]).includes(body.inject)) throw new Error('unknown injection');
        const count = body.count === undefined ? 1 : Number(body.count);
        const date = typeof body.date === 'string' ? body.date : undefined;
        changed.push(...this.inject(body.inject as BillInjection, count, date));
      }
      return jsonReply(200, { changed, switches: this.switches() });
    } catch (err) {
      return jsonReply(400, { error: err instanceof Error ? err.message : String(err) });
    }
  }

  private switches() {
    return { counts: Object.fromEntries(this.counts), corrupt: this.corruption, ready: this.readiness };
  }

  private ready(date: string): boolean {
    if (this.readiness !== 'clock') return this.readiness === 'always';
    // WeChat builds day D's bill from 09:00 Beijing on D+1 and advises fetching after 10:00
    const available = Date.parse(`${date}T10:00:00+08:00`) + 24 * 3600 * 1000;
    return this.state.now() >= available;
  }

  private unknownPayments(count: number): BillAlteration[] {
    const made: BillAlteration[] = [];
    for (let i = 0; i < count; i += 1) {
      this.sequence += 1;
      const outTradeNo = `BILLX${this.sequence}${randomBytes(4).toString('hex')}`;
      this.state.createOrder({
        outTradeNo,
        amount: 100 + this.sequence,
        mchid: this.keys.mchid,
        appid: this.keys.appid,
      });
      this.state.pay(this.keys.mchid, outTradeNo);
      made.push({ injection: 'unknown-payment', merchantId: this.keys.mchid, outTradeNo });
    }
    this.recorded.push(...made);
    return made;
  }

  private payUnpaid(count: number, date: string | undefined): BillAlteration[] {
    const unpaid = this.state
      .listOrders()
      .filter((o) => o.state === 'NOTPAY' && (date === undefined || beijingDay(o.createdAt) === date))
      .sort((a, b) => cmp(a.outTradeNo, b.outTradeNo))
      .slice(0, count);
    const made = unpaid.map((o) => {
      this.state.pay(o.merchantId, o.outTradeNo);
      return { injection: 'unpaid-here' as const, merchantId: o.merchantId, outTradeNo: o.outTradeNo };
    });
    this.recorded.push(...made);
    return made;
  }

  private unknownRefunds(count: number, date: string | undefined): BillAlteration[] {
    const taken = new Set(this.recorded.map((a) => a.outTradeNo));
    const paid = this.state
      .listOrders()
      .filter(
        (o) =>
          o.state === 'SUCCESS' &&
          !taken.has(o.outTradeNo) &&
          (date === undefined || (o.successTime !== undefined && beijingDay(o.successTime) === date)),
      )
      .sort((a, b) => cmp(a.outTradeNo, b.outTradeNo))
      .slice(0, count);
    const made = paid.map((o) => {
      this.sequence += 1;
      const outRefundNo = `BILLR${this.sequence}${randomBytes(4).toString('hex')}`;
      this.state.refund({
        merchantId: o.merchantId,
        outTradeNo: o.outTradeNo,
        outRefundNo,
        amount: 1,
        status: 'SUCCESS',
      });
      return { injection: 'unknown-refund' as const, merchantId: o.merchantId, outTradeNo: o.outTradeNo, outRefundNo };
    });
    this.recorded.push(...made);
    return made;
  }
}

interface RowAmounts {
  settlement: number;
  total: number;
  fee: number;
  refundId: string;
  outRefundNo: string;
  refund: number;
  refundState: string;
}

function row(o: SimOrder, transactionId: string, at: number, state: string, a: RowAmounts): string[] {
  return [
    beijingWall(at),
    o.appid,
    o.mchid,
    o.subMchid ?? '0',
    '',
    transactionId,
    o.outTradeNo,
    o.openid ?? '',
    'JSAPI',
    state,
    'OTHERS',
    'CNY',
    yuan(a.settlement),
    '0.00',
    a.refundId,
    a.outRefundNo,
    yuan(a.refund),
    '0.00',
    state === 'REFUND' ? 'ORIGINAL' : '',
    a.refundState,
    'simulated goods',
    o.attach ?? '',
    yuan(a.fee),
    '0.60%',
    yuan(a.total),
    yuan(a.refund),
    '',
  ];
}

function otherTransactionId(id: string): string {
  let other = randomTransactionId();
  while (other === id) other = randomTransactionId();
  return other;
}

/** Fen as yuan text, sign kept ("-0.03"), by string operations (never a float). */
export function yuan(fen: number): string {
  const digits = String(Math.abs(fen)).padStart(3, '0');
  return `${fen < 0 ? '-' : ''}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

/** The Beijing calendar day of an instant. */
export function beijingDay(ms: number): string {
  return new Date(ms + BEIJING_MS).toISOString().slice(0, 10);
}

function beijingWall(ms: number): string {
  return new Date(ms + BEIJING_MS).toISOString().slice(0, 19).replace('T', ' ');
}

/** Changes one bit of the middle byte: the smallest tampering there is. */
function flipByte(bytes: Buffer): void {
  const at = Math.floor(bytes.length / 2);
  bytes.writeUInt8((bytes.readUInt8(at) ^ 0x01) & 0xff, at);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
