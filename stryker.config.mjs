// Mutation testing of the signature and codec modules (issue 6 §3). Run with `npm run mutation`.
// Tests: the pure unit tests selected by vitest.unit.config.mts (no DynamoDB Local, no simulator server).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.unit.config.mts' },
  coverageAnalysis: 'perTest',
  mutate: [
    'lib/wechatpay/v2/sign.ts',
    'lib/wechatpay/v2/xml.ts',
    'lib/wechatpay/v2/refund.ts',
    'lib/wechatpay/v3/verify.ts',
    'lib/wechatpay/v3/aead.ts',
    'lib/wechatpay/v3/keyring.ts',
    'lib/wechatpay/v3/json.ts',
    'lib/wechatpay/v3/authorization.ts',
    'lib/money.ts',
    'lib/text.ts',
    'lib/time.ts',
  ],
  // two cores, shared machine: two test-runner processes, generous timeouts
  concurrency: 2,
  timeoutMS: 10_000,
  timeoutFactor: 1.5,
  dryRunTimeoutMinutes: 10,
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: 'mutation/mutation.html' },
  jsonReporter: { fileName: 'mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: true },
  tempDirName: '.stryker-tmp',
  // keep the sandbox small: only lib/, scripts/, test/ and the configs are needed
  ignorePatterns: ['bench', 'coverage', 'mutation', 'reports', '.local', '.serverless', '.esbuild', '.build', '.ci'],
  cleanTempDir: 'always',
  thresholds: { high: 90, low: 80, break: null },
};
