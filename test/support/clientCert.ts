/** The merchant's client certificate as WeChat ships it: a PKCS#12 bundle, built by the openssl command line. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Whether openssl is installed; without it there is nothing to build a bundle with. */
export const hasOpenssl: boolean = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** base64 of a PKCS#12 bundle of `certPem` and `keyPem` under `password` (made in a folder removed after). */
export function pkcs12Bundle(certPem: string, keyPem: string, password: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'p12-'));
  try {
    writeFileSync(join(dir, 'cert.pem'), certPem);
    writeFileSync(join(dir, 'key.pem'), keyPem, { mode: 0o600 });
    execFileSync('openssl', [
      'pkcs12',
      '-export',
      '-in',
      join(dir, 'cert.pem'),
      '-inkey',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'bundle.p12'),
      '-passout',
      `pass:${password}`,
    ]);
    return readFileSync(join(dir, 'bundle.p12')).toString('base64');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
