/**
 * Safe deploy defaults, on the configuration osls resolves: no stage means `dev` (never the local
 * configuration), the local stage refuses `deploy` before touching AWS, and reserved concurrency
 * appears only when asked for.
 */
import { describe, expect, it } from 'vitest';
import { serverless } from './support';

// one CLI start is about 10 s on a quiet machine; the suite shares two cores with DynamoDB Local
const TIMEOUT = 180_000;

async function printed(args: string[]): Promise<{
  provider: { stage: string; environment: Record<string, string> };
  functions: Record<
    'paymentNotify' | 'reconcile',
    { reservedConcurrency?: number | null; environment?: Record<string, string> }
  >;
}> {
  const run = await serverless(['print', '--format', 'json', ...args]);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout.slice(run.stdout.indexOf('{')));
}

// each case is its own CLI run: run them side by side
describe.concurrent('deploy defaults', () => {
  it(
    'resolves to the dev stage, with no local endpoint, when no --stage is given; a param reserves concurrency',
    async () => {
      // the template test checks that nothing is reserved by default; here the parameter turns it on
      const config = await printed(['--param', 'reconcileReservedConcurrency=1']);
      expect(config.provider.stage).toBe('dev');
      expect(config.provider.environment).not.toHaveProperty('DYNAMODB_ENDPOINT');
      expect(config.functions.paymentNotify.environment?.WECHATPAY_APIV3_KEY_PARAM).toBe(
        '/wechatpay-lambda/dev/WECHATPAY_APIV3_KEY',
      );
      expect(Number(config.functions.reconcile.reservedConcurrency)).toBe(1);
    },
    TIMEOUT,
  );

  it(
    'still resolves the local configuration for npm start and tests when --stage local is explicit',
    async () => {
      const config = await printed(['--stage', 'local']);
      expect(config.provider.environment.DYNAMODB_ENDPOINT).toMatch(/^http:\/\/127\.0\.0\.1:/);
    },
    TIMEOUT,
  );

  it(
    'refuses `serverless deploy --stage local`, offline, before any AWS call',
    async () => {
      const run = await serverless(['deploy', '--stage', 'local']);
      expect(run.code).not.toBe(0);
      expect(run.stdout + run.stderr).toContain('The local stage runs only on this machine');
    },
    TIMEOUT,
  );
});
