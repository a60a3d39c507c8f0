// The test PBX: runs FreePBX-generated dialplan text the way Asterisk 22 does, one async "thread"
// per channel that has a dialplan to run, on a virtual clock (clock.ts). Applications live in
// applications.ts, dial.ts, queue.ts, agi.ts; functions in functions.ts; phones and callers in
// phones.ts. Anything it does not support fails the run with a message naming it.
import { separateArgs } from './args';
import { Channel, ControlFrame, ControlType, Frame } from './channel';
import { Clock } from './clock';
import { FUNCTIONS, FunctionHost, UnsupportedError } from './functions';
import { Dialplan, DialplanSource, parseDialplan, Step } from './parser';
import { substitute } from './substitute';
import { placeInbound, placeOutbound } from './phones';
import type { InboundCall, InboundOptions, OutboundOptions, PhoneScript, TrunkScript } from './phones';
import type { BuiltinAgi } from './agi';
import { findApp, PbxError } from './registry';
// The applications register themselves; loading them here makes every Pbx complete.
import './applications';
import { callChannel, hangupAll, requestChannel } from './dial';
import './queue';
import './agi';
import { closeMixMonitor } from './mixmonitor';

export interface QueueConfig {
  strategy?: 'ringall' | 'linear' | 'rrmemory';
  /** Seconds a member rings per attempt (queues.conf timeout, default 15). */
  timeout?: number;
  /** Seconds between attempts (default 5). */
  retry?: number;
  /** Interfaces as in queues.conf `member =>`, e.g. Local/101@from-queue/n. */
  members: Array<string | { interface: string; name?: string; penalty?: number }>;
  /** MEMBER* / QUEUE* / QE* variables on caller and member: off unless set (Asterisk's default, FreePBX's too). */
  setinterfacevar?: boolean;
  setqueuevar?: boolean;
  setqueueentryvar?: boolean;
}

export interface PbxOptions {
  dialplan: Dialplan | DialplanSource | DialplanSource[];
  /** AstDB seed, `FAMILY/key` → value (FreePBX keeps DEVICE/<n>/dial, AMPUSER/<n>/device …). */
  astdb?: Record<string, string>;
  queues?: Record<string, QueueConfig>;
  /** astagidir: where AGI(script) finds its script. */
  agiDir: string;
  /** astspooldir: MixMonitor's relative files go to <spoolDir>/monitor. */
  spoolDir: string;
  /** Environment added to every AGI process (e.g. ITD_BITRIX_CONFIG). */
  agiEnv?: Record<string, string>;
  /** Scripts the PBX answers itself instead of spawning (FreePBX's dialparties.agi). */
  builtinAgi?: Record<string, BuiltinAgi>;
  /** AGI processes see the virtual clock (default true), see clock-shift.cjs. */
  shiftAgiClocks?: boolean;
  /** FreePBX's core-fastagi proxy on 127.0.0.1:4573 runs local scripts (default: nothing listens). */
  coreFastAgi?: boolean;
  /** Dialplan steps one channel may run before the test calls it a loop. */
  maxSteps?: number;
  /** Real milliseconds a run may take before it fails (default 60 s). */
  watchdogMs?: number;
}

export interface TraceLine {
  at: number;
  channel: string;
  context: string;
  exten: string;
  priority: number;
  app: string;
  data: string;
}

export interface PbxEvent {
  at: number;
  type: string;
  channel: string;
  [k: string]: unknown;
}

export interface ChannelRecord {
  name: string;
  uniqueid: string;
  linkedid: string;
  answeredAt?: number;
  hungupAt: number;
  cause: number;
  vars: Record<string, string>;
}

export interface AgiRunRecord {
  channel: string;
  script: string;
  args: string[];
  /** The agi_* environment as sent. */
  env: Record<string, string>;
  dead: boolean;
  status: string;
  lines: string[];
  exitCode: number | null;
  stderr: string;
}

export { PbxError, registerApps } from './registry';
export type { App, AppContext } from './registry';

export class Pbx implements FunctionHost {
  readonly clock = new Clock();
  readonly dialplan: Dialplan;
  readonly astdb = new Map<string, string>();
  readonly globals = new Map<string, string>();
  readonly queues = new Map<string, QueueConfig & { lastIndex: number }>();
  readonly phones = new Map<string, PhoneScript>();
  readonly trunks = new Map<string, TrunkScript>();
  /** Every call put on a trunk: which endpoint, which number, the channel. */
  readonly trunkCalls: Array<{ endpoint: string; number: string; channel: string }> = [];
  readonly live = new Set<Channel>();
  readonly ended: ChannelRecord[] = [];
  readonly trace: TraceLine[] = [];
  readonly events: PbxEvent[] = [];
  readonly agiRuns: AgiRunRecord[] = [];
  /** What Asterisk would log as WARNING. */
  readonly warnings: string[] = [];
  /** What Asterisk would log as ERROR (Gosub to nowhere, invalid extension …): the call goes on. */
  readonly errors: Error[] = [];
  /** Failures of the test PBX itself (unsupported application, loop, deadlock): the run fails. */
  readonly failures: Error[] = [];
  readonly startedAt: number;
  /** Uniqueid sequence, shared by every test PBX of the process so two calls never share an id. */
  private static seq = 0;
  private channelSeq = 0;
  private localSeq = 0;
  private threads = new Set<Promise<void>>();
  private failed?: (err: Error) => void;
  /** Called after each AGI command was answered: lets a test hang up at an exact point of a script. */
  onAgiCommand?: (chan: Channel, command: string, count: number) => void;

  constructor(readonly options: PbxOptions) {
    const dp = options.dialplan;
    this.dialplan = dp instanceof Dialplan ? dp : parseDialplan(dp);
    for (const [k, v] of this.dialplan.globals) this.globals.set(k, substitute(v, this.resolver(undefined)));
    for (const [k, v] of Object.entries(options.astdb ?? {})) this.astdb.set(k, v);
    for (const [name, q] of Object.entries(options.queues ?? {})) this.queues.set(name, { ...q, lastIndex: -1 });
    this.startedAt = this.clock.now();
  }

  // ------------------------------------------------------------ scenario

  /** Scripts a phone: `PJSIP/101` or `101`. A Dial() to a phone nobody scripted fails the run. */
  phone(device: string, script: PhoneScript): this {
    this.phones.set(device.replace(/^PJSIP\//, ''), script);
    return this;
  }

  /** A call arriving on a trunk; its dialplan starts at once. */
  inbound(opts: InboundOptions): InboundCall {
    return placeInbound(this, opts);
  }

  /** Scripts the far end of a PJSIP trunk (endpoint `lab-a`): a Dial to PJSIP/<number>@lab-a reaches it. */
  trunk(endpoint: string, script: TrunkScript): this {
    this.trunks.set(endpoint, script);
    return this;
  }

  /** A call made from a phone: its dialplan starts in from-internal at the number. */
  outbound(opts: OutboundOptions): InboundCall {
    return placeOutbound(this, opts);
  }

  // ------------------------------------------------------------ FunctionHost

  readonly now = (): number => this.clock.now();

  channelByName(name: string): Channel | undefined {
    return [...this.live].find((c) => c.name === name);
  }

  channelByUniqueid(uniqueid: string): Channel | undefined {
    return [...this.live].find((c) => c.uniqueid === uniqueid);
  }

  substitute(chan: Channel | undefined, text: string): string {
    return substitute(text, this.resolver(chan));
  }

  setVariable(chan: Channel, name: string, value: string): void {
    if (name.endsWith(')')) {
      const open = name.indexOf('(');
      const fn = FUNCTIONS[name.slice(0, open)];
      if (!fn?.write) throw new UnsupportedError(`function ${name.slice(0, open)}() cannot be written by the test PBX (or is unknown)`);
      fn.write(this, chan, name.slice(open + 1, -1), value);
      return;
    }
    chan.setVar(name, value);
  }

  deviceState(exten: string, context: string): string {
    const hint = this.dialplan.hint(exten, context);
    if (!hint) return 'UNKNOWN';
    let state = 'UNAVAILABLE';
    for (const dev of hint.split(/[&,]/)) {
      const m = /^PJSIP\/(.+)$/.exec(dev.trim());
      if (!m) continue;
      const phone = this.phones.get(m[1]);
      if (!phone || phone.unavailable) continue;
      const chans = [...this.live].filter((c) => c.tech === 'PJSIP' && c.endpoint === m[1]);
      if (chans.some((c) => c.state === 'Up')) return 'INUSE';
      state = chans.some((c) => c.state === 'Ringing') ? 'RINGING' : state === 'UNAVAILABLE' ? 'NOT_INUSE' : state;
    }
    return state;
  }

  dialplanExists(context: string, exten: string, priority: number, callerNum?: string): boolean {
    return this.dialplan.exists(context, exten, priority, callerNum);
  }

  absoluteTimeout(chan: Channel, ms: number): void {
    this.clock.timer(ms, () => {
      if (!chan.hungUp) chan.setVar('TIMEOUTCAUSE', 'absolute');
      this.hangup(chan, 16);
    });
  }

  channelsWhere(test: (c: Channel) => boolean): Channel[] {
    return [...this.live].filter(test);
  }

  dialContacts(endpoint: string): string {
    const phone = this.phones.get(endpoint);
    return phone && !phone.unavailable ? `PJSIP/${endpoint}/sip:${endpoint}@127.0.0.1:5062` : '';
  }

  warn(message: string): void {
    this.warnings.push(message);
  }

  // ------------------------------------------------------------ variables

  private resolver(chan: Channel | undefined) {
    return {
      variable: (name: string) => this.readVariable(chan, name),
      func: (call: string) => this.readFunction(chan, call),
      warn: (m: string) => this.warn(m),
    };
  }

  /** pbx_retrieve_variable: builtins first, then the channel, then globals. */
  readVariable(chan: Channel | undefined, name: string): string | undefined {
    if (chan) {
      switch (name) {
        case 'EXTEN': return chan.exten;
        case 'CONTEXT': return chan.context;
        case 'PRIORITY': return String(chan.priority);
        case 'CHANNEL': return chan.name;
        case 'UNIQUEID': return chan.uniqueid;
        case 'HANGUPCAUSE': return String(chan.hangupCause);
        case 'CALLINGPRES': return chan.caller.num ? '0' : '67';
      }
    }
    if (name === 'EPOCH') return String(Math.floor(this.clock.now() / 1000));
    if (name === 'ASTAGIDIR') return this.options.agiDir;
    if (name === 'ASTSPOOLDIR') return this.options.spoolDir;
    const v = chan?.getVar(name);
    return v !== undefined ? v : this.globals.get(name);
  }

  readFunction(chan: Channel | undefined, call: string): string | undefined {
    const open = call.indexOf('(');
    const name = open < 0 ? call : call.slice(0, open);
    const close = call.lastIndexOf(')');
    const args = open < 0 ? '' : call.slice(open + 1, close > open ? close : undefined);
    const fn = FUNCTIONS[name];
    if (!fn?.read) throw new UnsupportedError(`dialplan function ${name}() is not supported by the test PBX${fn ? ' for reading' : ''}`);
    return fn.read(this, chan, args);
  }

  // ------------------------------------------------------------ channels

  nextUniqueid(): string {
    return `${Math.floor(this.clock.now() / 1000)}.${++Pbx.seq}`;
  }

  newChannel(name: string, tech: string, endpoint = '', linkedid?: string): Channel {
    const uniqueid = this.nextUniqueid();
    const chan = new Channel(name, uniqueid, linkedid ?? uniqueid, tech, this.clock.now(), endpoint);
    this.live.add(chan);
    this.event('newchannel', chan);
    return chan;
  }

  channelSuffix(): string {
    return (++this.channelSeq).toString(16).padStart(8, '0');
  }

  localSuffix(): string {
    return (++this.localSeq).toString(16).padStart(8, '0');
  }

  event(type: string, chan: Channel, more: Record<string, unknown> = {}): void {
    this.events.push({ at: this.clock.now() - this.startedAt, type, channel: chan.name, ...more });
  }

  /** Starts the dialplan on a channel in its own thread. */
  startPbx(chan: Channel, context: string, exten: string, priority = 1): void {
    chan.context = context;
    chan.exten = exten;
    chan.priority = priority;
    const thread = this.runThread(chan).catch((err) => this.fail(err as Error, chan));
    this.threads.add(thread);
    void thread.finally(() => this.threads.delete(thread));
  }

  private async runThread(chan: Channel): Promise<void> {
    try {
      await this.loop(chan, {});
    } finally {
      if (!chan.hungUp) this.hangup(chan, chan.hangupCause || 16);
      chan.dead = true;
      if (this.dialplan.exists(chan.context, 'h', 1, chan.caller.num)) {
        chan.goto(chan.context, 'h', 1);
        await this.loop(chan, { dead: true });
      }
      await this.destroy(chan);
    }
  }

  /** Runs priorities until the channel leaves the dialplan (or `until` holds). */
  async loop(chan: Channel, opts: { dead?: boolean; until?: () => boolean }): Promise<'hangup' | 'end' | 'returned'> {
    let steps = 0;
    const max = this.options.maxSteps ?? 5000;
    for (;;) {
      if (opts.until?.()) return 'returned';
      if (!opts.dead && chan.hungUp) return 'hangup';
      const hit = this.dialplan.find(chan.context, chan.exten, chan.priority, chan.caller.num);
      const step = hit?.ext.steps.get(chan.priority);
      if (!step) {
        if (this.dialplan.exists(chan.context, chan.exten, 1, chan.caller.num)) return 'end';
        if (!opts.dead && this.dialplan.exists(chan.context, 'i', 1, chan.caller.num)) {
          chan.setVar('INVALID_EXTEN', chan.exten);
          chan.goto(chan.context, 'i', 1);
          continue;
        }
        this.errors.push(new PbxError(`${chan.name} sent to invalid extension ${chan.exten}@${chan.context}:${chan.priority}`));
        return 'end';
      }
      if (++steps > max) throw new PbxError(`${chan.name} ran ${max} dialplan steps: a loop? (last ${step.exten}@${step.context}:${step.priority})`);
      chan.jumped = false;
      const data = this.substitute(chan, step.data);
      this.trace.push({ at: this.clock.now() - this.startedAt, channel: chan.name, context: chan.context, exten: chan.exten, priority: chan.priority, app: step.app, data });
      const res = await this.execApp(chan, step.app, data, step);
      if (res < 0) return 'hangup';
      if (!chan.jumped) chan.priority++;
    }
  }

  async execApp(chan: Channel, name: string, data: string, step?: Step): Promise<number> {
    const app = findApp(name);
    if (!app) {
      const where = step ? ` at ${step.file}:${step.line}` : '';
      throw new PbxError(`application ${name}() is not supported by the test PBX${where}`);
    }
    return app({ pbx: this, chan, data, step });
  }

  hasApp(name: string): boolean {
    return findApp(name) !== undefined;
  }

  // ------------------------------------------------------------ Gosub machinery (app_stack)

  /**
   * Gosub(data) minus the return address when `ret` is undefined (a subroutine the PBX runs:
   * Dial U(), Queue's gosub, pre-dial b(), hangup handlers). Returns the frame, or undefined
   * when the destination does not exist (Asterisk logs an error and the channel hangs up).
   */
  gosubPush(chan: Channel, data: string, ret: Frame['ret']): Frame | undefined {
    const paren = data.indexOf('(');
    const label = paren < 0 ? data : data.slice(0, paren);
    let args: string[] = [];
    if (paren >= 0) {
      const close = data.lastIndexOf(')');
      if (close < paren) this.warn(`Ouch. No closing paren: '${data}'?`);
      args = separateArgs(data.slice(paren + 1, close > paren ? close : undefined), ',', false);
    }
    const dest = this.resolveLocation(chan, label);
    if (!dest || !this.dialplan.exists(dest.context, dest.exten, dest.priority, chan.caller.num)) {
      this.errors.push(new PbxError(`Gosub attempted to reach non-existent destination '${label}' from ${chan.context},${chan.exten},${chan.priority} on ${chan.name}`));
      return undefined;
    }
    const last = chan.stack[chan.stack.length - 1];
    const maxArgc = Math.max(last?.argc ?? 0, args.length);
    const frame: Frame = { ret, locals: new Set(), argc: maxArgc, done: false };
    for (let i = 0; i < maxArgc; i++) {
      frame.locals.add(`ARG${i + 1}`);
      chan.pushVar(`ARG${i + 1}`, args[i] ?? '');
    }
    frame.locals.add('ARGC');
    chan.pushVar('ARGC', String(args.length));
    chan.stack.push(frame);
    chan.goto(dest.context, dest.exten, dest.priority);
    return frame;
  }

  popFrame(chan: Channel): Frame | undefined {
    const frame = chan.stack.pop();
    if (!frame) return undefined;
    for (const name of frame.locals) chan.popVar(name);
    frame.done = true;
    return frame;
  }

  /** ast_app_exec_sub: runs `context,exten,priority(args)` on the channel and comes back. */
  async runSub(chan: Channel, spec: string, opts: { dead?: boolean } = {}): Promise<boolean> {
    const saved = { context: chan.context, exten: chan.exten, priority: chan.priority, dead: chan.dead };
    this.event('gosub', chan, { spec });
    const frame = this.gosubPush(chan, spec, undefined);
    if (!frame) return false;
    if (opts.dead) chan.dead = true;
    try {
      await this.loop(chan, { dead: chan.dead, until: () => frame.done });
    } finally {
      if (!frame.done) {
        this.warn(`${chan.name}: abnormal '${spec}' exit, popping routine return locations`);
        while (chan.stack.length && !frame.done) this.popFrame(chan);
      }
      chan.context = saved.context;
      chan.exten = saved.exten;
      chan.priority = saved.priority;
      chan.dead = saved.dead || chan.dead;
    }
    return true;
  }

  /** `[[context,]exten,]priority` with labels and +N/-N, as pbx_parse_location reads it. */
  resolveLocation(chan: Channel, target: string): { context: string; exten: string; priority: number } | undefined {
    const parts = target.split(',');
    let [context, exten, pri] = [chan.context, chan.exten, ''];
    if (parts.length === 1) pri = parts[0];
    else if (parts.length === 2) [exten, pri] = parts;
    else [context, exten, pri] = parts;
    let mode = 0;
    if (pri.startsWith('+')) [mode, pri] = [1, pri.slice(1)];
    else if (pri.startsWith('-')) [mode, pri] = [-1, pri.slice(1)];
    let priority: number;
    if (/^\d+$/.test(pri)) priority = mode ? chan.priority + mode * Number(pri) : Number(pri);
    else {
      const found = this.dialplan.findLabel(context, exten, pri, chan.caller.num);
      if (found === undefined) {
        this.warn(`Priority '${pri}' must be a number > 0, or valid label (${target} on ${chan.name})`);
        return undefined;
      }
      priority = found;
    }
    return { context, exten, priority };
  }

  // ------------------------------------------------------------ states and hangup

  answer(chan: Channel): void {
    if (chan.state === 'Up') return;
    chan.state = 'Up';
    chan.answeredAt = this.clock.now();
    this.event('answer', chan);
    this.forward(chan, 'answer');
    chan.onAnswer?.();
  }

  /** A control frame from this channel to whoever waits on it (Local ;2 → ;1 → its dialler). */
  indicate(chan: Channel, type: ControlType): void {
    this.forward(chan, type);
  }

  private forward(chan: Channel, type: ControlType): void {
    if (chan.half === 2 && chan.other) {
      const one = chan.other;
      if (type === 'answer') {
        if (one.state !== 'Up') {
          one.state = 'Up';
          one.answeredAt = this.clock.now();
          this.event('answer', one);
        }
      } else if (type === 'ringing' && one.state !== 'Up') one.state = 'Ringing';
      if (one.owner) one.owner.post({ type, from: one });
      return;
    }
    if (chan.owner && chan.owner !== chan.bridgedWith) chan.owner.post({ type, from: chan });
  }

  /** Soft hangup: whatever runs on the channel, and whoever waits on it, learns at once. */
  hangup(chan: Channel, cause = 16): void {
    if (chan.hungUp) return;
    chan.hungUp = true;
    if (!chan.hangupCause) chan.hangupCause = cause;
    this.event('hangup-request', chan, { cause });
    chan.post({ type: 'hangup', from: chan });
    chan.onHangupHook?.();
    const frame: ControlFrame = { type: 'hangup', from: chan };
    if (chan.bridgedWith) chan.bridgedWith.post(frame);
    if (chan.owner && chan.owner !== chan.bridgedWith) chan.owner.post(frame);
    if (chan.other && !chan.other.hungUp) this.hangup(chan.other, cause);
  }

  /** ast_hangup: hangup handlers (dead), then MixMonitor closes, then the channel is gone. */
  async destroy(chan: Channel): Promise<void> {
    if (chan.destroyed) return;
    chan.destroyed = true;
    this.hangup(chan, chan.hangupCause || 16);
    chan.dead = true;
    while (chan.hangupHandlers.length) {
      const handler = chan.hangupHandlers.pop()!;
      await this.runSub(chan, handler, { dead: true });
    }
    if (chan.mixmonitor) closeMixMonitor(this, chan);
    this.live.delete(chan);
    const at = this.clock.now();
    this.ended.push({ name: chan.name, uniqueid: chan.uniqueid, linkedid: chan.linkedid, answeredAt: chan.answeredAt, hungupAt: at, cause: chan.hangupCause, vars: chan.snapshot() });
    this.event('destroyed', chan, { cause: chan.hangupCause });
    chan.onDestroyed?.();
  }

  /** Two channels talk until one of them hangs up; `a` is the channel whose thread waits here. */
  async bridge(a: Channel, b: Channel): Promise<Channel> {
    a.bridgedWith = b;
    b.bridgedWith = a;
    a.bridgeWaiter = true;
    this.event('bridge', a, { peer: b.name });
    const since = this.clock.now();
    for (const c of [a, b]) {
      // bridge_channel.c, on joining: "the transfer has completed".
      for (const v of ['BLINDTRANSFER', 'ATTENDEDTRANSFER', 'FORWARDERNAME']) c.setVar(v, '');
      if (c.mixmonitor && c.mixmonitor.bridgedAt === undefined) c.mixmonitor.bridgedAt = since;
      c.onBridge?.();
    }
    let leaver: Channel;
    if (b.hungUp) leaver = b;
    else {
      const f = await a.next(this.clock.timer.bind(this.clock), undefined, (fr) => (fr.type === 'hangup' && fr.from === b) || (fr.type === 'async-goto' && fr.from === a));
      leaver = f === 'timeout' ? a : f.from;
    }
    a.bridgeWaiter = false;
    a.bridgedWith = undefined;
    b.bridgedWith = undefined;
    this.event('unbridge', a, { peer: b.name, leaver: leaver.name });
    return leaver;
  }

  /**
   * A blind transfer by `transferer` (DTMF `##<exten>` or a phone's REFER) of a two-party bridge,
   * as ast_bridge_transfer_blind does it (main/bridge.c): every other channel of the bridge gets
   * BLINDTRANSFER=<transferer's name> (and ATTENDEDTRANSFER erased), the transferer its bridge
   * peer's name; the transferee leaves the bridge for TRANSFER_CONTEXT (the transferer's variable
   * or global, else its context),<exten>,1 (ast_async_goto), the transferer is removed from the
   * bridge (its Dial hangs it up). Only a transferee whose own thread waits in the bridge (the
   * Dial caller's side, which is where a phone's peer always is here) is supported.
   */
  blindTransfer(transferer: Channel, exten: string): void {
    if (transferer.hungUp) return;
    const transferee = transferer.bridgedWith;
    if (!transferee) throw new PbxError(`${transferer.name}: blind transfer while not bridged`);
    if (!transferee.bridgeWaiter) throw new PbxError(`${transferer.name}: blind transfer of ${transferee.name}, which is not the side waiting in the bridge (not supported by the test PBX)`);
    const context = this.substitute(transferer, '${TRANSFER_CONTEXT}') || transferer.context;
    if (!context) throw new PbxError(`${transferer.name}: blind transfer without TRANSFER_CONTEXT or a context`);
    transferee.setVar('BLINDTRANSFER', transferer.name);
    transferee.setVar('ATTENDEDTRANSFER', '');
    transferer.setVar('BLINDTRANSFER', transferee.name);
    transferer.setVar('ATTENDEDTRANSFER', '');
    this.event('blind-transfer', transferer, { transferee: transferee.name, context, exten });
    transferee.pendingGoto = { context, exten };
    transferee.post({ type: 'async-goto', from: transferee });
  }

  /**
   * The consultation call of an attended transfer by DTMF (`*2<exten>`), as bridge_basic.c's
   * dial_transfer makes it: a Local channel to <exten>@TRANSFER_CONTEXT requested by the
   * transferer, TRANSFERERNAME and ATTENDEDTRANSFER (= the transferer's name) set on ;1, the
   * transferer's inheritable variables copied (copy_caller_data), then called: ;2 gets every
   * variable of ;1 and runs the dialplan. The customer stays where it is (on hold). What happens
   * next — the transfer completing (bridges merged, AMI AttendedTransfer) or abandoned — is up to
   * the test; the consultation leg ends when its far end hangs up. Returns ;1.
   */
  consultTransfer(transferer: Channel, exten: string): Channel | undefined {
    if (transferer.hungUp) return undefined;
    if (!transferer.bridgedWith) throw new PbxError(`${transferer.name}: attended transfer while not bridged`);
    const context = this.substitute(transferer, '${TRANSFER_CONTEXT}') || transferer.context;
    const one = requestChannel(this, 'Local', `${exten}@${context}`, transferer);
    if (!one) return undefined;
    one.setVar('TRANSFERERNAME', transferer.name);
    one.setVar('ATTENDEDTRANSFER', transferer.name);
    one.setVar('BLINDTRANSFER', '');
    this.event('attended-transfer-dial', transferer, { local: one.name, context, exten });
    if (!callChannel(this, one)) {
      void hangupAll(this, [one], 20);
      return undefined;
    }
    // The transfer's own thread holds ;1 until the consultation ends.
    this.track(
      (async () => {
        await one.next(this.clock.timer.bind(this.clock), undefined, () => false);
        await this.destroy(one);
      })(),
    );
    return one;
  }

  /**
   * Waits virtual time on a channel (undefined: until it hangs up — nothing else ends the wait,
   * so a call nobody ends is reported as a deadlock); false when it hung up meanwhile.
   */
  async sleep(chan: Channel, ms: number | undefined): Promise<boolean> {
    if (chan.hungUp && !chan.dead) return false;
    if (chan.dead) {
      if (ms === undefined) throw new PbxError(`${chan.name}: waiting for a hangup on a channel that is already gone`);
      await this.clock.sleep(ms);
      return true;
    }
    const f = await chan.next(this.clock.timer.bind(this.clock), ms, () => false);
    return f === 'timeout';
  }

  // ------------------------------------------------------------ running a scenario

  track(thread: Promise<void>): void {
    const t = thread.catch((err) => this.fail(err as Error));
    this.threads.add(t);
    void t.finally(() => this.threads.delete(t));
  }

  fail(err: Error, chan?: Channel): void {
    const e = err instanceof PbxError || err instanceof UnsupportedError ? err : new PbxError(`${chan ? chan.name + ': ' : ''}${err.stack ?? err.message}`);
    this.failures.push(e);
    for (const c of this.live) this.hangup(c, 16);
    this.failed?.(e);
  }

  /**
   * Resolves when every channel is gone and every thread has ended; rejects on the first
   * failure of the test PBX itself (unsupported application, dialplan loop, deadlock).
   */
  run(): Promise<void> {
    const limit = this.options.watchdogMs ?? 60_000;
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(watchdog);
        clearInterval(poll);
        this.clock.onStall = undefined;
        this.failed = undefined;
        if (!err) {
          this.clock.clear();
          return resolve();
        }
        this.clock.stop();
        err.message = `${err.message}\n--- last dialplan steps ---\n${this.traceText(25)}`;
        reject(err);
      };
      const watchdog = setTimeout(() => finish(new PbxError(`the calls did not end within ${limit} ms of real time`)), limit);
      const poll = setInterval(() => {
        if (this.threads.size === 0 && this.live.size === 0) finish();
      }, 5);
      this.failed = finish;
      if (this.failures.length) return finish(this.failures[0]);
      this.clock.onStall = () => {
        if (this.live.size === 0) return;
        if (this.threads.size === 0) {
          // Channels no thread owns any more: Asterisk would have hung them up with their owner.
          for (const c of [...this.live]) this.track(this.destroy(c));
          return;
        }
        const stuck = [...this.live].map((c) => `${c.name} (${c.state}${c.hungUp ? ', hung up' : ''})`).join(', ');
        finish(new PbxError(`deadlock: nothing is left to happen but channels still wait: ${stuck}`));
      };
    });
  }

  /** Everything Asterisk would have logged as WARNING or ERROR; a clean call has none. */
  problems(): string[] {
    return [...this.errors.map((e) => `ERROR ${e.message}`), ...this.warnings.map((w) => `WARNING ${w}`)];
  }

  traceText(last = Infinity): string {
    const lines = this.trace.slice(-last).map((t) => `[+${t.at}ms] ${t.channel} ${t.exten}@${t.context}:${t.priority} ${t.app}(${t.data})`);
    return lines.join('\n');
  }
}
