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

/**
 * The words `status` and `retry` use, for steps and for calls alike: due (goes at the next retry
 * run), waiting (for its next attempt: a back-off, or the grace a hangup's own worker gets),
 * held (until the credentials change), given up (older than retryGiveUpHours; never sent).
 * A call counts once, by its step that says most: given up, held, due, waiting.
 */
export type StepState = 'due' | 'waiting' | 'held' | 'givenUp';
export type StateCounts = Record<StepState, number>;

export interface WaitingStep {
  uniqueid: string;
  step: Step;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
}

export interface OutboxSummary {
  steps: StateCounts;
  calls: StateCounts;
  /** Creation time of the oldest step not given up. */
  oldestAt: number | null;
  /** The earliest next attempt of a waiting step. */
  nextAttemptAt: number | null;
  /** Waiting steps, soonest first (at most `waitingLimit`). */
  waiting: WaitingStep[];
}

const STATE_SQL = `CASE WHEN state = 'failed' THEN 'givenUp' WHEN state = 'blocked' THEN 'held' WHEN next_at > ? THEN 'waiting' ELSE 'due' END`;
const CALL_RANK: StepState[] = ['waiting', 'due', 'held', 'givenUp'];

export function noCounts(): StateCounts {
  return { due: 0, waiting: 0, held: 0, givenUp: 0 };
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
   * the `giveUpAfter`th attempt on, give the step up ('failed'). While the step waits, the call's
   * other steps wait as long (they go after this one), so the next attempt time is true. Returns
   * the attempts so far and whether the step was given up.
   */
  async failed(uniqueid: string, step: Step, error: string, now: number, blocked: boolean, giveUpAfter = 0): Promise<{ attempts: number; gaveUp: boolean }> {
    return this.db.transaction(async (tx) => {
      const row = await tx.get<{ attempts: number }>('SELECT attempts FROM outbox WHERE uniqueid = ? AND step = ?', [uniqueid, step]);
      const attempts = (row?.attempts ?? 0) + 1;
      const gaveUp = !blocked && giveUpAfter > 0 && attempts >= giveUpAfter;
      const nextAt = now + backoffMs(attempts);
      await tx.run(
        `UPDATE outbox SET attempts = ?, last_error = ?, lease_until = NULL, next_at = ?,
           state = CASE WHEN ? THEN 'blocked' WHEN ? THEN 'failed' ELSE state END
         WHERE uniqueid = ? AND step = ?`,
        [attempts, error.slice(0, 500), nextAt, blocked ? 1 : 0, gaveUp ? 1 : 0, uniqueid, step],
      );
      if (!gaveUp) await tx.run(`UPDATE outbox SET next_at = MAX(next_at, ?) WHERE uniqueid = ? AND state = 'pending'`, [nextAt, uniqueid]);
      return { attempts, gaveUp };
    });
  }

  /** Nobody else starts the call's pending steps before `until` (a long upload is under way). */
  async postpone(uniqueid: string, until: number): Promise<void> {
    await this.db.run(`UPDATE outbox SET next_at = MAX(next_at, ?) WHERE uniqueid = ? AND state = 'pending'`, [until, uniqueid]);
  }

  /** Gives up on steps older than the limit; their calls show as failed. */
  async giveUp(olderThan: number): Promise<{ calls: number; steps: number }> {
    return this.db.transaction(async (tx) => {
      const due = `state IN ('pending', 'blocked') AND created_at < ?`;
      const n = await tx.get<{ steps: number; calls: number }>(`SELECT COUNT(*) AS steps, COUNT(DISTINCT uniqueid) AS calls FROM outbox WHERE ${due}`, [
        olderThan,
      ]);
      if (!n?.steps) return { calls: 0, steps: 0 };
      await tx.run(`UPDATE outbox SET state = 'failed', lease_until = NULL WHERE ${due}`, [olderThan]);
      await tx.run(
        `UPDATE calls SET state = 'failed' WHERE state != 'finished' AND uniqueid IN (SELECT uniqueid FROM outbox WHERE state = 'failed')`,
      );
      return { calls: n.calls, steps: n.steps };
    });
  }

  /** New credentials: blocked steps become due again. */
  async unblock(now: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      await tx.run(
        `UPDATE outbox SET next_at = ? WHERE state = 'pending' AND uniqueid IN (SELECT uniqueid FROM outbox WHERE state = 'blocked')`,
        [now],
      );
      const res = await tx.run(`UPDATE outbox SET state = 'pending', next_at = ? WHERE state = 'blocked'`, [now]);
      return res.changes;
    });
  }

  async summary(now: number, waitingLimit = 20): Promise<OutboxSummary> {
    const out: OutboxSummary = { steps: noCounts(), calls: noCounts(), oldestAt: null, nextAttemptAt: null, waiting: [] };
    const steps = await this.db.all<{ k: StepState; n: number; oldest: number; next: number }>(
      `SELECT ${STATE_SQL} AS k, COUNT(*) AS n, MIN(created_at) AS oldest, MIN(next_at) AS next FROM outbox GROUP BY k`,
      [now],
    );
    for (const r of steps) {
      out.steps[r.k] = r.n;
      if (r.k !== 'givenUp' && (out.oldestAt === null || r.oldest < out.oldestAt)) out.oldestAt = r.oldest;
      if (r.k === 'waiting') out.nextAttemptAt = r.next;
    }
    const calls = await this.db.all<{ rank: number; n: number }>(
      `SELECT rank, COUNT(*) AS n FROM (
         SELECT MAX(CASE ${STATE_SQL} ${CALL_RANK.map((k, i) => `WHEN '${k}' THEN ${i}`).join(' ')} END) AS rank FROM outbox GROUP BY uniqueid
       ) GROUP BY rank`,
      [now],
    );
    for (const r of calls) out.calls[CALL_RANK[r.rank]] = r.n;
    const waiting = await this.db.all<{ uniqueid: string; step: Step; attempts: number; next_at: number; last_error: string | null }>(
      `SELECT uniqueid, step, attempts, next_at, last_error FROM outbox WHERE state = 'pending' AND next_at > ? ORDER BY next_at, uniqueid, step LIMIT ?`,
      [now, waitingLimit],
    );
    out.waiting = waiting.map((w) => ({ uniqueid: w.uniqueid, step: w.step, attempts: w.attempts, nextAttemptAt: w.next_at, lastError: w.last_error }));
    return out;
  }
}
