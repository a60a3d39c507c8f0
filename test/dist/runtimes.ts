// Debian's own Node.js for another architecture or an older release (scripts/debian-runtime.sh,
// run by scripts/setup.sh): the hosts the shipped bindings are loaded on.
import fs from 'fs';
import path from 'path';
import { REPO_ROOT } from './helpers';

/**
 * Path of the `node` wrapper of `.tmp/runtimes/<name>`. Missing: a failure under CI (setup.sh
 * prepares them), else the test is skipped with the command that sets it up.
 */
export function debianRuntime(ctx: Mocha.Context, name: string): string {
  const node = path.join(REPO_ROOT, '.tmp', 'runtimes', name, 'node');
  if (fs.existsSync(node)) return node;
  const how = `bash scripts/debian-runtime.sh ${name.replace('-', ' ')}`;
  if (process.env.CI) throw new Error(`the Debian runtime ${name} is missing: scripts/setup.sh runs "${how}"`);
  // eslint-disable-next-line no-console
  console.log(`      skipped: the Debian runtime ${name} is not set up here (run: ${how})`);
  return ctx.skip() as never;
}
