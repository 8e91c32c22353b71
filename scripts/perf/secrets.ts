/**
 * Profiling aid (issue 17): what the deployed configuration's secret check costs each warm invocation.
 * A function configured as in production names its secrets by SSM path (`<NAME>_PARAM`); every
 * invocation asks liveBuild (lib/lambda/deps.ts) for its dependencies, which must notice a value
 * rotated in SSM within the cache's age. Here 10 parameters are resolved once through the real SSM
 * source and Powertools Parameters, over a stub transport (there is no local SSM), and then the warm
 * calls are timed: µs per call, five rounds.
 *
 *   npx tsx scripts/perf/secrets.ts
 */
import { performance } from 'node:perf_hooks';
import { SSMClient } from '@aws-sdk/client-ssm';
import { liveBuild } from '../../lib/lambda/deps';
import { PARAMETER_VARIABLES, SECRET_VARIABLES, ssmSource } from '../../lib/secrets';

const client = new SSMClient({
  region: 'ap-southeast-1',
  credentials: { accessKeyId: 'stub', secretAccessKey: 'stub' },
  requestHandler: {
    handle: async (request: { body: unknown }) => {
      const name = (JSON.parse(String(request.body)) as { Name: string }).Name;
      const body = JSON.stringify({
        Parameter: { Name: name, Type: 'SecureString', Value: `value-of-${name}`, Version: 1 },
      });
      return {
        response: {
          statusCode: 200,
          headers: { 'content-type': 'application/x-amz-json-1.1' },
          body: Buffer.from(body),
        },
      };
    },
  } as never,
});

async function main(): Promise<void> {
  // the function's environment as serverless.yml deploys it: paths, not values
  for (const name of [...SECRET_VARIABLES, ...PARAMETER_VARIABLES].slice(0, 10)) {
    delete process.env[name];
    process.env[`${name}_PARAM`] = `/wechatpay-lambda/prod/${name}`;
  }
  let builds = 0;
  const current = liveBuild((env) => ({ builds: ++builds, mchid: env.WECHATPAY_MCHID }), {
    source: ssmSource({ client }),
  });
  await current();
  const rounds: string[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    let calls = 0;
    while (performance.now() - t0 < 200) {
      await current();
      calls++;
    }
    rounds.push((((performance.now() - t0) * 1000) / calls).toFixed(2));
  }
  process.stdout.write(`warm liveBuild call, 10 SSM parameters: ${rounds.join(' ')} µs (builds: ${builds})\n`);
}

void main();
