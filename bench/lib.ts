// Shared by bench/bench.ts and bench/soak.ts: timed runs of the built AGIs through the test
// suite's fake Asterisk (test/helpers/fake-asterisk.ts), the `node -e 0` floor, peak RSS under
// GNU time, the operator CLI's `retry`, small statistics and a seeded PRNG.
// Nothing here builds anything: it runs what is in agi-bin/.
import { spawn } from 'child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { performance } from 'perf_hooks';
import { AGI_BIN, AgiRunOptions, AgiRunResult, defaultEnvironment, runAgiScript } from '../test/helpers/fake-asterisk';

export { AGI_BIN };
export const ROOT = join(__dirname, '..');
export const AGI_SCRIPTS = ['itd_bitrix_incoming.js', 'itd_bitrix_show.js', 'itd_bitrix_hangup.js'] as const;

// The children must be plain `node <bundle>`: never inherit a loader from the harness.
delete process.env.NODE_OPTIONS;

/** The SQLite binding the bundles load on this machine (agi-src/platform/bindings.ts). */
export function sqliteBinding(): string {
  const names = existsSync(AGI_BIN) ? readdirSync(AGI_BIN) : [];
  return names.find((n) => n.startsWith(`itd_bitrix_sqlite3-${process.platform}-${process.arch}-`) && n.endsWith('.node'))
    ?? `itd_bitrix_sqlite3-${process.platform}-${process.arch}-*.node`;
}

export function requireBuilt(): void {
  const missing = [...AGI_SCRIPTS, 'itd_bitrix.js', sqliteBinding()].filter((f) => !existsSync(join(AGI_BIN, f)));
  if (missing.length) {
    process.stderr.write(`bench: agi-bin/ is not built (missing ${missing.join(', ')}); run \`npm run build\` first\n`);
    process.exit(2);
  }
}

// ------------------------------------------------------------------ statistics

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export const r1 = (x: number) => Math.round(x * 10) / 10;
export const r2 = (x: number) => Math.round(x * 100) / 100;

/** The seeded generator the fuzz suite uses: same seed, same schedule. */
export { prng } from '../test/fuzz/prng';

// ------------------------------------------------------------------ timed runs

export interface Timed<T> {
  ms: number;
  result: T;
}

/** One AGI session via the fake Asterisk; wall time = spawn → exit, measured with performance.now(). */
export async function timedAgi(opts: AgiRunOptions): Promise<Timed<AgiRunResult>> {
  const t0 = performance.now();
  const result = await runAgiScript(opts);
  return { ms: performance.now() - t0, result };
}

/**
 * The floor: `node -e 0` spawned exactly like runAgiScript spawns an AGI (same env, three pipes,
 * the AGI environment block written to its stdin), spawn → exit.
 */
export function timedNodeFloor(): Promise<number> {
  return timedCommand(process.execPath, ['-e', '0']);
}

export function timedCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const block = Object.entries(defaultEnvironment())
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
  const t0 = performance.now();
  const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => undefined);
  child.stdout.resume();
  child.stderr.resume();
  child.stdin.write(`${block}\n\n`);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', () => resolve(performance.now() - t0));
  });
}

// ------------------------------------------------------------------ peak RSS

let rssDir: string | undefined;

export function gnuTimeAvailable(): boolean {
  return existsSync('/usr/bin/time');
}

/**
 * An executable to pass as runAgiScript's `node`: runs the real node under GNU time, which
 * writes the child's peak RSS (getrusage ru_maxrss, KiB) to $BENCH_RSS_OUT. The fake Asterisk
 * still talks to the AGI through the same pipes.
 */
export function rssWrapper(realExec = process.execPath): string {
  if (!rssDir) rssDir = mkdtempSync(join(tmpdir(), 'itd-bench-rss-'));
  const path = join(rssDir, `time-${realExec.replace(/\W+/g, '_')}.sh`);
  if (!existsSync(path)) {
    writeFileSync(path, `#!/bin/sh\nexec /usr/bin/time -f %M -o "$BENCH_RSS_OUT" ${JSON.stringify(realExec)} "$@"\n`);
    chmodSync(path, 0o755);
  }
  return path;
}

let rssSeq = 0;

/** Runs one AGI session under GNU time; returns the peak RSS in MB (and the session). */
export async function agiPeakRss(opts: AgiRunOptions, realExec = process.execPath): Promise<{ mb: number; result: AgiRunResult }> {
  const out = join(rssDir ?? (rssDir = mkdtempSync(join(tmpdir(), 'itd-bench-rss-'))), `rss-${process.pid}-${rssSeq++}.txt`);
  const result = await runAgiScript({ ...opts, node: rssWrapper(realExec), processEnv: { ...(opts.processEnv ?? {}), BENCH_RSS_OUT: out } });
  const kb = Number(readFileSync(out, 'utf8').trim().split('\n').pop());
  return { mb: kb / 1024, result };
}

export function cleanupTmp(): void {
  if (rssDir) rmSync(rssDir, { recursive: true, force: true });
}

// ------------------------------------------------------------------ operator CLI

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runCli(args: string[], configPath: string, timeoutMs = 120_000): Promise<CliRun> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(AGI_BIN, 'itd_bitrix.js'), ...args, '--config', configPath], {
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    }),
  );
}

// ------------------------------------------------------------------ the outbox (sqlite3 CLI-free)

/**
 * The outbox of the call database, read and fast-forwarded by the harness between retry runs
 * (never while an AGI or a retry is running). Uses the `sqlite3` package the project already has.
 */
export async function withDb<T>(dbPath: string, fn: (db: import('../agi-src/store/db').Db) => Promise<T>): Promise<T> {
  const { Db } = await import('../agi-src/store/db');
  const db = await Db.open(dbPath, 5000);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

export interface OutboxState {
  pending: number;
  blocked: number;
  failed: number;
  byStep: Record<string, number>;
}

export async function outboxState(dbPath: string): Promise<OutboxState> {
  if (!existsSync(dbPath)) return { pending: 0, blocked: 0, failed: 0, byStep: {} };
  return withDb(dbPath, async (db) => {
    const rows = await db.all<{ state: string; step: string; n: number }>('SELECT state, step, COUNT(*) AS n FROM outbox GROUP BY state, step');
    const s: OutboxState = { pending: 0, blocked: 0, failed: 0, byStep: {} };
    for (const r of rows) {
      if (r.state === 'pending' || r.state === 'blocked' || r.state === 'failed') s[r.state] += r.n;
      s.byStep[`${r.step}:${r.state}`] = r.n;
    }
    return s;
  });
}

/** Makes every pending step due now (instead of waiting 30 s … 30 min of back-off and the 90 s finish grace). */
export async function fastForwardOutbox(dbPath: string): Promise<void> {
  if (!existsSync(dbPath)) return;
  await withDb(dbPath, (db) => db.run(`UPDATE outbox SET next_at = 0, lease_until = NULL WHERE state = 'pending'`).then(() => undefined));
}

/**
 * `itd_bitrix.js retry --json` until the outbox has nothing pending (fast-forwarding between
 * runs), at most `maxRuns` times. Returns the runs and the final outbox.
 */
export async function drainOutbox(dbPath: string, configPath: string, maxRuns = 20): Promise<{ runs: CliRun[]; left: OutboxState }> {
  const runs: CliRun[] = [];
  let left = await outboxState(dbPath);
  while (left.pending > 0 && runs.length < maxRuns) {
    await fastForwardOutbox(dbPath);
    runs.push(await runCli(['retry', '--json'], configPath));
    left = await outboxState(dbPath);
  }
  return { runs, left };
}

export function fileSize(path: string): number {
  try {
    return readFileSync(path).length;
  } catch {
    return NaN;
  }
}

let uniq = 0;
/** Asterisk-like uniqueids: "<epoch seconds>.<sequence>", unique within the run. */
export function nextUniqueid(): string {
  return `${Math.floor(Date.now() / 1000)}.${process.pid % 1000}${String(++uniq).padStart(5, '0')}`;
}

export function randomCaller(rand: () => number): string {
  let s = '7916';
  for (let i = 0; i < 7; i++) s += Math.floor(rand() * 10);
  return s;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
