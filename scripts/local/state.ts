/** Where a running `npm start` says it is: written at start, read by the local command-line tools. */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface StackState {
  httpUrl: string;
  lambdaUrl: string;
  dynamoEndpoint: string;
  tableName: string;
  simulatorUrl?: string;
  mchid?: string;
}

export const LOCAL_DIR = resolve(__dirname, '..', '..', '.local');
const STATE_FILE = resolve(LOCAL_DIR, 'stack.json');

/** Records the running stack's addresses. */
export function writeStackState(state: StackState): void {
  mkdirSync(dirname(STATE_FILE), { recursive: true });
  writeFileSync(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);
}

/** The running stack's addresses, if `npm start` is running. */
export function readStackState(): StackState | undefined {
  return existsSync(STATE_FILE) ? (JSON.parse(readFileSync(STATE_FILE, 'utf8')) as StackState) : undefined;
}

/** Forgets the stack (on shutdown). */
export function clearStackState(): void {
  rmSync(STATE_FILE, { force: true });
}
