/**
 * An exact, streaming reader of WeChat Pay's trade bill (the README's "Next-day bill reconciliation"): a header line, detail rows
 * whose every field starts with a backtick, then a summary header and one summary row. Amounts are
 * yuan text turned into integer fen by lib/money.ts; the summary is checked against the rows read.
 * Lines are cut from the byte stream one at a time, so a bill is never held whole.
 */
import { malformed } from '../errors';
import { yuanToFen } from '../money';
import { decodeUtf8 } from '../text';
import { beijingToIso } from '../wechatpay/time';

/** What every detail row carries, whatever its kind. */
interface RowBase {
  /** 1-based line number in the bill (the header is line 1). */
  line: number;
  /** The row's time (payment or refund time) as an ISO instant. */
  at: string;
  appid: string;
  mchid: string;
  /** The sub-merchant in service-provider bills; undefined when the column is empty. */
  subMchid: string | undefined;
  transactionId: string;
  outTradeNo: string;
  /** The order total (订单金额), in fen. */
  totalFen: number;
  /** What the merchant is settled for the order (应结订单金额: total minus non-recharge coupons), in fen. */
  settlementFen: number;
}

/** A successful payment. */
export interface PaymentRow extends RowBase {
  kind: 'PAYMENT';
}

/** A refund (交易状态 REFUND) with its own number, state and amount. */
export interface RefundRow extends RowBase {
  kind: 'REFUND';
  refundId: string;
  outRefundNo: string;
  /** 退款状态 as WeChat writes it (SUCCESS, PROCESSING, CLOSED, ABNORMAL …). */
  refundState: string;
  /** The settled refund (退款金额), in fen. */
  refundFen: number;
  /** The refund the merchant asked for (申请退款金额), in fen. */
  requestedRefundFen: number;
}

/** Any other trade state (REVOKED, for instance): read and counted, never compared. */
export interface OtherRow extends RowBase {
  kind: 'OTHER';
  tradeState: string;
}

export type BillRow = PaymentRow | RefundRow | OtherRow;

/** The closing summary; every sum in fen, `feeFen` signed (refunds give fees back). */
export interface BillSummary {
  count: number;
  settlementFen: number;
  refundFen: number;
  rechargeRefundFen: number;
  feeFen: number;
  totalFen: number;
  requestedRefundFen: number;
}

/** Detail columns the reader needs, by their header names; the order is taken from the header line. */
export const DETAIL_COLUMNS = {
  at: '交易时间',
  appid: '公众账号ID',
  mchid: '商户号',
  subMchid: '特约商户号',
  transactionId: '微信订单号',
  outTradeNo: '商户订单号',
  tradeState: '交易状态',
  settlement: '应结订单金额',
  refundId: '微信退款单号',
  outRefundNo: '商户退款单号',
  refund: '退款金额',
  rechargeRefund: '充值券退款金额',
  refundState: '退款状态',
  fee: '手续费',
  total: '订单金额',
  requestedRefund: '申请退款金额',
} as const;

/** The summary columns in the order WeChat writes them. */
export const SUMMARY_COLUMNS = [
  '总交易单数',
  '应结订单总金额',
  '退款总金额',
  '充值券退款总金额',
  '手续费总金额',
  '订单总金额',
  '申请退款总金额',
] as const;

/** Longest line accepted: a real row is a few hundred bytes; a megabyte without a newline is not a bill. */
export const MAX_LINE_BYTES = 64 * 1024;

type Column = keyof typeof DETAIL_COLUMNS;

/** Reads one bill from a byte stream; iterate {@link BillReader.rows}, then read {@link BillReader.summary}. */
export class BillReader {
  #summary: BillSummary | undefined;
  readonly #source: AsyncIterable<Uint8Array | string>;

  constructor(source: AsyncIterable<Uint8Array | string>) {
    this.#source = source;
  }

  /** The checked summary; defined once {@link rows} has run to its end without an error. */
  get summary(): BillSummary | undefined {
    return this.#summary;
  }

  /** Yields each detail row; throws MALFORMED on any defect, including a summary that disagrees. */
  async *rows(): AsyncGenerator<BillRow, BillSummary, undefined> {
    let index: Record<Column, number> | undefined;
    let width = 0;
    const sums: BillSummary = {
      count: 0,
      settlementFen: 0,
      refundFen: 0,
      rechargeRefundFen: 0,
      feeFen: 0,
      totalFen: 0,
      requestedRefundFen: 0,
    };
    let phase: 'header' | 'rows' | 'summaryRow' | 'done' = 'header';
    let stated: BillSummary | undefined;
    for await (const { text, line } of lines(this.#source)) {
      if (phase === 'done') {
        if (text === '') continue;
        throw malformed(`bill line ${line}: text after the summary`);
      }
      if (phase === 'header') {
        // a leading BOM is already gone: the strict decoder drops it (TextDecoder's default)
        const names = text.split(',');
        index = headerIndex(names);
        width = names.length;
        phase = 'rows';
        continue;
      }
      if (phase === 'rows') {
        if (text.startsWith(SUMMARY_COLUMNS[0])) {
          if (text !== SUMMARY_COLUMNS.join(',')) throw malformed(`bill line ${line}: unexpected summary header`);
          phase = 'summaryRow';
          continue;
        }
        const row = readRow(text, line, width, index as Record<Column, number>, sums);
        yield row;
        continue;
      }
      stated = readSummary(text, line);
      phase = 'done';
    }
    if (phase === 'header') throw malformed('bill is empty');
    if (stated === undefined) throw malformed('bill ends before its summary (truncated?)');
    for (const key of Object.keys(sums) as (keyof BillSummary)[]) {
      if (sums[key] !== stated[key]) {
        throw malformed(`bill summary ${key} is ${stated[key]} but the rows add up to ${sums[key]}`, {
          field: key,
          stated: stated[key],
          read: sums[key],
        });
      }
    }
    this.#summary = stated;
    return stated;
  }
}

/** Reads a whole bill only to check it (structure, amounts, summary); resolves to its summary. */
export async function checkBill(source: AsyncIterable<Uint8Array | string>): Promise<BillSummary> {
  const reader = new BillReader(source);
  for await (const _ of reader.rows()) {
    // each row is checked as it is read; nothing to keep
  }
  return reader.summary as BillSummary;
}

function headerIndex(names: string[]): Record<Column, number> {
  if (names.some((n) => n.startsWith('`'))) throw malformed('bill line 1 is not a header line');
  const index = {} as Record<Column, number>;
  for (const [key, name] of Object.entries(DETAIL_COLUMNS) as [Column, string][]) {
    const at = names.indexOf(name);
    if (at < 0) throw malformed(`bill header lacks the column ${name}`);
    if (names.indexOf(name, at + 1) >= 0) throw malformed(`bill header names ${name} twice`);
    index[key] = at;
  }
  return index;
}

/** Splits a backticked line: every field must open with a backtick, which is dropped. */
function fields(text: string, line: number, width: number): string[] {
  if (!text.startsWith('`')) throw malformed(`bill line ${line}: a field lacks its leading backtick`);
  // a field's own text may hold a comma (a product name), so fields are cut at ",`" only
  const parts = text.slice(1).split(',`');
  if (parts.length !== width) {
    throw malformed(`bill line ${line}: ${parts.length} fields where the header has ${width}`);
  }
  return parts;
}

const TRANSACTION_ID = /^[0-9A-Za-z]{1,64}$/;
const OUT_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;
const DIGITS = /^\d{1,32}$/;

function readRow(text: string, line: number, width: number, index: Record<Column, number>, sums: BillSummary): BillRow {
  const f = fields(text, line, width);
  const get = (c: Column) => f[index[c]] as string;
  const at = `bill line ${line}`;
  const money = (c: Column) => yuanToFen(get(c), `${at} ${DETAIL_COLUMNS[c]}`);
  const id = (c: Column, pattern: RegExp) => {
    const v = get(c);
    if (!pattern.test(v)) throw malformed(`${at}: ${DETAIL_COLUMNS[c]} is malformed`);
    return v;
  };
  const subMchid = get('subMchid');
  if (subMchid !== '' && subMchid !== '0' && !DIGITS.test(subMchid))
    throw malformed(`${at}: ${DETAIL_COLUMNS.subMchid} is malformed`);
  const base: RowBase = {
    line,
    at: beijingToIso(get('at'), `${at} ${DETAIL_COLUMNS.at}`),
    appid: get('appid'),
    mchid: id('mchid', DIGITS),
    subMchid: subMchid === '' || subMchid === '0' ? undefined : subMchid,
    transactionId: id('transactionId', TRANSACTION_ID),
    outTradeNo: id('outTradeNo', OUT_NO),
    totalFen: money('total'),
    settlementFen: money('settlement'),
  };
  const refundFen = money('refund');
  const rechargeRefundFen = money('rechargeRefund');
  const requestedRefundFen = money('requestedRefund');
  const feeFen = signedFen(get('fee'), `${at} ${DETAIL_COLUMNS.fee}`);
  sums.count += 1;
  sums.settlementFen += base.settlementFen;
  sums.totalFen += base.totalFen;
  sums.refundFen += refundFen;
  sums.rechargeRefundFen += rechargeRefundFen;
  sums.requestedRefundFen += requestedRefundFen;
  sums.feeFen += feeFen;
  if (!Number.isSafeInteger(sums.settlementFen + sums.totalFen + sums.refundFen + sums.requestedRefundFen))
    throw malformed(`${at}: the bill's sums overflow`);
  const tradeState = get('tradeState');
  if (tradeState === 'SUCCESS') return { kind: 'PAYMENT', ...base };
  if (tradeState === 'REFUND') {
    const refundState = get('refundState');
    if (!/^[A-Z_]{1,32}$/.test(refundState)) throw malformed(`${at}: ${DETAIL_COLUMNS.refundState} is malformed`);
    return {
      kind: 'REFUND',
      ...base,
      refundId: id('refundId', TRANSACTION_ID),
      outRefundNo: id('outRefundNo', OUT_NO),
      refundState,
      refundFen,
      requestedRefundFen,
    };
  }
  if (!/^[A-Z_]{1,32}$/.test(tradeState)) throw malformed(`${at}: ${DETAIL_COLUMNS.tradeState} is malformed`);
  return { kind: 'OTHER', ...base, tradeState };
}

function readSummary(text: string, line: number): BillSummary {
  const f = fields(text, line, SUMMARY_COLUMNS.length);
  const at = (i: number) => `bill summary ${SUMMARY_COLUMNS[i]}`;
  const count = f[0] as string;
  if (!/^\d{1,15}$/.test(count)) throw malformed(`${at(0)} is not a count`);
  return {
    count: Number(count),
    settlementFen: yuanToFen(f[1] as string, at(1)),
    refundFen: yuanToFen(f[2] as string, at(2)),
    rechargeRefundFen: yuanToFen(f[3] as string, at(3)),
    feeFen: signedFen(f[4] as string, at(4)),
    totalFen: yuanToFen(f[5] as string, at(5)),
    requestedRefundFen: yuanToFen(f[6] as string, at(6)),
  };
}

/** A yuan amount that may be negative (the fee given back on a refund). */
export function signedFen(text: string, field: string): number {
  if (text.startsWith('-')) {
    const fen = yuanToFen(text.slice(1), field);
    return fen === 0 ? 0 : -fen;
  }
  return yuanToFen(text, field);
}

/** Cuts a byte stream into UTF-8 lines (LF or CRLF), keeping at most one line's bytes in hand. */
export async function* lines(
  source: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<{ text: string; line: number }> {
  let pending: Buffer = Buffer.alloc(0);
  let line = 0;
  const emit = (bytes: Buffer) => {
    line += 1;
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
    return { text: decodeUtf8(bytes.subarray(0, end), `bill line ${line}`), line };
  };
  for await (const chunk of source) {
    const bytes =
      typeof chunk === 'string'
        ? Buffer.from(chunk, 'utf8')
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let data = pending.length === 0 ? bytes : Buffer.concat([pending, bytes]);
    let start = 0;
    for (let nl = data.indexOf(0x0a, start); nl >= 0; nl = data.indexOf(0x0a, start)) {
      if (nl - start > MAX_LINE_BYTES) throw malformed(`bill line ${line + 1} is too long`);
      yield emit(data.subarray(start, nl));
      start = nl + 1;
    }
    data = data.subarray(start);
    if (data.length > MAX_LINE_BYTES) throw malformed(`bill line ${line + 1} is too long`);
    // copied so the chunk it came from can be collected
    pending = Buffer.from(data);
  }
  if (pending.length > 0) yield emit(pending);
}
