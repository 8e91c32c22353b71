/**
 * The dependencies middleware: options checked, the build awaited (sync or async) once per container
 * and put on `context.deps`, shared by invocations racing a cold container, and a failed build not
 * cached, so the next invocation builds again.
 */
import middy from '@middy/core';
import { describe, expect, it } from 'vitest';
import { configError, PayError } from '../../../lib/errors';
import { dependencies, type DependenciesOptions, type WithDeps } from '../../../lib/middleware/dependencies';
import { fakeContext } from './support';

interface Deps {
  id: number;
}

/** A handler whose core answers with the dependencies it was handed. */
function chain(build: DependenciesOptions<Deps, { n?: number }>['build']) {
  return middy(async (_event: { n?: number }, context: WithDeps<Deps>) => context.deps).use(
    dependencies<Deps, { n?: number }>({ build }),
  );
}

const invoke = (h: ReturnType<typeof chain>, event: { n?: number } = {}) =>
  h(event, fakeContext(60_000) as WithDeps<Deps>);

describe('options', () => {
  it.each([
    ['no options', undefined],
    ['no build', {}],
    ['a build that is not a function', { build: 'notifyDeps' }],
    ['a null build', { build: null }],
  ])('refuses %s with a TypeError at composition time', (_name, options) => {
    expect(() => dependencies(options as unknown as DependenciesOptions<Deps, unknown>)).toThrow(
      /options\.build must be a function/,
    );
  });
});

describe('building', () => {
  it('builds once per container and hands every invocation the same object', async () => {
    let builds = 0;
    const h = chain(() => ({ id: ++builds }));
    const first = await invoke(h);
    expect(first).toEqual({ id: 1 });
    expect(await invoke(h)).toBe(first);
    expect(await invoke(h)).toBe(first);
    expect(builds).toBe(1);
  });

  it('awaits an async build (secrets read at run time) before the core runs', async () => {
    let builds = 0;
    const h = chain(async () => {
      await new Promise((r) => setImmediate(r));
      return { id: ++builds };
    });
    expect(await invoke(h)).toEqual({ id: 1 });
    expect(await invoke(h)).toEqual({ id: 1 });
    expect(builds).toBe(1);
  });

  it('gives the build the first request, so it may read the event or context', async () => {
    const h = chain((request) => ({ id: request.event.n ?? -1 }));
    expect(await invoke(h, { n: 7 })).toEqual({ id: 7 });
    expect(await invoke(h, { n: 8 })).toEqual({ id: 7 });
  });

  it('shares one build among invocations racing on a cold container', async () => {
    let builds = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const h = chain(async () => {
      await gate;
      return { id: ++builds };
    });
    const racing = [invoke(h), invoke(h), invoke(h)];
    release();
    const got = await Promise.all(racing);
    expect(builds).toBe(1);
    expect(got[1]).toBe(got[0]);
    expect(got[2]).toBe(got[0]);
  });

  it('each composed middleware has its own container cache', async () => {
    let builds = 0;
    const build = () => ({ id: ++builds });
    expect(await invoke(chain(build))).toEqual({ id: 1 });
    expect(await invoke(chain(build))).toEqual({ id: 2 });
  });
});

describe('a failed build', () => {
  it('fails the invocation with the build error and is not cached: the next invocation builds again', async () => {
    let calls = 0;
    const h = chain(() => {
      calls += 1;
      if (calls === 1) throw configError('WECHATPAY_MCHID is not set');
      return { id: calls };
    });
    const err = await invoke(h).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayError);
    expect((err as PayError).kind).toBe('CONFIG');
    expect(await invoke(h)).toEqual({ id: 2 });
    expect(await invoke(h)).toEqual({ id: 2 });
    expect(calls).toBe(2);
  });

  it('an async rejection is not cached either, even when invocations raced on it', async () => {
    let calls = 0;
    const h = chain(async () => {
      calls += 1;
      if (calls === 1) throw new Error('SSM throttled');
      return { id: calls };
    });
    const raced = await Promise.allSettled([invoke(h), invoke(h)]);
    expect(raced.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    expect(await invoke(h)).toEqual({ id: 2 });
  });

  it('never runs the core', async () => {
    let ran = false;
    const h = middy(async (_e: unknown, _c: WithDeps<Deps>) => {
      ran = true;
      return 'ran';
    }).use(
      dependencies<Deps>({
        build: () => {
          throw configError('x');
        },
      }),
    );
    await expect(h({}, fakeContext(60_000) as WithDeps<Deps>)).rejects.toBeInstanceOf(PayError);
    expect(ran).toBe(false);
  });
});
