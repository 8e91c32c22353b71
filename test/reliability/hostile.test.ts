/**
 * Reliability: hostile input through the real handler against DynamoDB Local. XXE in every form
 * (SYSTEM, PUBLIC, parameter entities, external DTD, XInclude, UTF-16 and UTF-7 bodies, CDATA tricks),
 * entity expansion, 100k-level nesting, huge numbers, invalid UTF-8, duplicated keys, prototype
 * pollution keys at every level of the APIv3 envelope and of the decrypted resource, oversized
 * headers, empty and binary bodies. APIv3 content is validly signed (and the resource validly
 * encrypted), so only the content is hostile.
 *
 * Each must get a clear failure (APIv2: FAIL XML; APIv3: 4xx JSON) and one log line, write nothing,
 * leak nothing (no file read, no outbound request, no secret in the reply), and leave the process
 * healthy: Object.prototype unpolluted, and valid deliveries afterwards still succeed.
 *
 * DESIGN.md invariant 6 (nothing lost on bad input). HOSTILE_DEBUG=1 prints every reply.
 */
import { createCipheriv, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NotifyDeps } from '../../lib/notify/handle';
import { orderKey } from '../../lib/orders/table';
import type { HttpEvent } from '../../lib/lambda/http';
import {
  encryptReqInfo,
  randomRefundId,
  randomTransactionId,
  refundInfoXml,
  reqInfoKey,
  rfc3339Beijing,
  v2PaymentNotification,
  v2Sign,
  v2Xml,
  v3Notification,
  v3RefundResource,
  v3TransactionResource,
} from '../../scripts/simulator/messages';
import { createHarness, orderNo, toEvent, type Harness } from '../support/harness';
import {
  deliver,
  isClearRejection,
  isSuccess,
  itemText,
  rawEvent,
  rawItem,
  rng,
  scanAll,
  signedV3Event,
  type Protocol,
  type Reply,
} from './support';

let h: Harness;
let canaryServer: Server;
let canaryUrl = '';
const canaryHits: string[] = [];
const SECRET_MARKER = `CANARY-SECRET-${randomUUID()}`;
const canaryFile = join(tmpdir(), `wechatpay-canary-${randomUUID()}.txt`);
/** A registered, unpaid order that every hostile message names: it must stay exactly as it is. */
const CANARY = orderNo('HOSTILE');
const FEN = 2500;
let tableBefore = '';

beforeAll(async () => {
  h = await createHarness();
  writeFileSync(canaryFile, `${SECRET_MARKER}\n`);
  canaryServer = createServer((req, res) => {
    canaryHits.push(`${req.method} ${req.url}`);
    res.end(`<!ENTITY leak "${SECRET_MARKER}">`);
  });
  await new Promise<void>((resolve) => canaryServer.listen(0, '127.0.0.1', resolve));
  canaryUrl = `http://127.0.0.1:${(canaryServer.address() as AddressInfo).port}`;
  await h.store.registerOrder({ outTradeNo: CANARY, amountFen: FEN, merchantId: h.keys.mchid });
  tableBefore = await tableText();
});
afterAll(async () => {
  await new Promise((resolve) => canaryServer.close(resolve));
});

async function tableText(): Promise<string> {
  const items = await scanAll(h);
  return items
    .map((i) => itemText(i))
    .sort()
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

/** The fields of a valid signed APIv2 payment for `outTradeNo`, in the simulator's order. */
function v2Fields(outTradeNo = CANARY, extra: Record<string, string> = {}): Record<string, string> {
  const body = v2PaymentNotification(h.keys, { outTradeNo, totalFee: FEN, extra }).body;
  const fields: Record<string, string> = {};
  for (const m of body.matchAll(/<([A-Za-z_][\w.-]*)><!\[CDATA\[([\s\S]*?)\]\]><\/\1>/g))
    fields[m[1] as string] = m[2] as string;
  return fields;
}

/** Re-signs `fields` (MD5, as sign_type says) after a change: the signature is valid for what is sent. */
function resignV2(fields: Record<string, string>): Record<string, string> {
  const { sign: _drop, ...rest } = fields;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(rest))
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  Object.defineProperty(out, 'sign', {
    value: v2Sign(out, h.keys.apiV2Key, 'MD5'),
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return out;
}

/** The inner elements of a valid signed v2 payment, to wrap in hostile documents. */
const v2Inner = () => v2Xml(v2Fields()).replace(/^<xml>|<\/xml>$/g, '');

/** AES-256-GCM with the APIv3 key over exact bytes (which may be invalid UTF-8). */
function encryptV3(plaintext: Buffer | string, aad: string): Record<string, string> {
  const nonce = randomUUID().replace(/-/g, '').slice(0, 12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(h.keys.apiV3Key, 'utf8'), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const pt = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  const ct = Buffer.concat([cipher.update(pt), cipher.final(), cipher.getAuthTag()]);
  return {
    original_type: aad,
    algorithm: 'AEAD_AES_256_GCM',
    ciphertext: ct.toString('base64'),
    associated_data: aad,
    nonce,
  };
}

/** A validly signed APIv3 notification whose (validly encrypted) resource is `plaintext`. */
function v3WithResource(
  plaintext: Buffer | string,
  eventType = 'TRANSACTION.SUCCESS',
  envelopeExtra: Record<string, unknown> = {},
): HttpEvent {
  const aad = eventType.startsWith('REFUND') ? 'refund' : 'transaction';
  const envelope = {
    id: randomUUID(),
    create_time: rfc3339Beijing(),
    resource_type: 'encrypt-resource',
    event_type: eventType,
    summary: 'hostile',
    resource: encryptV3(plaintext, aad),
    ...envelopeExtra,
  };
  return signedV3Event(h.keys, JSON.stringify(envelope));
}

/** The plaintext transaction resource of a valid payment of the canary order. */
const tx = (outTradeNo = CANARY) =>
  v3TransactionResource(h.keys, { outTradeNo, total: FEN, transactionId: randomTransactionId() });

/** Puts `key: value` as an own enumerable property (so `__proto__` is data, as JSON.parse makes it). */
function withKey<T extends object>(target: T, key: string, value: unknown): T {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  return target;
}

const deep = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** The pollution payloads, each an own key of an object. */
const POLLUTERS: Array<[string, unknown]> = [
  ['__proto__', { polluted: 'yes', isAdmin: true }],
  ['constructor', { prototype: { polluted: 'yes' } }],
  ['prototype', { polluted: 'yes' }],
];

/** Every object-valued place of a transaction resource where a hostile key can go. */
type Obj = Record<string, unknown>;
const promotion = () => ({
  coupon_id: '109519',
  amount: 1,
  goods_detail: [{ goods_id: 'M1', quantity: 1, unit_price: 1, discount_amount: 0 }] as Obj[],
});

/** Every object-valued place of a transaction resource where a hostile key can go. */
function resourcePlaces(): Array<[string, (r: Obj) => Obj]> {
  return [
    ['resource', (r) => r],
    ['resource.amount', (r) => r.amount as Obj],
    ['resource.payer', (r) => r.payer as Obj],
    ['resource.scene_info', (r) => (r.scene_info = { device_id: '013467007045764' })],
    ['resource.promotion_detail[0]', (r) => (r.promotion_detail = [promotion()])[0] as Obj],
    [
      'resource.promotion_detail[0].goods_detail[0]',
      (r) => ((r.promotion_detail = [promotion()])[0] as ReturnType<typeof promotion>).goods_detail[0] as Obj,
    ],
  ];
}

const OVERSIZE = 64 * 1024;
const LONG_B64 = 'A'.repeat(OVERSIZE);

// ---------------------------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------------------------

interface Case {
  name: string;
  /** The protocol the reply must speak (by content: Wechatpay-* headers or JSON → v3). */
  protocol: Protocol;
  event: () => HttpEvent;
  deps?: () => NotifyDeps;
}

const raisedLimit = () => h.deps({ config: { ...h.config, maxBodyBytes: 8 * 1024 * 1024 } });
const xmlEvent = (xml: string | Buffer) => rawEvent(xml);

function xxeCases(): Case[] {
  const inner = () => v2Inner();
  const withAttach = (entityRef: string) => inner().replace('</appid>', `</appid><attach>${entityRef}</attach>`);
  const decl = '<?xml version="1.0" encoding="UTF-8"?>';
  return [
    {
      name: 'XXE: SYSTEM entity reading a local file',
      protocol: 'v2',
      event: () =>
        xmlEvent(
          `${decl}<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file://${canaryFile}">]><xml>${withAttach('&xxe;')}</xml>`,
        ),
    },
    {
      name: 'XXE: SYSTEM entity fetching a URL',
      protocol: 'v2',
      event: () =>
        xmlEvent(`${decl}<!DOCTYPE xml [<!ENTITY xxe SYSTEM "${canaryUrl}/system">]><xml>${withAttach('&xxe;')}</xml>`),
    },
    {
      name: 'XXE: PUBLIC identifier with a system URL',
      protocol: 'v2',
      event: () =>
        xmlEvent(`${decl}<!DOCTYPE xml PUBLIC "-//EVIL//DTD PAY//EN" "${canaryUrl}/public.dtd"><xml>${inner()}</xml>`),
    },
    {
      name: 'XXE: parameter entities (out-of-band exfiltration)',
      protocol: 'v2',
      event: () =>
        xmlEvent(
          `<!DOCTYPE xml [<!ENTITY % file SYSTEM "file://${canaryFile}"><!ENTITY % dtd SYSTEM "${canaryUrl}/param.dtd"> %dtd; %send;]><xml>${inner()}</xml>`,
        ),
    },
    {
      name: 'XXE: external DTD subset',
      protocol: 'v2',
      event: () => xmlEvent(`<!DOCTYPE xml SYSTEM "${canaryUrl}/external.dtd"><xml>${withAttach('&leak;')}</xml>`),
    },
    {
      name: 'XXE: lower-case doctype and odd spacing',
      protocol: 'v2',
      event: () =>
        xmlEvent(`<!doctype\n\txml[<!entity xxe system "file://${canaryFile}">]><xml>${withAttach('&xxe;')}</xml>`),
    },
    {
      name: 'XXE: mixed-case DocType reading /etc/passwd',
      protocol: 'v2',
      event: () =>
        xmlEvent(`<!DoCtYpE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml>${withAttach('&xxe;')}</xml>`),
    },
    {
      name: 'XXE: XInclude of a local file',
      protocol: 'v2',
      event: () =>
        xmlEvent(
          `<xml xmlns:xi="http://www.w3.org/2001/XInclude">${withAttach(`<xi:include href="file://${canaryFile}" parse="text"/>`)}</xml>`,
        ),
    },
    {
      name: 'XXE: XInclude of a URL replacing a signed field',
      protocol: 'v2',
      event: () =>
        xmlEvent(
          `<xml xmlns:xi="http://www.w3.org/2001/XInclude">${inner().replace(/<total_fee>.*?<\/total_fee>/, `<total_fee><xi:include href="${canaryUrl}/xinclude" parse="text"/></total_fee>`)}</xml>`,
        ),
    },
    {
      name: 'XXE: UTF-16LE body with BOM',
      protocol: 'v2',
      event: () =>
        xmlEvent(
          Buffer.concat([
            Buffer.from([0xff, 0xfe]),
            Buffer.from(
              `<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file://${canaryFile}">]><xml>${withAttach('&xxe;')}</xml>`,
              'utf16le',
            ),
          ]),
        ),
    },
    {
      name: 'XXE: UTF-16BE body with BOM',
      protocol: 'v2',
      event: () =>
        xmlEvent(
          Buffer.concat([
            Buffer.from([0xfe, 0xff]),
            Buffer.from(
              `<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file://${canaryFile}">]><xml>${withAttach('&xxe;')}</xml>`,
              'utf16le',
            ).swap16(),
          ]),
        ),
    },
    {
      name: 'XXE: UTF-16LE without BOM (NUL bytes hide the DOCTYPE from byte scans)',
      protocol: 'v2',
      event: () =>
        xmlEvent(
          Buffer.from(
            `<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file://${canaryFile}">]><xml>${withAttach('&xxe;')}</xml>`,
            'utf16le',
          ),
        ),
    },
    {
      name: 'XXE: UTF-16LE valid signed message (not UTF-8)',
      protocol: 'v2',
      event: () => xmlEvent(Buffer.from(`<xml>${inner()}</xml>`, 'utf16le')),
    },
    {
      name: 'XXE: UTF-7 declared, DOCTYPE encoded as +ADw-',
      protocol: 'v2',
      event: () =>
        xmlEvent(
          `<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE xml +AFs-+ADw-!ENTITY xxe SYSTEM +ACI-file://${canaryFile}+ACI-+AD4-+AF0-+AD4-<xml>${inner()}</xml>`,
        ),
    },
    {
      name: 'CDATA: a DOCTYPE hidden in a CDATA value',
      protocol: 'v2',
      event: () =>
        xmlEvent(`<xml>${withAttach(`<![CDATA[<!DOCTYPE x [<!ENTITY e SYSTEM "file://${canaryFile}">]>&e;]]>`)}</xml>`),
    },
    {
      name: 'CDATA: "]]>" breaking out to inject a second total_fee',
      protocol: 'v2',
      event: () =>
        xmlEvent(
          `<xml>${withAttach('<![CDATA[x]]></attach><total_fee><![CDATA[1]]></total_fee><attach><![CDATA[y]]>')}</xml>`,
        ),
    },
    {
      name: 'CDATA: unterminated section swallowing the rest',
      protocol: 'v2',
      event: () =>
        xmlEvent(
          `<xml>${inner().replace('<![CDATA[SUCCESS]]></result_code>', '<![CDATA[SUCCESS</result_code>')}</xml>`,
        ),
    },
    {
      name: 'CDATA: nested sections',
      protocol: 'v2',
      event: () => xmlEvent(`<xml>${withAttach('<![CDATA[<![CDATA[inner]]>]]>')}</xml>`),
    },
    {
      name: 'CDATA: value split across CDATA and text',
      protocol: 'v2',
      event: () =>
        xmlEvent(
          `<xml>${inner().replace(/<total_fee><!\[CDATA\[(\d+)\]\]><\/total_fee>/, '<total_fee><![CDATA[1]]>$1</total_fee>')}</xml>`,
        ),
    },
    {
      name: 'entity expansion: billion laughs',
      protocol: 'v2',
      event: () => xmlEvent(billionLaughs(`<xml>${withAttach('&lol9;')}</xml>`)),
    },
    {
      name: 'entity expansion: quadratic blowup (one 50 KB entity referenced 1000 times)',
      protocol: 'v2',
      event: () =>
        xmlEvent(`<!DOCTYPE xml [<!ENTITY a "${'a'.repeat(50_000)}">]><xml>${withAttach('&a;'.repeat(1000))}</xml>`),
    },
    {
      name: 'entity expansion: billion laughs inside an authentic req_info (APIv2 refund)',
      protocol: 'v2',
      event: () =>
        xmlEvent(
          v2RefundOuter(
            billionLaughs(refundInfoXml(refundParams()).replace('</out_refund_no>', '&lol9;</out_refund_no>')),
          ),
        ),
    },
    {
      name: 'XXE inside an authentic req_info (APIv2 refund)',
      protocol: 'v2',
      event: () =>
        xmlEvent(
          v2RefundOuter(
            `<!DOCTYPE root [<!ENTITY xxe SYSTEM "file://${canaryFile}">]>${refundInfoXml(refundParams()).replace('</refund_account>', '&xxe;</refund_account>')}`,
          ),
        ),
    },
  ];
}

function billionLaughs(doc: string): string {
  const root = /^<(\w+)>/.exec(doc)?.[1] ?? 'xml';
  const ents = ['<!ENTITY lol0 "lol">'];
  for (let i = 1; i <= 9; i++) ents.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
  return `<?xml version="1.0"?><!DOCTYPE ${root} [${ents.join('')}]>${doc}`;
}

const refundParams = () => ({
  outTradeNo: CANARY,
  outRefundNo: orderNo('HR'),
  refundId: randomRefundId(),
  refundStatus: 'SUCCESS' as const,
  refundFee: 100,
  totalFee: FEN,
});
const v2RefundOuter = (innerXml: string, outer: Record<string, string> = {}) =>
  v2Xml({
    return_code: 'SUCCESS',
    return_msg: 'OK',
    appid: h.keys.appid,
    mch_id: h.keys.mchid,
    nonce_str: 'n0nce',
    req_info: encryptReqInfo(innerXml, h.keys.apiV2Key),
    ...outer,
  });

function nestingCases(): Case[] {
  const xmlNest = (n: number) => `<xml>${inner100()}${'<a>'.repeat(n)}x${'</a>'.repeat(n)}</xml>`;
  const inner100 = () => v2Inner();
  const jsonNest = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
  const arrayNest = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  return [
    { name: 'nesting: XML 100k levels (over the size limit)', protocol: 'v2', event: () => xmlEvent(xmlNest(100_000)) },
    {
      name: 'nesting: XML 100k levels with the size limit raised to 8 MiB (the parser itself)',
      protocol: 'v2',
      event: () => xmlEvent(xmlNest(100_000)),
      deps: raisedLimit,
    },
    { name: 'nesting: XML 8k levels inside the default limit', protocol: 'v2', event: () => xmlEvent(xmlNest(8_000)) },
    {
      name: 'nesting: JSON envelope 100k levels (over the size limit)',
      protocol: 'v3',
      event: () => signedV3Event(h.keys, jsonNest(100_000)),
    },
    {
      name: 'nesting: JSON envelope 100k levels, limit raised (the parser itself)',
      protocol: 'v3',
      event: () => signedV3Event(h.keys, jsonNest(100_000)),
      deps: raisedLimit,
    },
    {
      name: 'nesting: JSON arrays 100k levels, limit raised',
      protocol: 'v3',
      event: () => signedV3Event(h.keys, arrayNest(100_000)),
      deps: raisedLimit,
    },
    {
      name: 'nesting: JSON envelope 10k levels inside the default limit',
      protocol: 'v3',
      event: () => signedV3Event(h.keys, arrayNest(10_000)),
    },
    {
      name: 'nesting: a field of the envelope nested 40 levels (just past the depth limit)',
      protocol: 'v3',
      event: () => v3WithResource(JSON.stringify(tx()), 'TRANSACTION.SUCCESS', { extra: JSON.parse(jsonNest(40)) }),
    },
    {
      name: 'nesting: decrypted resource nested 100k levels, limit raised',
      protocol: 'v3',
      event: () => v3WithResource(JSON.stringify(tx()).replace(/}$/, `,"deep":${jsonNest(100_000)}}`)),
      deps: raisedLimit,
    },
    {
      name: 'nesting: decrypted resource nested 40 levels',
      protocol: 'v3',
      event: () => v3WithResource(JSON.stringify(tx()).replace(/}$/, `,"deep":${jsonNest(40)}}`)),
    },
  ];
}

function numberCases(): Case[] {
  const v2Amount = (fee: string): Case => ({
    name: `huge number: APIv2 total_fee ${JSON.stringify(fee)} (validly signed)`,
    protocol: 'v2',
    event: () => xmlEvent(v2Xml(resignV2({ ...v2Fields(), total_fee: fee, cash_fee: fee }))),
  });
  const v3Amount = (literal: string): Case => ({
    name: `huge number: APIv3 amount.total ${literal} (validly signed and encrypted)`,
    protocol: 'v3',
    event: () => v3WithResource(JSON.stringify(tx()).replace(`"total":${FEN}`, `"total":${literal}`)),
  });
  const v3Refund = (literal: string): Case => ({
    name: `huge number: APIv3 refund amount.refund ${literal}`,
    protocol: 'v3',
    event: () => {
      const r = v3RefundResource(h.keys, {
        outTradeNo: CANARY,
        outRefundNo: orderNo('HR'),
        refundStatus: 'SUCCESS',
        refund: 7,
        total: FEN,
      });
      return v3WithResource(JSON.stringify(r).replace('"refund":7', `"refund":${literal}`), 'REFUND.SUCCESS');
    },
  });
  const v2Refund = (fee: string): Case => ({
    name: `huge number: APIv2 refund_fee ${JSON.stringify(fee)} (authentic req_info)`,
    protocol: 'v2',
    event: () =>
      xmlEvent(v2RefundOuter(refundInfoXml({ ...refundParams(), extra: { refund_fee: fee, total_fee: fee } }))),
  });
  return [
    ...[
      '1e400',
      '99999999999999999999',
      '9007199254740993',
      '-1',
      '1999.00',
      '0x9C4',
      ' 2500',
      '２５００',
      'Infinity',
      'NaN',
    ].map(v2Amount),
    ...['1e400', '99999999999999999999', '9007199254740993', '-2500', '2500.5', '"2500"', '1e308', 'null'].map(
      v3Amount,
    ),
    ...['1e400', '99999999999999999999', '-7'].map(v3Refund),
    ...['1e400', '99999999999999999999'].map(v2Refund),
  ];
}

function encodingCases(): Case[] {
  const invalid: Array<[string, number[]]> = [
    ['truncated sequence 0xC3 0x28', [0xc3, 0x28]],
    ['overlong "<" 0xC0 0xBC', [0xc0, 0xbc]],
    ['UTF-16 surrogate 0xED 0xA0 0x80', [0xed, 0xa0, 0x80]],
    ['byte 0xFF', [0xff]],
  ];
  const v2 = invalid.map(
    ([what, bytes]): Case => ({
      name: `invalid UTF-8: ${what} in an APIv2 value`,
      protocol: 'v2',
      event: () => {
        const xml = v2Xml(v2Fields());
        const at = xml.indexOf('</bank_type>') - 3;
        return xmlEvent(Buffer.concat([Buffer.from(xml.slice(0, at)), Buffer.from(bytes), Buffer.from(xml.slice(at))]));
      },
    }),
  );
  const v3Envelope = invalid.slice(0, 2).map(
    ([what, bytes]): Case => ({
      name: `invalid UTF-8: ${what} in the signed APIv3 envelope (summary)`,
      protocol: 'v3',
      event: () => {
        const no = orderNo(`HXU`);
        const w = v3Notification(h.keys, {
          eventType: 'TRANSACTION.SUCCESS',
          originalType: 'transaction',
          resource: v3TransactionResource(h.keys, { outTradeNo: no, total: FEN }),
        });
        const body = Buffer.from(w.body, 'utf8');
        const at = body.indexOf('"summary":"') + 11;
        return signedV3Event(h.keys, Buffer.concat([body.subarray(0, at), Buffer.from(bytes), body.subarray(at)]));
      },
    }),
  );
  const v3Resource = invalid.slice(0, 2).map(
    ([what, bytes]): Case => ({
      name: `invalid UTF-8: ${what} in the decrypted APIv3 resource (trade_state_desc)`,
      protocol: 'v3',
      event: () => {
        const pt = Buffer.from(JSON.stringify(tx(orderNo(`HXV`))), 'utf8');
        const at = pt.indexOf('"trade_state_desc":"') + 20;
        return v3WithResource(Buffer.concat([pt.subarray(0, at), Buffer.from(bytes), pt.subarray(at)]));
      },
    }),
  );
  return [
    ...v2,
    ...v3Envelope,
    ...v3Resource,
    {
      name: 'invalid UTF-8: in an identifier of the decrypted resource (out_trade_no)',
      protocol: 'v3',
      event: () => {
        const pt = Buffer.from(JSON.stringify(tx()), 'utf8');
        const at = pt.indexOf(CANARY) + CANARY.length;
        return v3WithResource(Buffer.concat([pt.subarray(0, at), Buffer.from([0xc3, 0x28]), pt.subarray(at)]));
      },
    },
    {
      name: 'invalid UTF-8: inside an authentic APIv2 req_info plaintext',
      protocol: 'v2',
      event: () => {
        const pt = Buffer.from(refundInfoXml(refundParams()), 'utf8');
        const at = pt.indexOf('</refund_account>') - 3;
        const cipher = createCipheriv('aes-256-ecb', reqInfoKey(h.keys.apiV2Key), null);
        const reqInfo = Buffer.concat([
          cipher.update(Buffer.concat([pt.subarray(0, at), Buffer.from([0xff, 0xfe]), pt.subarray(at)])),
          cipher.final(),
        ]).toString('base64');
        return xmlEvent(
          v2Xml({
            return_code: 'SUCCESS',
            return_msg: 'OK',
            appid: h.keys.appid,
            mch_id: h.keys.mchid,
            nonce_str: 'n0nce',
            req_info: reqInfo,
          }),
        );
      },
    },
  ];
}

function duplicateCases(): Case[] {
  const inner = () => v2Inner();
  return [
    {
      name: 'duplicated XML field: total_fee twice',
      protocol: 'v2',
      event: () =>
        xmlEvent(`<xml>${inner().replace('</total_fee>', '</total_fee><total_fee><![CDATA[1]]></total_fee>')}</xml>`),
    },
    {
      name: 'duplicated XML field: out_trade_no twice',
      protocol: 'v2',
      event: () =>
        xmlEvent(
          `<xml>${inner().replace('</out_trade_no>', `</out_trade_no><out_trade_no><![CDATA[${orderNo()}]]></out_trade_no>`)}</xml>`,
        ),
    },
    {
      name: 'duplicated XML field: in req_info (authentic)',
      protocol: 'v2',
      event: () =>
        xmlEvent(
          v2RefundOuter(
            refundInfoXml(refundParams()).replace(
              '</refund_fee>',
              '</refund_fee><refund_fee><![CDATA[1]]></refund_fee>',
            ),
          ),
        ),
    },
    {
      name: 'duplicated JSON key: the same key spelled with an escape in the decrypted resource',
      protocol: 'v3',
      event: () =>
        v3WithResource(JSON.stringify(tx(orderNo('HXE'))).replace('{', `{"out\\u005ftrade_no":"${CANARY}",`)),
    },
    {
      name: 'duplicated XML root: two <xml> documents',
      protocol: 'v2',
      event: () => xmlEvent(`<xml>${inner()}</xml><xml>${inner()}</xml>`),
    },
    {
      name: 'duplicated JSON key: event_type twice in the signed envelope',
      protocol: 'v3',
      event: () => {
        const no = orderNo(`HXE`);
        const w = v3Notification(h.keys, {
          eventType: 'TRANSACTION.SUCCESS',
          originalType: 'transaction',
          resource: v3TransactionResource(h.keys, { outTradeNo: no, total: FEN }),
        });
        return signedV3Event(h.keys, w.body.replace('"event_type":', '"event_type":"COUPON.USE","event_type":'));
      },
    },
    {
      name: 'duplicated JSON key: out_trade_no twice in the decrypted resource',
      protocol: 'v3',
      event: () => v3WithResource(JSON.stringify(tx(orderNo(`HXO`))).replace('{', `{"out_trade_no":"${CANARY}",`)),
    },
    {
      name: 'duplicated JSON key: amount.total twice in the decrypted resource',
      protocol: 'v3',
      event: () =>
        v3WithResource(JSON.stringify(tx(orderNo(`HXA`))).replace(`"total":${FEN}`, `"total":1,"total":${FEN}`)),
    },
  ];
}

function pollutionCases(): Case[] {
  const cases: Case[] = [];
  for (const [key, value] of POLLUTERS) {
    // the envelope (signed), at its top and in its resource object
    cases.push({
      name: `prototype key "${key}" at the top of the signed envelope`,
      protocol: 'v3',
      event: () => {
        const w = v3Notification(h.keys, {
          eventType: 'TRANSACTION.SUCCESS',
          originalType: 'transaction',
          resource: tx(),
        });
        return signedV3Event(h.keys, JSON.stringify(withKey(JSON.parse(w.body) as object, key, deep(value))));
      },
    });
    cases.push({
      name: `prototype key "${key}" in envelope.resource`,
      protocol: 'v3',
      event: () => {
        const w = v3Notification(h.keys, {
          eventType: 'TRANSACTION.SUCCESS',
          originalType: 'transaction',
          resource: tx(),
        });
        const doc = JSON.parse(w.body) as { resource: object };
        withKey(doc.resource, key, deep(value));
        return signedV3Event(h.keys, JSON.stringify(doc));
      },
    });
    // the decrypted resource (validly encrypted and signed), at every level
    for (const [where, at] of resourcePlaces()) {
      cases.push({
        name: `prototype key "${key}" in the decrypted ${where}`,
        protocol: 'v3',
        event: () => {
          const r = tx();
          withKey(at(r), key, deep(value));
          return v3WithResource(JSON.stringify(r));
        },
      });
    }
    cases.push({
      name: `prototype key "${key}" in a decrypted refund resource's amount`,
      protocol: 'v3',
      event: () => {
        const r = v3RefundResource(h.keys, {
          outTradeNo: CANARY,
          outRefundNo: orderNo('HR'),
          refundStatus: 'SUCCESS',
          refund: 7,
          total: FEN,
        });
        withKey(r.amount as Obj, key, deep(value));
        return v3WithResource(JSON.stringify(r), 'REFUND.SUCCESS');
      },
    });
    // APIv2: a validly signed field of that name, and one in req_info
    cases.push({
      name: `prototype key <${key}> as a validly signed APIv2 field`,
      protocol: 'v2',
      event: () => xmlEvent(v2Xml(resignV2(withKey(v2Fields(), key, 'polluted')))),
    });
    cases.push({
      name: `prototype key <${key}> with children in APIv2 XML`,
      protocol: 'v2',
      event: () => xmlEvent(`<xml>${v2Inner()}<${key}><polluted>yes</polluted></${key}></xml>`),
    });
    cases.push({
      name: `prototype key <${key}> inside an authentic req_info`,
      protocol: 'v2',
      event: () =>
        xmlEvent(
          v2RefundOuter(
            refundInfoXml(refundParams()).replace('</root>', `<${key}><![CDATA[polluted]]></${key}></root>`),
          ),
        ),
    });
  }
  cases.push({
    name: 'prototype key: "constructor.prototype" as a dotted name (APIv2)',
    protocol: 'v2',
    event: () => xmlEvent(`<xml>${v2Inner()}<constructor.prototype><![CDATA[x]]></constructor.prototype></xml>`),
  });
  cases.push({
    name: 'prototype key: escaped "\\u005f_proto__" in JSON (same key once parsed)',
    protocol: 'v3',
    event: () => v3WithResource(JSON.stringify(tx()).replace('{', '{"\\u005f_proto__":{"polluted":"yes"},')),
  });
  return cases;
}

function headerAndBodyCases(): Case[] {
  const valid = () =>
    toEvent(v3Notification(h.keys, { eventType: 'TRANSACTION.SUCCESS', originalType: 'transaction', resource: tx() }));
  const withHeader = (name: string, value: string): HttpEvent => {
    const e = valid();
    return { ...e, headers: { ...e.headers, [name]: value } };
  };
  const r = rng(0xb1a5);
  const binary = Buffer.from(Array.from({ length: 4096 }, () => r.int(256)));
  return [
    {
      name: 'oversized header: 64 KB Wechatpay-Signature',
      protocol: 'v3',
      event: () => withHeader('wechatpay-signature', LONG_B64),
    },
    {
      name: 'oversized header: 64 KB Wechatpay-Serial',
      protocol: 'v3',
      event: () => withHeader('wechatpay-serial', 'F'.repeat(OVERSIZE)),
    },
    {
      name: 'oversized header: 64 KB Wechatpay-Nonce',
      protocol: 'v3',
      event: () => withHeader('wechatpay-nonce', 'N'.repeat(OVERSIZE)),
    },
    {
      name: 'oversized header: 64 KB Wechatpay-Timestamp',
      protocol: 'v3',
      event: () => withHeader('wechatpay-timestamp', '1'.repeat(OVERSIZE)),
    },
    {
      name: 'oversized header: 64 KB Wechatpay-Signature-Type',
      protocol: 'v3',
      event: () => withHeader('wechatpay-signature-type', 'W'.repeat(OVERSIZE)),
    },
    {
      name: 'oversized header: a signature probe 64 KB long',
      protocol: 'v3',
      event: () => withHeader('wechatpay-signature', `WECHATPAY/SIGNTEST/${LONG_B64}`),
    },
    {
      name: 'oversized body: 65 537 bytes of valid-looking XML',
      protocol: 'v2',
      event: () => xmlEvent(`<xml>${v2Inner()}<attach>${'a'.repeat(65_537)}</attach></xml>`),
    },
    { name: 'empty body (APIv2)', protocol: 'v2', event: () => ({ headers: {}, body: '', isBase64Encoded: false }) },
    { name: 'no body at all (APIv2)', protocol: 'v2', event: () => ({ headers: {}, body: null }) },
    { name: 'whitespace-only body (APIv2)', protocol: 'v2', event: () => xmlEvent(' \r\n\t ') },
    { name: 'empty body, validly signed (APIv3)', protocol: 'v3', event: () => signedV3Event(h.keys, Buffer.alloc(0)) },
    { name: 'binary body (APIv2 route)', protocol: 'v2', event: () => xmlEvent(binary) },
    { name: 'binary body, validly signed (APIv3)', protocol: 'v3', event: () => signedV3Event(h.keys, binary) },
    { name: 'NUL bytes body (APIv2)', protocol: 'v2', event: () => xmlEvent(Buffer.alloc(1024)) },
    { name: 'JSON top level null, validly signed', protocol: 'v3', event: () => signedV3Event(h.keys, 'null') },
    { name: 'JSON top level array, validly signed', protocol: 'v3', event: () => signedV3Event(h.keys, '[1,2,3]') },
    {
      name: 'JSON top level string, validly signed',
      protocol: 'v3',
      event: () => signedV3Event(h.keys, '"TRANSACTION.SUCCESS"'),
    },
    {
      name: 'XML body with valid APIv3 signature headers',
      protocol: 'v3',
      event: () => signedV3Event(h.keys, `<xml>${v2Inner()}</xml>`),
    },
    {
      name: 'resource that decrypts to XML with a DOCTYPE',
      protocol: 'v3',
      event: () => v3WithResource(`<!DOCTYPE r [<!ENTITY x SYSTEM "file://${canaryFile}">]><r>&x;</r>`),
    },
    {
      name: 'resource that decrypts to a JSON array',
      protocol: 'v3',
      event: () => v3WithResource('[{"out_trade_no":"x"}]'),
    },
    {
      name: 'base64 event body that is not base64',
      protocol: 'v2',
      event: () => ({ headers: {}, body: '%%%!!!***', isBase64Encoded: true }),
    },
  ];
}

const CASES: Case[] = [
  ...xxeCases(),
  ...nestingCases(),
  ...numberCases(),
  ...encodingCases(),
  ...duplicateCases(),
  ...pollutionCases(),
  ...headerAndBodyCases(),
];

/** Nothing internal in a reason: no stack, no path, no secret, no file content. */
function leaks(reply: Reply): string | undefined {
  const secrets = [
    h.keys.apiV2Key,
    h.keys.apiV3Key,
    SECRET_MARKER,
    'root:x:0:0',
    'node_modules',
    '/work/',
    'Error:',
    'TypeError',
    'SyntaxError',
    canaryFile,
  ];
  return secrets.find((s) => reply.body.includes(s)) ?? /\bat .*:\d+:\d+/.exec(reply.body)?.[0];
}

function prototypeIsClean(): boolean {
  const probe = {} as Record<string, unknown>;
  return (
    probe.polluted === undefined &&
    probe.isAdmin === undefined &&
    Object.getOwnPropertyNames(Object.prototype).every((k) => !['polluted', 'isAdmin'].includes(k))
  );
}

describe('hostile input: a clear failure, one log line, no write, no leak, no pollution', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const event = c.event();
    const logsBefore = h.logs.length;
    h.requests.length = 0;
    const reply = await deliver(
      c.deps ? c.deps() : h.deps(),
      event,
      c.name.includes('refund') ? '/notify/refund' : '/notify/payment',
    );
    if (process.env.HOSTILE_DEBUG)
      process.stdout.write(`REASON ${c.name} => ${reply.statusCode} ${reply.body.slice(0, 160)}\n`);
    expect(isClearRejection(c.protocol, reply), `${reply.statusCode} ${reply.body.slice(0, 200)}`).toBe(true);
    expect(leaks(reply)).toBeUndefined();
    const lines = h.logs.slice(logsBefore).filter((l) => l.message === 'delivery');
    expect(lines).toHaveLength(1);
    expect(lines[0]?.outcome).not.toMatch(/APPLIED|REFUND_SUCCESS|IGNORED/);
    expect(JSON.stringify(h.logs.slice(logsBefore))).not.toContain(SECRET_MARKER);
    expect(
      h.requests.filter((x) => x !== 'GetItemCommand'),
      'store writes',
    ).toEqual([]);
    expect(prototypeIsClean()).toBe(true);
  });
});

describe('afterwards, the process is healthy', () => {
  it('nothing changed in the table, no file or URL was fetched, Object.prototype is clean', async () => {
    expect(await tableText()).toBe(tableBefore);
    expect(itemText(await rawItem(h, orderKey(h.keys.mchid, CANARY)))).toContain('"NOTPAY"');
    expect(canaryHits).toEqual([]);
    expect(prototypeIsClean()).toBe(true);
  });

  it.each(['v2', 'v3'] as const)('a valid %s delivery still succeeds and is applied', async (protocol) => {
    const no = orderNo('AFTER');
    await h.store.registerOrder({ outTradeNo: no, amountFen: 321, merchantId: h.keys.mchid });
    const wire =
      protocol === 'v2'
        ? v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 321 })
        : v3Notification(h.keys, {
            eventType: 'TRANSACTION.SUCCESS',
            originalType: 'transaction',
            resource: v3TransactionResource(h.keys, { outTradeNo: no, total: 321 }),
          });
    expect(isSuccess(await deliver(h.deps(), wire))).toBe(true);
    expect((await h.store.getOrder(h.keys.mchid, no))?.state).toBe('PAID');
  });
});
