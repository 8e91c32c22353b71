/**
 * Profiling aid (issue 17): the notification readers' pieces timed alone, interleaved round by round
 * (so load that comes and goes hits all of them alike), in µs per message, median of the rounds.
 *
 *   npx tsx scripts/perf/stages.ts [rounds=9] [roundMs=150]
 */
import { performance } from 'node:perf_hooks';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { loadConfig } from '../../lib/config';
import { readNotice } from '../../lib/notify/read';
import { decodeUtf8 } from '../../lib/text';
import { readV2Payment } from '../../lib/wechatpay/v2/notification';
import { signingString } from '../../lib/wechatpay/v2/sign';
import { parseXml } from '../../lib/wechatpay/v2/xml';
import { decryptResource } from '../../lib/wechatpay/v3/aead';
import { parseUntrustedJson } from '../../lib/wechatpay/v3/json';
import { openResource, parseEnvelope } from '../../lib/wechatpay/v3/notification';
import { readTransaction } from '../../lib/wechatpay/v3/transaction';
import { headerGetter, verifyV3 } from '../../lib/wechatpay/v3/verify';
import { generateTestKeys, toEnv } from '../simulator/keys';
import { v2PaymentNotification, v3Notification, v3TransactionResource } from '../simulator/messages';

const rounds = Number(process.argv[2] ?? 9);
const roundMs = Number(process.argv[3] ?? 150);
const keys = generateTestKeys();
const config = loadConfig({ ...toEnv(keys), PAYMENTS_TABLE: 'perf', AWS_REGION: 'us-east-1' });
const apiV3Key = config.apiV3Key as Buffer;
const lower = (h: Record<string, string>) =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));

const v2 = Array.from({ length: 64 }, (_, i) => {
  const w = v2PaymentNotification(keys, { outTradeNo: `PERF2${String(i).padStart(8, '0')}`, totalFee: 100 + i });
  const buf = Buffer.from(w.body);
  return { body: w.body, buf, fields: parseXml(w.body) };
});
const v3 = Array.from({ length: 64 }, (_, i) => {
  const resource = v3TransactionResource(keys, { outTradeNo: `PERF3${String(i).padStart(8, '0')}`, total: 100 + i });
  const w = v3Notification(keys, { eventType: 'TRANSACTION.SUCCESS', originalType: 'transaction', resource });
  const buf = Buffer.from(w.body);
  const envelope = parseEnvelope(buf);
  const plain = decryptResource(envelope.resource, apiV3Key);
  return { headers: lower(w.headers), body: w.body, buf, envelope, plain, resource: JSON.parse(plain) };
});
const fxp = new XMLParser({
  parseTagValue: false,
  processEntities: false,
  ignoreDeclaration: true,
  ignoreAttributes: true,
  trimValues: false,
});
const now = () => Math.floor(Date.now() / 1000);

type Item<T> = [string, T[], (x: T) => unknown];
const items: Item<never>[] = [
  [
    'v2 whole readNotice',
    v2,
    (x: (typeof v2)[number]) => readNotice('v2', () => undefined, x.body, config, Date.now()),
  ],
  ['v2 decodeUtf8', v2, (x: (typeof v2)[number]) => decodeUtf8(x.buf)],
  ['v2 parseXml', v2, (x: (typeof v2)[number]) => parseXml(x.body)],
  ['v2 XMLValidator.validate', v2, (x: (typeof v2)[number]) => XMLValidator.validate(x.body)],
  ['v2 XMLParser.parse (floor options)', v2, (x: (typeof v2)[number]) => fxp.parse(x.body)],
  ['v2 readV2Payment', v2, (x: (typeof v2)[number]) => readV2Payment(x.fields, config)],
  ['v2 signingString', v2, (x: (typeof v2)[number]) => signingString(x.fields, 'k')],
  [
    'v3 whole readNotice',
    v3,
    (x: (typeof v3)[number]) => readNotice('v3', headerGetter(x.headers), x.body, config, Date.now()),
  ],
  [
    'v3 headerGetter+5 gets',
    v3,
    (x: (typeof v3)[number]) => {
      const h = headerGetter(x.headers);
      return [
        h('wechatpay-signature'),
        h('wechatpay-serial'),
        h('wechatpay-timestamp'),
        h('wechatpay-nonce'),
        h('wechatpay-signature-type'),
      ];
    },
  ],
  ['v3 verifyV3', v3, (x: (typeof v3)[number]) => verifyV3(headerGetter(x.headers), x.buf, config.keyRing, now())],
  ['v3 decodeUtf8 body', v3, (x: (typeof v3)[number]) => decodeUtf8(x.buf)],
  ['v3 JSON.parse body', v3, (x: (typeof v3)[number]) => JSON.parse(x.body)],
  ['v3 parseUntrustedJson body', v3, (x: (typeof v3)[number]) => parseUntrustedJson(x.body, 'n')],
  ['v3 parseEnvelope', v3, (x: (typeof v3)[number]) => parseEnvelope(x.buf)],
  ['v3 decryptResource', v3, (x: (typeof v3)[number]) => decryptResource(x.envelope.resource, apiV3Key)],
  ['v3 parseUntrustedJson resource', v3, (x: (typeof v3)[number]) => parseUntrustedJson(x.plain, 'r')],
  ['v3 openResource', v3, (x: (typeof v3)[number]) => openResource(x.envelope, apiV3Key)],
  ['v3 readTransaction', v3, (x: (typeof v3)[number]) => readTransaction(x.resource)],
] as never;

const results = new Map<string, number[]>();
for (let r = 0; r < rounds + 1; r++) {
  for (const [name, list, run] of items) {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < roundMs) for (let k = 0; k < 16; k++) run(list[n++ % list.length] as never);
    if (r > 0) results.set(name, [...(results.get(name) ?? []), ((performance.now() - start) * 1000) / n]);
  }
}
for (const [name, us] of results) {
  us.sort((a, b) => a - b);
  process.stdout.write(`${name.padEnd(36)} ${(us[us.length >> 1] as number).toFixed(2).padStart(8)} µs\n`);
}
