/**
 * `npm run coupon-callback -- get | set [URL] [--stage STAGE]`: read or set the merchant-coupon
 * callback URL at WeChat Pay with the signed APIv3 client.
 *
 * Configuration comes from the WECHATPAY_* variables; without them, from the running `npm start`
 * (its test keys, and its simulator as the API). Without a URL, `set` uses the deployed
 * `/notify/coupon` route: the stack's HttpApiUrl output (`serverless info`), or the local stack's.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../lib/config';
import { createWechatPayClient } from '../lib/wechatpay/client';
import { couponCallbackErrorHint, registerCouponCallback } from '../lib/wechatpay/v3/couponCallback';
import { LOCAL_DIR, readStackState } from './local/state';
import { runCommand } from './local/env';
import { readKeysFile } from './simulator/keyfile';
import { toEnv } from './simulator/keys';

function environment(): { env: Record<string, string | undefined>; local: boolean } {
  if (process.env.WECHATPAY_MCHID) return { env: { PAYMENTS_TABLE: 'unused', ...process.env }, local: false };
  const state = readStackState();
  if (!state?.simulatorUrl) throw new Error('set the WECHATPAY_* variables, or run npm start (with its simulator)');
  const keys = readKeysFile(join(LOCAL_DIR, 'wechatpay-test-keys.json'));
  return { env: { ...toEnv(keys), PAYMENTS_TABLE: 'unused', WECHATPAY_API_BASE_URL: state.simulatorUrl }, local: true };
}

/** The deployed coupon route: from the stack's outputs, or the local stack. */
function defaultUrl(stage: string, local: boolean): string {
  if (local) return `${readStackState()?.httpUrl}/notify/coupon`;
  const info = execFileSync(
    process.execPath,
    [require.resolve('osls/bin/serverless.js'), 'info', '--stage', stage, '--verbose'],
    { encoding: 'utf8' },
  );
  const m = /HttpApiUrl:\s*(https:\/\/\S+)/.exec(info);
  if (!m) throw new Error(`no HttpApiUrl in the outputs of stage ${stage}: deploy first, or pass the URL`);
  return `${m[1]?.replace(/\/$/, '')}/notify/coupon`;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { stage: { type: 'string', default: 'prod' }, mchid: { type: 'string' } },
  });
  const [command, url] = positionals;
  if (command !== 'get' && command !== 'set') {
    console.error('usage: npm run coupon-callback -- get | set [URL] [--stage STAGE] [--mchid ID]');
    return 2;
  }
  const { env, local } = environment();
  const client = createWechatPayClient({ config: loadConfig(env) });
  try {
    const result =
      command === 'get'
        ? await client.v3.getCouponCallback(values.mchid ? { mchid: values.mchid } : {})
        : await registerCouponCallback(client, url ?? defaultUrl(values.stage ?? 'prod', local), values.mchid);
    console.log(JSON.stringify(result, null, 2));
    return 0;
  } catch (err) {
    console.error(`coupon callback ${command} failed: ${couponCallbackErrorHint(err)}`);
    return 1;
  }
}

runCommand(main);
