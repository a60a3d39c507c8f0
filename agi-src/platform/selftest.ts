// Can this host run the module? The checks the installer and the settings page run through
// agi-bin/itd_bitrix_selftest.js: Node.js version, platform and architecture, glibc, and the
// shipped SQLite binding actually working. Decisions are plain functions; runSelfTest does I/O.
import { mkdtempSync, readdirSync, rmdirSync, unlinkSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ShippedBinding, bindingsFor, oldestGlibc, pickForGlibc, shippedArchitectures } from './bindings';

/** The oldest Node.js major the bundles run on (esbuild target node18, package.json engines). */
export const NODE_FLOOR = 18;

export type CheckId = 'node' | 'arch' | 'glibc' | 'sqlite';

export interface Check {
  id: CheckId;
  ok: boolean;
  message: string;
}

export interface SelfTestReport {
  ok: boolean;
  /** the first failing check, null when all passed */
  failed: CheckId | null;
  /** one line: what is missing, or a summary when all is well */
  message: string;
  node: string;
  platform: string;
  arch: string;
  glibc: string | null;
  binding: string | null;
  sqlite: string | null;
  checks: Check[];
}

/** Exit codes of the self-test; install.sh maps them onto its own steps. */
export const EXIT_CODES: Record<CheckId, number> = { node: 3, arch: 4, glibc: 5, sqlite: 6 };

/** Debian's name for an architecture where Node's differs: what an admin knows the box as. */
const DEBIAN_ARCH: Record<string, string> = { x64: 'amd64', arm: 'armhf', ia32: 'i386' };
const archLabel = (arch: string) => (DEBIAN_ARCH[arch] ? `${arch} (${DEBIAN_ARCH[arch]})` : arch);

export function checkNode(version: string, floor = NODE_FLOOR): Check {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1] ?? NaN);
  return major >= floor
    ? { id: 'node', ok: true, message: `Node.js ${version}` }
    : { id: 'node', ok: false, message: `Node.js ${version} is too old: itd-bitrix needs Node.js ${floor} or newer` };
}

export function checkArch(shipped: ShippedBinding[], platform: string, arch: string): Check {
  if (bindingsFor(shipped, platform, arch).length > 0) return { id: 'arch', ok: true, message: `${platform} ${archLabel(arch)}` };
  return {
    id: 'arch',
    ok: false,
    message: `architecture ${platform} ${archLabel(arch)} is not supported: itd-bitrix runs on linux ${shippedArchitectures(shipped.map((b) => ({ ...b, arch: archLabel(b.arch) })))}`,
  };
}

/** Run after checkArch passed: the shipped binding that fits the glibc, or the one line why none does. */
export function checkGlibc(candidates: ShippedBinding[], glibc: string | null): { check: Check; binding?: ShippedBinding } {
  const oldest = oldestGlibc(candidates) ?? '?';
  if (!glibc) {
    return { check: { id: 'glibc', ok: false, message: `no glibc found (musl or another C library?): itd-bitrix needs glibc ${oldest} or newer` } };
  }
  const binding = pickForGlibc(candidates, glibc);
  if (!binding) {
    return { check: { id: 'glibc', ok: false, message: `glibc ${glibc} is too old: itd-bitrix needs glibc ${oldest} or newer (Debian 10 or later)` } };
  }
  return { check: { id: 'glibc', ok: true, message: `glibc ${glibc}` }, binding };
}

export interface Host {
  nodeVersion: string;
  platform: string;
  arch: string;
  glibc: () => string | null;
  shipped: ShippedBinding[];
  /** opens the shipped binding through sqlite3's own API and returns SQLite's version */
  exerciseSqlite: () => Promise<string>;
}

export async function runSelfTest(host: Host): Promise<SelfTestReport> {
  const checks: Check[] = [checkNode(host.nodeVersion)];
  const arch = checkArch(host.shipped, host.platform, host.arch);
  checks.push(arch);
  let glibc: string | null = null;
  let binding: ShippedBinding | undefined;
  let sqlite: string | null = null;
  if (arch.ok) {
    glibc = host.glibc();
    const g = checkGlibc(bindingsFor(host.shipped, host.platform, host.arch), glibc);
    checks.push(g.check);
    binding = g.binding;
  }
  if (binding) {
    try {
      sqlite = await host.exerciseSqlite();
      checks.push({ id: 'sqlite', ok: true, message: `SQLite ${sqlite} (${binding.file})` });
    } catch (err) {
      const why = String((err as Error)?.message ?? err).split('\n')[0].slice(0, 300);
      checks.push({ id: 'sqlite', ok: false, message: `the SQLite binding ${binding.file} does not work here: ${why}` });
    }
  }
  const failed = checks.find((c) => !c.ok);
  return {
    ok: !failed,
    failed: failed ? failed.id : null,
    message: failed ? failed.message : `itd-bitrix can run here: ${checks.map((c) => c.message).join(', ')}`,
    node: host.nodeVersion,
    platform: host.platform,
    arch: host.arch,
    glibc,
    binding: binding ? binding.file : null,
    sqlite,
    checks,
  };
}

/**
 * Opens a database file in a fresh temporary folder the way the store does (WAL, so file locks
 * and shared memory are used), writes, reads back, closes and removes it.
 */
export async function exerciseSqlite3(within = 10_000): Promise<string> {
  const sqlite3 = (await import('sqlite3')).default;
  const dir = mkdtempSync(join(tmpdir(), 'itd-bitrix-selftest-'));
  try {
    const db = await new Promise<import('sqlite3').Database>((resolve, reject) => {
      const d: import('sqlite3').Database = new sqlite3.Database(join(dir, 'selftest.sqlite'), (err) => (err ? reject(err) : resolve(d)));
    });
    const exec = (sql: string) => new Promise<void>((resolve, reject) => db.exec(sql, (err) => (err ? reject(err) : resolve())));
    const row = await new Promise<{ v: string; n: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${within} ms`)), within);
      exec('PRAGMA journal_mode=WAL; CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (41);')
        .then(() => db.get('SELECT sqlite_version() AS v, n + 1 AS n FROM t', (err: Error | null, r: { v: string; n: number }) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve(r);
        }))
        .catch((err) => { clearTimeout(timer); reject(err); });
    });
    await new Promise<void>((resolve, reject) => db.close((err) => (err ? reject(err) : resolve())));
    if (row?.n !== 42) throw new Error('wrote 41 and read back something else');
    return row.v;
  } finally {
    // file by file: this also runs on the old Node versions it is there to report
    for (const f of readdirSync(dir)) unlinkSync(join(dir, f));
    rmdirSync(dir);
  }
}
