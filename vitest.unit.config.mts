import { defineConfig } from 'vitest/config';

/**
 * Pure unit tests: no DynamoDB Local (no globalSetup), no simulator server.
 * Used by Stryker (`npm run mutation`, see stryker.config.mjs); also runnable alone:
 *   npx vitest run --config vitest.unit.config.mts
 */
export default defineConfig({
  test: {
    include: [
      'test/lib/money.test.ts',
      'test/lib/text.test.ts',
      'test/lib/time.test.ts',
      'test/lib/wechatpay/**/*.test.ts',
      'test/lib/aggregator/**/*.test.ts',
    ],
    exclude: [
      '**/node_modules/**',
      // these start the WeChat Pay simulator over HTTP; slow, and they exercise http.ts rather than the codecs
      'test/lib/wechatpay/v2/client.test.ts',
      'test/lib/wechatpay/v3/client.test.ts',
      'test/lib/wechatpay/v3/couponCallback.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    maxWorkers: 2,
  },
});
