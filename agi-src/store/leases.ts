// Named leases: work that must not run twice at once across processes (one retry run at a time).
// A lease ends when its holder releases it or when its time is up (the holder died).
import type { Db } from './db';

export type LeaseResult = { ok: true } | { ok: false; until: number };

export class Leases {
  constructor(private readonly db: Db) {}

  async take(name: string, holder: string, now: number, ms: number): Promise<LeaseResult> {
    return this.db.transaction(async (tx) => {
      const row = await tx.get<{ holder: string; until: number }>('SELECT holder, until FROM lease WHERE name = ?', [name]);
      if (row && row.until >= now && row.holder !== holder) return { ok: false, until: row.until };
      await tx.run(
        `INSERT INTO lease (name, holder, until) VALUES (?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, until = excluded.until`,
        [name, holder, now + ms],
      );
      return { ok: true };
    });
  }

  async release(name: string, holder: string): Promise<void> {
    await this.db.run('DELETE FROM lease WHERE name = ? AND holder = ?', [name, holder]);
  }
}
