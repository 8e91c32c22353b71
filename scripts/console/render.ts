/**
 * The console's HTML, as pure functions of a snapshot: the server renders the first page with them and
 * the browser script re-renders a section with the same functions when an event arrives, so both
 * always agree. Everything interpolated goes through {@link esc}.
 */
import { fenToYuan } from '../../lib/money';
import {
  CHANNEL_LABELS,
  ORDER_STATE_LABELS,
  REFUND_STATE_LABELS,
  acknowledgedAttempts,
  totalAttempts,
  type AttemptRow,
  type ConsoleSnapshot,
  type DeliveryRow,
  type KnobsRow,
  type LogEntry,
  type OrderRow,
} from './model';

/** Escapes text for HTML content and attribute values. */
export function esc(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Fen as "¥19.99". */
export function yuan(fen: number | undefined): string {
  return fen === undefined ? '—' : `¥${fenToYuan(fen)}`;
}

/** The state filters the orders view offers. */
export const STATE_FILTERS = ['', 'NOTPAY', 'PAID', 'CLOSED'] as const;

/** How many deliveries the page lists (newest first). */
export const DELIVERIES_SHOWN = 40;

function stateBadge(state: string, labels: typeof ORDER_STATE_LABELS): string {
  const label = labels[state] ?? { zh: '', en: state };
  return `<span class="badge s-${esc(state)}" lang="zh-CN">${esc(label.zh)}</span> <span class="badge-en">${esc(label.en)}</span>`;
}

/** The orders table body for a state filter ('' = all). */
export function renderOrderRows(orders: readonly OrderRow[], filter: string): string {
  const shown = orders.filter((o) => filter === '' || o.state === filter);
  if (shown.length === 0)
    return `<tr><td colspan="7" class="empty">${filter === '' ? 'No orders yet: register one under Actions. 暂无订单' : `No ${esc(filter)} orders.`}</td></tr>`;
  return shown.map(renderOrderRow).join('');
}

function renderOrderRow(o: OrderRow): string {
  const refunds = o.refunds.length
    ? `<ul class="plain">${o.refunds
        .map(
          (r) =>
            `<li data-refund="${esc(r.outRefundNo)}" data-state="${esc(r.state)}">${esc(r.outRefundNo)} ${yuan(r.refundFen)} ${stateBadge(r.state, REFUND_STATE_LABELS)}</li>`,
        )
        .join('')}</ul>${o.refundedFen ? `<div class="muted">refunded 已退款 ${yuan(o.refundedFen)}</div>` : ''}`
    : '<span class="muted">—</span>';
  const anomalies = o.anomalies.length
    ? o.anomalies.map((a) => `<span class="badge anomaly">${esc(a)}</span>`).join(' ')
    : '<span class="muted">none</span>';
  const transitions = o.transitions.length
    ? `<ol class="plain transitions" aria-label="transitions seen">${o.transitions
        .map((t) => `<li data-transition-to="${esc(t.to)}">${esc(t.from)} → ${esc(t.to)}</li>`)
        .join('')}</ol>`
    : '';
  const paid =
    o.paidFen !== undefined && o.paidFen !== o.amountFen ? ` <span class="muted">paid ${yuan(o.paidFen)}</span>` : '';
  return `<tr data-order="${esc(o.outTradeNo)}" data-state="${esc(o.state)}">
<th scope="row"><code>${esc(o.outTradeNo)}</code><div class="muted">mch ${esc(o.merchantId)}</div></th>
<td>${stateBadge(o.state, ORDER_STATE_LABELS)}${transitions}</td>
<td class="num">${yuan(o.amountFen)}${paid}</td>
<td class="txn">${o.transactionId ? `<code>${esc(o.transactionId)}</code>` : '<span class="muted">—</span>'}</td>
<td>${o.paidVia ? esc(CHANNEL_LABELS[o.paidVia] ?? o.paidVia) : '<span class="muted">—</span>'}</td>
<td>${refunds}</td>
<td>${anomalies}</td>
</tr>`;
}

function renderAttemptRows(attempts: readonly AttemptRow[]): string {
  return attempts
    .map(
      (a) => `<tr class="${a.accepted ? 'ok' : 'bad'}">
<td class="num">${a.attempt}</td>
<td class="num">${a.delayMs ? `${Math.round(a.delayMs)} ms` : '—'}</td>
<td class="num">${a.status ?? '—'}</td>
<td class="num">${a.latencyMs === undefined ? '—' : `${a.latencyMs} ms`}</td>
<td><code class="reply">${esc(a.error ?? (a.reply === '' ? '(empty body)' : a.reply))}</code></td>
<td>${a.accepted ? '<span class="badge s-PAID">acknowledged 已应答</span>' : '<span class="badge anomaly">not acknowledged 未应答</span>'}</td>
</tr>`,
    )
    .join('');
}

function attemptTable(attempts: readonly AttemptRow[], caption: string): string {
  return `<div class="scroll" tabindex="0" role="region" aria-label="${esc(caption)}"><table class="attempts">
<caption>${esc(caption)}</caption>
<thead><tr><th scope="col">#</th><th scope="col">waited</th><th scope="col">HTTP</th><th scope="col">latency</th><th scope="col">reply 应答</th><th scope="col">WeChat counts it</th></tr></thead>
<tbody>${renderAttemptRows(attempts)}</tbody></table></div>`;
}

const KIND_LABELS: Readonly<Record<string, string>> = {
  payment: 'payment 支付结果通知',
  refund: 'refund 退款结果通知',
  coupon: 'coupon 商家券领券通知',
};

/** One delivery card. */
export function renderDelivery(d: DeliveryRow): string {
  const acked = acknowledgedAttempts(d);
  const total = totalAttempts(d);
  const status = d.skipped
    ? `<span class="badge s-CLOSED">not sent: ${esc(d.skipped)}</span>`
    : d.accepted
      ? '<span class="badge s-PAID">acknowledged 已应答</span>'
      : d.done
        ? '<span class="badge anomaly">gave up: never acknowledged</span>'
        : '<span class="badge s-NOTPAY">retrying 重试中</span>';
  const replays = d.replays.flatMap((b) => b.attempts);
  const replayAcked = replays.filter((a) => a.accepted).length;
  const replayPart = d.replays.length
    ? `<details><summary>${replays.length} replayed 重放 in ${d.replays.length} batch${d.replays.length > 1 ? 'es' : ''}: ${replayAcked} acknowledged</summary>${attemptTable(replays, `Replays of delivery ${d.id}`)}</details>`
    : '';
  return `<article class="delivery" data-delivery="${d.id}" data-ack="${acked}" aria-labelledby="d${d.id}-h">
<h3 id="d${d.id}-h">#${d.id} ${esc(KIND_LABELS[d.kind] ?? d.kind)} · API${esc(d.protocol)}${d.outTradeNo ? ` · <code>${esc(d.outTradeNo)}</code>` : ''}</h3>
<p>${status} <span class="ack-count">Acknowledged attempts: <strong>${acked}</strong> of ${total}</span></p>
<p class="muted">to ${esc(d.url ?? '(no notify URL)')} · retry schedule ${esc(d.schedule)}</p>
${d.attempts.length ? attemptTable(d.attempts, `Attempts of delivery ${d.id}`) : '<p class="muted">no attempt yet</p>'}
${replayPart}
</article>`;
}

/** The deliveries list, newest first. */
export function renderDeliveries(deliveries: readonly DeliveryRow[]): string {
  if (deliveries.length === 0) return '<p class="empty">No notifications yet: pay an order under Actions. 暂无通知</p>';
  return [...deliveries]
    .sort((a, b) => b.id - a.id)
    .slice(0, DELIVERIES_SHOWN)
    .map(renderDelivery)
    .join('');
}

/** The activity log, newest first. */
export function renderLog(log: readonly LogEntry[]): string {
  if (log.length === 0) return '<li class="muted">Nothing done yet.</li>';
  return [...log]
    .sort((a, b) => b.id - a.id)
    .map(
      (e) =>
        `<li class="${e.ok ? 'ok' : 'bad'}"><strong>${e.ok ? '✓' : '✗'} ${esc(e.title)}</strong><pre>${esc(e.detail)}</pre></li>`,
    )
    .join('');
}

/** The test knobs currently in force. */
export function renderKnobs(k: KnobsRow): string {
  const parts = [
    k.suppressed ? 'notifications suppressed 通知已屏蔽' : 'notifications on',
    `store throttles left: ${k.storeThrottles}`,
    `WeChat API faults planned: ${k.apiFaults.length ? k.apiFaults.join(', ') : 'none'}`,
  ];
  return parts.map(esc).join(' · ');
}

function field(label: string, control: string): string {
  return `<label>${label}${control}</label>`;
}

function select(name: string, options: readonly [string, string][], selected = ''): string {
  return `<select name="${esc(name)}">${options
    .map(([v, t]) => `<option value="${esc(v)}"${v === selected ? ' selected' : ''}>${esc(t)}</option>`)
    .join('')}</select>`;
}

function form(action: string, title: string, body: string, button: string): string {
  const id = `f-${action}`;
  return `<form method="post" action="/actions/${action}" class="action" aria-labelledby="${id}">
<h3 id="${id}">${title}</h3>${body}<button type="submit">${button}</button><output class="result" role="status"></output></form>`;
}

const FAULT_ENDPOINTS: [string, string][] = [
  ['*', 'next WeChat API call'],
  ['v3.query', 'v3 query 查询订单'],
  ['v3.close', 'v3 close 关闭订单'],
  ['v2.orderquery', 'v2 orderquery'],
  ['v2.closeorder', 'v2 closeorder'],
];
const FAULT_KINDS: [string, string][] = [
  ['system-error', 'SYSTEMERROR / 500'],
  ['rate-limit', 'FREQUENCY_LIMITED / 429'],
  ['unsigned-500', 'HTTP 500, unsigned'],
  ['forged-signature', 'forged signature'],
  ['hang', 'hang (no answer in time)'],
];

/** The action forms. */
export function renderActions(nextOrderNo: string): string {
  const orderField = (value = '') =>
    field(
      'Order 商户订单号 out_trade_no',
      `<input name="outTradeNo" required maxlength="32" pattern="[0-9A-Za-z_\\-|*@]{1,32}" value="${esc(value)}" autocomplete="off">`,
    );
  return [
    form(
      'register',
      'Register an order 下单',
      orderField(nextOrderNo) +
        field('Amount 金额 (¥ yuan)', '<input name="amount" required inputmode="decimal" value="19.99">') +
        field('Created seconds ago (closing needs ≥ 300)', '<input name="age" inputmode="numeric" value="600">'),
      'Register',
    ),
    form(
      'pay',
      'Pay 支付 (WeChat notifies)',
      orderField(nextOrderNo) +
        field(
          'Notification',
          select('mode', [
            ['v3-platform', 'APIv3, platform certificate 平台证书'],
            ['v3-publicKey', 'APIv3, WeChat Pay public key 微信支付公钥'],
            ['v2-MD5', 'APIv2 XML, MD5'],
            ['v2-HMAC-SHA256', 'APIv2 XML, HMAC-SHA256'],
          ]),
        ),
      'Pay',
    ),
    form(
      'refund',
      'Refund 退款',
      orderField(nextOrderNo) +
        field(
          'Refund number 商户退款单号 out_refund_no',
          `<input name="outRefundNo" required maxlength="64" value="${esc(nextOrderNo)}-R1">`,
        ) +
        field('Amount 退款金额 (¥)', '<input name="amount" required inputmode="decimal" value="5.00">') +
        field(
          'Result',
          select('status', [
            ['SUCCESS', '退款成功 SUCCESS'],
            ['CLOSED', '退款关闭 CLOSED'],
            ['ABNORMAL', '退款异常 ABNORMAL'],
          ]),
        ) +
        field(
          'Protocol',
          select('protocol', [
            ['v3', 'APIv3'],
            ['v2', 'APIv2'],
          ]),
        ),
      'Refund',
    ),
    form(
      'close',
      'Close 关单 (closeOrder Lambda)',
      orderField(nextOrderNo) +
        field(
          'Protocol',
          select('protocol', [
            ['v3', 'APIv3'],
            ['v2', 'APIv2'],
          ]),
        ),
      'Close',
    ),
    form(
      'replay',
      'Replay the last notification 重放通知',
      field('Times', '<input name="times" required inputmode="numeric" value="50">') +
        '<label class="check"><input type="checkbox" name="sequential"> one after another 依次 (default: all at once 同时)</label>',
      'Replay',
    ),
    form(
      'fault',
      'Inject a fault 故障注入',
      field(
        'Fault',
        select('fault', [
          ['store-throttle', 'DynamoDB throttling (the functions’ next store requests)'],
          ['api', 'WeChat Pay API fault (below)'],
          ['suppress-on', 'Suppress notifications 不发通知'],
          ['suppress-off', 'Send notifications again'],
          ['clear', 'Clear every fault'],
        ]),
      ) +
        field('API endpoint', select('endpoint', FAULT_ENDPOINTS)) +
        field('API fault kind', select('kind', FAULT_KINDS)) +
        field('How many times', '<input name="count" inputmode="numeric" value="3">'),
      'Inject',
    ),
    form(
      'reconcile',
      'Reconcile 对账 (query WeChat, apply what it says)',
      field(
        'Order (blank: every pending order)',
        '<input name="outTradeNo" maxlength="32" pattern="[0-9A-Za-z_\\-|*@]{1,32}" autocomplete="off">',
      ),
      'Reconcile',
    ),
  ].join('\n');
}

/** The page's stylesheet: system fonts, AA contrast, one column on a phone. */
export const STYLES = `
:root{--fg:#1b1f24;--muted:#4f5965;--line:#d0d7de;--bg:#fff;--panel:#f6f8fa;--accent:#05652f}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC","Noto Sans CJK SC","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:baseline;padding:.75rem 1rem;border-bottom:1px solid var(--line);background:var(--panel)}
header h1{font-size:1.2rem;margin:0}
nav a{margin-right:1rem;color:#0550ae}
main{display:grid;grid-template-columns:minmax(0,1fr) 20rem;gap:1rem;padding:1rem}
#orders{grid-column:1}#deliveries{grid-column:1}#actions{grid-column:2;grid-row:1/span 2}
section{min-width:0}
h2{font-size:1.1rem;margin:.25rem 0 .5rem}
h3{font-size:1rem;margin:.25rem 0}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:left;vertical-align:top}
thead th{background:var(--panel);font-weight:600}
th[scope=row]{font-weight:400}
.transitions{font-size:.85em;color:var(--muted);margin-top:.2rem}
caption{text-align:left;font-weight:600;padding:.25rem 0}
.txn{max-width:11rem}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font:13px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
.reply{display:inline-block;max-width:22rem;white-space:pre-wrap}
.muted{color:var(--muted);font-size:.9em}
.empty{color:var(--muted);padding:1rem}
.plain{list-style:none;margin:0;padding:0}
.badge{display:inline-block;padding:0 .4rem;border-radius:.25rem;font-size:.85em;font-weight:600;border:1px solid transparent;white-space:nowrap}
.badge-en{font-size:.85em;color:var(--muted);white-space:nowrap}
.s-PAID,.s-SUCCESS{background:#dff3e4;color:#05501f;border-color:#9fd3ae}
.s-NOTPAY,.s-PROCESSING{background:#fff1d6;color:#6b4100;border-color:#e9c77c}
.s-CLOSED{background:#eceff2;color:#2f363d;border-color:#c3c9cf}
.s-ABNORMAL,.anomaly{background:#fde7e7;color:#8c0b0b;border-color:#efb1b1}
.scroll{overflow-x:auto}
.scroll:focus{outline:2px solid #0550ae}
.delivery{border:1px solid var(--line);border-radius:.4rem;padding:.5rem .75rem;margin:0 0 .75rem}
.delivery p{margin:.25rem 0}
tr.bad td{background:#fff6f6}
.attempts{font-size:.9em}
details summary{cursor:pointer;padding:.25rem 0;color:#0550ae}
.action{border:1px solid var(--line);border-radius:.4rem;padding:.5rem .75rem;margin:0 0 .75rem;background:var(--panel)}
.action label{display:block;margin:.3rem 0;font-size:.9em}
.action label.check input{display:inline;width:auto;margin-right:.4rem}
.action input:not([type=checkbox]),.action select{display:block;width:100%;margin-top:.15rem;padding:.35rem;font:inherit;border:1px solid #8c959f;border-radius:.25rem;background:#fff;color:var(--fg)}
button{font:inherit;font-weight:600;margin-top:.4rem;padding:.4rem 1rem;border:0;border-radius:.3rem;background:var(--accent);color:#fff;cursor:pointer}
button:disabled{background:#6e7781;cursor:progress}
:focus-visible{outline:3px solid #0550ae;outline-offset:2px}
.result{display:block;margin-top:.3rem;font-size:.9em;white-space:pre-wrap}
.result.bad{color:#8c0b0b}
#log{list-style:none;padding:0;margin:0;max-height:22rem;overflow:auto}
#log li{border-bottom:1px solid var(--line);padding:.3rem 0}
#log li.bad strong{color:#8c0b0b}
#log pre{margin:.2rem 0 0;white-space:pre-wrap;font-size:12px}
.filter{display:flex;gap:.5rem;align-items:center;margin-bottom:.5rem}
.filter select{padding:.25rem;font:inherit}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
@media (max-width:900px){main{grid-template-columns:1fr}#orders,#deliveries,#actions{grid-column:1;grid-row:auto}}
`;

/** The whole page. */
export function renderPage(s: ConsoleSnapshot, opts: { filter: string; nextOrderNo: string; stackLine: string }) {
  const filters = STATE_FILTERS.map(
    (f) => [f, f === '' ? 'all states 全部' : `${ORDER_STATE_LABELS[f]?.zh ?? ''} ${f}`] as [string, string],
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wechatpay-lambda local console</title>
<style>${STYLES}</style>
</head>
<body>
<header>
<h1>wechatpay-lambda · local console <span lang="zh-CN">本地控制台</span></h1>
<nav aria-label="Views"><a href="#orders">Orders 订单</a><a href="#deliveries">Deliveries 通知</a><a href="#actions">Actions 操作</a></nav>
<p class="muted" id="live" role="status">${esc(opts.stackLine)}</p>
</header>
<main>
<section id="orders" aria-labelledby="orders-h">
<h2 id="orders-h">Orders 订单 <span class="muted">(the payments table, read live)</span></h2>
<form class="filter" method="get" action="/"><label for="state-filter">Show</label>${select('state', filters, opts.filter).replace('<select ', '<select id="state-filter" ')}<button type="submit" class="no-js">Filter</button></form>
<div class="scroll" tabindex="0" role="region" aria-label="Orders table">
<table>
<thead><tr><th scope="col">Order 商户订单号</th><th scope="col">State 状态</th><th scope="col">Amount 金额</th><th scope="col">Transaction 微信支付订单号</th><th scope="col">Channel 渠道</th><th scope="col">Refunds 退款</th><th scope="col">Anomalies 异常</th></tr></thead>
<tbody id="order-rows">${renderOrderRows(s.orders, opts.filter)}</tbody>
</table>
</div>
</section>
<section id="deliveries" aria-labelledby="deliveries-h">
<h2 id="deliveries-h">Deliveries 通知投递 <span class="muted">(what the simulator sent, with WeChat's retries)</span></h2>
<div id="delivery-list">${renderDeliveries(s.deliveries)}</div>
</section>
<section id="actions" aria-labelledby="actions-h">
<h2 id="actions-h">Actions 操作</h2>
<p class="muted" id="knobs">${renderKnobs(s.knobs)}</p>
${renderActions(opts.nextOrderNo)}
<h3 id="log-h">Activity</h3>
<ol id="log" aria-labelledby="log-h" aria-live="polite">${renderLog(s.log)}</ol>
</section>
</main>
<script src="/console.js" defer></script>
</body>
</html>`;
}
