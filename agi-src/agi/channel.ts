import type { Readable, Writable } from 'stream';
import {
  AgiEnvironment,
  AgiReply,
  continueReply,
  isReplyStart,
  parseEnvironmentLine,
  parseReplyLine,
  quote,
} from './protocol';

/** The channel is gone: stdin closed, stdout broken, or Asterisk answered 511. */
export class AgiHangupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgiHangupError';
  }
}

/** Asterisk refused the command (510 unknown command, 520 usage). */
export class AgiCommandError extends Error {
  constructor(message: string, readonly reply: AgiReply) {
    super(message);
    this.name = 'AgiCommandError';
  }
}

/** Longer than any line Asterisk sends; a peer that sends more without a newline is not Asterisk. */
const MAX_LINE = 1024 * 1024;

interface Pending {
  resolve(reply: AgiReply): void;
  reject(err: Error): void;
}

/**
 * One AGI session over a pair of streams (stdin/stdout of the AGI process in production,
 * PassThrough streams in tests). One command is in flight at a time; the rest queue.
 */
export class AgiChannel {
  private buffer = '';
  private envDone = false;
  private env: AgiEnvironment = {};
  private envWaiter?: { resolve(env: AgiEnvironment): void; reject(err: Error): void };
  private queue: Array<{ text: string; pending: Pending }> = [];
  private inFlight?: Pending;
  private partial?: AgiReply;
  private closed = false;
  /** True once the caller has hung up (SIGHUP, HANGUP line, 511); dead-mode commands still work. */
  hungUp = false;

  constructor(private readonly io: { input: Readable; output: Writable }) {
    io.input.setEncoding('utf8');
    io.input.on('data', (chunk: string) => this.onData(chunk));
    io.input.on('end', () => this.close('AGI input closed'));
    io.input.on('error', () => this.close('AGI input error'));
    io.output.on('error', () => this.close('AGI output closed'));
  }

  readEnvironment(): Promise<AgiEnvironment> {
    if (this.envDone) return Promise.resolve(this.env);
    if (this.closed) return Promise.reject(new AgiHangupError('AGI input closed before the environment'));
    return new Promise((resolve, reject) => {
      this.envWaiter = { resolve, reject };
    });
  }

  markHungUp(): void {
    this.hungUp = true;
  }

  /** Sends a raw command line. Use the typed helpers below; they quote every argument. */
  command(text: string): Promise<AgiReply> {
    if (this.closed) return Promise.reject(new AgiHangupError('AGI channel closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ text, pending: { resolve, reject } });
      this.pump();
    });
  }

  async getVariable(name: string): Promise<string | undefined> {
    const reply = await this.checked(`GET VARIABLE ${quote(name)}`);
    return reply.result === '1' ? reply.value ?? '' : undefined;
  }

  /** Evaluates an expression such as `${CHANNEL(linkedid)}`; unset parts come back empty. */
  async getFullVariable(expression: string): Promise<string> {
    const reply = await this.checked(`GET FULL VARIABLE ${quote(expression)}`);
    return reply.value ?? '';
  }

  async setVariable(name: string, value: string): Promise<void> {
    await this.checked(`SET VARIABLE ${quote(name)} ${quote(value)}`);
  }

  async verbose(message: string, level = 1): Promise<void> {
    await this.checked(`VERBOSE ${quote(message)} ${level}`);
  }

  private async checked(text: string): Promise<AgiReply> {
    const reply = await this.command(text);
    if (reply.code === 200) return reply;
    if (reply.code === 511) {
      this.hungUp = true;
      throw new AgiHangupError(`command not permitted on a dead channel: ${text.split(' ')[0]}`);
    }
    throw new AgiCommandError(`AGI ${reply.code} for ${text.split(' ').slice(0, 2).join(' ')}`, reply);
  }

  private pump(): void {
    if (this.inFlight || this.closed) return;
    const next = this.queue.shift();
    if (!next) return;
    this.inFlight = next.pending;
    try {
      this.io.output.write(`${next.text.replace(/[\r\n]+/g, ' ')}\n`);
    } catch {
      this.close('AGI output closed');
    }
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    if (this.buffer.length > MAX_LINE) return this.close('AGI input line too long');
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.onLine(line);
    }
  }

  private onLine(line: string): void {
    if (!this.envDone) {
      if (line === '') {
        this.envDone = true;
        this.envWaiter?.resolve(this.env);
        this.envWaiter = undefined;
        return;
      }
      const pair = parseEnvironmentLine(line);
      if (pair) this.env[pair[0]] = pair[1];
      return;
    }
    if (this.partial) {
      if (continueReply(this.partial, line)) {
        const reply = this.partial;
        this.partial = undefined;
        this.settle(reply);
      }
      return;
    }
    if (line === 'HANGUP') {
      this.hungUp = true; // FastAGI sends this between a command and its reply
      return;
    }
    if (!isReplyStart(line) || !this.inFlight) return; // unsolicited text: ignore
    const { reply, complete } = parseReplyLine(line);
    if (complete) this.settle(reply);
    else this.partial = reply;
  }

  private settle(reply: AgiReply): void {
    const pending = this.inFlight;
    this.inFlight = undefined;
    if (reply.code === 200 && reply.result === '-1') this.hungUp = true;
    pending?.resolve(reply);
    this.pump();
  }

  private close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.hungUp = true;
    if (!this.envWaiter && !this.inFlight && !this.queue.length) return; // nobody to tell (the usual end)
    const err = new AgiHangupError(reason);
    this.envWaiter?.reject(err);
    this.envWaiter = undefined;
    this.inFlight?.reject(err);
    this.inFlight = undefined;
    for (const q of this.queue.splice(0)) q.pending.reject(err);
  }
}
