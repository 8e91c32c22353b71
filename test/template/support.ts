/** Runs the pinned osls CLI (offline: no AWS credentials reachable) and reads what it produced. */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
const CLI = join(dirname(createRequire(__filename).resolve('osls/package.json')), 'bin', 'serverless.js');

/**
 * A copy of the service in a temporary folder. `package` builds in `.esbuild/` and removes it when
 * done: in the checkout itself that would pull the bundles from under a serverless-offline stack
 * another test file is running.
 */
export function serviceCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sls-service-'));
  for (const part of ['serverless.yml', 'package.json', 'tsconfig.json', 'env', 'functions', 'lib', 'types'])
    cpSync(join(ROOT, part), join(dir, part), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

/** The CLI's exit code and output; never throws on a non-zero exit. */
export function serverless(
  args: string[],
  cwd: string = ROOT,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, SLS_TELEMETRY_DISABLED: '1', AWS_EC2_METADATA_DISABLED: 'true' };
  // no credentials anywhere: the build must not need them
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'])
    delete env[name];
  env.AWS_CONFIG_FILE = join(ROOT, 'no-such-aws-config');
  env.AWS_SHARED_CREDENTIALS_FILE = join(ROOT, 'no-such-aws-credentials');
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, env, maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A CloudFormation resource as the template holds it. */
export interface Resource {
  Type: string;
  Properties: Record<string, unknown> & { Environment?: { Variables?: Record<string, string> } };
  [attribute: string]: unknown;
}

/** `serverless package --stage prod` of a copy of the service, into a fresh folder; returns the update-stack template. */
export async function packageProd(extra: string[] = []): Promise<{ Resources: Record<string, Resource> }> {
  const out = mkdtempSync(join(tmpdir(), 'sls-package-'));
  const run = await serverless(['package', '--stage', 'prod', '--package', out, ...extra], serviceCopy());
  if (run.code !== 0) throw new Error(`serverless package failed (${run.code}):\n${run.stdout}\n${run.stderr}`);
  return JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8'));
}
