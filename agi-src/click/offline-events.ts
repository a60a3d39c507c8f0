// Bitrix24 hands clicks (OnExternalCallStart) to the application that owns the user's outgoing
// line. Without a public address the PBX takes them from the portal's offline event queue: the
// application binds the event offline once (event.bind, event_type=offline; this also lists it
// among the portal's outgoing lines), then the service asks event.offline.get every couple of
// seconds, inside the portal's shared request budget, backing off when the portal says "too many".
// These methods refuse a webhook: with a webhook only, the poller says so once and stays idle.
import { BitrixError } from '../bitrix/errors';
import type { Services } from '../flows/services';

export const CLICK_EVENT = 'ONEXTERNALCALLSTART';

export interface PollerOptions {
  intervalMs?: number;
  maxBackoffMs?: number;
  /** After refused credentials or rights: the admin has to act; asked again this rarely. */
  refusedPauseMs?: number;
  sleep?: (ms: number, signal: { stopped: boolean }) => Promise<void>;
}

export interface OfflineEvent {
  ID?: string;
  TIMESTAMP_X?: string;
  EVENT_NAME?: string;
  EVENT_DATA?: unknown;
}

const REQUEST_MS = 10_000;
/** A look at the queue waits this long at most: "too many requests" comes back to the poller's own back-off. */
const POLL_MS = 3000;

export class OfflineEventPoller {
  private readonly state = { stopped: false };
  private loop?: Promise<void>;
  private bound = false;
  /** What the page and the log say about the poller now. */
  status: 'starting' | 'polling' | 'needs-application' | 'refused' | 'backing-off' | 'stopped' = 'starting';

  constructor(
    private readonly s: Services,
    private readonly onEvent: (e: OfflineEvent) => Promise<void>,
    private readonly opts: PollerOptions = {},
  ) {}

  start(): void {
    if (!this.loop) this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.state.stopped = true;
    this.status = 'stopped';
    await this.loop;
  }

  private async sleep(ms: number): Promise<void> {
    if (this.opts.sleep) return this.opts.sleep(ms, this.state);
    const until = Date.now() + ms;
    while (!this.state.stopped && Date.now() < until) await new Promise((r) => setTimeout(r, Math.min(200, until - Date.now())));
  }

  private async run(): Promise<void> {
    const log = this.s.log;
    if (!this.s.config.app) {
      this.status = 'needs-application';
      log.warn('click-to-call: needs the local application (Connect on the settings page); Bitrix24 does not hand clicks to a webhook. Everything else keeps working on the webhook.');
      return;
    }
    const interval = this.opts.intervalMs ?? 2000;
    const maxBackoff = this.opts.maxBackoffMs ?? 30_000;
    let backoff = interval;
    while (!this.state.stopped) {
      try {
        if (!this.bound) await this.bind();
        const events = await this.fetch();
        this.status = 'polling';
        backoff = interval;
        for (const e of events) {
          if (this.state.stopped) break;
          await this.onEvent(e).catch((err: Error) => log.error(`click-to-call: ${err.message}`));
        }
        await this.sleep(interval);
      } catch (err) {
        const e = err instanceof BitrixError ? err : new BitrixError('transient', 'ERROR', (err as Error).message, 0, 'event.offline.get');
        if (e.kind === 'auth') {
          this.status = 'refused';
          log.error(`click-to-call: Bitrix24 refused ${e.method} (${e.code || e.description}): connect the local application as a portal administrator; asked again in ${Math.round((this.opts.refusedPauseMs ?? 300_000) / 1000)} s`);
          this.bound = false;
          await this.sleep(this.opts.refusedPauseMs ?? 300_000);
          continue;
        }
        this.status = 'backing-off';
        backoff = Math.min(maxBackoff, backoff * 2);
        if (e.kind === 'rate') log.info(`click-to-call: the portal's request budget is used up; next look in ${backoff} ms`);
        else log.warn(`click-to-call: ${e.message}; next look in ${backoff} ms`);
        await this.sleep(backoff);
      }
    }
  }

  /** event.get: bound already? Else event.bind offline ("already binded" from a parallel bind is fine). */
  private async bind(): Promise<void> {
    const client = await this.s.client();
    const handlers = await client.call('event.get', {}, Date.now() + REQUEST_MS);
    const has = Array.isArray(handlers) && handlers.some((h) => String((h as Record<string, unknown>)?.event ?? '').toUpperCase() === CLICK_EVENT && Number((h as Record<string, unknown>)?.offline) === 1);
    if (!has) {
      try {
        await client.call('event.bind', { event: CLICK_EVENT, event_type: 'offline' }, Date.now() + REQUEST_MS);
        this.s.log.info('click-to-call: subscribed to OnExternalCallStart (offline); choose the application as the default number for outgoing calls in Bitrix24');
      } catch (err) {
        if (!(err instanceof BitrixError && /already binded|already started/i.test(err.description))) throw err;
      }
    }
    this.bound = true;
  }

  private async fetch(): Promise<OfflineEvent[]> {
    const client = await this.s.client();
    const res = (await client.call('event.offline.get', { filter: { '=EVENT_NAME': CLICK_EVENT }, limit: 50 }, Date.now() + POLL_MS)) as {
      events?: unknown;
    };
    return Array.isArray(res?.events) ? (res.events as OfflineEvent[]) : [];
  }
}
