// Short-lived answers from the CRM kept between calls: extension → user, number → name.
import type { Db } from './db';

export interface CachedUser {
  /** null: the extension has no active Bitrix24 user (cached too, so we don't ask on every call). */
  userId: number | null;
}

export class Caches {
  constructor(private readonly db: Db) {}

  async user(extension: string, now: number, ttlMs: number): Promise<CachedUser | undefined> {
    const row = await this.db.get<{ user_id: number | null; fetched_at: number }>(
      'SELECT user_id, fetched_at FROM user_map WHERE extension = ?',
      [extension],
    );
    if (!row || now - row.fetched_at > ttlMs || row.fetched_at > now) return undefined;
    return { userId: row.user_id };
  }

  async putUser(extension: string, userId: number | null, now: number): Promise<void> {
    await this.db.run(
      `INSERT INTO user_map (extension, user_id, fetched_at) VALUES (?, ?, ?)
       ON CONFLICT(extension) DO UPDATE SET user_id = excluded.user_id, fetched_at = excluded.fetched_at`,
      [extension, userId, now],
    );
  }

  async name(number: string, now: number, ttlMs: number): Promise<string | undefined> {
    const row = await this.db.get<{ name: string; fetched_at: number }>('SELECT name, fetched_at FROM name_cache WHERE number = ?', [number]);
    if (!row || now - row.fetched_at > ttlMs || row.fetched_at > now) return undefined;
    return row.name;
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
