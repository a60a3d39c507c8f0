// Stands in for sqlite3's lib/sqlite3-binding.js in the bundles (scripts/build.mjs): loads the
// binding shipped beside the bundle that fits this host.
import { join } from 'path';
import { chooseBinding, shippedBindings } from './bindings';
import { detectGlibc } from './host';

export function loadSqlite3Binding(dir: string): unknown {
  const binding = chooseBinding(shippedBindings(), process.platform, process.arch, detectGlibc);
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return require(join(dir, binding.file));
}
