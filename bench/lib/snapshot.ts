/**
 * A private copy of the service's sources for the sections that run serverless (package, offline).
 *
 * serverless-esbuild builds into the service's `.esbuild/` and, under serverless-offline, watches
 * `./**\/*.(js|ts)` and rebuilds on every change. Run from the checkout itself, the bench's stack would
 * share that folder with any other stack started from the same checkout (an e2e test run) and rebuild
 * whenever someone saves a file: each can swap the other's bundle mid-run. A copy taken when the section
 * starts (the same sources, the root's node_modules linked in) keeps both apart and the code fixed.
 */
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');

/** Top-level entries not copied: VCS, dependencies, build output, local state, tests, the bench itself. */
const SKIP = new Set([
  '.git',
  'node_modules',
  '.esbuild',
  '.serverless',
  '.build',
  'coverage',
  '.local',
  'bench',
  'test',
  '.ci',
]);

export interface Snapshot {
  dir: string;
  remove(): void;
}

export function snapshotService(): Snapshot {
  const dir = mkdtempSync(join(tmpdir(), 'wechatpay-bench-src-'));
  cpSync(ROOT, dir, {
    recursive: true,
    filter: (src) => {
      const rel = relative(ROOT, src);
      if (rel === '') return true;
      const top = rel.split(sep)[0] as string;
      return !SKIP.has(top) && !rel.split(sep).includes('node_modules');
    },
  });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
