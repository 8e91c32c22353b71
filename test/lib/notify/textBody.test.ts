/**
 * A body handed over as text (API Gateway's decoding of a text body, lib/lambda/http.ts rawBody) reads
 * exactly as its UTF-8 bytes do: the same notice, or the same refusal with the same reason, for
 * APIv3, APIv2 and the aggregator, signed as sent or edited after signing (a byte-order mark, a lone
 * surrogate, a character changed), re-signed where the protocol signs the whole body.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config';
import { PayError } from '../../../lib/errors';
import { readAggregatorNotification, readNotice, type Protocol } from '../../../lib/notify/read';
import { headerGetter } from '../../../lib/wechatpay/v3/verify';
import { aggregatorNotification, aggregatorResult } from '../../../scripts/simulator/aggregator';
import { generateTestKeys, toEnv } from '../../../scripts/simulator/keys';
import {
  signV3Message,
  v2PaymentNotification,
  v3Notification,
  v3TransactionResource,
} from '../../../scripts/simulator/messages';

const keys = generateTestKeys();
const SECRET = 'test-only-aggregator-secret';
const config = loadConfig({ ...toEnv(keys), PAYMENTS_TABLE: 't', AGGREGATOR_SECRET: SECRET });
const NOW = Date.now();

/** The reading of a body, or the kind and reason it was refused with. */
function outcome(read: () => unknown): unknown {
  try {
    return { read: read() };
  } catch (err) {
    if (!(err instanceof PayError)) throw err;
    return { refused: err.kind, reason: err.reason };
  }
}

function readBoth(protocol: Protocol, headers: Record<string, string>, text: string): [unknown, unknown] {
  const read = (body: string | Buffer) => () => readNotice(protocol, headerGetter(headers), body, config, NOW);
  return [outcome(read(text)), outcome(read(Buffer.from(text, 'utf8')))];
}

/** An edit made to a body after it was signed. */
const edit = fc.oneof(
  fc.constant((t: string) => t),
  fc.constant((t: string) => `\ufeff${t}`),
  fc
    .tuple(fc.nat(), fc.constantFrom('\ud800', '\udfff', '\ufffd', '支', '\u{1f600}', 'x', '"'))
    .map(([at, s]) => (t: string) => {
      const i = at % (t.length + 1);
      return t.slice(0, i) + s + t.slice(i);
    }),
);

describe('a text body reads as its UTF-8 bytes', () => {
  it('APIv3: the same notice or the same refusal, the edited body re-signed as sent', () => {
    fc.assert(
      fc.property(edit, fc.boolean(), (change, resign) => {
        const wire = v3Notification(keys, {
          eventType: 'TRANSACTION.SUCCESS',
          originalType: 'transaction',
          resource: v3TransactionResource(keys, { outTradeNo: 'TEXT0001', total: 100, attach: '支付 ✓' }),
        });
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(wire.headers)) headers[k.toLowerCase()] = v;
        const body = change(wire.body);
        if (resign) {
          const ts = headers['wechatpay-timestamp'] as string;
          const nonce = headers['wechatpay-nonce'] as string;
          headers['wechatpay-signature'] = signV3Message(keys.platform.privateKey, ts, nonce, body);
        }
        const [asText, asBytes] = readBoth('v3', headers, body);
        expect(asText).toEqual(asBytes);
      }),
      { numRuns: 150 },
    );
  });

  it('APIv3: an unedited body is read, a body edited and re-signed is read or refused as its bytes are', () => {
    const wire = v3Notification(keys, {
      eventType: 'TRANSACTION.SUCCESS',
      originalType: 'transaction',
      resource: v3TransactionResource(keys, { outTradeNo: 'TEXT0002', total: 100 }),
    });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(wire.headers)) headers[k.toLowerCase()] = v;
    const [asText] = readBoth('v3', headers, wire.body);
    expect(asText).toMatchObject({ read: { notice: { kind: 'PAYMENT', report: { outTradeNo: 'TEXT0002' } } } });
    const withMark = `\ufeff${wire.body}`;
    headers['wechatpay-signature'] = signV3Message(
      keys.platform.privateKey,
      headers['wechatpay-timestamp'] as string,
      headers['wechatpay-nonce'] as string,
      withMark,
    );
    const [markText, markBytes] = readBoth('v3', headers, withMark);
    expect(markText).toEqual(markBytes);
    expect(markText).toMatchObject({ read: { notice: { kind: 'PAYMENT' } } });
  });

  it('APIv2: the same notice or the same refusal', () => {
    fc.assert(
      fc.property(edit, (change) => {
        const wire = v2PaymentNotification(keys, { outTradeNo: 'TEXT0003', totalFee: 100, extra: { attach: '支付' } });
        const [asText, asBytes] = readBoth('v2', {}, change(wire.body));
        expect(asText).toEqual(asBytes);
      }),
      { numRuns: 150 },
    );
  });

  it('the aggregator: the same notice or the same refusal, form and JSON bodies', () => {
    fc.assert(
      fc.property(edit, fc.constantFrom('form' as const, 'json' as const), (change, format) => {
        const result = aggregatorResult({
          orderid: 'TEXT0004',
          transactionid: '123',
          amount: '1.00',
          real_amount: '1.00',
        });
        const body = change(aggregatorNotification({ result, secret: SECRET, format }).body);
        const read = (b: string | Buffer) => () => readAggregatorNotification(b, config, NOW);
        expect(outcome(read(body))).toEqual(outcome(read(Buffer.from(body, 'utf8'))));
      }),
      { numRuns: 150 },
    );
  });
});
