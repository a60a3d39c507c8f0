// Cards while the phones ring (cardMode "ringing", resident service only). The dialplan tells the
// service when a person's phone starts ringing for a reported call (`ring`) and when that leg goes
// away (`ringend`); the show step tells it who answered. Here: who gets the card, who has it
// hidden, and when. Per call, shows and hides wait a short window and leave together (a member
// that rang and stopped inside one window costs nothing); an answer sends at once: the card hidden
// for everyone it was shown to but the answerer, in one request. Sending is the caller's
// (`send`); nothing here waits for Bitrix24, and no ringing leg waits for anything here.

/** What one flush asks Bitrix24 for: extensions, resolved to users by the sender. */
export interface CardBatch {
  uniqueid: string;
  /** BITRIX_CALL_ID as the ringing leg inherited it; '' when the call was not registered yet. */
  callId: string;
  show: string[];
  hide: string[];
}

/** `failed`: given up (the sender logged why); `unregistered`: no CALL_ID yet, the shows wait. */
export type SendOutcome = 'sent' | 'failed' | 'unregistered';

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface LiveCardsOptions {
  send(batch: CardBatch): Promise<SendOutcome>;
  now?: () => number;
  timers?: Timers;
  /** How long shows and hides of one call wait for each other. */
  windowMs?: number;
  /** How often shows held for a call not registered yet are tried again. */
  unregisteredRetryMs?: number;
  /** A call with no event for this long is forgotten (its hangup never reached the service). */
  idleMs?: number;
  /** Calls followed at once; the oldest is forgotten beyond it. */
  maxCalls?: number;
}

export const CARD_WINDOW_MS = 300;

interface CallCards {
  callId: string;
  /** Legs ringing now: channel name → extension (one person may have several phones). */
  ringing: Map<string, string>;
  /** Extensions whose card went out (or is on its way) and was not hidden since. */
  shown: Set<string>;
  /** Of those, the ones Bitrix24 confirmed. */
  delivered: Set<string>;
  pendingShow: Set<string>;
  pendingHide: Set<string>;
  answerer?: string;
  timer?: unknown;
  /** Flushes of this call go out in order, one after the other. */
  sending: Promise<void>;
  lastEvent: number;
}

const realTimers: Timers = {
  set: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class LiveCards {
  private readonly calls = new Map<string, CallCards>();
  private readonly send: (batch: CardBatch) => Promise<SendOutcome>;
  private readonly now: () => number;
  private readonly timers: Timers;
  private readonly windowMs: number;
  private readonly retryMs: number;
  private readonly idleMs: number;
  private readonly maxCalls: number;
  private sweepAt = 0;

  constructor(opts: LiveCardsOptions) {
    this.send = opts.send;
    this.now = opts.now ?? Date.now;
    this.timers = opts.timers ?? realTimers;
    this.windowMs = opts.windowMs ?? CARD_WINDOW_MS;
    this.retryMs = opts.unregisteredRetryMs ?? 1000;
    this.idleMs = opts.idleMs ?? 30 * 60_000;
    this.maxCalls = opts.maxCalls ?? 2000;
  }

  /** Calls followed now. */
  get size(): number {
    return this.calls.size;
  }

  /** A leg of a reported call started ringing a person's phone. */
  ring(uniqueid: string, callId: string, leg: string, extension: string): void {
    this.sweep();
    let c = this.calls.get(uniqueid);
    if (!c) {
      c = { callId, ringing: new Map(), shown: new Set(), delivered: new Set(), pendingShow: new Set(), pendingHide: new Set(), sending: Promise.resolve(), lastEvent: 0 };
      this.calls.set(uniqueid, c);
      this.bound();
    }
    c.lastEvent = this.now();
    if (callId && !c.callId) c.callId = callId;
    if (c.answerer !== undefined) return; // answered: no card to phones rung later (a transfer's)
    c.ringing.set(leg, extension);
    if (c.pendingHide.delete(extension)) return; // stopped and rang again within the window: the card stays
    if (!c.shown.has(extension)) c.pendingShow.add(extension);
    this.schedule(uniqueid, c, this.windowMs);
  }

  /** A ringing leg went away: not answered, or the answerer's at the end of the call. */
  ringEnd(uniqueid: string, leg: string, extension: string): void {
    const c = this.calls.get(uniqueid);
    if (!c || !c.ringing.delete(leg)) return;
    c.lastEvent = this.now();
    if (extension !== c.answerer && ![...c.ringing.values()].includes(extension)) {
      // (Another phone of theirs may still ring; an extension that rang and stopped within the window costs nothing.)
      if (!c.pendingShow.delete(extension) && c.shown.has(extension)) {
        c.pendingHide.add(extension);
        this.schedule(uniqueid, c, this.windowMs);
      }
    }
    this.forgetIfDone(uniqueid, c);
  }

  /**
   * The show step of the service: `extension` answered. Everyone else who has the card gets it
   * hidden now, in one request; shows not sent yet are dropped. Returns whether the answerer has
   * the card already (the show on answer may skip its request).
   */
  answered(uniqueid: string, extension: string): boolean {
    const c = this.calls.get(uniqueid);
    if (!c || c.answerer !== undefined) return c?.answerer === extension && c.delivered.has(extension);
    c.answerer = extension;
    c.lastEvent = this.now();
    c.pendingShow.clear();
    c.pendingHide.delete(extension);
    for (const e of c.shown) if (e !== extension) c.pendingHide.add(e);
    this.schedule(uniqueid, c, 0);
    return c.delivered.has(extension);
  }

  /**
   * The call's hangup step: the finish hides the card for everyone it was confirmed shown to, in
   * its own request, so their hides still waiting are dropped; shows not sent are dropped; what is
   * on its way still goes. The call is forgotten.
   */
  ended(uniqueid: string): void {
    const c = this.calls.get(uniqueid);
    if (!c) return;
    c.pendingShow.clear();
    for (const e of [...c.pendingHide]) if (c.delivered.has(e)) c.pendingHide.delete(e);
    this.forget(uniqueid, c);
    this.flush(uniqueid, c);
  }

  /** Stops every timer (the service stops). */
  stop(): void {
    for (const [id, c] of this.calls) this.forget(id, c);
  }

  private schedule(uniqueid: string, c: CallCards, ms: number): void {
    if (c.timer !== undefined) {
      if (ms > 0) return; // the window already runs: this joins it
      this.timers.clear(c.timer);
    }
    c.timer = this.timers.set(() => {
      c.timer = undefined;
      this.flush(uniqueid, c);
      this.forgetIfDone(uniqueid, c);
    }, ms);
  }

  private flush(uniqueid: string, c: CallCards): void {
    if (c.pendingShow.size === 0 && c.pendingHide.size === 0) return;
    const batch: CardBatch = { uniqueid, callId: c.callId, show: [...c.pendingShow], hide: [...c.pendingHide] };
    c.pendingShow.clear();
    c.pendingHide.clear();
    for (const e of batch.show) c.shown.add(e);
    for (const e of batch.hide) c.shown.delete(e);
    c.sending = c.sending
      .then(() => this.send(batch))
      .then(
        (outcome) => {
          if (outcome === 'sent') {
            for (const e of batch.show) if (c.shown.has(e)) c.delivered.add(e);
            for (const e of batch.hide) c.delivered.delete(e);
          }
          if (outcome !== 'unregistered' || batch.show.length === 0) return;
          // Not registered yet: the shows wait for the CALL_ID unless the call moved on meanwhile.
          for (const e of batch.show) {
            c.shown.delete(e);
            if (c.answerer === undefined && [...c.ringing.values()].includes(e)) c.pendingShow.add(e);
          }
          if (c.pendingShow.size > 0 && this.calls.get(uniqueid) === c) this.schedule(uniqueid, c, this.retryMs);
        },
        () => undefined,
      );
  }

  /** No leg rings and nothing waits to be sent: the call needs no more cards (a hunt's next member starts afresh). */
  private forgetIfDone(uniqueid: string, c: CallCards): void {
    if (c.ringing.size === 0 && c.timer === undefined && c.pendingShow.size === 0 && c.pendingHide.size === 0) this.forget(uniqueid, c);
  }

  private forget(uniqueid: string, c: CallCards): void {
    if (c.timer !== undefined) this.timers.clear(c.timer);
    c.timer = undefined;
    if (this.calls.get(uniqueid) === c) this.calls.delete(uniqueid);
  }

  /** Calls whose hangup never reached the service (it restarted, the fallback served the hangup). */
  private sweep(): void {
    const now = this.now();
    if (now < this.sweepAt) return;
    this.sweepAt = now + 60_000;
    for (const [id, c] of this.calls) if (now - c.lastEvent > this.idleMs) this.forget(id, c);
  }

  private bound(): void {
    while (this.calls.size > this.maxCalls) {
      const [id, c] = this.calls.entries().next().value as [string, CallCards];
      this.forget(id, c);
    }
  }
}
