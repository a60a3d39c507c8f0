// The portal's leaky bucket (default 2 requests/s, burst 50), kept in the database so that every
// AGI process and retry run on the PBX shares it, like Bitrix24 counts them: per portal and IP.
import { BitrixError } from '../bitrix/errors';
import type { RequestGate } from '../bitrix/client';
import type { Db } from './db';

export interface BucketState {
  level: number;
  updatedAt: number;
}

/**
 * Pure: drains the bucket to `now`, then either admits one request or says how long to wait.
 * The gate reads the clock inside its write lock, so a `now` before the last update means the
 * clock stepped back: the bucket's time restarts from `now`, with nothing drained for the step
 * (keeping the old time would freeze the bucket for as long as the step).
 */
export function admit(state: BucketState, now: number, ratePerSec: number, capacity: number): { state: BucketState; waitMs: number } {
  const elapsed = Math.max(0, now - state.updatedAt);
  const level = Math.max(0, state.level - (elapsed / 1000) * ratePerSec);
  if (level + 1 <= capacity) return { state: { level: level + 1, updatedAt: now }, waitMs: 0 };
  return { state: { level, updatedAt: now }, waitMs: Math.ceil(((level + 1 - capacity) / ratePerSec) * 1000) };
}

/** The portal's operating limit resets within 10 minutes (ten one-minute baskets). */
const MAX_PAUSE_MS = 10 * 60_000;

/** Work the caller waits for (incoming, show) may use the whole burst; the rest leaves headroom. */
export type Priority = 'call-path' | 'background';

/**
 * Longest a call-path request waits for the limiter's own write to the database (many AGI
 * processes at once, or a lock held elsewhere). Past it the request goes out anyway: the
 * admission still counts it when it gets through, and the client backs off on a 503.
 */
const CALL_PATH_LOCK_WAIT_MS = 500;
const TIMED_OUT = Symbol('timed out');

export class DbRequestGate implements RequestGate {
  private readonly capacity: number;

  constructor(
    private readonly db: Db,
    private readonly ratePerSec: number,
    burst: number,
    priority: Priority = 'call-path',
    private readonly now: () => number = Date.now,
  ) {
    // One below the portal's threshold: our clock and the portal's are not the same clock.
    const full = Math.max(1, burst - 1);
    // Background work (hangup, retry) stops a fifth short of it, so a call that is ringing
    // still finds room for its lookup and card during a back-fill or a burst of hangups.
    this.capacity = priority === 'call-path' ? full : Math.max(1, Math.floor(full * 0.8));
    this.lockWaitMs = priority === 'call-path' ? CALL_PATH_LOCK_WAIT_MS : undefined;
  }

  private readonly lockWaitMs: number | undefined;

  async acquire(method: string, deadline: number): Promise<void> {
    for (;;) {
      // A pause ending further ahead than the portal could ask for is a clock that stepped back.
      const asked = this.now();
      const paused = await this.db.get<{ until: number }>('SELECT until FROM method_pause WHERE method = ? AND until > ? AND until <= ?', [
        method,
        asked,
        asked + MAX_PAUSE_MS,
      ]);
      if (paused) throw new BitrixError('rate', 'OPERATION_TIME_LIMIT', `paused until ${new Date(paused.until).toISOString()}`, 429, method);
      // The clock is read inside the write lock: a time taken before waiting for the lock would
      // move the bucket's clock backwards and drain the same interval twice.
      const admission = this.db.transaction(async (tx) => {
        const at = this.now();
        const row = await tx.get<{ level: number; updated_at: number }>('SELECT level, updated_at FROM rate_bucket WHERE id = 1');
        const res = admit({ level: row?.level ?? 0, updatedAt: row?.updated_at ?? 0 }, at, this.ratePerSec, this.capacity);
        await tx.run('UPDATE rate_bucket SET level = ?, updated_at = ? WHERE id = 1', [res.state.level, res.state.updatedAt]);
        return { waitMs: res.waitMs, now: at };
      });
      admission.catch(() => undefined); // a late failure after the timeout below is not an error
      let outcome: Awaited<typeof admission> | typeof TIMED_OUT;
      try {
        outcome =
          this.lockWaitMs === undefined
            ? await admission
            : await Promise.race([admission, new Promise<typeof TIMED_OUT>((r) => setTimeout(() => r(TIMED_OUT), this.lockWaitMs).unref())]);
      } catch (err) {
        if (isBusy(err)) return; // the limiter's database is too busy to ask: the request goes out
        throw err;
      }
      if (outcome === TIMED_OUT) return;
      const { waitMs, now } = outcome;
      if (waitMs === 0) return;
      if (now + waitMs >= deadline) {
        throw new BitrixError('rate', 'LOCAL_RATE_LIMIT', `portal budget of ${this.ratePerSec}/s in use, next slot in ${waitMs} ms`, 0, method);
      }
      await new Promise((r) => setTimeout(r, Math.min(waitMs, 1000)));
    }
  }

  async pauseMethod(method: string, untilMs: number): Promise<void> {
    // operating_reset_at is the portal's clock: never trust it for longer than the portal's window.
    const until = Math.min(untilMs, this.now() + MAX_PAUSE_MS);
    await this.db.run(
      `INSERT INTO method_pause (method, until) VALUES (?, ?) ON CONFLICT(method) DO UPDATE SET until = MAX(until, excluded.until)`,
      [method, until],
    );
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}
