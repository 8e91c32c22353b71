/**
 * The deadline middleware: options checked; when the core is still running at middy's early timeout
 * the invocation answers with the protocol's own failure, not middy's TimeoutError (which API Gateway
 * turns into a generic 500). The time left is a fake context's short remaining time, never a clock.
 */
import middy from '@middy/core';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { unavailable } from '../../../lib/errors';
import { deadlineReply, isEarlyTimeout, type DeadlineReplyOptions } from '../../../lib/middleware/deadline';
import { errorReply } from '../../../lib/middleware/errorReply';
import { failureReply, type HttpReply } from '../../../lib/replies';
import { fakeContext, hang, recordingLogger } from './support';

const EARLY_MS = 100;
/** 20 ms left after the early margin: the timer fires almost at once, whatever the machine's speed. */
const SHORT = fakeContext(EARLY_MS + 20);
const v2Timeout = () => failureReply('v2', unavailable('out of time'));

/** The error middy raises at its early timeout, produced by middy itself. */
async function middyTimeoutError(): Promise<unknown> {
  return middy(hang, { timeoutEarlyInMillis: EARLY_MS })({}, SHORT).catch((e: unknown) => e);
}

describe('options', () => {
  it.each([
    ['no options', undefined, /options\.reply must be a function/],
    ['no reply', {}, /options\.reply must be a function/],
    ['a reply that is a value', { reply: 'FAIL' }, /options\.reply must be a function/],
    ['fields that are an array', { reply: () => 1, fields: [] }, /options\.fields must be an object/],
    ['fields that are a number', { reply: () => 1, fields: 3 }, /options\.fields must be an object/],
  ])('refuses %s with a TypeError at composition time', (_name, options, message) => {
    expect(() => deadlineReply(options as unknown as DeadlineReplyOptions<unknown, unknown>)).toThrow(message);
  });
});

describe('isEarlyTimeout', () => {
  it("recognises middy's own early-timeout error", async () => {
    const err = await middyTimeoutError();
    expect(err).toBeInstanceOf(Error);
    expect(isEarlyTimeout(err)).toBe(true);
  });

  it('does not take a fetch timeout (a DOMException named TimeoutError) or a look-alike for the deadline', async () => {
    const fetchTimeout = await new Promise<unknown>((resolve) => {
      const s = AbortSignal.timeout(1);
      s.addEventListener('abort', () => resolve(s.reason));
    });
    expect((fetchTimeout as Error).name).toBe('TimeoutError');
    expect(isEarlyTimeout(fetchTimeout)).toBe(false);
    const named = Object.assign(new Error('x'), { name: 'TimeoutError' });
    expect(isEarlyTimeout(named)).toBe(false);
    expect(isEarlyTimeout(new Error('x', { cause: { package: '@middy/core' } }))).toBe(false);
    expect(isEarlyTimeout(Object.assign(new Error('x', { cause: '@middy/core' }), { name: 'TimeoutError' }))).toBe(
      false,
    );
    expect(isEarlyTimeout({ name: 'TimeoutError', cause: { package: '@middy/core' } })).toBe(false);
  });

  it('property: nothing but an Error named TimeoutError with a middy cause qualifies', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        expect(isEarlyTimeout(value)).toBe(false);
      }),
    );
  });
});

describe('a core that hangs past the early timeout', () => {
  it('answers the protocol failure reply, and logs the deadline once', async () => {
    const { logger, lines } = recordingLogger();
    const handler = middy<unknown, HttpReply>(hang, { timeoutEarlyInMillis: EARLY_MS }).use(
      deadlineReply<unknown, HttpReply>({ reply: v2Timeout, logger, fields: { route: '/notify/refund' } }),
    );
    const r = await handler({}, SHORT);
    expect(r).toEqual(v2Timeout());
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('<return_code><![CDATA[FAIL]]></return_code>');
    expect(lines).toEqual([expect.objectContaining({ level: 'error', message: 'deadline', route: '/notify/refund' })]);
  });

  it('gives the reply the request, so it can answer in the format the event asks for', async () => {
    const handler = middy<{ v3: boolean }, HttpReply>(hang, { timeoutEarlyInMillis: EARLY_MS }).use(
      deadlineReply<{ v3: boolean }, HttpReply>({
        reply: (request) => failureReply(request.event.v3 ? 'v3' : 'v2', unavailable('out of time')),
        logger: recordingLogger().logger,
      }),
    );
    const r = await handler({ v3: true }, SHORT);
    expect(r.statusCode).toBe(500);
    expect(JSON.parse(r.body)).toEqual({ code: 'FAIL', message: 'temporarily unavailable, retry later' });
  });

  it('runs before errorReply (used after it), so a timeout is answered as a timeout', async () => {
    const { logger, lines } = recordingLogger();
    const handler = middy(hang, { timeoutEarlyInMillis: EARLY_MS })
      .use(errorReply<unknown, string>({ reply: () => 'INTERNAL_ERROR', logger }))
      .use(deadlineReply<unknown, string>({ reply: () => 'TIMEOUT', logger }));
    expect(await handler({}, SHORT)).toBe('TIMEOUT');
    expect(lines.map((l) => l.message)).toEqual(['deadline']);
  });
});

describe('what it leaves alone', () => {
  it('a core that answers in time', async () => {
    let replied = false;
    const handler = middy(async () => 'done', { timeoutEarlyInMillis: EARLY_MS }).use(
      deadlineReply<unknown, string>({ reply: () => ((replied = true), 'TIMEOUT'), logger: recordingLogger().logger }),
    );
    expect(await handler({}, SHORT)).toBe('done');
    expect(replied).toBe(false);
  });

  it('an error that is not the deadline: it is rethrown for the next middleware (or Lambda)', async () => {
    const boom = new RangeError('boom');
    const handler = middy(
      async () => {
        throw boom;
      },
      { timeoutEarlyInMillis: EARLY_MS },
    ).use(deadlineReply<unknown, string>({ reply: () => 'TIMEOUT', logger: recordingLogger().logger }));
    await expect(handler({}, SHORT)).rejects.toBe(boom);
  });

  it('an invocation without getRemainingTimeInMillis (tests, scripts): no early timeout at all', async () => {
    const handler = middy(async () => 'done', { timeoutEarlyInMillis: EARLY_MS }).use(
      deadlineReply<unknown, string>({ reply: () => 'TIMEOUT', logger: recordingLogger().logger }),
    );
    expect(await handler({}, {} as ReturnType<typeof fakeContext>)).toBe('done');
  });
});

it('without a logger or fields, writes its line to stdout as the service logger', async () => {
  const lines: string[] = [];
  const spy = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation((c: string | Uint8Array) => (lines.push(String(c)), true));
  try {
    const handler = middy<unknown, string>(hang, { timeoutEarlyInMillis: EARLY_MS }).use(
      deadlineReply<unknown, string>({ reply: () => 'TIMEOUT' }),
    );
    expect(await handler({}, SHORT)).toBe('TIMEOUT');
  } finally {
    spy.mockRestore();
  }
  expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ service: 'wechatpay-lambda', message: 'deadline' });
});
