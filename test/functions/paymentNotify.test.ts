/**
 * The payment notification function, driven the way API Gateway drives it, against real DynamoDB
 * Local: every row of the reply table in both protocol generations, hostile input, duplicates.
 */
import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { notifyHandler } from '../../lib/notify/lambda';
import { orderKey } from '../../lib/orders/table';
import type { HttpEvent } from '../../lib/lambda/http';
import {
  beijingCompact,
  v2PaymentNotification,
  v2Sign,
  v2Xml,
  v3Notification,
  v3TransactionResource,
  type WireRequest,
} from '../../scripts/simulator/messages';
import { createHarness, orderNo, toEvent, type Harness } from '../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

type Result = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string };

async function deliver(event: HttpEvent, deps = h.deps()): Promise<Result> {
  return (await notifyHandler('/notify/payment', () => deps)(event)) as Result;
}

async function register(amountFen: number, merchantId = h.keys.mchid): Promise<string> {
  const no = orderNo();
  const r = await h.store.registerOrder({ outTradeNo: no, amountFen, merchantId });
  expect(r.kind).toBe('REGISTERED');
  return no;
}

async function item(no: string, merchantId = h.keys.mchid) {
  const res = await h.client.send(
    new GetItemCommand({ TableName: h.tableName, Key: { pk: { S: orderKey(merchantId, no) } }, ConsistentRead: true }),
  );
  return res.Item;
}

const v2Ok = (r: Result) => r.statusCode === 200 && r.body.includes('<return_code><![CDATA[SUCCESS]]></return_code>');
const v2Fail = (r: Result) => r.statusCode === 200 && r.body.includes('<return_code><![CDATA[FAIL]]></return_code>');

function v3Pay(
  no: string,
  total: number,
  opts: { signer?: 'platform' | 'publicKey'; timestamp?: number; partner?: boolean } = {},
): WireRequest {
  const resource = v3TransactionResource(h.keys, { outTradeNo: no, total });
  return v3Notification(h.keys, {
    eventType: 'TRANSACTION.SUCCESS',
    originalType: 'transaction',
    resource,
    signer: opts.signer,
    timestamp: opts.timestamp,
  });
}

describe('APIv2 payment notifications', () => {
  it('applies a payment once, answers SUCCESS, and answers SUCCESS again for the duplicate', async () => {
    const no = await register(1999);
    const wire = v2PaymentNotification(h.keys, {
      outTradeNo: no,
      totalFee: 1999,
      transactionId: '4200000001202611230000000001',
    });
    expect(v2Ok(await deliver(toEvent(wire)))).toBe(true);
    const first = await item(no);
    expect(first?.state?.S).toBe('PAID');
    expect(first?.transactionId?.S).toBe('4200000001202611230000000001');
    expect(first?.paidVia?.S).toBe('v2');
    expect(first?.pending).toBeUndefined();
    expect(v2Ok(await deliver(toEvent(wire)))).toBe(true);
    expect((await item(no))?.appliedAt).toEqual(first?.appliedAt);
  });

  it('reads a base64 body, HMAC-SHA256 without sign_type, coupon fields and empty fields', async () => {
    const no = await register(500);
    const wire = v2PaymentNotification(h.keys, {
      outTradeNo: no,
      totalFee: 500,
      signType: 'HMAC-SHA256',
      includeSignType: false,
      extra: {
        coupon_count: '2',
        coupon_type_0: 'CASH',
        coupon_id_0: '10001',
        coupon_fee_0: '50',
        coupon_type_1: 'NO_CASH',
        coupon_id_1: '10002',
        coupon_fee_1: '20',
        device_info: '',
        attach: 'a&b<c>',
      },
    });
    expect(v2Ok(await deliver(toEvent(wire, { base64: true })))).toBe(true);
    expect((await item(no))?.state?.S).toBe('PAID');
  });

  it('converts time_end from Beijing time', async () => {
    const no = await register(1);
    await deliver(toEvent(v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 1, timeEnd: '20261123080000' })));
    expect((await item(no))?.paidAt?.S).toBe('2026-11-23T00:00:00.000Z');
  });

  it.each([
    [
      'a wrong signature',
      (w: WireRequest) =>
        w.body.replace(
          /<sign><!\[CDATA\[[0-9A-F]{32}\]\]><\/sign>/,
          '<sign><![CDATA[0123456789ABCDEF0123456789ABCDEF]]></sign>',
        ),
    ],
    [
      'a changed amount',
      (w: WireRequest) => w.body.replace(/<total_fee><!\[CDATA\[(\d+)\]\]>/, '<total_fee><![CDATA[1]]>'),
    ],
    ['no signature', (w: WireRequest) => w.body.replace(/<sign>.*?<\/sign>/, '')],
    [
      'an XXE body',
      () =>
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><return_code>&xxe;</return_code></xml>',
    ],
    [
      'entity expansion',
      () =>
        '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><x>&b;</x></xml>',
    ],
    ['a 1 MB body', (w: WireRequest) => w.body.replace('</xml>', `<attach>${'x'.repeat(1 << 20)}</attach></xml>`)],
    ['not XML', () => 'hello'],
    [
      'prototype keys',
      (w: WireRequest) => w.body.replace('</xml>', '<__proto__><polluted>1</polluted></__proto__></xml>'),
    ],
    ['a repeated tag', (w: WireRequest) => w.body.replace('</xml>', '<total_fee>1</total_fee></xml>')],
    ['invalid UTF-8', () => '<xml><a>\udcff</a></xml>'],
    ['return_code FAIL', () => v2Xml({ return_code: 'FAIL', return_msg: 'x' })],
  ])('rejects %s with FAIL and changes nothing', async (_name, mutate) => {
    const no = await register(1200);
    const wire = v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 1200 });
    const r = await deliver(toEvent({ headers: wire.headers, body: mutate(wire) }));
    expect(v2Fail(r)).toBe(true);
    expect(r.body).not.toMatch(/Error|at |stack/);
    expect((await item(no))?.state?.S).toBe('NOTPAY');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('rejects an authentic notification for another merchant or app, with an anomaly', async () => {
    for (const extra of [{ mch_id: '1999999999' }, { appid: 'wx0000000000000000' }] as Array<Record<string, string>>) {
      const no = await register(100);
      const r = await deliver(toEvent(v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 100, extra })));
      expect(v2Fail(r)).toBe(true);
      expect((await item(no))?.state?.S).toBe('NOTPAY');
    }
    expect(h.logs.filter((l) => l.kind === 'MERCHANT_MISMATCH').length).toBeGreaterThanOrEqual(2);
  });

  it('rejects an amount that differs from the registered order, as an anomaly', async () => {
    const no = await register(1000);
    const r = await deliver(toEvent(v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 999 })));
    expect(v2Fail(r)).toBe(true);
    expect(r.body).toContain('amount does not match');
    expect((await item(no))?.state?.S).toBe('NOTPAY');
    expect(h.logs.some((l) => l.kind === 'AMOUNT_MISMATCH' && l.outTradeNo === no && l.Anomaly === 1)).toBe(true);
  });

  it('rejects a second, different transaction for a paid order', async () => {
    const no = await register(300);
    expect(
      v2Ok(
        await deliver(
          toEvent(
            v2PaymentNotification(h.keys, {
              outTradeNo: no,
              totalFee: 300,
              transactionId: '4200000001000000000000000001',
            }),
          ),
        ),
      ),
    ).toBe(true);
    const r = await deliver(
      toEvent(
        v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 300, transactionId: '4200000001000000000000000002' }),
      ),
    );
    expect(v2Fail(r)).toBe(true);
    expect((await item(no))?.transactionId?.S).toBe('4200000001000000000000000001');
  });

  it('records a payment for an unregistered order as amountUnverified (default policy)', async () => {
    const no = orderNo('U');
    expect(v2Ok(await deliver(toEvent(v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 777 }))))).toBe(true);
    const it = await item(no);
    expect(it?.state?.S).toBe('PAID_UNVERIFIED');
    expect(it?.amountUnverified?.BOOL).toBe(true);
    expect(it?.amountFen?.N).toBe('777');
    expect(h.logs.some((l) => l.kind === 'UNREGISTERED_ORDER' && l.outTradeNo === no)).toBe(true);
  });

  it('rejects an unregistered order when the policy says reject', async () => {
    const no = orderNo('R');
    const r = await deliver(
      toEvent(v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 777 })),
      h.deps({ policy: 'reject' }),
    );
    expect(v2Fail(r)).toBe(true);
    expect(await item(no)).toBeUndefined();
  });

  it('acknowledges a failed-payment result without recording anything', async () => {
    const no = await register(100);
    expect(
      v2Ok(
        await deliver(toEvent(v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 100, resultCode: 'FAIL' }))),
      ),
    ).toBe(true);
    expect((await item(no))?.state?.S).toBe('NOTPAY');
  });

  it('records a payment that arrives after a local close as PAID, flagged', async () => {
    const no = await register(100);
    await h.client.send(
      new UpdateItemCommand({
        TableName: h.tableName,
        Key: { pk: { S: orderKey(h.keys.mchid, no) } },
        UpdateExpression: 'SET #s = :c REMOVE pending',
        ExpressionAttributeNames: { '#s': 'state' },
        ExpressionAttributeValues: { ':c': { S: 'CLOSED' } },
      }),
    );
    expect(v2Ok(await deliver(toEvent(v2PaymentNotification(h.keys, { outTradeNo: no, totalFee: 100 }))))).toBe(true);
    const it = await item(no);
    expect(it?.state?.S).toBe('PAID');
    expect(it?.previousState?.S).toBe('CLOSED');
    expect(h.logs.some((l) => l.kind === 'PAID_AFTER_CLOSE' && l.outTradeNo === no)).toBe(true);
  });

  it('applies a service-provider notification to the sub-merchant order', async () => {
    const sub = '1900000200';
    const no = await register(250, sub);
    const wire = v2PaymentNotification(h.keys, {
      outTradeNo: no,
      totalFee: 250,
      extra: { sub_mch_id: sub, sub_appid: 'wx1111111111111111' },
    });
    expect(v2Ok(await deliver(toEvent(wire)))).toBe(true);
    expect((await item(no, sub))?.state?.S).toBe('PAID');
  });

  it('verifies the official sign_type MD5 case where sign_type is absent', async () => {
    const no = await register(10);
    const wire = v2PaymentNotification(h.keys, {
      outTradeNo: no,
      totalFee: 10,
      signType: 'MD5',
      includeSignType: false,
    });
    expect(v2Ok(await deliver(toEvent(wire)))).toBe(true);
  });

  it('signs only what was received: an unknown new field is covered by the signature', async () => {
    const no = await register(10);
    const fields = {
      return_code: 'SUCCESS',
      appid: h.keys.appid,
      mch_id: h.keys.mchid,
      nonce_str: 'n1',
      result_code: 'SUCCESS',
      out_trade_no: no,
      transaction_id: '42000000010000',
      total_fee: '10',
      time_end: beijingCompact(),
      brand_new_field: 'v',
    };
    const sign = v2Sign(fields, h.keys.apiV2Key, 'MD5');
    expect(v2Ok(await deliver(toEvent({ headers: {}, body: v2Xml({ ...fields, sign }) })))).toBe(true);
    const forged = v2Xml({ ...fields, brand_new_field: 'w', sign });
    expect(v2Fail(await deliver(toEvent({ headers: {}, body: forged })))).toBe(true);
  });
});

describe('APIv3 payment notifications', () => {
  it('applies once and answers 204, for a platform certificate and for the WeChat Pay public key', async () => {
    for (const signer of ['platform', 'publicKey'] as const) {
      const no = await register(8888);
      const wire = v3Pay(no, 8888, { signer });
      const r = await deliver(toEvent(wire));
      expect(r.statusCode).toBe(204);
      expect(r.body).toBe('');
      expect((await item(no))?.state?.S).toBe('PAID');
      expect((await item(no))?.paidVia?.S).toBe('v3');
      expect((await deliver(toEvent(wire))).statusCode).toBe(204);
    }
  });

  it('reads a base64-encoded body as its exact bytes', async () => {
    const no = await register(1);
    expect((await deliver(toEvent(v3Pay(no, 1), { base64: true }))).statusCode).toBe(204);
  });

  it.each([
    [
      'a signature probe',
      (w: WireRequest) => ({ ...w.headers, 'Wechatpay-Signature': `WECHATPAY/SIGNTEST/${'A'.repeat(40)}` }),
      401,
    ],
    ['a non-base64 signature', (w: WireRequest) => ({ ...w.headers, 'Wechatpay-Signature': '!!!not base64!!!' }), 401],
    [
      'an unknown serial',
      (w: WireRequest) => ({ ...w.headers, 'Wechatpay-Serial': '1234567890ABCDEF1234567890ABCDEF12345678' }),
      401,
    ],
    ['a missing serial', (w: WireRequest) => withoutHeader(w.headers, 'Wechatpay-Serial'), 401],
    ['a missing timestamp', (w: WireRequest) => withoutHeader(w.headers, 'Wechatpay-Timestamp'), 401],
    [
      'a missing signature',
      (w: WireRequest) => withoutHeader(withoutHeader(w.headers, 'Wechatpay-Signature'), 'Wechatpay-Serial'),
      401,
    ],
  ])('rejects %s', async (_name, headers, status) => {
    const no = await register(100);
    const wire = v3Pay(no, 100);
    const r = await deliver(toEvent({ headers: headers(wire), body: wire.body }));
    expect(r.statusCode).toBe(status);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'FAIL' });
    expect((await item(no))?.state?.S).toBe('NOTPAY');
  });

  it('rejects stale and future timestamps (±300 s window)', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const ts of [now - 301, now + 301, now - 300]) {
      const no = await register(100);
      const r = await deliver(toEvent(v3Pay(no, 100, { timestamp: ts })));
      expect(r.statusCode).toBe(401);
      expect((await item(no))?.state?.S).toBe('NOTPAY');
    }
    const no = await register(100);
    expect((await deliver(toEvent(v3Pay(no, 100, { timestamp: now - 200 })))).statusCode).toBe(204);
  });

  it('rejects a body that was re-serialised after signing', async () => {
    const no = await register(100);
    const wire = v3Pay(no, 100);
    const r = await deliver(toEvent({ headers: wire.headers, body: JSON.stringify(JSON.parse(wire.body), null, 2) }));
    expect(r.statusCode).toBe(401);
  });

  it('rejects a resource that does not decrypt under our APIv3 key', async () => {
    const no = await register(100);
    const other = { ...h.keys, apiV3Key: 'Z'.repeat(32) };
    const wire = v3Notification(other, {
      eventType: 'TRANSACTION.SUCCESS',
      originalType: 'transaction',
      resource: v3TransactionResource(h.keys, { outTradeNo: no, total: 100 }),
    });
    expect((await deliver(toEvent(wire))).statusCode).toBe(401);
    expect((await item(no))?.state?.S).toBe('NOTPAY');
  });

  it('answers 400 with an anomaly for an amount mismatch and for another mchid', async () => {
    const no = await register(100);
    const r = await deliver(toEvent(v3Pay(no, 101)));
    expect(r.statusCode).toBe(400);
    expect(JSON.parse(r.body)).toEqual({ code: 'FAIL', message: 'amount does not match the order' });
    const no2 = await register(100);
    const resource = { ...v3TransactionResource(h.keys, { outTradeNo: no2, total: 100 }), mchid: '1888888888' };
    const r2 = await deliver(
      toEvent(v3Notification(h.keys, { eventType: 'TRANSACTION.SUCCESS', originalType: 'transaction', resource })),
    );
    expect(r2.statusCode).toBe(400);
    expect((await item(no2))?.state?.S).toBe('NOTPAY');
  });

  it('answers 400 for malformed JSON and hostile keys, even when signed', async () => {
    for (const body of [
      '{"id":',
      '{"__proto__":{"x":1},"id":"a"}',
      '[]',
      '{"id":"x","event_type":"TRANSACTION.SUCCESS"}',
    ]) {
      const wire = v3Notification(h.keys, {
        eventType: 'TRANSACTION.SUCCESS',
        originalType: 'transaction',
        resource: {},
      });
      // re-sign the hostile body with the real platform key so only the content is wrong
      const { signV3Message } = await import('../../scripts/simulator/messages');
      const ts = wire.headers['Wechatpay-Timestamp'] as string;
      const nonce = wire.headers['Wechatpay-Nonce'] as string;
      const headers = {
        ...wire.headers,
        'Wechatpay-Signature': signV3Message(h.keys.platform.privateKey, ts, nonce, body),
      };
      const r = await deliver(toEvent({ headers, body }));
      expect(r.statusCode).toBe(400);
    }
  });

  it('applies a partner (service-provider) notification to the sub-merchant order', async () => {
    const sub = '1900000300';
    const no = await register(420, sub);
    const resource = v3TransactionResource(h.keys, {
      outTradeNo: no,
      total: 420,
      partner: { spMchid: h.keys.mchid, spAppid: h.keys.appid, subMchid: sub },
    });
    const r = await deliver(
      toEvent(v3Notification(h.keys, { eventType: 'TRANSACTION.SUCCESS', originalType: 'transaction', resource })),
    );
    expect(r.statusCode).toBe(204);
    expect((await item(no, sub))?.state?.S).toBe('PAID');
  });

  it('acknowledges an authentic event type it does not act on', async () => {
    const wire = v3Notification(h.keys, {
      eventType: 'SOMETHING.NEW',
      originalType: 'transaction',
      resource: { a: 1 },
    });
    expect((await deliver(toEvent(wire))).statusCode).toBe(204);
  });
});

describe('one delivery, one line of log', () => {
  it('logs order id, protocol, outcome and latency, and no secrets or payloads', async () => {
    const no = await register(100);
    h.logs.length = 0;
    await deliver(toEvent(v3Pay(no, 100)));
    const line = h.logs.find((l) => l.message === 'delivery');
    expect(line).toMatchObject({ outTradeNo: no, protocol: 'v3', outcome: 'APPLIED', route: '/notify/payment' });
    expect(typeof line?.latencyMs).toBe('number');
    const text = JSON.stringify(h.logs);
    for (const secret of [h.keys.apiV3Key, h.keys.apiV2Key, 'ciphertext', 'openid']) expect(text).not.toContain(secret);
  });
});

function withoutHeader(headers: Record<string, string>, name: string): Record<string, string> {
  const copy = { ...headers };
  delete copy[name];
  return copy;
}
