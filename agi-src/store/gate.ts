// The portal's leaky bucket (default 2 requests/s, burst 50), kept in the database so that every
// AGI process and retry run on the PBX shares it, like Bitrix24 counts them: per portal and IP.
import { localRateError, pausedError } from '../bitrix/errors';
import type { RequestGate, RequestPriority } from '../bitrix/client';
import type { Db } from './db';

export interface BucketState {
  level: number;
  updatedAt: number;
}

/**
 * Pure: drains the bucket to `now`, then either admits requests or says how long to wait for one.
 * Up to `want` are admitted at once, but more than one only while the bucket is less than half
 * full (slots taken early count early: harmless only with room to spare).
 * The gate reads the clock inside its write lock, so a `now` before the last update means the
 * clock stepped back: the bucket's time restarts from `now`, with nothing drained for the step
 * (keeping the old time would freeze the bucket for as long as the step).
 */
export function admit(
  state: BucketState,
  now: number,
  ratePerSec: number,
  capacity: number,
  want = 1,
): { state: BucketState; waitMs: number; granted: number } {
  const elapsed = Math.max(0, now - state.updatedAt);
  const level = Math.max(0, state.level - (elapsed / 1000) * ratePerSec);
  if (level + 1 <= capacity) {
    const granted = level < capacity / 2 ? Math.max(1, Math.min(want, Math.floor(capacity / 2 - level))) : 1;
    return { state: { level: level + granted, updatedAt: now }, waitMs: 0, granted };
  }
  return { state: { level, updatedAt: now }, waitMs: Math.ceil(((level + 1 - capacity) / ratePerSec) * 1000), granted: 0 };
}

/** The portal's operating limit resets within 10 minutes (ten one-minute baskets). */
const MAX_PAUSE_MS = 10 * 60_000;

/** Work the caller waits for (incoming, show) may use the whole burst; the rest leaves headroom. */
export type Priority = RequestPriority;

/**
 * Longest a call-path request waits for the limiter's own write to the database (many AGI
 * processes at once, or a lock held elsewhere). Past it the request goes out anyway: the
 * admission still counts it when it gets through, and the client backs off on a 503.
 */
export const CALL_PATH_LOCK_WAIT_MS = 500;
const TIMED_OUT = Symbol('timed out');

/**
 * The bucket row itself: admits one request now or says how long until one fits. Every request
 * gate on the PBX (AGI processes, the retry, the resident service) goes through it.
 */
export class SharedBucket {
  private readonly full: number;

  constructor(
    private readonly db: Db,
    private readonly ratePerSec: number,
    burst: number,
    private readonly now: () => number = Date.now,
  ) {
    // One below the portal's threshold: our clock and the portal's are not the same clock.
    this.full = Math.max(1, burst - 1);
  }

  /**
   * Background work (hangup, retry) stops a fifth short of the threshold, so a call that is
   * ringing still finds room for its lookup and card during a back-fill or a burst of hangups.
   */
  capacity(priority: Priority): number {
    return priority === 'call-path' ? this.full : Math.max(1, Math.floor(this.full * 0.8));
  }

  /** The threshold itself: what a call-path request may fill the bucket to. */
  get threshold(): number {
    return this.full;
  }

  /**
   * 0 when one request was admitted, else the wait in ms until one fits below `capacity`. With
   * `lockWaitMs`, a database too busy to answer in time admits the request (returns 0): see
   * CALL_PATH_LOCK_WAIT_MS.
   */
  async take(capacity: number, lockWaitMs?: number): Promise<number> {
    return (await this.takeSome(capacity, 1, lockWaitMs)).waitMs;
  }

  /** As `take`, admitting up to `want` requests at once (see `admit`). */
  async takeSome(capacity: number, want: number, lockWaitMs?: number): Promise<{ granted: number; waitMs: number }> {
    // The clock is read inside the write lock: a time taken before waiting for the lock would
    // move the bucket's clock backwards and drain the same interval twice.
    const admission = this.db.transaction(async (tx) => {
      const row = await tx.get<{ level: number; updated_at: number }>('SELECT level, updated_at FROM rate_bucket WHERE id = 1');
      const res = admit({ level: row?.level ?? 0, updatedAt: row?.updated_at ?? 0 }, this.now(), this.ratePerSec, capacity, want);
      await tx.run('UPDATE rate_bucket SET level = ?, updated_at = ? WHERE id = 1', [res.state.level, res.state.updatedAt]);
      return { granted: res.granted, waitMs: res.waitMs };
    });
    admission.catch(() => undefined); // a late failure after the timeout below is not an error
    const goesOut = { granted: 1, waitMs: 0 };
    let outcome: { granted: number; waitMs: number } | typeof TIMED_OUT;
    try {
      outcome =
        lockWaitMs === undefined
          ? await admission
          : await Promise.race([admission, new Promise<typeof TIMED_OUT>((r) => setTimeout(() => r(TIMED_OUT), lockWaitMs).unref())]);
    } catch (err) {
      if (isBusy(err)) return goesOut; // the limiter's database is too busy to ask: the request goes out
      throw err;
    }
    return outcome === TIMED_OUT ? goesOut : outcome;
  }

  /**
   * OPERATION_TIME_LIMIT: epoch ms until which `method` must not be sent, or 0. A pause ending
   * further ahead than the portal could ask for is a clock that stepped back: not a pause.
   */
  async pausedUntil(method: string): Promise<number> {
    const asked = this.now();
    const row = await this.db.get<{ until: number }>('SELECT until FROM method_pause WHERE method = ? AND until > ? AND until <= ?', [
      method,
      asked,
      asked + MAX_PAUSE_MS,
    ]);
    return row?.until ?? 0;
  }

  /** Every method paused right now (the resident service keeps them in memory). */
  activePauses(): Promise<Array<{ method: string; until: number }>> {
    const asked = this.now();
    return this.db.all<{ method: string; until: number }>('SELECT method, until FROM method_pause WHERE until > ? AND until <= ?', [asked, asked + MAX_PAUSE_MS]);
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

/** One request at a time, as an AGI process or the retry sends them. */
export class DbRequestGate implements RequestGate {
  private readonly bucket: SharedBucket;
  private readonly lockWaitMs: number | undefined;

  constructor(
    db: Db,
    private readonly ratePerSec: number,
    burst: number,
    private readonly priority: Priority = 'call-path',
    private readonly now: () => number = Date.now,
  ) {
    this.bucket = new SharedBucket(db, ratePerSec, burst, now);
    this.lockWaitMs = priority === 'call-path' ? CALL_PATH_LOCK_WAIT_MS : undefined;
  }

  async acquire(method: string, deadline: number): Promise<void> {
    for (;;) {
      const paused = await this.bucket.pausedUntil(method);
      if (paused) throw pausedError(method, paused);
      const waitMs = await this.bucket.take(this.bucket.capacity(this.priority), this.lockWaitMs);
      if (waitMs === 0) return;
      if (this.now() + waitMs >= deadline) throw localRateError(method, this.ratePerSec, waitMs);
      await new Promise((r) => setTimeout(r, Math.min(waitMs, 1000)));
    }
  }

  pauseMethod(method: string, untilMs: number): Promise<void> {
    return this.bucket.pauseMethod(method, untilMs);
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}
