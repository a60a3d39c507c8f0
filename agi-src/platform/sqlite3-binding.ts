// Stands in for sqlite3's lib/sqlite3-binding.js in the bundles (scripts/build.mjs): loads the
// binding shipped beside the bundle that fits this host, through a private copy of it (see
// privateCopyName: FreePBX rewrites the shipped file in place on every reload).
import { createHash, randomBytes } from 'crypto';
import { chmodSync, existsSync, readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'fs';
import { join } from 'path';
import { ShippedBinding, chooseBinding, privateCopyName, shippedBindings, shippedSha256, staleCopies } from './bindings';
import { detectGlibc } from './host';

let note: string | null = null;

export function loadSqlite3Binding(dir: string): unknown {
  const binding = chooseBinding(shippedBindings(), process.platform, process.arch, detectGlibc);
  const sha256 = shippedSha256()[binding.file];
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return require(sha256 ? bindingToLoad(dir, binding, sha256) : join(dir, binding.file));
}

/**
 * The private copy of `binding` in `dir`, made when missing (one stat when it exists). When it
 * cannot be made (the shipped file is not the build's, e.g. being rewritten right now; the folder
 * is read-only), the shipped file, and a note for the log.
 */
export function bindingToLoad(dir: string, binding: ShippedBinding, sha256: string): string {
  const copy = privateCopyName(binding.file, sha256);
  if (existsSync(join(dir, copy))) return join(dir, copy);
  try {
    makePrivateCopy(dir, binding, sha256, copy);
    return join(dir, copy);
  } catch (err) {
    note = `SQLite binding: loading the shipped ${binding.file} itself (${(err as Error).message})`;
    return join(dir, binding.file);
  }
}

function makePrivateCopy(dir: string, binding: ShippedBinding, sha256: string, copy: string): void {
  const bytes = readFileSync(join(dir, binding.file));
  if (createHash('sha256').update(bytes).digest('hex') !== sha256) throw new Error('it differs from the build, perhaps being rewritten right now');
  const tmp = join(dir, `${copy}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(tmp, bytes, { flag: 'wx' });
    chmodSync(tmp, 0o644);
    renameSync(tmp, join(dir, copy));
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // never written
    }
    throw err;
  }
  for (const old of staleCopies(readdirSync(dir), binding, copy)) {
    try {
      unlinkSync(join(dir, old));
    } catch {
      // another process removed it first
    }
  }
}

/** Why the shipped binding was loaded instead of the private copy, once (null when it was not). */
export function takeSqlite3BindingNote(): string | null {
  const n = note;
  note = null;
  return n;
}
