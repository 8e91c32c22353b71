/**
 * The error reply middleware: options checked; a configuration error from the dependencies becomes
 * the protocol's own failure (lib/replies.ts for the HTTP formats), logged once by name; anything
 * else thrown is answered as transient without its text; an answer already given is left alone.
 */
import middy from '@middy/core';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { configError, type PayError, unavailable } from '../../../lib/errors';
import { entryPoint } from '../../../lib/lambda/entry';
import { dependencies } from '../../../lib/middleware/dependencies';
import { errorReply, type ErrorReplyOptions } from '../../../lib/middleware/errorReply';
import { failureReply, type HttpReply, type ReplyFormat } from '../../../lib/replies';
import { fakeContext, recordingLogger } from './support';

const failing = (thrown: unknown) => async (): Promise<HttpReply> => {
  throw thrown;
};

/** A handler whose core throws `thrown`, answered in `format` by lib/replies.ts. */
function chain(thrown: unknown, format: ReplyFormat = 'v3') {
  const { logger, lines } = recordingLogger();
  const seen: PayError[] = [];
  const handler = middy(failing(thrown)).use(
    errorReply<unknown, HttpReply>({
      reply: (e) => (seen.push(e), failureReply(format, e)),
      logger,
      fields: { route: '/notify/payment' },
    }),
  );
  return { invoke: () => handler({}, fakeContext(60_000)), lines, seen };
}

describe('options', () => {
  it.each([
    ['no options', undefined, /options\.reply must be a function/],
    ['no reply', {}, /options\.reply must be a function/],
    ['a reply that is not a function', { reply: { statusCode: 500 } }, /options\.reply must be a function/],
    ['fields that are an array', { reply: () => 1, fields: ['route'] }, /options\.fields must be an object/],
    ['fields that are null', { reply: () => 1, fields: null }, /options\.fields must be an object/],
    ['fields that are text', { reply: () => 1, fields: 'route' }, /options\.fields must be an object/],
  ])('refuses %s with a TypeError at composition time', (_name, options, message) => {
    expect(() => errorReply(options as unknown as ErrorReplyOptions<unknown, unknown>)).toThrow(message);
  });
});

describe('a configuration error', () => {
  const broken = configError('WECHATPAY_APIV3_KEY must be exactly 32 bytes');

  it.each([
    ['v2', 200, /<return_code><!\[CDATA\[FAIL\]\]><\/return_code>/],
    ['v3', 500, /^\{"code":"FAIL","message":"service not configured"\}$/],
    ['aggregator', 500, /^fail$/],
  ] as const)(
    'is the %s failure reply (the sender retries), without the variable name',
    async (format, status, body) => {
      const c = chain(broken, format);
      const r = await c.invoke();
      expect(r).toEqual(failureReply(format, broken));
      expect(r.statusCode).toBe(status);
      expect(r.body).toMatch(body);
      expect(r.body).not.toContain('WECHATPAY_APIV3_KEY');
    },
  );

  it('is logged once for the operator, by name, with the fields', async () => {
    const c = chain(broken);
    await c.invoke();
    expect(c.lines).toHaveLength(1);
    expect(c.lines[0]).toMatchObject({
      level: 'error',
      message: 'configuration',
      route: '/notify/payment',
      reason: 'WECHATPAY_APIV3_KEY must be exactly 32 bytes',
    });
  });

  it('thrown by the dependencies middleware, reaches the reply; the next invocation builds again', async () => {
    let calls = 0;
    const { logger } = recordingLogger();
    const handler = middy(async () => ({ statusCode: 204, headers: {}, body: '' }) as HttpReply)
      .use(
        dependencies({
          build: () => {
            calls += 1;
            if (calls === 1) throw broken;
            return {};
          },
        }),
      )
      .use(errorReply<unknown, HttpReply>({ reply: (e) => failureReply('v2', e), logger }));
    const invoke = entryPoint(handler);
    expect((await invoke({}, fakeContext(60_000))).body).toContain('FAIL');
    expect((await invoke({})).statusCode).toBe(204);
  });
});

describe('any other error', () => {
  it('is answered as transient, logged by class name only (its text may hold anything)', async () => {
    const c = chain(new TypeError('cannot read properties of undefined (reading "secret-key-bytes")'));
    const r = await c.invoke();
    expect(r).toEqual({
      statusCode: 500,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ code: 'FAIL', message: 'temporarily unavailable, retry later' }),
    });
    expect(c.seen[0]?.kind).toBe('UNAVAILABLE');
    expect(c.lines[0]).toMatchObject({
      level: 'error',
      message: 'unhandled error',
      kind: 'UNAVAILABLE',
      cause: 'TypeError',
    });
    expect(JSON.stringify(c.lines)).not.toContain('secret-key-bytes');
  });

  it('a PayError keeps its kind', async () => {
    const c = chain(unavailable('store unreachable'));
    await c.invoke();
    expect(c.seen[0]?.kind).toBe('UNAVAILABLE');
    expect(c.lines[0]).toMatchObject({ reason: 'store unreachable', cause: 'PayError' });
  });

  it('property: whatever is thrown, the invocation answers, and no thrown text reaches the reply', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything(),
          fc.string({ minLength: 8 }).map((m) => new Error(`internal ${m}`)),
          fc.string({ minLength: 8 }).map((m) => new RangeError(`internal ${m}`)),
        ),
        fc.constantFrom<ReplyFormat>('v2', 'v3', 'aggregator'),
        async (thrown, format) => {
          const c = chain(thrown, format);
          const r = await c.invoke();
          expect(r).toEqual(failureReply(format, c.seen[0] as PayError));
          expect(c.seen).toHaveLength(1);
          if (thrown instanceof Error) expect(r.body).not.toContain(thrown.message);
          expect(c.lines).toHaveLength(1);
        },
      ),
    );
  });
});

it('leaves an answer another middleware already gave (the deadline reply runs first)', async () => {
  const { logger, lines } = recordingLogger();
  const answered: HttpReply = { statusCode: 200, headers: {}, body: 'answered' };
  const handler = middy(failing(new Error('x')))
    .use(errorReply<unknown, HttpReply>({ reply: (e) => failureReply('v3', e), logger }))
    .use({
      onError: (request) => {
        request.response = answered;
      },
    });
  expect(await handler({}, fakeContext(60_000))).toBe(answered);
  expect(lines).toHaveLength(0);
});

it('without a logger, writes its line to stdout as the service logger', async () => {
  const lines: string[] = [];
  const spy = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation((c: string | Uint8Array) => (lines.push(String(c)), true));
  try {
    const handler = middy(failing(configError('WECHATPAY_MCHID is not set'))).use(
      errorReply<unknown, HttpReply>({ reply: (e) => failureReply('v2', e) }),
    );
    expect((await handler({}, fakeContext(60_000))).body).toContain('FAIL');
  } finally {
    spy.mockRestore();
  }
  expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ service: 'wechatpay-lambda', message: 'configuration' });
});
