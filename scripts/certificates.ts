/**
 * `npm run certificates -- fetch|list`: `fetch` downloads WeChat's platform certificates with a signed
 * request, verifies them (lib/wechatpay/v3/certificates.ts) and stores them in the payments table, where
 * every notify function reads them; `list` prints what the table holds. Against the running `npm start`
 * (its simulator and DynamoDB Local) unless the WECHATPAY_* variables and PAYMENTS_TABLE are set.
 */
import { loadConfig } from '../lib/config';
import { configuredDownloader, refreshStoredCertificates } from '../lib/keys/download';
import { createCertificateStore } from '../lib/keys/store';
import { createDynamoClient } from '../lib/orders/client';
import { createTransport } from '../lib/wechatpay/http';
import { localEnvironment } from './local/env';

const USAGE = 'usage: npm run certificates -- fetch|list';

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  if (argv.length !== 1 || (command !== 'fetch' && command !== 'list')) {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig(localEnvironment(true));
  const store = createCertificateStore({
    client: createDynamoClient({ endpoint: config.dynamodbEndpoint }),
    tableName: config.tableName,
  });
  if (command === 'fetch') {
    const result = await refreshStoredCertificates({
      download: configuredDownloader(config, createTransport()),
      trusted: config.keyRing,
      store,
    });
    console.log(
      JSON.stringify(
        {
          stored: result.certificates.map((c) => ({ serial: c.serial, notAfter: new Date(c.notAfter).toISOString() })),
          expiredLeftOut: result.expired,
          answerSignedBy: result.answer,
        },
        null,
        2,
      ),
    );
    return 0;
  }
  const listed = await store.list();
  console.log(
    JSON.stringify(
      listed.map((c) => ({
        serial: c.serial,
        notBefore: new Date(c.notBefore).toISOString(),
        notAfter: new Date(c.notAfter).toISOString(),
      })),
      null,
      2,
    ),
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
