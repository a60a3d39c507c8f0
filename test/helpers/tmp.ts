// Temporary folders for tests, removed when the test process exits (ITD_KEEP_TMP=1 keeps them
// for a post-mortem). Detached `complete` workers a test started may outlive it; force ignores them.
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

const made: string[] = [];

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix.endsWith('-') ? prefix : `${prefix}-`));
  if (!made.length) process.once('exit', removeTempDirs);
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  if (process.env.ITD_KEEP_TMP === '1') return;
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
