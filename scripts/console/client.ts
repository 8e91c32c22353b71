/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The console's browser script (bundled by the console server with esbuild): applies the server-sent
 * changes to the page with the same render functions the server used, and submits the action forms
 * without leaving the page. Without it the page still works: forms post and redirect back.
 */
import type { ConsoleEvent, ConsoleSnapshot } from './model';
import { renderDeliveries, renderKnobs, renderLog, renderOrderRows } from './render';

let snapshot: ConsoleSnapshot = {
  orders: [],
  deliveries: [],
  log: [],
  knobs: { suppressed: false, storeThrottles: 0, apiFaults: [] },
};
const dirty = new Set<'orders' | 'deliveries' | 'log' | 'knobs'>();
let scheduled = false;

function byId(id: string): HTMLElement | null {
  return document.getElementById(id);
}

function filterValue(): string {
  return (byId('state-filter') as HTMLSelectElement | null)?.value ?? '';
}

function apply(event: ConsoleEvent): void {
  switch (event.type) {
    case 'snapshot':
      snapshot = event.snapshot;
      for (const part of ['orders', 'deliveries', 'log', 'knobs'] as const) dirty.add(part);
      break;
    case 'order':
      snapshot.orders = upsert(snapshot.orders, event.row, (o) => o.key);
      dirty.add('orders');
      break;
    case 'delivery':
      snapshot.deliveries = upsert(snapshot.deliveries, event.row, (d) => String(d.id));
      dirty.add('deliveries');
      break;
    case 'log':
      snapshot.log = [...snapshot.log, event.row].slice(-100);
      dirty.add('log');
      break;
    case 'knobs':
      snapshot.knobs = event.row;
      dirty.add('knobs');
      break;
  }
  if (!scheduled) {
    scheduled = true;
    // coalesce a burst of events (a 50-fold replay, retries) into one repaint
    setTimeout(paint, 30);
  }
}

function upsert<T>(rows: T[], row: T, key: (r: T) => string): T[] {
  const k = key(row);
  const at = rows.findIndex((r) => key(r) === k);
  if (at === -1) return [row, ...rows];
  const copy = rows.slice();
  copy[at] = row;
  return copy;
}

function paint(): void {
  scheduled = false;
  if (dirty.has('orders')) {
    const body = byId('order-rows');
    if (body) body.innerHTML = renderOrderRows(sortOrders(snapshot.orders), filterValue());
  }
  if (dirty.has('deliveries')) {
    const list = byId('delivery-list');
    if (list) {
      // keep the replay lists the reader opened
      const open = new Set(
        [...list.querySelectorAll('article[data-delivery] details[open]')].map((d) =>
          d.closest('article')?.getAttribute('data-delivery'),
        ),
      );
      list.innerHTML = renderDeliveries(snapshot.deliveries);
      for (const id of open) list.querySelector(`article[data-delivery="${id}"] details`)?.setAttribute('open', '');
    }
  }
  if (dirty.has('log')) {
    const log = byId('log');
    if (log) log.innerHTML = renderLog(snapshot.log);
  }
  if (dirty.has('knobs')) {
    const knobs = byId('knobs');
    if (knobs) knobs.innerHTML = renderKnobs(snapshot.knobs);
  }
  dirty.clear();
}

function sortOrders(orders: ConsoleSnapshot['orders']): ConsoleSnapshot['orders'] {
  return [...orders].sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || a.key.localeCompare(b.key));
}

function connect(): void {
  const live = byId('live');
  const source = new EventSource('/events');
  source.onopen = () => {
    if (live) live.textContent = 'Live: connected 实时';
  };
  source.onerror = () => {
    if (live) live.textContent = 'Connection lost, reconnecting… 重新连接中';
  };
  source.onmessage = (message) => apply(JSON.parse(message.data) as ConsoleEvent);
}

async function submit(form: HTMLFormElement, event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const button = form.querySelector('button');
  const output = form.querySelector('output');
  if (button) button.disabled = true;
  if (output) {
    output.textContent = 'working…';
    output.classList.remove('bad');
  }
  try {
    const body = new URLSearchParams();
    for (const [name, value] of new FormData(form)) body.append(name, String(value));
    const res = await fetch(form.action, { method: 'POST', body, headers: { Accept: 'application/json' } });
    const entry = (await res.json()) as { ok: boolean; title: string; detail: string };
    if (output) {
      output.textContent = `${entry.ok ? '✓' : '✗'} ${entry.title}: ${entry.detail}`;
      output.classList.toggle('bad', !entry.ok);
    }
  } catch (error) {
    if (output) {
      output.textContent = `✗ ${error instanceof Error ? error.message : String(error)}`;
      output.classList.add('bad');
    }
  } finally {
    if (button) button.disabled = false;
  }
}

function start(): void {
  for (const el of document.querySelectorAll<HTMLElement>('.no-js')) el.hidden = true;
  byId('state-filter')?.addEventListener('change', () => {
    dirty.add('orders');
    paint();
  });
  for (const form of document.querySelectorAll<HTMLFormElement>('form.action'))
    form.addEventListener('submit', (event) => void submit(form, event));
  connect();
}

start();
