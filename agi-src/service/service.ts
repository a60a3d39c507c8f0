// The resident service (`itd_bitrix.js serve`): the incoming, show, outgoing and hangup steps over
// FastAGI on loopback, with the same flows, config file and database as the AGI executables, which
// stay the dialplan's fallback whenever the service does not accept the connection. Inside: one warm
// backend (database, caches, keep-alive connection, coalescing rate-limited front), the outbox
// drained every few seconds, the OAuth token refreshed ahead of expiry, a heartbeat file.
import { resolve } from 'path';
import { IntervalHistogram, monitorEventLoopDelay, performance, PerformanceObserver } from 'perf_hooks';
import { FastAgiServer, FastAgiSession } from '../agi/fastagi-server';
import type { AgiEnvironment } from '../agi/protocol';
import type { RequestPriority } from '../bitrix/client';
import { Config, configSecrets } from '../config/config';
import { loadConfig, resolveConfigPath } from '../config/load';
import { completeAfterRecording } from '../flows/complete';
import { detachedWorker } from '../flows/hangup';
import { CARD_BUDGET_MS, CardJob, deliverCard, detachedCard } from '../flows/show';
import { cardsOnRinging, parseRingEvent, sendCardBatch } from '../flows/ringing';
import { retry } from '../flows/retry';
import { Services } from '../flows/services';
import { bootLogPath, Logger } from '../log/logger';
import { runStep, StepDefinition, StepHost, StepName } from '../steps/runner';
import { hangupStep, incomingStep, outgoingStep, showStep } from '../steps/steps';
import { backendKey, ServiceBackend } from './backend';
import { ClickToCallHost, managerSecrets } from './click-host';
import { ManagerHost, managerWanted } from './manager';
import { TransferFollower } from './transfers';
import { ConfigWatcher } from './config-watch';
import { CardBatch, LiveCards, SendOutcome } from './live-cards';
import { startWatchdog } from './watchdog';
import { HEARTBEAT_MS, readStatus, ServiceStatus, statusPath, writeStatus } from './status';

/** 4573 is FreePBX's own FastAGI proxy. */
export const DEFAULT_PORT = 4574;

export interface ServiceOptions {
  configPath: string;
  port: number;
  /** How often the outbox is drained (the scheduled `retry` stays as a safety net). */
  retryEveryMs?: number;
  heartbeatMs?: number;
  /** A full garbage collection, run on the first two heartbeats without a call, and again on two after each housekeeping. */
  idleGc?: () => void;
}

const STEPS = new Map<string, StepDefinition>([
  ['incoming', incomingStep],
  ['show', showStep],
  ['outgoing', outgoingStep],
  ['hangup', hangupStep],
]);
/** A connection that has not sent its environment by then is not Asterisk. */
const ENV_TIMEOUT_MS = 10_000;
/** One drain of the outbox starts no new call after this long. */
const RETRY_TICK_MS = 3000;
/** The retry's housekeeping (token renewal ahead of expiry, hangup journal, lost calls): as often as the cron ran it. */
const HOUSEKEEPING_MS = 60_000;
/** Recordings waited for at once; beyond it the retry attaches them. */
const MAX_COMPLETIONS = 200;
/** Cards on their way at once; beyond it the answer is recorded by the hangup step, without a card. */
const MAX_CARDS = 500;
const ELD_RESOLUTION_MS = 20;
const LISTEN_RETRY_MS = 15_000;
/** The event loop may not stand still longer than this (see watchdog.ts). */
const WATCHDOG_MS = 5000;

interface Held {
  backend: ServiceBackend;
  users: number;
}

type Served = ServiceStatus['served'];

export class Service {
  readonly log = new Logger('service');
  private readonly watcher: ConfigWatcher;
  private readonly server: FastAgiServer;
  private readonly manager = new ManagerHost();
  private readonly clicks = new ClickToCallHost(this.manager);
  private transfers?: { follower: TransferFollower; ami: unknown };
  private readonly transferLog = new Logger('transfer');
  private port = 0;
  private current?: Held;
  private state: ServiceStatus['state'] | 'starting' = 'starting';
  private readonly startedAt = Date.now();
  private stoppedAt: number | null = null;
  private stopping?: Promise<void>;
  /** Steps whose session is still open (the caller waits). */
  private openSessions = 0;
  /** Every step's flow until it ends, released or not. */
  private readonly flows = new Set<Promise<unknown>>();
  private readonly completions = new Map<string, Promise<unknown>>();
  private readonly cards = new Set<Promise<unknown>>();
  private readonly liveCards: LiveCards;
  private readonly served: Served = { incoming: 0, show: 0, outgoing: 0, hangup: 0, unknown: 0, total: 0 };
  private readonly timers: NodeJS.Timeout[] = [];
  private draining?: Promise<unknown>;
  private lastHousekeeping = 0;
  private readonly eld: IntervalHistogram;
  private eldMax = 0;
  /** Longest garbage-collection pause, in the window and since start: the usual cause of a stall. */
  private gc = { window: 0, max: 0 };
  /**
   * Late ticks of a 50 ms timer with the process's CPU time over the gap: a stall with little CPU
   * of ours is the machine's (other processes, or a blocked system call), one with as much CPU as
   * wall time is ours (a long computation, a collection).
   */
  private stall = { worstMs: 0, worstCpuMs: 0, over50: 0, timer: undefined as NodeJS.Timeout | undefined };
  private readonly gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) this.gc.window = Math.max(this.gc.window, e.duration);
  });
  private history?: { starts: number; previousStop: ServiceStatus['previousStop'] };
  private statusFile?: string;
  private unknownScripts = 0;
  private beat: Promise<void> = Promise.resolve();
  private watchdog?: { stop(): void };
  /** Heartbeats without a call, and the idle collections run since the last call or housekeeping. */
  private quiet = { beats: 0, lastServed: 0, collections: 0 };
  /** The last failure to write the status file, logged once. */
  private statusError?: string;

  constructor(private readonly opts: ServiceOptions) {
    this.watcher = new ConfigWatcher(opts.configPath, this.log, (config) => this.onConfig(config));
    this.server = new FastAgiServer((session) => this.onSession(session));
    this.eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
    this.liveCards = new LiveCards({ send: (batch) => this.sendCards(batch) });
  }

  /** Loads the config (a broken one is reported and waited for), listens, starts the timers. */
  async start(): Promise<number> {
    this.eld.enable();
    this.gcObserver.observe({ entryTypes: ['gc'] });
    this.watchStalls();
    await this.watcher.start();
    this.watchdog = startWatchdog(WATCHDOG_MS, () => {
      try {
        return this.watcher.current().logPath;
      } catch {
        return bootLogPath();
      }
    });
    this.port = await this.listen();
    this.state = 'online';
    const heartbeat = setInterval(() => void this.heartbeat(), this.opts.heartbeatMs ?? HEARTBEAT_MS);
    const drain = setInterval(() => this.drainOutbox(), this.opts.retryEveryMs ?? 2000);
    this.timers.push(heartbeat, drain);
    await this.heartbeat();
    this.log.info(`service: FastAGI on 127.0.0.1:${this.port} (pid ${process.pid}), config ${this.opts.configPath}`);
    return this.port;
  }

  /**
   * Stops accepting at once (Asterisk's connect is refused and the dialplan runs the AGI
   * executable instead), lets the steps in flight finish within their budgets, then closes.
   */
  stop(reason: string): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop(reason);
    return this.stopping;
  }

  private async doStop(reason: string): Promise<void> {
    this.state = 'stopping';
    await this.server.stopAccepting();
    this.log.info(`service: stopping (${reason}); new connections are refused, ${this.openSessions} step(s) in flight`);
    for (const t of this.timers) clearInterval(t);
    this.liveCards.stop();
    this.watcher.stop();
    await this.clicks.stop();
    await this.transfers?.follower.stop();
    this.transfers = undefined;
    this.manager.close();
    void this.heartbeat();
    const budgets = (() => {
      try {
        const c = this.watcher.current();
        return Math.max(c.incomingTimeoutMs, c.showTimeoutMs, c.outgoingTimeoutMs, c.hangupTimeoutMs);
      } catch {
        return 0;
      }
    })();
    await settleWithin([...this.flows, this.draining, ...this.completions.values(), ...this.cards], Math.max(budgets, CARD_BUDGET_MS) + 500);
    this.server.destroyAll();
    this.state = 'stopped';
    this.stoppedAt = Date.now();
    await this.heartbeat();
    if (this.current) await this.current.backend.close();
    this.current = undefined;
    this.eld.disable();
    this.gcObserver.disconnect();
    clearInterval(this.stall.timer);
    this.watchdog?.stop();
    this.log.info(`service: stopped after serving ${this.served.total} step(s)`);
  }

  private watchStalls(): void {
    const TICK = 50;
    let last = performance.now();
    let cpu = process.cpuUsage();
    this.stall.timer = setInterval(() => {
      const now = performance.now();
      const late = now - last - TICK;
      const used = process.cpuUsage(cpu);
      last = now;
      cpu = process.cpuUsage();
      if (late <= 50) return;
      this.stall.over50++;
      if (late > this.stall.worstMs) {
        this.stall.worstMs = round(late);
        this.stall.worstCpuMs = round((used.user + used.system) / 1000);
      }
    }, TICK);
    this.stall.timer.unref();
  }

  /** SIGHUP: read the config file again now. */
  reloadConfig(): Promise<void> {
    return this.watcher.check();
  }

  private async listen(): Promise<number> {
    const until = Date.now() + LISTEN_RETRY_MS;
    for (;;) {
      try {
        return await this.server.listen(this.opts.port);
      } catch (err) {
        // The service before this one may still be closing its port (a restart).
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > until) {
          throw new Error(`cannot listen on 127.0.0.1:${this.opts.port} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private onConfig(config: Config): void {
    this.log.configure({ path: config.logPath, level: config.logLevel, secrets: [...configSecrets(config), ...managerSecrets()] });
    if (this.current?.backend.key !== backendKey(config)) {
      const old = this.current;
      this.current = { backend: new ServiceBackend(config, this.log), users: 0 };
      if (old && old.users === 0) void old.backend.close();
    }
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.manager.apply(config);
    this.followTransfers(config);
    void this.clicks.apply(config, () => this.hold());
  }

  /** Attended transfers of reported calls, on the manager connection while there is one. */
  private followTransfers(config: Config): void {
    this.transferLog.configure({ path: config.logPath, level: config.logLevel, secrets: [...configSecrets(config), ...managerSecrets()] });
    const ami = managerWanted(config).transfers ? this.manager.ami() : null;
    if (this.transfers && this.transfers.ami === ami) return;
    void this.transfers?.follower.stop();
    this.transfers = undefined;
    if (!ami) return;
    this.transfers = { follower: new TransferFollower(ami, this.transferLog, (job) => void this.deliverLater(job)), ami };
  }

  /** The backend for one step or task; the one it had stays open until it is done with it. */
  private hold(): { backend: ServiceBackend; done(): void } | undefined {
    const held = this.current;
    if (!held) return undefined;
    held.users++;
    let done = false;
    return {
      backend: held.backend,
      done: () => {
        if (done) return;
        done = true;
        held.users--;
        if (held !== this.current && held.users === 0) void held.backend.close();
      },
    };
  }

  private onSession(session: FastAgiSession): void {
    const timer = setTimeout(() => session.end(), ENV_TIMEOUT_MS);
    session.channel.readEnvironment().then(
      (env) => {
        clearTimeout(timer);
        this.dispatch(session, env);
      },
      () => {
        clearTimeout(timer);
        session.end();
      },
    );
  }

  private dispatch(session: FastAgiSession, env: AgiEnvironment): void {
    if (this.state === 'stopped') return session.end();
    const name = scriptName(env);
    if (name === 'ring' || name === 'ringend') return this.ringing(session, env, name);
    const step = name ? STEPS.get(name) : undefined;
    if (!name || !step) {
      this.served.unknown++;
      if (this.unknownScripts++ < 10) this.log.warn(`service: unknown FastAGI script ${JSON.stringify(env.agi_network_script ?? env.agi_request ?? '')}; connection closed`);
      session.end();
      return;
    }
    this.served[step.name]++;
    this.served.total++;
    // The inbound channel's hangup handler (its uniqueid is the call's marker): the finish hides the cards.
    if (step.name === 'hangup' && env.agi_uniqueid) this.liveCards.ended(env.agi_uniqueid);
    this.openSessions++;
    const log = new Logger(name);
    const held = this.hold();
    let foreign = false;
    let released = false;
    const release = (graceMs: number) => {
      if (released) return;
      released = true;
      this.openSessions--;
      const pending = log.drain(graceMs); // VERBOSE lines already on their way to Asterisk
      log.attachConsole(undefined);
      void pending.finally(() => session.end());
    };
    const host: StepHost = {
      configPath: (option) => resolveConfigPath(option, { ITD_BITRIX_CONFIG: this.opts.configPath }),
      config: (path) => {
        // Another file than the service's (a `--config` argument): read per step, as an AGI would.
        foreign = resolve(path) !== resolve(this.opts.configPath);
        return foreign ? loadConfig(path) : this.watcher.current();
      },
      services: (s, config, l, deadline) =>
        foreign || !held
          ? new Services(config, l, Date.now, s.busyTimeoutMs(deadline - Date.now()), s.priority)
          : new Services(config, l, Date.now, 0, s.priority, { backend: held.backend }),
      completeLater: (configPath) => (foreign ? detachedWorker(configPath) : (uniqueid) => this.completeLater(uniqueid)),
      deliverLater: (configPath) => (foreign ? detachedCard(configPath) : (job) => this.deliverLater(job)),
      release: (why) => release(why === 'budget' ? 10 : 150),
    };
    const flow = runStep(step, { channel: session.channel, log, host, startedAt: session.acceptedAt, argv: fastAgiArgv }).finally(() => {
      release(150);
      held?.done();
    });
    this.track(this.flows, flow);
  }

  /**
   * A phone of a reported call starts ringing, or such a leg went away: the session ends at once
   * (the leg waits for nothing), the cards follow within their window.
   */
  private ringing(session: FastAgiSession, env: AgiEnvironment, name: 'ring' | 'ringend'): void {
    session.end();
    let config: Config;
    try {
      config = this.watcher.current();
    } catch {
      return;
    }
    const ev = parseRingEvent(env, fastAgiArgv(env));
    if (!ev) {
      if (this.unknownScripts++ < 10) this.log.warn(`service: ${name} without a usable extension and call (${JSON.stringify(fastAgiArgv(env))}); ignored`);
      return;
    }
    if (name === 'ringend') return this.liveCards.ringEnd(ev.uniqueid, ev.leg, ev.extension);
    if (cardsOnRinging(config) && this.state === 'online') this.liveCards.ring(ev.uniqueid, ev.callId, ev.leg, ev.extension);
  }

  /** One flush of a call's ringing cards, on the call path's priority (someone is waiting for the phone). */
  private async sendCards(batch: CardBatch): Promise<SendOutcome> {
    const held = this.hold();
    const s = held && this.taskServices('cards', held.backend, 'call-path');
    if (!held || !s) {
      held?.done();
      return 'failed';
    }
    const task = sendCardBatch(s, batch, Date.now() + CARD_BUDGET_MS)
      .catch((err) => {
        s.log.error(`cards ${batch.uniqueid}: ${(err as Error).message}`);
        return 'failed' as const;
      })
      .finally(() => held.done());
    this.track(this.cards, task);
    return task;
  }

  /** A recorded call: finish and attach once Asterisk has closed the file (the CLI starts a process for it). */
  private completeLater(uniqueid: string): void {
    if (this.completions.has(uniqueid) || this.completions.size >= MAX_COMPLETIONS || this.state !== 'online') return;
    const held = this.hold();
    const s = held && this.taskServices('complete', held.backend);
    if (!held || !s) return held?.done();
    const task = completeAfterRecording(s, uniqueid)
      .catch((err) => s.log.error(`complete ${uniqueid}: ${(err as Error).message}`))
      .finally(() => {
        this.completions.delete(uniqueid);
        held.done();
      });
    this.completions.set(uniqueid, task);
  }

  /** The operator's card once the show step has let the bridge go (the CLI starts `itd_bitrix.js card` for it). */
  private deliverLater(job: CardJob): undefined {
    // Shown while it rang: the answer is recorded, the card is not sent twice. The others' cards are hidden now.
    const shownAlready = this.liveCards.answered(job.uniqueid, job.extension);
    if (this.cards.size >= MAX_CARDS || this.state !== 'online') return undefined;
    const held = this.hold();
    const s = held && this.taskServices('show', held.backend, 'call-path');
    if (!held || !s) {
      held?.done();
      return undefined;
    }
    const task: Promise<void> = deliverCard(s, { ...job, shownAlready }, Date.now() + CARD_BUDGET_MS)
      .catch((err) => s.log.error(`show ${job.uniqueid}: ${(err as Error).message}`))
      .finally(() => {
        this.cards.delete(task);
        held.done();
      });
    this.cards.add(task);
    return undefined;
  }

  /**
   * What the scheduled `retry` does, every few seconds; its housekeeping (with the OAuth token
   * renewed ahead of its expiry) once a minute.
   */
  private drainOutbox(): void {
    if (this.draining || this.state !== 'online') return;
    const held = this.hold();
    const s = held && this.taskServices('retry', held.backend);
    if (!held || !s) return held?.done();
    const housekeeping = Date.now() - this.lastHousekeeping >= HOUSEKEEPING_MS;
    if (housekeeping) {
      this.lastHousekeeping = Date.now();
      this.quiet.collections = 0; // what it read (the hangup journal) is collected on the next quiet heartbeats
    }
    this.draining = retry(s, Date.now() + RETRY_TICK_MS, { housekeeping })
      .catch((err) => s.log.error(`retry: ${(err as Error).message}`))
      .finally(() => {
        this.draining = undefined;
        held.done();
      });
  }

  private taskServices(tag: string, backend: ServiceBackend, priority: RequestPriority = 'background'): Services | undefined {
    let config: Config;
    try {
      config = this.watcher.current();
    } catch {
      return undefined;
    }
    const log = new Logger(tag);
    log.configure({ path: config.logPath, level: config.logLevel, secrets: configSecrets(config) });
    return new Services(config, log, Date.now, 0, priority, { backend });
  }

  private track(set: Set<Promise<unknown>>, p: Promise<unknown>): void {
    set.add(p);
    void p.finally(() => set.delete(p));
  }

  /** One heartbeat at a time, in order: the last one written is the last state. */
  private heartbeat(): Promise<void> {
    this.beat = this.beat.then(() => this.writeHeartbeat());
    return this.beat;
  }

  private async writeHeartbeat(): Promise<void> {
    const busy = this.served.total !== this.quiet.lastServed || this.openSessions > 0;
    this.quiet.lastServed = this.served.total;
    this.quiet.beats = busy ? 0 : this.quiet.beats + 1;
    if (busy) this.quiet.collections = 0;
    else if (this.quiet.collections < 2 && this.state === 'online') {
      this.quiet.collections++;
      this.opts.idleGc?.();
    }
    let config: Config | undefined;
    try {
      config = this.watcher.current();
    } catch {
      config = undefined;
    }
    if (!config) return;
    const backend = this.current?.backend;
    if (backend && this.state === 'online') await backend.maintain(config).catch(() => undefined);
    const path = statusPath(config.databasePath);
    this.history ??= history(readStatus(path));
    if (this.statusFile && this.statusFile !== path) this.history = history(readStatus(path));
    this.statusFile = path;
    await writeStatus(path, await this.status(backend)).then(
      () => (this.statusError = undefined),
      (err) => {
        const msg = (err as Error).message;
        if (msg !== this.statusError) this.log.warn(`service: cannot write ${path} (${msg})`);
        this.statusError = msg;
      },
    );
  }

  async status(backend = this.current?.backend): Promise<ServiceStatus> {
    const stall = (ns: number) => round(Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS));
    const window = { p50: stall(this.eld.percentile(50)), p99: stall(this.eld.percentile(99)), max: stall(this.eld.max) };
    this.eldMax = Math.max(this.eldMax, window.max);
    this.eld.reset();
    const gcWindow = round(this.gc.window);
    this.gc.max = Math.max(this.gc.max, gcWindow);
    this.gc.window = 0;
    const mem = process.memoryUsage();
    const stats = (await backend?.stats().catch(() => undefined)) ?? { requests: 0, commands: 0, batched: 0, queued: 0, users: 0, names: 0 };
    const cfg = this.watcher.state();
    const now = Date.now();
    return {
      pid: process.pid,
      port: this.port,
      state: this.state === 'starting' ? 'online' : this.state,
      version: process.env.ITD_BITRIX_VERSION ?? 'dev',
      node: process.version,
      startedAt: new Date(this.startedAt).toISOString(),
      heartbeatAt: new Date(now).toISOString(),
      stoppedAt: this.stoppedAt ? new Date(this.stoppedAt).toISOString() : null,
      uptimeSec: Math.round((now - this.startedAt) / 1000),
      starts: this.history?.starts ?? 1,
      previousStop: this.history?.previousStop ?? null,
      served: { ...this.served },
      inFlight: this.openSessions,
      memory: { rssMB: round(mem.rss / 2 ** 20), heapUsedMB: round(mem.heapUsed / 2 ** 20), heapTotalMB: round(mem.heapTotal / 2 ** 20), externalMB: round(mem.external / 2 ** 20) },
      eventLoopDelayMs: { ...window, maxSinceStart: this.eldMax, gcPauseMax: gcWindow, gcPauseMaxSinceStart: this.gc.max },
      stalls: { over50ms: this.stall.over50, worstMs: this.stall.worstMs, cpuDuringWorstMs: this.stall.worstCpuMs },
      bitrix: { requests: stats.requests, commands: stats.commands, batched: stats.batched, queued: stats.queued },
      caches: { users: stats.users, names: stats.names },
      clickToCall: this.clicks.status(),
      manager: { wanted: !!this.manager.ami(), connected: this.manager.connected, transfers: !!this.transfers },
      config: { ok: cfg.ok, error: cfg.error, loadedAt: cfg.loadedAt ? new Date(cfg.loadedAt).toISOString() : null },
    };
  }
}

/** The step's arguments as an AGI executable gets them in argv: agi_arg_1 … agi_arg_N. */
export function fastAgiArgv(env: AgiEnvironment): string[] {
  const out: string[] = [];
  for (let i = 1; env[`agi_arg_${i}`] !== undefined; i++) out.push(env[`agi_arg_${i}`]);
  return out;
}

/** `incoming` of agi://127.0.0.1:4574/incoming. */
export function scriptName(env: AgiEnvironment): string | undefined {
  let script = env.agi_network_script ?? '';
  if (!script && env.agi_request) {
    try {
      script = new URL(env.agi_request).pathname;
    } catch {
      script = '';
    }
  }
  return script.replace(/^\/+/, '').split('?')[0] || undefined;
}

function history(previous: ServiceStatus | null): { starts: number; previousStop: ServiceStatus['previousStop'] } {
  if (!previous) return { starts: 1, previousStop: null };
  const clean = previous.state === 'stopped';
  return { starts: (previous.starts ?? 0) + 1, previousStop: { at: clean ? previous.stoppedAt : previous.heartbeatAt, clean } };
}

async function settleWithin(work: Array<Promise<unknown> | undefined>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(work.filter(Boolean)), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

const round = (x: number) => Math.round(x * 10) / 10;
