/**
 * The whole service on one machine: a real DynamoDB (DynamoDB Local, or dynalite without Java), the
 * payments table, and the functions behind serverless-offline. Used by `npm start` and the e2e tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { startConsole, type ConsoleServer } from '../console/server';
import { startStoreFaults, type StoreFaults } from '../console/storeFaults';
import { startSimulator, type Simulator } from '../simulator/server';
import type { TestKeys } from '../simulator/keys';
import { ensureTable, freePort, startLocalDynamo, type Engine } from './dynamodb';

export interface StackOptions {
  /** HTTP port of the functions (API Gateway); 0 picks a free one. */
  httpPort?: number;
  /** Port of the local Lambda Invoke endpoint; 0 picks a free one. */
  lambdaPort?: number;
  /** Service configuration (WECHATPAY_* …) handed to the functions. */
  env: Record<string, string>;
  engine?: Engine;
  /** DynamoDB's port (a free one by default). */
  dynamoPort?: number;
  /**
   * Also run the local WeChat Pay simulator with these keys (the service's keys must be the same),
   * point the service's API base URL at it and the simulator's notifications at the service.
   */
  simulator?: { keys: TestKeys; port?: number; timeScale?: number; closeMinAgeSeconds?: number; now?: () => number };
  /** Where serverless-offline's output goes (default: discarded). */
  onOutput?: (chunk: string) => void;
  /**
   * Also serve the local console (scripts/console) on this port (0: a free one); needs the simulator.
   * The functions then reach DynamoDB through the console's throttling proxy.
   */
  console?: { port?: number; pollMs?: number };
}

export interface Stack {
  httpUrl: string;
  lambdaUrl: string;
  dynamoEndpoint: string;
  engine: Engine;
  tableName: string;
  simulator: Simulator | undefined;
  /** The local console, when asked for. */
  console: ConsoleServer | undefined;
  stop(): Promise<void>;
}

const STAGE = 'local';
export const LOCAL_TABLE = `wechatpay-lambda-${STAGE}-payments`;
const ROOT = resolve(__dirname, '..', '..');

/** Starts DynamoDB, creates the table and serves the functions; resolves once HTTP answers. */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const dynamo = await startLocalDynamo({ engine: opts.engine, port: opts.dynamoPort });
  let offline: ChildProcess | undefined;
  let simulator: Simulator | undefined;
  let storeFaults: StoreFaults | undefined;
  let consoleServer: ConsoleServer | undefined;
  const stop = async () => {
    await consoleServer?.close();
    if (offline) await stopProcessGroup(offline);
    await simulator?.close();
    await storeFaults?.close();
    await dynamo.stop();
  };
  try {
    await ensureTable(dynamo.endpoint, LOCAL_TABLE);
    const httpPort = opts.httpPort || (await freePort());
    const lambdaPort = opts.lambdaPort || (await freePort());
    const env = { ...opts.env };
    if (opts.simulator) {
      const { keys, port, ...rest } = opts.simulator;
      simulator = await startSimulator({
        keys,
        port: port ?? 0,
        notifyUrl: `http://127.0.0.1:${httpPort}/notify/payment`,
        refundNotifyUrl: `http://127.0.0.1:${httpPort}/notify/refund`,
        // APIv2 refunds go to the simulator's client-certificate port, as to WeChat's secapi
        clientCertificates: true,
        ...rest,
      });
      env.WECHATPAY_API_BASE_URL = simulator.url;
      if (simulator.secapi !== undefined) {
        env.WECHATPAY_SECAPI_BASE_URL = simulator.secapi.url;
        env.WECHATPAY_SECAPI_CA = simulator.secapi.caPem;
        env.WECHATPAY_MERCHANT_CERT = simulator.secapi.merchantCertPem;
      }
      if (opts.console) storeFaults = await startStoreFaults(dynamo.endpoint);
    }
    const out = (chunk: string) => {
      opts.onOutput?.(chunk);
      consoleServer?.ingestOutput(chunk);
    };
    const started = await startOffline({
      httpPort,
      lambdaPort,
      env,
      dynamoEndpoint: storeFaults?.endpoint ?? dynamo.endpoint,
      onOutput: out,
    });
    offline = started.child;
    const httpUrl = started.httpUrl;
    const lambdaUrl = `http://127.0.0.1:${lambdaPort}`;
    if (opts.console && simulator && opts.simulator)
      consoleServer = await startConsole({
        port: opts.console.port ?? 0,
        ...(opts.console.pollMs === undefined ? {} : { pollMs: opts.console.pollMs }),
        simulator,
        keys: opts.simulator.keys,
        dynamoEndpoint: dynamo.endpoint,
        tableName: LOCAL_TABLE,
        lambdaUrl,
        functionPrefix: `wechatpay-lambda-${STAGE}-`,
        ...(storeFaults === undefined ? {} : { storeFaults }),
      });
    return {
      httpUrl,
      lambdaUrl,
      dynamoEndpoint: dynamo.endpoint,
      engine: dynamo.engine,
      tableName: LOCAL_TABLE,
      simulator,
      console: consoleServer,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Options of {@link startOffline}. */
export interface OfflineOptions {
  httpPort: number;
  lambdaPort: number;
  /** Service configuration (WECHATPAY_* …) handed to the functions. */
  env: Record<string, string>;
  /** Where the functions reach DynamoDB. */
  dynamoEndpoint: string;
  onOutput?: (chunk: string) => void;
}

/** A running serverless-offline: its process group leader, its HTTP URL, and how to stop it. */
export interface Offline {
  child: ChildProcess;
  httpUrl: string;
  stop(): Promise<void>;
}

/**
 * Serves the functions with serverless-offline on the given ports (the local stage's table) and
 * resolves once HTTP answers; its own process group, so stopping it takes esbuild and workers along.
 */
export async function startOffline(opts: OfflineOptions): Promise<Offline> {
  const serverless = join(dirname(createRequire(__filename).resolve('osls/package.json')), 'bin', 'serverless.js');
  const child = spawn(
    process.execPath,
    [
      serverless,
      'offline',
      'start',
      '--stage',
      STAGE,
      '--httpPort',
      String(opts.httpPort),
      '--lambdaPort',
      String(opts.lambdaPort),
      '--websocketPort',
      String(await freePort()),
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        ...opts.env,
        PAYMENTS_TABLE: LOCAL_TABLE,
        DYNAMODB_ENDPOINT: opts.dynamoEndpoint,
        SLS_TELEMETRY_DISABLED: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so stop() takes esbuild and workers down with it
    },
  );
  child.stdout?.setEncoding('utf8').on('data', (s: string) => opts.onOutput?.(s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => opts.onOutput?.(s));
  const httpUrl = `http://127.0.0.1:${opts.httpPort}`;
  try {
    await waitForHttp(httpUrl, child);
  } catch (err) {
    await stopProcessGroup(child);
    throw err;
  }
  return { child, httpUrl, stop: () => stopProcessGroup(child) };
}

async function waitForHttp(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serverless offline exited with code ${child.exitCode}`);
    try {
      await fetch(`${url}/__ready`, { method: 'GET', signal: AbortSignal.timeout(1000) });
      return; // any HTTP answer (a 404 here) means the server is listening
    } catch {
      if (Date.now() > deadline) throw new Error('serverless offline did not start within 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Stops a detached child and everything it started. */
export async function stopProcessGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const pid = child.pid;
  await new Promise<void>((done) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      clearTimeout(timer);
      done();
    }
  });
}
