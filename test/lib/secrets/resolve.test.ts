/** resolveSecrets over the local sources: the same `<NAME>_PARAM` variables a deployed function has. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config';
import { PayError } from '../../../lib/errors';
import {
  keysFileSource,
  PARAMETER_VARIABLES,
  resolveSecrets,
  SECRET_VARIABLES,
  secretSourceFor,
  valuesSource,
  type SecretSource,
} from '../../../lib/secrets';

const V2 = 'a'.repeat(32);
const PREFIX = '/wechatpay-lambda/prod';

async function rejection(p: Promise<unknown>): Promise<PayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PayError);
  return err as PayError;
}

/** A source that records what it was asked, over fixed values. */
function recording(values: Record<string, string>): { source: SecretSource; asked: string[] } {
  const inner = valuesSource(values);
  const asked: string[] = [];
  return {
    asked,
    source: {
      get(path) {
        asked.push(path);
        return inner.get(path);
      },
    },
  };
}

describe('resolveSecrets with values a source holds already (peek)', () => {
  it('takes them without get(); one not held sends every read through get()', async () => {
    const values = { [`${PREFIX}/WECHATPAY_MCHID`]: '1900000109', [`${PREFIX}/WECHATPAY_APIV2_KEY`]: V2 };
    const inner = valuesSource(values);
    const asked: string[] = [];
    const held = new Set([`${PREFIX}/WECHATPAY_MCHID`, `${PREFIX}/WECHATPAY_APIV2_KEY`]);
    const source: SecretSource = {
      get: (path) => (asked.push(path), inner.get(path)),
      peek: (path) => (held.has(path) ? inner.peek?.(path) : undefined),
    };
    const env = {
      WECHATPAY_MCHID_PARAM: `${PREFIX}/WECHATPAY_MCHID`,
      WECHATPAY_APIV2_KEY_PARAM: `${PREFIX}/WECHATPAY_APIV2_KEY`,
    };
    expect(await resolveSecrets(env, source)).toMatchObject({ WECHATPAY_MCHID: '1900000109', WECHATPAY_APIV2_KEY: V2 });
    expect(asked).toEqual([]);
    held.delete(`${PREFIX}/WECHATPAY_APIV2_KEY`);
    expect(await resolveSecrets(env, source)).toMatchObject({ WECHATPAY_MCHID: '1900000109', WECHATPAY_APIV2_KEY: V2 });
    expect(asked.sort()).toEqual([`${PREFIX}/WECHATPAY_APIV2_KEY`, `${PREFIX}/WECHATPAY_MCHID`]);
  });

  it('valuesSource.peek: the value, or undefined for a missing or empty one (which get() refuses)', async () => {
    const source = valuesSource({ '/a/b': 'x', '/a/empty': '' });
    expect(source.peek?.('/a/b')).toBe('x');
    expect(source.peek?.('/a/empty')).toBeUndefined();
    expect(source.peek?.('/a/none')).toBeUndefined();
    expect(source.peek?.('__proto__')).toBeUndefined();
    await expect(source.get('/a/empty')).rejects.toThrow(PayError);
  });
});

describe('resolveSecrets', () => {
  it('fills each <NAME> from its path, so loadConfig works unchanged', async () => {
    const { source, asked } = recording({
      [`${PREFIX}/WECHATPAY_MCHID`]: '1900000109',
      [`${PREFIX}/WECHATPAY_APPID`]: 'wx0000000000000001',
      [`${PREFIX}/WECHATPAY_APIV2_KEY`]: V2,
    });
    const env = {
      PAYMENTS_TABLE: 't',
      WECHATPAY_MCHID_PARAM: `${PREFIX}/WECHATPAY_MCHID`,
      WECHATPAY_APPID_PARAM: `${PREFIX}/WECHATPAY_APPID`,
      WECHATPAY_APIV2_KEY_PARAM: `${PREFIX}/WECHATPAY_APIV2_KEY`,
      // an empty path means "this deployment does not use it"
      WECHATPAY_APIV3_KEY_PARAM: '',
    };
    const resolved = await resolveSecrets(env, source);
    expect(resolved.WECHATPAY_APIV2_KEY).toBe(V2);
    expect(resolved.WECHATPAY_APIV3_KEY).toBeUndefined();
    expect(asked.sort()).toEqual(
      [`${PREFIX}/WECHATPAY_APIV2_KEY`, `${PREFIX}/WECHATPAY_APPID`, `${PREFIX}/WECHATPAY_MCHID`].sort(),
    );
    const config = loadConfig(resolved);
    expect(config.apiV2Key).toBe(V2);
    expect(config.mchid).toBe('1900000109');
    // the input is not changed
    expect(env).not.toHaveProperty('WECHATPAY_APIV2_KEY');
  });

  it('returns the environment itself when it names no path (the local stack), without asking the source', async () => {
    const { source, asked } = recording({});
    const env = { WECHATPAY_APIV2_KEY: V2, FOO_PARAM: '/x/y' };
    expect(await resolveSecrets(env, source)).toBe(env);
    expect(asked).toEqual([]);
  });

  it('resolves every secret and parameter variable it lists, and nothing else', async () => {
    const names = [...SECRET_VARIABLES, ...PARAMETER_VARIABLES];
    const values = Object.fromEntries(names.map((n) => [`${PREFIX}/${n}`, `value-of-${n}`]));
    const env = Object.fromEntries(names.map((n) => [`${n}_PARAM`, `${PREFIX}/${n}`]));
    const resolved = await resolveSecrets({ ...env, RECONCILE_BUDGET_PARAM: `${PREFIX}/X` }, valuesSource(values));
    for (const n of names) expect(resolved[n]).toBe(`value-of-${n}`);
    expect(resolved.RECONCILE_BUDGET).toBeUndefined();
  });

  it('refuses a value and a path for the same variable: which one wins would be a guess', async () => {
    const err = await rejection(
      resolveSecrets(
        { WECHATPAY_APIV2_KEY: V2, WECHATPAY_APIV2_KEY_PARAM: `${PREFIX}/WECHATPAY_APIV2_KEY` },
        valuesSource({}),
      ),
    );
    expect(err.kind).toBe('CONFIG');
    expect(err.reason).toBe('set WECHATPAY_APIV2_KEY or WECHATPAY_APIV2_KEY_PARAM, not both');
    expect(err.reason).not.toContain(V2);
  });

  it.each([
    ['relative', 'wechatpay-lambda/prod/KEY'],
    ['a space', '/wechatpay-lambda/prod/KEY X'],
    ['a wildcard', '/wechatpay-lambda/*'],
    ['a trailing slash', '/wechatpay-lambda/prod/'],
    ['an ARN', 'arn:aws:ssm:ap-southeast-1:123456789012:parameter/x'],
    ['a secret pasted in place of its path', `${V2}`],
  ])('refuses a path that is %s, naming the variable', async (_label, path) => {
    const err = await rejection(resolveSecrets({ WECHATPAY_APIV3_KEY_PARAM: path }, valuesSource({})));
    expect(err.kind).toBe('CONFIG');
    expect(err.reason).toContain('WECHATPAY_APIV3_KEY_PARAM must be an SSM parameter path');
    expect(err.reason).not.toContain(path);
  });

  it('passes on the source CONFIG error for a missing parameter, naming its path', async () => {
    const err = await rejection(
      resolveSecrets({ AGGREGATOR_SECRET_PARAM: `${PREFIX}/AGGREGATOR_SECRET` }, valuesSource({})),
    );
    expect(err.kind).toBe('CONFIG');
    expect(err.reason).toBe(`secret parameter ${PREFIX}/AGGREGATOR_SECRET does not exist`);
  });
});

describe('keysFileSource', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secrets-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('reads values by path from a JSON object', async () => {
    const source = keysFileSource(file('ok.json', JSON.stringify({ [`${PREFIX}/WECHATPAY_APIV2_KEY`]: V2 })));
    // peek never reads the file: until get() has, it knows nothing
    expect(source.peek?.(`${PREFIX}/WECHATPAY_APIV2_KEY`)).toBeUndefined();
    expect(await source.get(`${PREFIX}/WECHATPAY_APIV2_KEY`)).toBe(V2);
    expect(source.peek?.(`${PREFIX}/WECHATPAY_APIV2_KEY`)).toBe(V2);
    expect(source.peek?.(`${PREFIX}/OTHER`)).toBeUndefined();
    await expect(source.get(`${PREFIX}/OTHER`)).rejects.toThrow(`secret parameter ${PREFIX}/OTHER does not exist`);
    // an inherited property is not a parameter
    await expect(source.get('__proto__')).rejects.toThrow(PayError);
  });

  it.each([
    ['not JSON', '{', 'is missing or not JSON'],
    ['an array', '["x"]', 'must hold one JSON object'],
    ['null', 'null', 'must hold one JSON object'],
  ])('refuses a file that is %s', async (_label, text, message) => {
    const err = await rejection(keysFileSource(file(`${_label}.json`, text)).get('/a/b'));
    expect(err.kind).toBe('CONFIG');
    expect(err.reason).toContain(message);
  });

  it('names the path, not the value, of an entry that is not a string', async () => {
    const err = await rejection(keysFileSource(file('num.json', JSON.stringify({ '/a/b': 12345678 }))).get('/a/b'));
    expect(err.reason).toContain('/a/b is not a string');
    expect(err.reason).not.toContain('12345678');
  });

  it('names a missing file', async () => {
    const err = await rejection(keysFileSource(join(dir, 'absent.json')).get('/a/b'));
    expect(err.reason).toContain('absent.json is missing or not JSON');
  });
});

describe('secretSourceFor', () => {
  it('reads the keys file named by WECHATPAY_SECRETS_FILE', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'secrets-')), 'k.json');
    writeFileSync(path, JSON.stringify({ '/a/b': 'v' }));
    expect(await secretSourceFor({ WECHATPAY_SECRETS_FILE: path }).get('/a/b')).toBe('v');
  });

  it('is the SSM source otherwise, which loads nothing until it is asked', () => {
    const source = secretSourceFor({});
    expect(typeof source.get).toBe('function');
  });
});
