/**
 * `npm run doctor [-- --online]`: checks the key configuration offline (lib/keys/doctor.ts), then with
 * --online makes one signed `GET /v3/certificates` (the simulator locally, WeChat in production),
 * verifies the answer and prints which keys WeChat signs with now. Exit code 1 on any problem. The
 * APIv2 refund client certificate, when configured, is loaded as the refund function loads it.
 *
 * Reads the WECHATPAY_* variables, or, when none is set, those of a running `npm start`.
 */
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../lib/config';
import { checkKeys, describeClientCertificate } from '../lib/keys/doctor';
import { configuredDownloader } from '../lib/keys/download';
import { createTransport } from '../lib/wechatpay/http';
import { localEnvironment } from './local/env';

/** What the doctor reads and where it writes (injectable for tests). */
export interface DoctorIo {
  env: Readonly<Record<string, string | undefined>>;
  out: (line: string) => void;
  now?: () => number;
}

/** Runs the checks; resolves to the exit code (0: no problem found). */
export async function runDoctor(argv: string[], io: DoctorIo): Promise<number> {
  const online = argv.includes('--online');
  const unknown = argv.filter((a) => a !== '--online');
  if (unknown.length > 0) {
    io.out(`usage: npm run doctor [-- --online]   (unknown: ${unknown.join(' ')})`);
    return 2;
  }
  const now = io.now ?? Date.now;
  const findings = checkKeys(io.env, now());
  for (const f of findings) io.out(`problem: ${f.message}`);
  if (findings.length > 0) return 1;
  io.out('offline checks: the keys are consistent.');
  const clientCertificate = describeClientCertificate(io.env);
  if (clientCertificate !== undefined) io.out(clientCertificate);
  if (!online) return 0;
  try {
    const config = loadConfig(io.env);
    const result = await configuredDownloader(config, createTransport({ maxAttempts: 2 }), now)(config.keyRing);
    io.out(
      `online: ${config.apiBaseUrl}/v3/certificates answered, signed by ${result.answer.verifiedBy} ${result.answer.serial} (${result.answer.keySource === 'trusted' ? 'a configured key' : 'a certificate it lists'}).`,
    );
    for (const c of result.certificates) {
      const held = config.keyRing.entry(c.serial) !== undefined ? 'configured' : 'not configured (learned at run time)';
      io.out(
        `WeChat signs with platform certificate ${c.serial}, valid until ${new Date(c.notAfter).toISOString()}, ${held}.`,
      );
    }
    const publicKeyId = config.keyRing.serials().find((s) => s.startsWith('PUB_KEY_ID_'));
    if (publicKeyId !== undefined)
      io.out(
        result.answer.serial === publicKeyId
          ? `WeChat signs with the public key ${publicKeyId} when asked to.`
          : `problem: WeChat did not sign with the configured public key ${publicKeyId} when asked to.`,
      );
    return publicKeyId !== undefined && result.answer.serial !== publicKeyId ? 1 : 0;
  } catch (err) {
    io.out(`problem: the signed call failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void runDoctor(process.argv.slice(2), {
    env: localEnvironment(false),
    out: (line) => process.stdout.write(`${line}\n`),
  }).then((code) => {
    process.exitCode = code;
  });
}
