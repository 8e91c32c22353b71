/**
 * Profiling driver for the notification readers (issue 17): runs readNotice over the bench's kind of
 * messages in a tight loop, so `node --cpu-prof` shows where the project's own time goes.
 *
 *   npx tsx scripts/perf/notify.ts v3 3000        # protocol, milliseconds; prints ops/s
 *   node --cpu-prof --cpu-prof-dir=.local/prof --import tsx scripts/perf/notify.ts v2 3000
 *
 * Not a benchmark against peers (bench/sections/verify.ts is): only this project, only warm loops.
 */
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../../lib/config';
import { readNotice } from '../../lib/notify/read';
import { headerGetter } from '../../lib/wechatpay/v3/verify';
import { v2PaymentNotification, v3Notification, v3TransactionResource } from '../simulator/messages';
import { generateTestKeys, toEnv } from '../simulator/keys';

const protocol = process.argv[2] === 'v2' ? 'v2' : 'v3';
const durationMs = Number(process.argv[3] ?? 3000);

const keys = generateTestKeys();
const config = loadConfig({ ...toEnv(keys), PAYMENTS_TABLE: 'perf', AWS_REGION: 'us-east-1' });
const messages: { headers: Record<string, string>; body: string }[] = [];
for (let i = 0; i < 64; i++) {
  const outTradeNo = `PERF${String(i).padStart(8, '0')}`;
  const wire =
    protocol === 'v2'
      ? v2PaymentNotification(keys, { outTradeNo, totalFee: 100 + i })
      : v3Notification(keys, {
          eventType: 'TRANSACTION.SUCCESS',
          originalType: 'transaction',
          resource: v3TransactionResource(keys, { outTradeNo, total: 100 + i }),
        });
  // what API Gateway hands a Lambda: lower-cased header names
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(wire.headers)) headers[k.toLowerCase()] = v;
  messages.push({ headers, body: wire.body });
}

const one = (i: number): void => {
  const m = messages[i % messages.length] as (typeof messages)[number];
  const { notice } = readNotice(protocol, headerGetter(m.headers), m.body, config, Date.now());
  if (notice.kind !== 'PAYMENT') throw new Error(`not a payment: ${notice.kind}`);
};

for (let i = 0; i < 2000; i++) one(i); // warm-up
let n = 0;
const start = performance.now();
while (performance.now() - start < durationMs) for (let k = 0; k < 100; k++) one(n++);
const seconds = (performance.now() - start) / 1000;
process.stdout.write(`${protocol}: ${Math.round(n / seconds)} ops/s (${n} in ${seconds.toFixed(2)} s)\n`);
