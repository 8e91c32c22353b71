/** Test-side bill writer: builds trade-bill text the way the README's "Next-day bill reconciliation" describes it, independently of lib/. */

export const HEADER = [
  '交易时间',
  '公众账号ID',
  '商户号',
  '特约商户号',
  '设备号',
  '微信订单号',
  '商户订单号',
  '用户标识',
  '交易类型',
  '交易状态',
  '付款银行',
  '货币种类',
  '应结订单金额',
  '代金券金额',
  '微信退款单号',
  '商户退款单号',
  '退款金额',
  '充值券退款金额',
  '退款类型',
  '退款状态',
  '商品名称',
  '商户数据包',
  '手续费',
  '费率',
  '订单金额',
  '申请退款金额',
  '费率备注',
].join(',');

export const SUMMARY_HEADER =
  '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额';

/** A row to write; amounts in fen. */
export interface TestRow {
  time?: string;
  mchid?: string;
  subMchid?: string;
  transactionId: string;
  outTradeNo: string;
  state: 'SUCCESS' | 'REFUND' | 'REVOKED';
  settlementFen: number;
  totalFen: number;
  refundId?: string;
  outRefundNo?: string;
  refundFen?: number;
  requestedRefundFen?: number;
  refundState?: string;
  feeFen?: number;
  product?: string;
}

/** Formats fen as yuan text with string operations only. */
export function yuan(fen: number): string {
  const neg = fen < 0;
  const s = String(Math.abs(fen)).padStart(3, '0');
  return `${neg ? '-' : ''}${s.slice(0, -2)}.${s.slice(-2)}`;
}

/** One detail line, every field behind a backtick. */
export function rowLine(r: TestRow): string {
  const f = [
    r.time ?? '2026-11-29 10:00:00',
    'wxd930ea5d5a258f4f',
    r.mchid ?? '1230000109',
    r.subMchid ?? '',
    '',
    r.transactionId,
    r.outTradeNo,
    'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    'JSAPI',
    r.state,
    'CMC',
    'CNY',
    yuan(r.settlementFen),
    '0.00',
    r.refundId ?? '',
    r.outRefundNo ?? '',
    yuan(r.refundFen ?? 0),
    '0.00',
    r.state === 'REFUND' ? 'ORIGINAL' : '',
    r.refundState ?? '',
    r.product ?? 'goods',
    '',
    yuan(r.feeFen ?? 0),
    '0.60%',
    yuan(r.totalFen),
    yuan(r.requestedRefundFen ?? 0),
    '',
  ];
  return f.map((x) => `\`${x}`).join(',');
}

/** The summary line the rows add up to (or `override` parts of it). */
export function summaryLine(rows: TestRow[], override: Partial<Record<number, string>> = {}): string {
  const sum = (k: (r: TestRow) => number) => rows.reduce((a, r) => a + k(r), 0);
  const parts = [
    String(rows.length),
    yuan(sum((r) => r.settlementFen)),
    yuan(sum((r) => r.refundFen ?? 0)),
    '0.00',
    yuan(sum((r) => r.feeFen ?? 0)),
    yuan(sum((r) => r.totalFen)),
    yuan(sum((r) => r.requestedRefundFen ?? 0)),
  ];
  for (const [i, v] of Object.entries(override)) parts[Number(i)] = v as string;
  return parts.map((x) => `\`${x}`).join(',');
}

/** A whole bill as text. */
export function billText(rows: TestRow[], eol = '\n'): string {
  return [HEADER, ...rows.map(rowLine), SUMMARY_HEADER, summaryLine(rows), ''].join(eol);
}

/** A stream of the text in chunks of `size` bytes (splitting multi-byte characters on purpose). */
export async function* chunks(text: string | Buffer, size = 7): AsyncGenerator<Uint8Array> {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}
