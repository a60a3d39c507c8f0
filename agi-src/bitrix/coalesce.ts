// The resident service's front to Bitrix24. Steps of many calls ask at the same moment; whatever
// waits for a rate-limit slot (or for a free connection) when one opens goes out together as one
// `batch`, which the portal counts as one request. A request that finds a slot at once goes alone,
// exactly as an AGI process would send it. One slot of the shared bucket per HTTP request.
import type { BatchResult, BitrixApi, BitrixClient, RequestPriority } from './client';
import { BitrixError, pausedError, transientError } from './errors';
import type { Params } from './query';

/** The shared rate bucket as the coalescer sees it. */
export interface RequestLimiter {
  readonly ratePerSec: number;
  /** 0 when one request may go now (and was counted), else ms until one fits. */
  take(priority: RequestPriority): Promise<number>;
  /** Epoch ms until which `method` is paused (OPERATION_TIME_LIMIT), or 0. */
  pausedUntil(method: string): number;
  pauseMethod(method: string, untilMs: number): void;
}

export interface CoalescerOptions {
  /** HTTP requests in flight at once (connections of the keep-alive agent). */
  maxInFlight?: number;
  /** Bitrix24 takes at most 50 commands in one batch. */
  maxCommands?: number;
  /** A job whose parameters are larger than this (an inline recording) always goes alone. */
  soloBytes?: number;
  now?: () => number;
}

interface Command {
  key: string;
  method: string;
  params: Params;
}

interface Job {
  kind: 'call' | 'all' | 'upload';
  cmds: Command[];
  priority: RequestPriority;
  deadline: number;
  solo: boolean;
  upload?: (deadline: number) => Promise<unknown>;
  resolve(r: BatchResult): void;
  reject(err: Error): void;
  timer?: NodeJS.Timeout;
  state: 'queued' | 'sent' | 'settled';
}

const RESPONSE_RESERVE_MS = 20;
const PRIORITIES: RequestPriority[] = ['call-path', 'background'];
const PAUSE_DEFAULT_MS = 60_000;

export class CoalescingClient {
  private readonly queues: Record<RequestPriority, Job[]> = { 'call-path': [], background: [] };
  private inFlight = 0;
  private admitting = false;
  private waitingFor?: RequestPriority;
  private wake?: () => void;
  private readonly maxInFlight: number;
  private readonly maxCommands: number;
  private readonly soloBytes: number;
  private readonly now: () => number;
  /** HTTP requests sent and commands carried, for the status file. */
  readonly stats = { requests: 0, commands: 0, batched: 0 };

  constructor(
    /** Sends; it has no gate of its own (this class takes the slots). */
    private readonly inner: BitrixClient,
    private readonly limiter: RequestLimiter,
    opts: CoalescerOptions = {},
  ) {
    this.maxInFlight = opts.maxInFlight ?? 4;
    this.maxCommands = opts.maxCommands ?? 50;
    this.soloBytes = opts.soloBytes ?? 32 * 1024;
    this.now = opts.now ?? Date.now;
  }

  /** The client a step uses: its requests carry the step's priority. */
  as(priority: RequestPriority): BitrixApi {
    return {
      call: async (method, params, deadline) => {
        const r = await this.submit('call', { x: { method, params } }, deadline, priority);
        return r.result.x;
      },
      sendAll: (cmds, deadline) => this.submit('all', cmds, deadline, priority),
      upload: async (url, field, filename, data, deadline) => {
        const r = await this.submit('upload', { x: { method: 'attachRecord.upload', params: {} } }, deadline, priority, (d) =>
          this.inner.upload(url, field, filename, data, d),
        );
        return r.result.x;
      },
    };
  }

  /** Jobs waiting for a slot or a connection. */
  queued(): number {
    return this.queues['call-path'].length + this.queues.background.length;
  }

  private submit(
    kind: Job['kind'],
    cmds: Record<string, { method: string; params: Params }>,
    deadline: number,
    priority: RequestPriority,
    upload?: Job['upload'],
  ): Promise<BatchResult> {
    const list = Object.entries(cmds).map(([key, c]) => ({ key, method: c.method, params: c.params }));
    for (const c of list) {
      const until = this.limiter.pausedUntil(c.method);
      if (until) return Promise.reject(pausedError(c.method, until));
    }
    const left = deadline - RESPONSE_RESERVE_MS - this.now();
    if (left <= 0) return Promise.reject(transientError(list[0]?.method ?? 'batch', 'no time left for the request'));
    return new Promise<BatchResult>((resolve, reject) => {
      const job: Job = {
        kind,
        cmds: list,
        priority,
        deadline,
        solo: !!upload || list.length >= this.maxCommands || JSON.stringify(list).length > this.soloBytes,
        upload,
        resolve,
        reject,
        state: 'queued',
      };
      job.timer = setTimeout(() => this.expire(job), left);
      this.queues[priority].push(job);
      if (priority === 'call-path' && this.waitingFor === 'background') this.wake?.();
      this.pump();
    });
  }

  private pump(): void {
    if (this.admitting || this.inFlight >= this.maxInFlight || !this.queued()) return;
    this.admitting = true;
    void this.admit().finally(() => {
      this.admitting = false;
      this.pump();
    });
  }

  /** Waits for a slot of the shared bucket, then sends what is queued by then. */
  private async admit(): Promise<void> {
    for (;;) {
      if (!this.queued()) return;
      const priority: RequestPriority = this.queues['call-path'].length ? 'call-path' : 'background';
      const waitMs = await this.limiter.take(priority).catch(() => 0); // limiter unusable: the portal judges
      if (waitMs === 0) break;
      // No job is given up before its own deadline: a background job waiting for the lower
      // threshold still leaves with the next call-path request if one comes.
      this.waitingFor = priority;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(waitMs, 1000));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waitingFor = undefined;
      this.wake = undefined;
    }
    const group = this.takeGroup();
    if (!group.length) return;
    this.inFlight++;
    void this.send(group).finally(() => {
      this.inFlight--;
      this.pump();
    });
  }

  /** Call-path jobs first, whole jobs only, at most maxCommands commands; a solo job alone. */
  private takeGroup(): Job[] {
    const group: Job[] = [];
    let commands = 0;
    for (const p of PRIORITIES) {
      const q = this.queues[p];
      while (q.length) {
        const job = q[0];
        if (job.solo) {
          if (group.length) break;
          q.shift();
          return [job];
        }
        if (commands + job.cmds.length > this.maxCommands) break;
        q.shift();
        group.push(job);
        commands += job.cmds.length;
      }
    }
    return group;
  }

  private async send(group: Job[]): Promise<void> {
    for (const job of group) job.state = 'sent';
    this.stats.requests++;
    this.stats.commands += group.reduce((n, j) => n + j.cmds.length, 0);
    if (group.length === 1) return this.sendAlone(group[0]);
    this.stats.batched++;
    const flat: Record<string, { method: string; params: Params }> = {};
    group.forEach((job, i) => job.cmds.forEach((c) => (flat[`${i}_${c.key}`] = { method: c.method, params: c.params })));
    let res: BatchResult;
    try {
      res = await this.inner.batch(flat, Math.max(...group.map((j) => j.deadline)));
    } catch (err) {
      for (const job of group) this.fail(job, err as Error);
      return;
    }
    group.forEach((job, i) => {
      const out: BatchResult = { result: {}, errors: {} };
      for (const c of job.cmds) {
        const k = `${i}_${c.key}`;
        if (k in res.result) out.result[c.key] = res.result[k];
        const err = res.errors[k];
        if (err) {
          out.errors[c.key] = err;
          if (err.code === 'OPERATION_TIME_LIMIT') this.limiter.pauseMethod(c.method, this.now() + PAUSE_DEFAULT_MS);
        }
      }
      this.deliver(job, out);
    });
  }

  /** One job on its own: exactly the request an AGI process sends. */
  private async sendAlone(job: Job): Promise<void> {
    try {
      if (job.upload) return this.deliver(job, { result: { x: await job.upload(job.deadline) }, errors: {} });
      if (job.kind === 'call') {
        const c = job.cmds[0];
        return this.deliver(job, { result: { [c.key]: await this.inner.call(c.method, c.params, job.deadline) }, errors: {} });
      }
      const cmds = Object.fromEntries(job.cmds.map((c) => [c.key, { method: c.method, params: c.params }]));
      this.deliver(job, await this.inner.sendAll(cmds, job.deadline));
    } catch (err) {
      this.fail(job, err as Error);
    }
  }

  /** As BitrixClient would answer: `call` throws a refusal; `sendAll` of one command throws all but a refusal. */
  private deliver(job: Job, r: BatchResult): void {
    const first = job.cmds[0];
    const err = r.errors[first.key];
    if (job.kind === 'call' && err) return this.fail(job, err);
    if (job.kind === 'all' && job.cmds.length === 1 && err && err.kind !== 'rejected') return this.fail(job, err);
    this.settle(job, () => job.resolve(r));
  }

  private fail(job: Job, err: Error): void {
    this.settle(job, () => job.reject(err instanceof BitrixError ? err : transientError(job.cmds[0].method, err.message)));
  }

  private expire(job: Job): void {
    const method = job.cmds[0].method;
    if (job.state === 'queued') this.fail(job, new BitrixError('rate', 'LOCAL_RATE_LIMIT', `no slot of the portal's ${this.limiter.ratePerSec}/s before the deadline`, 0, method));
    else this.fail(job, transientError(method, 'the portal did not answer before the step had to go on'));
  }

  private settle(job: Job, fn: () => void): void {
    if (job.state === 'settled') return;
    if (job.state === 'queued') {
      const q = this.queues[job.priority];
      const at = q.indexOf(job);
      if (at >= 0) q.splice(at, 1);
    }
    job.state = 'settled';
    clearTimeout(job.timer);
    fn();
  }
}
