/**
 * Where secret values come from at run time. A deployed function names SSM parameter paths in its
 * environment (WECHATPAY_APIV3_KEY_PARAM=/wechatpay-lambda/prod/WECHATPAY_APIV3_KEY); a source turns
 * a path into its value. Locally and in tests the values come from a plain map or a keys file.
 */
import { readFileSync } from 'node:fs';
import { configError } from '../errors';

/** Turns a parameter path into its value; a missing or unreadable one is a CONFIG PayError naming the path. */
export interface SecretSource {
  get(path: string): Promise<string>;
  /** The value get() would answer now without any I/O (a fresh cached one), else undefined. */
  peek?(path: string): string | undefined;
}

/** A source over fixed values by path: the local stack and tests, where nothing lives in SSM. */
export function valuesSource(values: Readonly<Record<string, string>>): SecretSource {
  const lookup = (path: string) => {
    const value = Object.hasOwn(values, path) ? values[path] : undefined;
    return value === '' ? undefined : value;
  };
  return {
    async get(path) {
      const value = lookup(path);
      if (value === undefined) throw configError(`secret parameter ${path} does not exist`);
      return value;
    },
    peek: lookup,
  };
}

/**
 * A source over a JSON file `{ "<path>": "<value>", … }` (git-ignored, local only), read once when
 * first asked: the same paths as production, without an AWS account.
 */
export function keysFileSource(file: string): SecretSource {
  let inner: SecretSource | undefined;
  return {
    async get(path) {
      inner ??= valuesSource(readKeysFile(file));
      return inner.get(path);
    },
    // nothing until the file was read once (get reports a missing or broken file)
    peek: (path) => inner?.peek?.(path),
  };
}

function readKeysFile(file: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw configError(`secrets file ${file} is missing or not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw configError(`secrets file ${file} must hold one JSON object of path to value`);
  const values: Record<string, string> = Object.create(null);
  for (const [path, value] of Object.entries(parsed)) {
    // the value is never named: a wrong type is reported by its path only
    if (typeof value !== 'string') throw configError(`secrets file ${file}: ${path} is not a string`);
    values[path] = value;
  }
  return values;
}
