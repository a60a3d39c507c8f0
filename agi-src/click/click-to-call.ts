// Click-to-call (run by the resident service): a click from Bitrix24 rings the user's own
// extension first (Local/<ext>@originate-skipvm/n: voicemail never answers it), and when they
// pick up FreePBX dials the number from from-internal as that extension (its outbound caller ID,
// route permissions, recording). The click's CALL_ID rides on the channel (BITRIX_CLICK_CALL_ID):
// the outgoing hook takes the call over and its hangup step finishes it; Bitrix24 registered it
// already, so it is never registered again. Every other way a click can end is finished here.
import { randomBytes } from 'crypto';
import type { Ami } from '../ami/client';
import type { AmiMessage } from '../ami/message';
import type { Services } from '../flows/services';
import { completeCall } from '../flows/complete';
import { agentCallerName, ClickEnd, clickChannelId, clickEndStatus, ClickRequest, dialNumber, isStale, parseClickEvent, validExtension } from '../logic/click';
import { normaliseNumber } from '../logic/phone';
import { userByIdRequest } from '../flows/requests';
import { OfflineEvent, OfflineEventPoller, PollerOptions } from './offline-events';

export interface ClickOptions {
  poller?: PollerOptions;
  /** How long the agent's phone may ring (Originate Timeout); FreePBX's ring time decides first. */
  agentRingMs?: number;
  /** After the originated channel hangs up, how long the outgoing hangup step gets to claim the call. */
  handoverGraceMs?: number;
}

export interface ClickToCall {
  /** Stops polling; clicks in progress are still finished when their call ends. */
  stop(): Promise<void>;
  readonly poller: OfflineEventPoller;
}

interface Tracked {
  click: ClickRequest;
  uniqueid: string;
  actionId?: string;
  answered: boolean;
  done: boolean;
  timer?: NodeJS.Timeout;
}

const REQUEST_MS = 10_000;

/**
 * What the resident service starts when `clickToCall` is on: `services` for the database and
 * Bitrix24 (background priority: clicks share the portal budget with the calls), `ami` connected
 * with FreePBX's manager user (amiOptionsFromEnv).
 */
export function startClickToCall(services: Services, ami: Ami, opts: ClickOptions = {}): ClickToCall {
  const c = new ClickHandler(services, ami, opts);
  if (ami.connected) void c.recheck();
  const poller = new OfflineEventPoller(services, (e) => c.onOfflineEvent(e), opts.poller);
  poller.start();
  return {
    poller,
    stop: async () => {
      await poller.stop();
      c.detach();
    },
  };
}

export class ClickHandler {
  private readonly tracked = new Map<string, Tracked>();
  private readonly onEvent = (msg: AmiMessage) => this.onAmiEvent(msg);
  private readonly onConnected = () => void this.recheck();

  constructor(
    private readonly s: Services,
    private readonly ami: Ami,
    private readonly opts: ClickOptions = {},
  ) {
    ami.on('event', this.onEvent);
    ami.on('connected', this.onConnected);
  }

  detach(): void {
    // Calls already ringing are left to the outgoing hook and to the retry's lost-call sweep.
    this.ami.off('event', this.onEvent);
    this.ami.off('connected', this.onConnected);
    for (const t of this.tracked.values()) clearTimeout(t.timer);
  }

  async onOfflineEvent(e: OfflineEvent): Promise<void> {
    const click = parseClickEvent(e);
    if (!click) {
      this.s.log.warn(`click-to-call: an event that is not a usable OnExternalCallStart (${String(e.EVENT_NAME ?? '?')}); skipped`);
      return;
    }
    await this.handle(click);
  }

  async handle(click: ClickRequest): Promise<void> {
    const log = this.s.log;
    const { calls } = await this.s.stores();
    if ([...this.tracked.values()].some((t) => t.click.callId === click.callId) || (await calls.hasCallId(click.callId))) {
      log.info(`click-to-call ${click.callId}: delivered again; already handled`);
      return;
    }
    const now = this.s.now();
    const uniqueid = clickChannelId(now, randomBytes(6).toString('hex'));
    const t: Tracked = { click, uniqueid, answered: false, done: false };
    this.tracked.set(uniqueid, t);
    const number = dialNumber(click, this.s.config.clickToCallRewrite);
    const line = `user ${click.userId} to ${number ?? JSON.stringify(click.phone)}`;
    if (isStale(click, now)) return this.end(t, 'not-placed', `clicked ${Math.round((now - (click.queuedAt as number)) / 1000)} s ago; too late to ring now`, click.userId);

    let user: { active: boolean; extension: string | null } | null;
    try {
      user = await this.user(click.userId);
    } catch (err) {
      return this.end(t, 'not-placed', `cannot ask Bitrix24 who user ${click.userId} is (${(err as Error).message})`, click.userId);
    }
    if (!user || !user.active) return this.end(t, 'not-placed', `user ${click.userId} is not an active Bitrix24 user`, this.s.config.defaultUserId);
    const ext = user.extension;
    if (!ext) return this.end(t, 'not-placed', `user ${click.userId} has no extension (internal number) in Bitrix24`, click.userId);
    if (!number) return this.end(t, 'not-placed', `number ${JSON.stringify(click.phone)} cannot be dialled`, click.userId, ext);
    if (!this.ami.connected) return this.end(t, 'not-placed', 'no connection to Asterisk (AMI)', click.userId, ext);
    try {
      const known = await this.ami.listAction([['Action', 'DBGet'], ['Family', 'AMPUSER'], ['Key', `${ext}/device`]]);
      if (known.response.Response !== 'Success') return this.end(t, 'not-placed', `extension ${ext} is not on this PBX`, click.userId, ext);
    } catch (err) {
      return this.end(t, 'not-placed', `Asterisk did not answer (${(err as Error).message})`, click.userId, ext);
    }

    await this.save(t, ext, click.userId, number);
    log.info(`click-to-call ${click.callId}: ${line}: ringing extension ${ext} first (${uniqueid})`);
    let res: AmiMessage;
    try {
      res = await this.ami.action([
        ['Action', 'Originate'],
        ['Channel', `Local/${ext}@originate-skipvm/n`],
        ['Context', 'from-internal'],
        ['Exten', number],
        ['Priority', '1'],
        ['CallerID', `"${agentCallerName(number)}" <${ext}>`],
        ['Timeout', String(this.opts.agentRingMs ?? 30_000)],
        ['Async', 'true'],
        ['ChannelId', uniqueid],
        ['Variable', `__BITRIX_CLICK_CALL_ID=${click.callId}`],
      ]);
    } catch (err) {
      return this.end(t, 'not-placed', `originate not sent (${(err as Error).message})`, click.userId, ext);
    }
    if (res.Response !== 'Success') return this.end(t, 'not-placed', `Asterisk refused the originate (${res.Message ?? 'no reason'})`, click.userId, ext);
    t.actionId = res.ActionID;
    // OriginateResponse comes when the agent answers or gives up; a watchdog in case it never does.
    t.timer = setTimeout(() => void this.recheckOne(t, true), (this.opts.agentRingMs ?? 30_000) + 30_000);
    t.timer.unref();
  }

  private async user(userId: number): Promise<{ active: boolean; extension: string | null } | null> {
    const req = userByIdRequest(userId);
    const res = await (await this.s.client()).call(req.method, req.params, this.s.now() + REQUEST_MS);
    const u = Array.isArray(res) ? (res.find((x) => Number((x as Record<string, unknown>)?.ID) === userId) as Record<string, unknown> | undefined) : undefined;
    if (!u) return null;
    return { active: u.ACTIVE === true || u.ACTIVE === 'Y' || u.ACTIVE === 'true' || u.ACTIVE === 1 || u.ACTIVE === undefined, extension: validExtension(u.UF_PHONE_INNER) };
  }

  /** The click's call row: registered already (its CALL_ID), owing no register step. */
  private async save(t: Tracked, ext: string, userId: number, number: string | null): Promise<void> {
    const { calls } = await this.s.stores();
    const now = this.s.now();
    const shown = normaliseNumber(t.click.phoneInternational || t.click.phone || number || '', this.s.config.countryCode)?.forBitrix ?? (number || '?');
    await calls.insertOutgoing(
      { uniqueid: t.uniqueid, linkedid: t.uniqueid, number: shown, line: t.click.line, startedAt: now, extension: ext, userId, callId: t.click.callId },
      now,
      now,
    );
  }

  private onAmiEvent(msg: AmiMessage): void {
    if (msg.Event === 'OriginateResponse') {
      const t = [...this.tracked.values()].find((x) => x.actionId !== undefined && x.actionId === msg.ActionID);
      if (!t || t.done) return;
      if (msg.Response === 'Success') {
        t.answered = true;
        this.s.log.info(`click-to-call ${t.click.callId}: extension answered; dialling the number`);
      } else {
        void this.end(t, 'agent-no-answer', `the extension did not answer (reason ${msg.Reason ?? '?'})`);
      }
      return;
    }
    if (msg.Event === 'Hangup') {
      const t = this.tracked.get(msg.Uniqueid ?? '');
      if (t && !t.done) void this.afterHangup(t);
    }
  }

  /**
   * The originated channel is gone. If the number went out through a trunk, the outgoing hook
   * took the call and its hangup step (which runs before Asterisk reports the hangup) finished it.
   */
  private async afterHangup(t: Tracked): Promise<void> {
    if (!t.answered) {
      // The Hangup overtook the OriginateResponse: let that one say why.
      await new Promise((r) => setTimeout(r, 500));
      if (t.done) return;
      if (!t.answered) return this.end(t, 'agent-no-answer', 'the extension did not answer');
    }
    const claimed = async () => !!(await (await this.s.stores()).calls.get(t.uniqueid))?.hungup_at;
    if (await claimed()) return this.forget(t);
    await new Promise((r) => setTimeout(r, this.opts.handoverGraceMs ?? 2000));
    if (await claimed()) return this.forget(t);
    await this.end(t, 'not-dialled', 'the number did not go out through a trunk');
  }

  /**
   * On every (re)connection to Asterisk: are the calls being watched still there? And clicks a
   * previous run of the service left open (their row has no hangup): watched again if their
   * channel is up, finished if it is gone and no hangup step claimed them.
   */
  async recheck(): Promise<void> {
    for (const t of [...this.tracked.values()]) if (!t.done && t.actionId) await this.recheckOne(t, false);
    try {
      const { calls } = await this.s.stores();
      const open = await calls.openClicks(this.s.now() - this.s.config.staleCallHours * 3600_000);
      for (const row of open) {
        if (this.tracked.has(row.uniqueid)) continue;
        const click: ClickRequest = {
          callId: row.bitrix_call_id as string,
          userId: row.operator_user_id ?? this.s.config.defaultUserId,
          phone: row.caller_number,
          phoneInternational: '',
          line: row.did,
          queuedAt: null,
        };
        const t: Tracked = { click, uniqueid: row.uniqueid, answered: false, done: false, actionId: 'earlier run' };
        this.tracked.set(row.uniqueid, t);
        this.s.log.info(`click-to-call ${click.callId}: left open by an earlier run of the service; looking for its channel`);
        await this.recheckOne(t, true);
      }
    } catch (err) {
      this.s.log.warn(`click-to-call: cannot look for clicks left open (${(err as Error).message})`);
    }
  }

  /** `pastRingTime`: the agent's phone cannot be ringing any more, so a live channel was answered. */
  private async recheckOne(t: Tracked, pastRingTime: boolean): Promise<void> {
    if (t.done) return;
    let alive: boolean;
    try {
      const { events } = await this.ami.listAction([['Action', 'CoreShowChannels']]);
      alive = events.some((e) => e.Uniqueid === t.uniqueid);
    } catch {
      t.timer = setTimeout(() => void this.recheckOne(t, pastRingTime), 30_000);
      t.timer.unref();
      return;
    }
    if (alive) {
      if (pastRingTime) t.answered = true;
      clearTimeout(t.timer);
      t.timer = setTimeout(() => void this.recheckOne(t, true), 60_000);
      t.timer.unref();
      return;
    }
    await this.afterHangup(t);
  }

  private forget(t: Tracked): void {
    t.done = true;
    clearTimeout(t.timer);
    this.tracked.delete(t.uniqueid);
  }

  /** Finishes the click's CALL_ID (through the row and its outbox, so a Bitrix24 outage only delays it). */
  private async end(t: Tracked, end: ClickEnd, why: string, finishUser?: number, ext?: string): Promise<void> {
    if (t.done) return;
    t.done = true;
    clearTimeout(t.timer);
    const s = this.s;
    const status = clickEndStatus(end);
    try {
      const { calls } = await s.stores();
      let row = await calls.get(t.uniqueid);
      if (!row) {
        await this.save(t, ext ?? '', finishUser ?? t.click.userId, null);
        row = await calls.get(t.uniqueid);
      }
      if (row?.hungup_at) return; // the outgoing hook finished it meanwhile
      const userId = finishUser ?? row?.operator_user_id ?? t.click.userId;
      const now = s.now();
      await calls.recordHangup(t.uniqueid, { hungupAt: now, recordingPath: null, finishUserId: userId, finishDuration: 0, finishStatus: status, attach: false }, now);
      s.log.info(`click-to-call ${t.click.callId}: ${why}; finished with ${status}`);
      await completeCall(s, t.uniqueid, now + REQUEST_MS);
    } catch (err) {
      s.log.error(`click-to-call ${t.click.callId}: could not record how it ended (${(err as Error).message}); the retry finishes it`);
    } finally {
      this.tracked.delete(t.uniqueid);
    }
  }
}
