// Bitrix24 steps a call still owes: picked up by `itd_bitrix.js retry` with a lease, so two
// retry runs at once never send the same step twice.
import type { Db } from './db';
import type { Step } from './calls';

export interface OutboxItem {
  uniqueid: string;
  step: Step;
  state: 'pending' | 'blocked' | 'failed';
  attempts: number;
  next_at: number;
  created_at: number;
  last_error: string | null;
}

export interface OutboxSummary {
  pending: number;
  blocked: number;
  failed: number;
  oldestAt: number | null;
}

const BACKOFF_BASE_MS = 30_000;
const BACKOFF_CAP_MS = 30 * 60_000;

/** 30 s, 1 min, 2 min … capped at 30 min. */
export function backoffMs(attempts: number): number {
  return Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1));
}

export class Outbox {
  constructor(private readonly db: Db) {}

  /** Leases the calls that have a due step, except those in `skip`; returns their uniqueids (oldest first). */
  async leaseDueCalls(now: number, leaseMs: number, limit: number, skip: readonly string[] = []): Promise<string[]> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.all<{ uniqueid: string }>(
        `SELECT uniqueid FROM outbox
         WHERE state = 'pending' AND next_at <= ? AND (lease_until IS NULL OR lease_until < ?)
           AND uniqueid NOT IN (SELECT value FROM json_each(?))
         GROUP BY uniqueid ORDER BY MIN(created_at) LIMIT ?`,
        [now, now, JSON.stringify(skip), limit],
      );
      for (const r of rows) {
        await tx.run('UPDATE outbox SET lease_until = ? WHERE uniqueid = ?', [now + leaseMs, r.uniqueid]);
      }
      return rows.map((r) => r.uniqueid);
    });
  }

  itemsFor(uniqueid: string): Promise<OutboxItem[]> {
    return this.db.all<OutboxItem>('SELECT * FROM outbox WHERE uniqueid = ?', [uniqueid]);
  }

  async release(uniqueid: string): Promise<void> {
    await this.db.run('UPDATE outbox SET lease_until = NULL WHERE uniqueid = ?', [uniqueid]);
  }

  /**
   * A failed attempt: try again after a back-off, wait for new credentials ('blocked'), or, from
   * the `giveUpAfter`th attempt on, give the step up ('failed'). Returns the attempts so far and
   * whether the step was given up.
   */
  async failed(uniqueid: string, step: Step, error: string, now: number, blocked: boolean, giveUpAfter = 0): Promise<{ attempts: number; gaveUp: boolean }> {
    const row = await this.db.get<{ attempts: number }>('SELECT attempts FROM outbox WHERE uniqueid = ? AND step = ?', [uniqueid, step]);
    const attempts = (row?.attempts ?? 0) + 1;
    const gaveUp = !blocked && giveUpAfter > 0 && attempts >= giveUpAfter;
    await this.db.run(
      `UPDATE outbox SET attempts = ?, last_error = ?, lease_until = NULL, next_at = ?,
         state = CASE WHEN ? THEN 'blocked' WHEN ? THEN 'failed' ELSE state END
       WHERE uniqueid = ? AND step = ?`,
      [attempts, error.slice(0, 500), now + backoffMs(attempts), blocked ? 1 : 0, gaveUp ? 1 : 0, uniqueid, step],
    );
    return { attempts, gaveUp };
  }

  /** Nobody else starts the call's pending steps before `until` (a long upload is under way). */
  async postpone(uniqueid: string, until: number): Promise<void> {
    await this.db.run(`UPDATE outbox SET next_at = MAX(next_at, ?) WHERE uniqueid = ? AND state = 'pending'`, [until, uniqueid]);
  }

  /** Gives up on steps older than the limit; their calls show as failed. */
  async giveUp(olderThan: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      const res = await tx.run(
        `UPDATE outbox SET state = 'failed', lease_until = NULL WHERE state IN ('pending', 'blocked') AND created_at < ?`,
        [olderThan],
      );
      await tx.run(
        `UPDATE calls SET state = 'failed' WHERE state != 'finished' AND uniqueid IN (SELECT uniqueid FROM outbox WHERE state = 'failed')`,
      );
      return res.changes;
    });
  }

  /** New credentials: blocked steps become due again. */
  async unblock(now: number): Promise<number> {
    const res = await this.db.run(`UPDATE outbox SET state = 'pending', next_at = ? WHERE state = 'blocked'`, [now]);
    return res.changes;
  }

  async summary(): Promise<OutboxSummary> {
    const rows = await this.db.all<{ state: string; n: number; oldest: number }>(
      'SELECT state, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox GROUP BY state',
    );
    const out: OutboxSummary = { pending: 0, blocked: 0, failed: 0, oldestAt: null };
    for (const r of rows) {
      if (r.state === 'pending' || r.state === 'blocked' || r.state === 'failed') out[r.state] = r.n;
      if (r.state !== 'failed' && (out.oldestAt === null || r.oldest < out.oldestAt)) out.oldestAt = r.oldest;
    }
    return out;
  }
}
