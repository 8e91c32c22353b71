/**
 * Section a: notification verify + parse (APIv2) and verify + decrypt (APIv3), operations per second,
 * this project against its peers and against bare node:crypto + fast-xml-parser, on the same messages.
 *
 * Every implementation starts from what a Lambda receives (lower-cased headers and the body as a
 * string) and ends with the verified out_trade_no in hand; each is first checked to accept every
 * message and to reject a tampered one, so nobody is measured skipping the work.
 */
import { createHash, createVerify, timingSafeEqual, verify as rsaVerify, type KeyObject } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { Aes, Formatter, Hash, Rsa, Transformer } from 'wechatpay-axios-plugin';
import WxPay from 'wechatpay-node-v3';
import TenpayPayment from 'tenpay';
import { readNotice } from '../../lib/notify/read';
import { readV2Payment } from '../../lib/wechatpay/v2/notification';
import { parseXml } from '../../lib/wechatpay/v2/xml';
import { openResource, parseEnvelope } from '../../lib/wechatpay/v3/notification';
import { transactionNotice } from '../../lib/notify/read';
import { readTransaction } from '../../lib/wechatpay/v3/transaction';
import { headerGetter, verifyV3 } from '../../lib/wechatpay/v3/verify';
import {
  v2PaymentNotification,
  v3Notification,
  v3TransactionResource,
  type WireRequest,
} from '../../scripts/simulator/messages';
import { benchKeys, log, median, nextOutTradeNo, round } from '../lib/common';
import { compare, type Candidate, type OpsResult } from '../lib/harness';
import { openPlain } from '../lib/minimal';

/** What every implementation is handed: the request as API Gateway delivers it to a Lambda. */
interface Delivery {
  headers: Record<string, string>;
  body: string;
  outTradeNo: string;
}

export interface ImplResult extends OpsResult {
  label: string;
  note?: string;
  /** This project's ops/s divided by this implementation's: the median of the per-round ratios. */
  projectRatio: number | null;
}

export interface ProtocolResult {
  messages: number;
  results: ImplResult[];
  /** Implementations that cannot do this protocol at all. */
  notApplicable: { id: string; label: string; why: string }[];
}

export interface StageResult {
  protocol: 'v2' | 'v3';
  stage: string;
  /** Microseconds per operation (from the median ops/s). */
  microseconds: number;
  /** Its time as a fraction of the whole readNotice call's (median of per-round ratios). */
  ofWhole: number;
}

export interface VerifyResult {
  date: string;
  settings: { roundMs: number; rounds: number; warmupRounds: number; messages: number };
  v2: ProtocolResult;
  v3: ProtocolResult;
  /** Where this project's time goes: its pipeline's stages measured alone, same harness, shorter rounds. */
  projectStages: StageResult[];
}

const lower = (h: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));

const toDelivery = (w: WireRequest, outTradeNo: string): Delivery => ({
  headers: lower(w.headers),
  body: w.body,
  outTradeNo,
});

/** The same message with one amount digit changed after signing. */
function tampered(d: Delivery): Delivery {
  if (d.body.startsWith('{')) {
    // flip one base64 character of the ciphertext: the RSA signature covers the whole body
    const i = d.body.indexOf('"ciphertext":"') + 20;
    const c = d.body[i] === 'A' ? 'B' : 'A';
    return { ...d, body: d.body.slice(0, i) + c + d.body.slice(i + 1) };
  }
  return {
    ...d,
    body: d.body.replace(
      /<total_fee><!\[CDATA\[(\d+)\]\]>/,
      (_m, n: string) => `<total_fee><![CDATA[${Number(n) + 1}]]>`,
    ),
  };
}

export async function runVerify(opts: { quick?: boolean } = {}): Promise<VerifyResult> {
  const { keys, config } = benchKeys();
  const settings = { roundMs: opts.quick ? 150 : 400, rounds: opts.quick ? 3 : 5, warmupRounds: 1, messages: 64 };

  // ---- the messages, built once by the project's independent WeChat Pay sender ----
  const v2: Delivery[] = [];
  const v3: Delivery[] = [];
  for (let i = 0; i < settings.messages; i++) {
    const otn2 = nextOutTradeNo('BV2');
    v2.push(toDelivery(v2PaymentNotification(keys, { outTradeNo: otn2, totalFee: 100 + i }), otn2));
    const otn3 = nextOutTradeNo('BV3');
    const resource = v3TransactionResource(keys, { outTradeNo: otn3, total: 100 + i });
    v3.push(
      toDelivery(
        v3Notification(keys, { eventType: 'TRANSACTION.SUCCESS', originalType: 'transaction', resource }),
        otn3,
      ),
    );
  }

  // ---- APIv2 implementations ----
  const v2Candidates: (Candidate<Delivery> & { label: string; note?: string })[] = [];

  v2Candidates.push({
    id: 'project',
    label: 'wechatpay-lambda (readNotice)',
    note: 'hardened parse (DOCTYPE/prototype-key/repeat checks, validator), byte-order sort, constant-time compare, ids, amount → fen, time → ISO',
    run: (d) => {
      const { notice } = readNotice('v2', () => undefined, d.body, config, Date.now());
      if (notice.kind !== 'PAYMENT') throw new Error('not a payment');
      return notice.report.outTradeNo;
    },
  });

  v2Candidates.push({
    id: 'axios-plugin',
    label: 'wechatpay-axios-plugin 0.9.6',
    note: 'Transformer.toObject + Hash.sign + Hash.equals, ids and result checked by hand',
    run: (d) => {
      const obj = Transformer.toObject(d.body) as Record<string, string>;
      const type = obj.sign_type === 'HMAC-SHA256' ? 'HMAC-SHA256' : 'MD5';
      if (!Hash.equals(Hash.sign(type, obj, keys.apiV2Key), obj.sign)) throw new Error('sign mismatch');
      if (obj.return_code !== 'SUCCESS' || obj.result_code !== 'SUCCESS') throw new Error('not SUCCESS');
      if (obj.mch_id !== keys.mchid || obj.appid !== keys.appid) throw new Error('ids');
      return obj.out_trade_no;
    },
  });

  const tenpay = new TenpayPayment({ appid: keys.appid, mchid: keys.mchid, partnerKey: keys.apiV2Key });
  v2Candidates.push({
    id: 'tenpay',
    label: 'tenpay 2.1.18 (node-tenpay)',
    note: "Payment#_parse(xml, 'middleware_pay'), what its Express middleware runs: xml2js, ids, sign",
    async: true,
    run: async (d) => {
      const json = (await tenpay._parse(d.body, 'middleware_pay')) as Record<string, string>;
      return json.out_trade_no;
    },
  });

  const floorParser = new XMLParser({
    parseTagValue: false,
    processEntities: false,
    ignoreDeclaration: true,
    ignoreAttributes: true,
    trimValues: false,
  });
  const v2KeySuffix = `key=${keys.apiV2Key}`;
  v2Candidates.push({
    id: 'floor',
    label: 'floor: node:crypto + fast-xml-parser',
    note: 'parse, sort, MD5, constant-time compare, codes and ids; no hardening',
    run: (d) => {
      const f = (floorParser.parse(d.body) as { xml: Record<string, string> }).xml;
      let s = '';
      for (const k of Object.keys(f).sort()) if (k !== 'sign' && f[k] !== '') s += `${k}=${f[k]}&`;
      const expected = Buffer.from(
        createHash('md5')
          .update(s + v2KeySuffix)
          .digest('hex')
          .toUpperCase(),
      );
      const given = Buffer.from(f.sign ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new Error('sign mismatch');
      if (
        f.return_code !== 'SUCCESS' ||
        f.result_code !== 'SUCCESS' ||
        f.mch_id !== keys.mchid ||
        f.appid !== keys.appid
      )
        throw new Error('fields');
      return f.out_trade_no;
    },
  });

  // ---- APIv3 implementations ----
  const v3Candidates: (Candidate<Delivery> & { label: string; note?: string })[] = [];

  v3Candidates.push({
    id: 'project',
    label: 'wechatpay-lambda (readNotice)',
    note: 'the body as API Gateway hands it over (text; its UTF-8 bytes are what is verified), header checks, ±300 s window, RSA with the cold-start KeyObject, envelope shape, AES-GCM (tag checked), resource shape, ids, amount',
    run: (d) => {
      const { notice } = readNotice('v3', headerGetter(d.headers), d.body, config, Date.now());
      if (notice.kind !== 'PAYMENT') throw new Error('not a payment');
      return notice.report.outTradeNo;
    },
  });

  const platformKey: KeyObject = Rsa.from(keys.platform.certPem, 'public');
  const axiosV3 = (certs: Record<string, string | KeyObject>) => (d: Delivery) => {
    const h = d.headers;
    const key = certs[h['wechatpay-serial'] ?? ''];
    if (!key) throw new Error('unknown serial');
    if (
      !Rsa.verify(
        Formatter.response(h['wechatpay-timestamp'] ?? '', h['wechatpay-nonce'] ?? '', d.body),
        h['wechatpay-signature'] ?? '',
        key,
      )
    )
      throw new Error('bad signature');
    const r = (JSON.parse(d.body) as { resource: { ciphertext: string; nonce: string; associated_data: string } })
      .resource;
    const tx = JSON.parse(Aes.AesGcm.decrypt(r.ciphertext, keys.apiV3Key, r.nonce, r.associated_data)) as {
      out_trade_no: string;
    };
    return tx.out_trade_no;
  };
  v3Candidates.push({
    id: 'axios-plugin',
    label: 'wechatpay-axios-plugin 0.9.6 (KeyObject)',
    note: 'Rsa.verify(Formatter.response(…)) with the key loaded once by Rsa.from (its documented way since 0.9), AesGcm.decrypt, JSON.parse',
    run: axiosV3({ [keys.platform.serial]: platformKey }),
  });
  v3Candidates.push({
    id: 'axios-plugin-pem',
    label: 'wechatpay-axios-plugin 0.9.6 (PEM string)',
    note: 'same calls with the certificate PEM string in certs (the pre-0.9 style): node re-parses it on every verify',
    run: axiosV3({ [keys.platform.serial]: keys.platform.certPem }),
  });

  // wechatpay-node-v3 keeps platform keys in the static Pay.certificates map, as PEM strings (what its
  // fetchCertificates stores); we fill it directly instead of downloading /v3/certificates.
  const WxPayClass = WxPay as unknown as {
    new (o: Record<string, unknown>): WxPayLike;
    certificates: Record<string, string>;
  };
  WxPayClass.certificates[keys.platform.serial] = keys.platform.publicKeyPem;
  const wxpay = new WxPayClass({
    appid: keys.appid,
    mchid: keys.mchid,
    serial_no: keys.merchant.serial,
    publicKey: Buffer.from(keys.merchant.publicKeyPem),
    privateKey: Buffer.from(keys.merchant.privateKeyPem),
    key: keys.apiV3Key,
  });
  v3Candidates.push({
    id: 'wechatpay-node-v3',
    label: 'wechatpay-node-v3 2.2.1',
    note: 'await verifySign({timestamp, nonce, body, serial, signature}) then decipher_gcm (documented); keys held as PEM',
    async: true,
    run: async (d) => {
      const h = d.headers;
      const ok = await wxpay.verifySign({
        timestamp: h['wechatpay-timestamp'] ?? '',
        nonce: h['wechatpay-nonce'] ?? '',
        body: d.body,
        serial: h['wechatpay-serial'] ?? '',
        signature: h['wechatpay-signature'] ?? '',
      });
      if (!ok) throw new Error('bad signature');
      const r = (JSON.parse(d.body) as { resource: { ciphertext: string; nonce: string; associated_data: string } })
        .resource;
      const tx = wxpay.decipher_gcm<{ out_trade_no?: string } | string>(
        r.ciphertext,
        r.associated_data,
        r.nonce,
        keys.apiV3Key,
      );
      if (typeof tx !== 'object' || typeof tx.out_trade_no !== 'string') throw new Error('undecryptable');
      return tx.out_trade_no;
    },
  });

  const floorKey = keys.platform.publicKey;
  const floorSerial = keys.platform.serial;
  const aesKey = Buffer.from(keys.apiV3Key, 'utf8');
  v3Candidates.push({
    id: 'floor',
    label: 'floor: bare node:crypto',
    note: 'clock window, crypto.verify with a prebuilt KeyObject, JSON.parse, AES-GCM with tag, JSON.parse; no shape checks',
    run: (d) => {
      const h = d.headers;
      if (h['wechatpay-serial'] !== floorSerial) throw new Error('unknown serial');
      const ts = h['wechatpay-timestamp'] ?? '';
      if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) throw new Error('stale');
      const msg = Buffer.from(`${ts}\n${h['wechatpay-nonce']}\n${d.body}\n`);
      if (!rsaVerify('sha256', msg, floorKey, Buffer.from(h['wechatpay-signature'] ?? '', 'base64')))
        throw new Error('bad signature');
      return openPlain<{ out_trade_no: string }>(d.body, aesKey).out_trade_no;
    },
  });

  // the work no verify + decrypt can skip, with node:crypto's cheapest calls (a Verify object fed in
  // pieces, as this project and axios-plugin do) and nothing else: the yardstick of the two targets
  // above, since a reader doing all of this plus checks cannot run faster than this does
  v3Candidates.push({
    id: 'primitives',
    label: 'irreducible: RSA, AES-GCM, JSON.parse',
    note: 'createVerify fed timestamp, nonce and body with the prebuilt KeyObject, JSON.parse, AES-GCM with tag, JSON.parse; no serial, clock, header or shape check at all',
    run: (d) => {
      const h = d.headers;
      const ok = createVerify('sha256')
        .update(`${h['wechatpay-timestamp']}\n${h['wechatpay-nonce']}\n`)
        .update(d.body)
        .update('\n')
        .verify(floorKey, Buffer.from(h['wechatpay-signature'] ?? '', 'base64'));
      if (!ok) throw new Error('bad signature');
      return openPlain<{ out_trade_no: string }>(d.body, aesKey).out_trade_no;
    },
  });

  await checkAll('v2', v2Candidates, v2);
  await checkAll('v3', v3Candidates, v3);

  log(
    `verify: APIv2, ${v2Candidates.length} implementations × ${settings.warmupRounds + settings.rounds} rounds of ${settings.roundMs} ms`,
  );
  const v2Ops = await compare(v2Candidates, v2, settings);
  log(
    `verify: APIv3, ${v3Candidates.length} implementations × ${settings.warmupRounds + settings.rounds} rounds of ${settings.roundMs} ms`,
  );
  const v3Ops = await compare(v3Candidates, v3, settings);

  // ---- where the project's time goes: each stage alone, in one interleaved pass with the whole call
  // and the floor (so all of them see the same machine), on inputs prepared up front ----
  const maxBytes = config.maxBodyBytes;
  const apiV3Key = config.apiV3Key as Buffer;
  const byId = <T>(list: readonly (Candidate<Delivery> & T)[], id: string) =>
    list.find((c) => c.id === id) as Candidate<Delivery>;
  const v2Prepared = v2.map((d) => ({ d, fields: parseXml(d.body, 'xml', maxBytes) }));
  const v3Prepared = v3.map((d) => ({
    d,
    envelope: parseEnvelope(d.body),
  }));
  type V2P = (typeof v2Prepared)[number];
  type V3P = (typeof v3Prepared)[number];
  const stageOpts = { roundMs: opts.quick ? 100 : 200, rounds: opts.quick ? 3 : 5, warmupRounds: 1 };
  log("verify: the project's stages alone");
  const whole2 = byId(v2Candidates, 'project');
  const floor2 = byId(v2Candidates, 'floor');
  const s2 = await compare<V2P>(
    [
      { id: 'parseXml (hardened XML → fields)', run: (x) => parseXml(x.d.body, 'xml', maxBytes) },
      { id: 'readV2Payment (sign, ids, fen, time)', run: (x) => readV2Payment(x.fields, config) },
      { id: 'whole readNotice call', run: (x) => whole2.run(x.d) },
      { id: 'floor, whole', run: (x) => floor2.run(x.d) },
    ],
    v2Prepared,
    stageOpts,
  );
  const whole3 = byId(v3Candidates, 'project');
  const floor3 = byId(v3Candidates, 'floor');
  const s3 = await compare<V3P>(
    [
      {
        id: 'verifyV3 (headers, window, RSA)',
        run: (x) => verifyV3(headerGetter(x.d.headers), x.d.body, config.keyRing, Math.floor(Date.now() / 1000)),
      },
      { id: 'parseEnvelope (JSON, repeated/prototype-key pass, shape)', run: (x) => parseEnvelope(x.d.body) },
      {
        id: 'openResource + readTransaction + transactionNotice (AES-GCM, JSON, shape, ids)',
        run: (x) => transactionNotice(readTransaction(openResource(x.envelope, apiV3Key)), config, 'v3'),
      },
      { id: 'whole readNotice call', run: (x) => whole3.run(x.d) },
      { id: 'floor, whole', run: (x) => floor3.run(x.d) },
    ],
    v3Prepared,
    stageOpts,
  );
  // time of each stage relative to the whole call, paired by round like the ratios above
  const stages = (protocol: 'v2' | 'v3', res: OpsResult[]): StageResult[] => {
    const whole = res.find((r) => r.id === 'whole readNotice call')?.rounds ?? [];
    return res.map((r) => ({
      protocol,
      stage: r.id,
      microseconds: round(1e6 / r.opsPerSec, 1),
      ofWhole: round(median(r.rounds.map((x, k) => (whole[k] ?? Number.NaN) / x)), 2),
    }));
  };
  const projectStages: StageResult[] = [...stages('v2', s2), ...stages('v3', s3)];

  const withRatios = (ops: OpsResult[], cands: typeof v2Candidates): ImplResult[] => {
    // paired by round (the rounds of all implementations are interleaved, so round k of each ran
    // at nearly the same time): the median of per-round ratios shrugs off load that comes and goes
    const mine = ops.find((o) => o.id === 'project')?.rounds ?? [];
    return ops.map((o) => {
      const c = cands.find((x) => x.id === o.id);
      const ratios = o.rounds.map((r, k) => (mine[k] ?? Number.NaN) / r);
      return {
        ...o,
        label: c?.label ?? o.id,
        ...(c?.note ? { note: c.note } : {}),
        projectRatio: o.id === 'project' ? null : round(median(ratios), 2),
      };
    });
  };

  return {
    date: new Date().toISOString(),
    settings,
    v2: {
      messages: v2.length,
      results: withRatios(v2Ops, v2Candidates),
      notApplicable: [
        {
          id: 'wechatpay-node-v3',
          label: 'wechatpay-node-v3 2.2.1',
          why: 'APIv3 only: no APIv2 notification parsing or signing',
        },
      ],
    },
    v3: {
      messages: v3.length,
      results: withRatios(v3Ops, v3Candidates),
      notApplicable: [
        {
          id: 'tenpay',
          label: 'tenpay 2.1.18 (node-tenpay)',
          why: 'APIv2 only: no APIv3 signature verification or AES-GCM resource decryption',
        },
      ],
    },
    projectStages,
  };
}

interface WxPayLike {
  verifySign(p: {
    timestamp: string;
    nonce: string;
    body: string;
    serial: string;
    signature: string;
  }): Promise<boolean>;
  decipher_gcm<T>(ciphertext: string, associatedData: string, nonce: string, key?: string): T;
}

/** Every implementation must accept every message (returning its out_trade_no) and reject a tampered one. */
async function checkAll(
  protocol: string,
  cands: readonly Candidate<Delivery>[],
  inputs: readonly Delivery[],
): Promise<void> {
  for (const c of cands) {
    for (const d of inputs) {
      const got = await c.run(d);
      if (got !== d.outTradeNo) throw new Error(`${protocol} ${c.id}: returned ${String(got)} for ${d.outTradeNo}`);
    }
    const forged = tampered(inputs[0] as Delivery);
    let rejected = false;
    try {
      const got = await c.run(forged);
      rejected = got !== forged.outTradeNo;
    } catch {
      rejected = true;
    }
    if (!rejected) throw new Error(`${protocol} ${c.id}: accepted a tampered message`);
  }
}
