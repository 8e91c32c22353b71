/** refreshCertificates: daily, downloads and stores WeChat Pay's platform certificates and reports the days to expiry (lib/keys/refresh.ts). */
import middy from '@middy/core';
import { loadConfig } from '../lib/config';
import { configuredDownloader } from '../lib/keys/download';
import { refreshCertificates, type RefreshDeps, type RefreshSummary } from '../lib/keys/refresh';
import { createCertificateStore } from '../lib/keys/store';
import { liveBuild, liveDependencies } from '../lib/lambda/deps';
import { entryPoint } from '../lib/lambda/entry';
import { createLogger } from '../lib/log';
import { errorReply } from '../lib/middleware/errorReply';
import type { WithDeps } from '../lib/middleware/dependencies';
import { createDynamoClient } from '../lib/orders/client';
import { createTransport } from '../lib/wechatpay/http';

const logger = createLogger({ service: 'wechatpay-lambda' });

/** Built from the resolved environment, again only when a secret changed. */
const deps = liveBuild((env): RefreshDeps => {
  const config = loadConfig(env);
  return {
    config,
    store: createCertificateStore({
      client: createDynamoClient({ endpoint: config.dynamodbEndpoint }),
      tableName: config.tableName,
    }),
    download: configuredDownloader(config, createTransport()),
    logger,
    now: Date.now,
  };
});

const core = (_event: unknown, context: WithDeps<RefreshDeps>): Promise<RefreshSummary> =>
  refreshCertificates(context.deps);

// a broken configuration is a run that did nothing: logged once, answered, retried by tomorrow's run
export const handler = entryPoint(
  middy(core).use([
    liveDependencies<RefreshDeps, unknown, RefreshSummary>(deps),
    errorReply<unknown, RefreshSummary>({
      reply: (e) => ({ downloaded: false, stored: [], reason: e.reason }),
      logger,
      fields: { function: 'refreshCertificates' },
    }),
  ]),
);
