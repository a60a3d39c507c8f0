// Short-lived answers from the CRM kept between calls: extension → user, number → name.
import type { Db } from './db';

export interface CachedUser {
  /** null: the extension has no active Bitrix24 user (cached too, so we don't ask on every call). */
  userId: number | null;
  /** When Bitrix24 said so (epoch ms). */
  fetchedAt: number;
}

export class Caches {
  constructor(private readonly db: Db) {}

  async user(extension: string, now: number, ttlMs: number): Promise<CachedUser | undefined> {
    const row = await this.db.get<{ user_id: number | null; fetched_at: number }>(
      'SELECT user_id, fetched_at FROM user_map WHERE extension = ?',
      [extension],
    );
    if (!row || !fresh(row.fetched_at, now, ttlMs)) return undefined;
    return { userId: row.user_id, fetchedAt: row.fetched_at };
  }

  async putUser(extension: string, userId: number | null, now: number): Promise<void> {
    await this.db.run(
      `INSERT INTO user_map (extension, user_id, fetched_at) VALUES (?, ?, ?)
       ON CONFLICT(extension) DO UPDATE SET user_id = excluded.user_id, fetched_at = excluded.fetched_at`,
      [extension, userId, now],
    );
  }

  async name(number: string, now: number, ttlMs: number): Promise<string | undefined> {
    return (await this.nameRow(number, now, ttlMs))?.name;
  }

  protected async nameRow(number: string, now: number, ttlMs: number): Promise<{ name: string; fetchedAt: number } | undefined> {
    const row = await this.db.get<{ name: string; fetched_at: number }>('SELECT name, fetched_at FROM name_cache WHERE number = ?', [number]);
    if (!row || !fresh(row.fetched_at, now, ttlMs)) return undefined;
    return { name: row.name, fetchedAt: row.fetched_at };
  }

  async putName(number: string, name: string, now: number): Promise<void> {
    await this.db.run(
      `INSERT INTO name_cache (number, name, fetched_at) VALUES (?, ?, ?)
       ON CONFLICT(number) DO UPDATE SET name = excluded.name, fetched_at = excluded.fetched_at`,
      [number, name, now],
    );
  }

  async purge(olderThan: number): Promise<void> {
    await this.db.run('DELETE FROM name_cache WHERE fetched_at < ?', [olderThan]);
  }
}

/** A Map that forgets its least recently used entry beyond `max`. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, v: V): void {
    this.map.delete(key);
    this.map.set(key, v);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
  sweep(keep: (v: V) => boolean): void {
    for (const [k, v] of this.map) if (!keep(v)) this.map.delete(k);
  }
  get size(): number {
    return this.map.size;
  }
}

/**
 * The resident service's caches: the same rows, read from memory when the service has seen them
 * (bounded: least recently used entries go first). Writes go to both, so the AGI processes of the
 * fallback path see what the service learnt. A row another process wrote later than the entry in
 * memory is seen once the entry expires.
 */
export class MemoryCaches extends Caches {
  private readonly users: Lru<{ userId: number | null; at: number }>;
  private readonly names: Lru<{ name: string; at: number }>;

  constructor(db: Db, limits: { users: number; names: number } = { users: 2000, names: 5000 }) {
    super(db);
    this.users = new Lru(limits.users);
    this.names = new Lru(limits.names);
  }

  async user(extension: string, now: number, ttlMs: number): Promise<CachedUser | undefined> {
    const hit = this.users.get(extension);
    if (hit && fresh(hit.at, now, ttlMs)) return { userId: hit.userId, fetchedAt: hit.at };
    const row = await super.user(extension, now, ttlMs);
    if (row) this.users.set(extension, { userId: row.userId, at: row.fetchedAt });
    return row;
  }

  async putUser(extension: string, userId: number | null, now: number): Promise<void> {
    this.users.set(extension, { userId, at: now });
    await super.putUser(extension, userId, now);
  }

  async name(number: string, now: number, ttlMs: number): Promise<string | undefined> {
    const hit = this.names.get(number);
    if (hit && fresh(hit.at, now, ttlMs)) return hit.name;
    const row = await this.nameRow(number, now, ttlMs);
    if (row) this.names.set(number, { name: row.name, at: row.fetchedAt });
    return row?.name;
  }

  async putName(number: string, name: string, now: number): Promise<void> {
    this.names.set(number, { name, at: now });
    await super.putName(number, name, now);
  }

  /** Drops expired entries (the maintenance loop calls it now and then). */
  sweep(now: number, ttl: { userMs: number; nameMs: number }): void {
    this.users.sweep((v) => fresh(v.at, now, ttl.userMs));
    this.names.sweep((v) => fresh(v.at, now, ttl.nameMs));
  }

  sizes(): { users: number; names: number } {
    return { users: this.users.size, names: this.names.size };
  }
}

function fresh(at: number, now: number, ttlMs: number): boolean {
  return now - at <= ttlMs && at <= now;
}
