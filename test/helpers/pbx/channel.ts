// One Asterisk channel: its variable list (Asterisk's semantics: a list searched from the head,
// `_X`/`__X` kept under their full names for inheritance, Gosub locals shadowing older values),
// its dialplan location and Gosub stack, caller ID, state, hangup handlers, and an inbox of
// control frames (ringing, answer, busy, hangup) that the application running on it waits on.

import type { PhoneScript } from './phones';

export type ChannelState = 'Down' | 'Ring' | 'Ringing' | 'Up';

export type ControlType = 'ringing' | 'progress' | 'answer' | 'busy' | 'congestion' | 'hangup' | 'dtmf' | 'async-goto';

export interface ControlFrame {
  type: ControlType;
  from: Channel;
  /** For dtmf: the key pressed. */
  digit?: string;
}

export interface Frame {
  /** Where Return() goes; undefined for a subroutine run by the PBX itself (U(), hangup handler). */
  ret?: { context: string; exten: string; priority: number };
  /** Variables this frame pushed (ARGn, ARGC, LOCAL()), removed again on Return. */
  locals: Set<string>;
  argc: number;
  /** Set when Return() popped this frame. */
  done: boolean;
}

export interface PartyId {
  num: string;
  name: string;
}

export interface MixMonitorState {
  path: string;
  options: string;
  command: string;
  startedAt: number;
  /** First time the channel joined a bridge while recording (option b records from there). */
  bridgedAt?: number;
}

export function bareName(name: string): string {
  if (name.startsWith('__')) return name.slice(2);
  if (name.startsWith('_')) return name.slice(1);
  return name;
}

export class Channel {
  /** Head first, like Asterisk's varshead. */
  vars: Array<{ name: string; value: string }> = [];
  state: ChannelState = 'Down';
  context = '';
  exten = '';
  priority = 1;
  caller: PartyId = { num: '', name: '' };
  connected: PartyId = { num: '', name: '' };
  dnid = '';
  language = 'en';
  accountcode = '';
  stack: Frame[] = [];
  hangupHandlers: string[] = [];
  shared = new Map<string, string>();
  /** Channel properties that are not variables: CDR fields, CHANNEL() items, GROUP(), presentation. */
  props = new Map<string, string>();
  /** A hangup was requested (the far end left, Hangup(), the bridge ended). */
  hungUp = false;
  /** Running the h extension or hangup handlers. */
  dead = false;
  destroyed = false;
  hangupCause = 0;
  answeredAt?: number;
  /** The channel that dialled this one and waits on its control frames. */
  owner?: Channel;
  bridgedWith?: Channel;
  /** For Local channels: the other half. */
  other?: Channel;
  half?: 1 | 2;
  mixmonitor?: MixMonitorState;
  /** A trunk channel: how the far end behaves (pbx.trunk()). */
  farEnd?: PhoneScript;
  /** Called when the channel is answered (a caller's key presses start). */
  onAnswer?: () => void;
  /** Called when the channel is gone (after its hangup handlers and MixMonitor). */
  onDestroyed?: () => void;
  /** Called when the channel joins a bridge (a caller's talk timer starts). */
  onBridge?: () => void;
  /** Hook for a running AGI: the channel hung up under it. */
  onHangupHook?: () => void;
  /** Set by Goto/Gosub/Return: the PBX loop must not step to the next priority. */
  jumped = false;
  /** ast_async_goto while in a bridge (a blind transfer's transferee): where the channel goes once it has left it. */
  pendingGoto?: { context: string; exten: string };
  /** The channel's thread waits in pbx.bridge() on this channel (the Dial caller's side). */
  bridgeWaiter = false;
  readonly threadId: string;
  private inbox: ControlFrame[] = [];
  private waiter?: () => void;

  constructor(
    readonly name: string,
    readonly uniqueid: string,
    public linkedid: string,
    readonly tech: string,
    readonly createdAt: number,
    readonly endpoint = '',
  ) {
    this.threadId = String(140387888000000 + Number(uniqueid.split('.')[1] ?? 0) * 512);
  }

  getVar(name: string): string | undefined {
    return this.vars.find((v) => bareName(v.name) === name)?.value;
  }

  /** pbx_builtin_setvar_helper: replaces the first entry of that name; undefined deletes it. */
  setVar(name: string, value: string | undefined): void {
    const bare = bareName(name);
    const i = this.vars.findIndex((v) => bareName(v.name) === bare);
    if (i >= 0) this.vars.splice(i, 1);
    if (value !== undefined) this.vars.unshift({ name, value });
  }

  /** pbx_builtin_pushvar_helper: shadows an older value (Gosub locals). */
  pushVar(name: string, value: string): void {
    this.vars.unshift({ name, value });
  }

  popVar(name: string): void {
    const i = this.vars.findIndex((v) => bareName(v.name) === name);
    if (i >= 0) this.vars.splice(i, 1);
  }

  /** What a channel created by this one gets (ast_channel_inherit_variables). */
  inheritTo(child: Channel): void {
    for (const v of [...this.vars].reverse()) {
      if (v.name.startsWith('__')) child.vars.unshift({ name: v.name, value: v.value });
      else if (v.name.startsWith('_')) child.vars.unshift({ name: v.name.slice(1), value: v.value });
    }
  }

  snapshot(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const v of [...this.vars].reverse()) out[bareName(v.name)] = v.value;
    return out;
  }

  /** Queues a control frame for whatever application runs on this channel. */
  post(frame: ControlFrame): void {
    this.inbox.push(frame);
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /**
   * The next control frame, or 'timeout'. Frames `accept` does not want are dropped (stale
   * news from a channel the application no longer cares about); this channel's own hangup is
   * always delivered.
   */
  async next(timer: (ms: number, fire: () => void) => () => void, ms: number | undefined, accept: (f: ControlFrame) => boolean): Promise<ControlFrame | 'timeout'> {
    for (;;) {
      while (this.inbox.length) {
        const f = this.inbox.shift()!;
        if ((f.type === 'hangup' && f.from === this) || accept(f)) return f;
      }
      if (this.hungUp && !this.dead) return { type: 'hangup', from: this };
      let timedOut = false;
      await new Promise<void>((resolve) => {
        const cancel = ms === undefined ? () => undefined : timer(ms, () => ((timedOut = true), resolve()));
        this.waiter = () => {
          cancel();
          resolve();
        };
      });
      this.waiter = undefined;
      if (timedOut) return 'timeout';
    }
  }

  /** Empties the inbox (an application starts afresh). */
  drain(): void {
    this.inbox = [];
  }

  goto(context: string, exten: string, priority: number): void {
    this.context = context;
    this.exten = exten;
    this.priority = priority;
    this.jumped = true;
  }

  stateCode(): number {
    return this.state === 'Up' ? 6 : this.state === 'Ringing' ? 5 : this.state === 'Ring' ? 4 : 0;
  }
}
