/**
 * Local test keys for `npm start`: generated once, kept in a git-ignored folder, reused on the next
 * start so the simulator and your own scripts keep signing with them. Test-only, never real secrets.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { readKeysFile, writeKeysFile } from '../simulator/keyfile';
import { generateTestKeys, type TestKeys } from '../simulator/keys';

/** Loads the keys stored at `file`, or generates and stores new ones; says which it did. */
export function loadOrCreateKeys(file: string): { keys: TestKeys; created: boolean } {
  if (existsSync(file)) return { keys: readKeysFile(file), created: false };
  const keys = generateTestKeys();
  mkdirSync(dirname(file), { recursive: true });
  writeKeysFile(file, keys);
  return { keys, created: true };
}
