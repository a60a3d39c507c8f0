// A small promise wrapper over the `sqlite3` package: one connection per process, WAL, a busy
// timeout so concurrent AGI processes wait for each other instead of failing.
import { chmodSync, existsSync, renameSync } from 'fs';
import { dirname } from 'path';
import type * as Sqlite3 from 'sqlite3';
import { Claim, makeDirs } from '../config/owner';
import { migrate } from './migrations';

export type SqlValue = string | number | null;

/** What stores query through: the database itself, or the open transaction. */
export interface Queryable {
  run(sql: string, params?: SqlValue[]): Promise<{ changes: number; lastID: number }>;
  get<T>(sql: string, params?: SqlValue[]): Promise<T | undefined>;
  all<T>(sql: string, params?: SqlValue[]): Promise<T[]>;
  exec(sql: string): Promise<void>;
}

/**
 * One connection per process. Its statements run one after another (a promise chain), so a
 * transaction is never interleaved with another query of the same process.
 */
export class Db implements Queryable {
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(private readonly raw: Sqlite3.Database, readonly path: string) {}

  /**
   * Opens (creating when missing) and migrates the database. The binding is loaded only here.
   * `claim` hands a file or folder this process creates to the AGIs' user (the CLI run as root);
   * SQLite itself gives its -wal and -shm files the database file's owner.
   */
  static async open(path: string, busyTimeoutMs: number, claim?: Claim): Promise<Db> {
    const sqlite3 = (await import('sqlite3')).default as typeof Sqlite3;
    const created = !existsSync(path);
    if (created) makeDirs(dirname(path), claim);
    const raw = await new Promise<Sqlite3.Database>((resolve, reject) => {
      const db: Sqlite3.Database = new sqlite3.Database(path, (err) => (err ? reject(err) : resolve(db)));
    });
    const db = new Db(raw, path);
    raw.configure('busyTimeout', Math.max(1, Math.round(busyTimeoutMs)));
    try {
      if (created) {
        chmodSync(path, 0o640);
        claim?.(path);
      }
      await db.exec('PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;');
      await migrate(db);
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
    return db;
  }

  /**
   * Opens the database; a file SQLite cannot read as a database is moved aside
   * (`<path>.corrupt-<time>`) and a fresh one created, so the PBX keeps recording calls.
   */
  static async openOrRecreate(path: string, busyTimeoutMs: number, onRecreate: (msg: string) => void, claim?: Claim): Promise<Db> {
    try {
      return await Db.open(path, busyTimeoutMs, claim);
    } catch (err) {
      if (!isCorruption(err)) throw err;
      const aside = `${path}.corrupt-${Date.now()}`;
      renameSync(path, aside);
      for (const suffix of ['-wal', '-shm']) if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
      onRecreate(`database ${path} was not a readable SQLite file (${sqliteCode(err)}); moved to ${aside} and recreated`);
      return Db.open(path, busyTimeoutMs, claim);
    }
  }

  run(sql: string, params: SqlValue[] = []): Promise<{ changes: number; lastID: number }> {
    return this.locked(() => this.direct.run(sql, params));
  }

  get<T>(sql: string, params: SqlValue[] = []): Promise<T | undefined> {
    return this.locked(() => this.direct.get<T>(sql, params));
  }

  all<T>(sql: string, params: SqlValue[] = []): Promise<T[]> {
    return this.locked(() => this.direct.all<T>(sql, params));
  }

  exec(sql: string): Promise<void> {
    return this.locked(() => this.direct.exec(sql));
  }

  /** BEGIN IMMEDIATE … COMMIT: takes the write lock up front, so concurrent writers queue on busy_timeout. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.locked(async () => {
      await this.direct.exec('BEGIN IMMEDIATE');
      try {
        const out = await fn(this.direct);
        await this.direct.exec('COMMIT');
        return out;
      } catch (err) {
        await this.direct.exec('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  close(): Promise<void> {
    return this.locked(() => new Promise<void>((resolve, reject) => this.raw.close((err) => (err ? reject(err) : resolve()))));
  }

  private locked<T>(op: () => Promise<T>): Promise<T> {
    const result = this.tail.then(op, op);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private readonly direct: Queryable = {
    run: (sql, params = []) => this.rawRun(sql, params),
    get: (sql, params = []) => this.rawGet(sql, params),
    all: (sql, params = []) => this.rawAll(sql, params),
    exec: (sql) => new Promise((resolve, reject) => this.raw.exec(sql, (err) => (err ? reject(err) : resolve()))),
  };

  private rawRun(sql: string, params: SqlValue[]): Promise<{ changes: number; lastID: number }> {
    return new Promise((resolve, reject) => {
      this.raw.run(sql, params, function (this: Sqlite3.RunResult, err: Error | null) {
        if (err) reject(err);
        else resolve({ changes: this.changes, lastID: this.lastID });
      });
    });
  }

  private rawGet<T>(sql: string, params: SqlValue[]): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      this.raw.get(sql, params, (err: Error | null, row: T) => (err ? reject(err) : resolve(row)));
    });
  }

  private rawAll<T>(sql: string, params: SqlValue[]): Promise<T[]> {
    return new Promise((resolve, reject) => {
      this.raw.all(sql, params, (err: Error | null, rows: T[]) => (err ? reject(err) : resolve(rows)));
    });
  }

}

export function sqliteCode(err: unknown): string {
  return String((err as { code?: string })?.code ?? (err as Error)?.message ?? 'error');
}

export function isCorruption(err: unknown): boolean {
  const code = sqliteCode(err);
  return code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB';
}
