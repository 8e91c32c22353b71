/**
 * TEST-ONLY: starts a standalone WeChat Pay simulator and prints its URL (first stdout line).
 *
 *   npx tsx scripts/simulator/main.ts [keys.json] [--port N] [--notify-url URL] [--refund-notify-url URL]
 *                                     [--time-scale X] [--v2] [--public-key] [--close-min-age SECONDS]
 *
 * Keys come from keys.json when it exists; otherwise fresh keys are generated and, if a path was
 * given, written there (mode 0600) so the local service can be configured from the same file.
 * Exports nothing; stops on SIGINT/SIGTERM.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readKeysFile, writeKeysFile } from './keyfile';
import { generateTestKeys, type TestKeys } from './keys';
import { startSimulator } from './server';

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string', default: '0' },
      'notify-url': { type: 'string' },
      'refund-notify-url': { type: 'string' },
      'time-scale': { type: 'string' },
      'close-min-age': { type: 'string' },
      v2: { type: 'boolean' },
      'public-key': { type: 'boolean' },
    },
  });
  const keys = loadKeys(positionals[0]);
  const sim = await startSimulator({
    keys,
    port: numberOption(values.port, 'port'),
    ...(values['notify-url'] === undefined ? {} : { notifyUrl: values['notify-url'] }),
    ...(values['refund-notify-url'] === undefined ? {} : { refundNotifyUrl: values['refund-notify-url'] }),
    ...(values['time-scale'] === undefined ? {} : { timeScale: numberOption(values['time-scale'], 'time-scale') }),
    ...(values['close-min-age'] === undefined
      ? {}
      : { closeMinAgeSeconds: numberOption(values['close-min-age'], 'close-min-age') }),
    protocol: values.v2 === true ? 'v2' : 'v3',
    signer: values['public-key'] === true ? 'publicKey' : 'platform',
  });
  process.stdout.write(`${sim.url}\n`);
  process.stderr.write(`wechatpay simulator for mchid ${keys.mchid} listening; export WECHATPAY_SIM_URL=${sim.url}\n`);
  const stop = (): void => {
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function loadKeys(path: string | undefined): TestKeys {
  if (path !== undefined && existsSync(path)) return readKeysFile(path);
  const keys = generateTestKeys();
  if (path !== undefined) writeKeysFile(path, keys);
  return keys;
}

function numberOption(text: string, name: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0)
    throw new Error(`--${name} must be a non-negative number`);
  return value;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
