// A client of Asterisk's manager interface (AMI) on loopback, for the resident service: logs in
// with FreePBX's own manager user, sends actions and hands events on, keeps the connection alive
// (Ping) and comes back after Asterisk restarts, with a growing pause between attempts. The
// secret goes into the Login action and nowhere else: never a log line, never an error message.
import { EventEmitter } from 'events';
import { connect, Socket } from 'net';
import type { Logger } from '../log/logger';
import { AmiMessage, formatAction, isBanner, splitMessages } from './message';

export interface AmiOptions {
  port: number;
  username: string;
  secret: string;
  /** Only call-class events are wanted (OriginateResponse, Hangup): the rest stays in Asterisk. */
  events?: string;
  /** Pause after a lost connection or a refused login, doubled up to maxRetryMs. */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** A Ping this often; no answer within actionTimeoutMs: the connection is dropped and made again. */
  pingMs?: number;
  actionTimeoutMs?: number;
}

/** What click-to-call needs from the manager connection (the tests' fake speaks the same). */
export interface Ami {
  readonly connected: boolean;
  action(fields: Array<[string, string]>, timeoutMs?: number): Promise<AmiMessage>;
  /** An action whose answer is a list of events (DBGet, CoreShowChannels): the response and the events. */
  listAction(fields: Array<[string, string]>, timeoutMs?: number): Promise<{ response: AmiMessage; events: AmiMessage[] }>;
  on(event: 'event', listener: (msg: AmiMessage) => void): this;
  on(event: 'connected' | 'disconnected', listener: () => void): this;
  off(event: 'event', listener: (msg: AmiMessage) => void): this;
  off(event: 'connected' | 'disconnected', listener: () => void): this;
}

export class AmiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AmiError';
  }
}

interface Pending {
  resolve(v: { response: AmiMessage; events: AmiMessage[] }): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  list: boolean;
  response?: AmiMessage;
  events: AmiMessage[];
}

const HOST = '127.0.0.1';

export class AmiClient extends EventEmitter implements Ami {
  private socket?: Socket;
  private buffer = '';
  private bannerSeen = false;
  private loggedIn = false;
  private closed = false;
  private retryMs: number;
  private retryTimer?: NodeJS.Timeout;
  private pingTimer?: NodeJS.Timeout;
  private seq = 0;
  private readonly pending = new Map<string, Pending>();
  private refusedLogged = false;
  private downSince: number | null = null;

  constructor(
    private readonly opts: AmiOptions,
    private readonly log: Logger,
  ) {
    super();
    this.retryMs = opts.minRetryMs ?? 1000;
  }

  get connected(): boolean {
    return this.loggedIn;
  }

  /** Starts connecting (and reconnecting) until close(). */
  start(): void {
    this.closed = false;
    this.open();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    this.failPending(new AmiError('AMI client closed'));
    this.socket?.destroy();
    this.socket = undefined;
    this.loggedIn = false;
  }

  action(fields: Array<[string, string]>, timeoutMs?: number): Promise<AmiMessage> {
    return this.send(fields, false, timeoutMs).then((r) => r.response);
  }

  listAction(fields: Array<[string, string]>, timeoutMs?: number): Promise<{ response: AmiMessage; events: AmiMessage[] }> {
    return this.send(fields, true, timeoutMs);
  }

  private send(fields: Array<[string, string]>, list: boolean, timeoutMs = this.opts.actionTimeoutMs ?? 10_000): Promise<{ response: AmiMessage; events: AmiMessage[] }> {
    if (!this.loggedIn || !this.socket) return Promise.reject(new AmiError('AMI is not connected'));
    return this.write(fields, list, timeoutMs);
  }

  private write(fields: Array<[string, string]>, list: boolean, timeoutMs: number): Promise<{ response: AmiMessage; events: AmiMessage[] }> {
    const id = `itdb-${process.pid}-${++this.seq}`;
    let text: string;
    try {
      text = formatAction([...fields.filter(([k]) => k.toLowerCase() !== 'actionid'), ['ActionID', id]]);
    } catch (err) {
      return Promise.reject(new AmiError((err as Error).message));
    }
    return new Promise((resolve, reject) => {
      const name = fields.find(([k]) => k === 'Action')?.[1] ?? 'action';
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new AmiError(`AMI ${name}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, list, events: [] });
      this.socket?.write(text);
    });
  }

  private open(): void {
    if (this.closed) return;
    this.buffer = '';
    this.bannerSeen = false;
    this.loggedIn = false;
    const socket = connect({ host: HOST, port: this.opts.port });
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.downSince === null) this.log.warn(`AMI: cannot talk to Asterisk on ${HOST}:${this.opts.port} (${err.code ?? err.message}); trying again`);
    });
    socket.on('close', () => this.onClose(socket));
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    if (!this.bannerSeen) {
      const eol = this.buffer.indexOf('\r\n');
      if (eol < 0) return;
      const banner = this.buffer.slice(0, eol);
      this.buffer = this.buffer.slice(eol + 2);
      if (!isBanner(banner)) {
        this.log.error(`AMI: ${HOST}:${this.opts.port} is not Asterisk's manager interface`);
        this.socket?.destroy();
        return;
      }
      this.bannerSeen = true;
      void this.login();
    }
    const { messages, rest } = splitMessages(this.buffer);
    this.buffer = rest;
    for (const msg of messages) this.dispatch(msg);
  }

  private async login(): Promise<void> {
    let res: AmiMessage;
    try {
      ({ response: res } = await this.write(
        [
          ['Action', 'Login'],
          ['Username', this.opts.username],
          ['Secret', this.opts.secret],
          ['Events', this.opts.events ?? 'call'],
        ],
        false,
        this.opts.actionTimeoutMs ?? 10_000,
      ));
    } catch {
      this.socket?.destroy();
      return;
    }
    if (res.Response !== 'Success') {
      // Asterisk closes the connection after a refused login; the retry comes with the back-off.
      if (!this.refusedLogged) this.log.error(`AMI: Asterisk refused the login of manager user "${this.opts.username}" (${res.Message ?? 'no reason'}); click-to-call and transfers wait`);
      this.refusedLogged = true;
      this.socket?.destroy();
      return;
    }
    this.loggedIn = true;
    this.refusedLogged = false;
    this.retryMs = this.opts.minRetryMs ?? 1000;
    const was = this.downSince;
    this.downSince = null;
    this.log.info(`AMI: connected to ${HOST}:${this.opts.port} as "${this.opts.username}"${was !== null ? ` after ${Math.round((Date.now() - was) / 1000)} s without` : ''}`);
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.ping(), this.opts.pingMs ?? 30_000);
    this.pingTimer.unref();
    this.emit('connected');
  }

  private ping(): void {
    this.action([['Action', 'Ping']]).catch(() => {
      this.log.warn('AMI: no answer to Ping; connecting again');
      this.socket?.destroy();
    });
  }

  private dispatch(msg: AmiMessage): void {
    const id = msg.ActionID;
    const p = id !== undefined ? this.pending.get(id) : undefined;
    if (p && msg.Response !== undefined && !p.response) {
      p.response = msg;
      if (!p.list || msg.Response !== 'Success' || !/^start$/i.test(msg.EventList ?? '')) this.settle(id as string, p);
      return;
    }
    if (p && p.list && msg.Event !== undefined) {
      if (/^complete$/i.test(msg.EventList ?? '')) this.settle(id as string, p);
      else p.events.push(msg);
      return;
    }
    if (msg.Event !== undefined) this.emit('event', msg);
  }

  private settle(id: string, p: Pending): void {
    clearTimeout(p.timer);
    this.pending.delete(id);
    p.resolve({ response: p.response as AmiMessage, events: p.events });
  }

  private failPending(err: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
  }

  private onClose(socket: Socket): void {
    if (socket !== this.socket) return;
    const wasUp = this.loggedIn;
    this.loggedIn = false;
    clearInterval(this.pingTimer);
    this.failPending(new AmiError('AMI connection lost'));
    if (wasUp) {
      this.downSince = Date.now();
      this.log.warn('AMI: connection to Asterisk lost; connecting again');
      this.emit('disconnected');
    } else if (this.downSince === null) {
      this.downSince = Date.now();
    }
    if (this.closed) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, this.opts.maxRetryMs ?? 30_000);
    this.retryTimer = setTimeout(() => this.open(), wait);
    this.retryTimer.unref();
  }
}

/**
 * The manager connection the module hands the service (pm2 environment, never the config file):
 * FreePBX's AMPMGRUSER / AMPMGRPASS and the manager port. Null when they are not all there.
 */
export function amiOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): AmiOptions | null {
  const username = env.ITD_BITRIX_AMI_USER ?? '';
  const secret = env.ITD_BITRIX_AMI_SECRET ?? '';
  const port = Number(env.ITD_BITRIX_AMI_PORT || '5038');
  if (!username || !secret || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { port, username, secret };
}
