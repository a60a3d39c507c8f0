// Time for the test PBX. While any real work is in flight (an AGI process, a FastAGI socket)
// virtual time runs with the wall clock, so a ringing timer can fire while the incoming AGI is
// still talking to Bitrix24, as on a real PBX; when nothing real is pending virtual time stands
// still while the dialplan runs and then jumps straight to the next timer, so 60 s of talk or
// 15 s of ringing cost nothing and timer-only scenarios are exact. Timers due at the same
// virtual instant fire in creation order.
//
// AGI processes see the same time: virtual minus real time is constant while any of them runs
// (jumps only happen when nothing real is pending), see clock-shift.cjs.

interface Timer {
  at: number;
  seq: number;
  fire: () => void;
}

export class Clock {
  /** Virtual time at `anchor`; while nothing real runs, virtual time is `base`. */
  private base = Date.now();
  private anchor = Date.now();
  private timers: Timer[] = [];
  private seq = 0;
  private pendingReal = 0;
  /** settle() in progress: time neither jumps nor counts as stalled meanwhile. */
  private settling = 0;
  private wake?: NodeJS.Timeout;
  private idle?: NodeJS.Immediate;
  private stopped = false;
  /** Called when nothing is pending at all: no timer, no real work. */
  onStall?: () => void;

  /** Virtual epoch milliseconds. */
  now(): number {
    return this.pendingReal > 0 ? this.base + (Date.now() - this.anchor) : this.base;
  }

  /** What an AGI process must add to its wall clock to see virtual time. */
  offsetMs(): number {
    return this.now() - Date.now();
  }

  /** Calls `fire` after `ms` of virtual time; returns a cancel function. */
  timer(ms: number, fire: () => void): () => void {
    const t: Timer = { at: this.now() + Math.max(0, ms), seq: this.seq++, fire };
    this.timers.push(t);
    this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.schedule();
    return () => {
      const i = this.timers.indexOf(t);
      if (i >= 0) {
        this.timers.splice(i, 1);
        this.schedule();
      }
    };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.timer(ms, resolve));
  }

  /** Runs real work (a process, a socket); virtual time follows the wall clock meanwhile. */
  async real<T>(work: Promise<T>): Promise<T> {
    if (this.pendingReal++ === 0) this.anchor = Date.now();
    this.schedule();
    try {
      return await work;
    } finally {
      if (this.pendingReal === 1) this.base = this.now();
      this.pendingReal--;
      this.schedule();
    }
  }

  /**
   * Fires every timer due at this virtual instant, one by one, letting what each sets in motion
   * run before the next, without moving time on: events of the same instant happen together, as
   * Asterisk's channel threads would have them (two phones answering in the same millisecond).
   */
  async settle(): Promise<void> {
    this.settling++;
    const instant = this.now();
    try {
      for (;;) {
        await new Promise((r) => setImmediate(r));
        const next = this.timers[0];
        if (this.stopped || !next || next.at > instant) return;
        this.timers.shift();
        next.fire();
      }
    } finally {
      this.settling--;
      this.schedule();
    }
  }

  /** Drops every timer (what is left when all calls are over: stale ring and hangup timers). */
  clear(): void {
    this.timers = [];
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timers = [];
    if (this.wake) clearTimeout(this.wake);
    if (this.idle) clearImmediate(this.idle);
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.wake) clearTimeout(this.wake);
    this.wake = undefined;
    if (this.pendingReal > 0) {
      if (this.idle) clearImmediate(this.idle);
      this.idle = undefined;
      const next = this.timers[0];
      if (next) this.wake = setTimeout(() => this.fireDue(), Math.max(0, next.at - this.now()));
      return;
    }
    if (this.idle || this.settling > 0) return;
    // Let every continuation that is already runnable run first: only then is the PBX idle.
    this.idle = setImmediate(() => {
      this.idle = undefined;
      if (this.stopped || this.pendingReal > 0 || this.settling > 0) return;
      const next = this.timers[0];
      if (!next) {
        this.onStall?.();
        return;
      }
      if (next.at > this.base) this.base = next.at;
      this.fireDue();
    });
  }

  private fireDue(): void {
    this.wake = undefined;
    const now = this.now();
    // One at a time: what the first timer sets in motion may start real work.
    const next = this.timers[0];
    if (next && next.at <= now) {
      this.timers.shift();
      next.fire();
    }
    this.schedule();
  }
}
