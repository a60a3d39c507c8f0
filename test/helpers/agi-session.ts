// Asterisk's side of one AGI session, whatever carries it (a spawned script's stdin/stdout or a
// FastAGI socket): the environment block, then one reply per command line as res_agi gives it
// (argument parsing, 510/511/520, dead mode). The single-AGI fake (fake-asterisk.ts) and the
// dialplan engine (pbx/) both speak through this; only the channel behind it differs.
import { ChildProcess, spawn } from 'child_process';

/** Commands res_agi still runs on a dead channel (`agi show commands`, "Dead" = Yes). */
export const DEAD_OK = /^(NOOP|VERBOSE|GET VARIABLE|GET FULL VARIABLE|SET VARIABLE|DATABASE (GET|PUT|DEL|DELTREE)|EXEC|ASYNCAGI BREAK)\b/i;

export const DEAD_REPLY = '511 Command Not Permitted on a dead channel or intercept routine';

/** The order Asterisk 22 sends the environment in (reference §3); agi_arg_N follow. */
export const ENV_ORDER = [
  'agi_request', 'agi_channel', 'agi_language', 'agi_type', 'agi_uniqueid', 'agi_version',
  'agi_callerid', 'agi_calleridname', 'agi_callingpres', 'agi_callingani2', 'agi_callington',
  'agi_callingtns', 'agi_dnid', 'agi_rdnis', 'agi_context', 'agi_extension', 'agi_priority',
  'agi_enhanced', 'agi_accountcode', 'agi_threadid',
] as const;

/** res_agi's parse_args: spaces/tabs split, "…" groups, backslash escapes the next character. */
export function parseAgiArgs(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inQuote = false;
  let escaped = false;
  let started = false;
  for (const ch of line) {
    if (escaped) {
      cur += ch;
      escaped = false;
      started = true;
      continue;
    }
    if (ch === '\\') {
      escaped = true;
      continue;
    }
    if (ch === '"') {
      inQuote = !inQuote;
      started = true;
      continue;
    }
    if (!inQuote && (ch === ' ' || ch === '\t')) {
      if (started) out.push(cur);
      cur = '';
      started = false;
      continue;
    }
    cur += ch;
    started = true;
  }
  if (started) out.push(cur);
  return out;
}

/** `name: value` lines in Asterisk's order (FastAGI's agi_network* first), then the empty line. */
export function environmentBlock(env: Record<string, string>): string {
  const keys = Object.keys(env);
  const rank = (k: string) => {
    if (k === 'agi_network') return -2;
    if (k === 'agi_network_script') return -1;
    const i = (ENV_ORDER as readonly string[]).indexOf(k);
    if (i >= 0) return i;
    const arg = /^agi_arg_(\d+)$/.exec(k);
    return arg ? 1000 + Number(arg[1]) : 500;
  };
  const ordered = [...keys].sort((a, b) => rank(a) - rank(b));
  return ordered.map((k) => `${k}: ${env[k]}`).join('\n') + '\n\n';
}

/** What a command can do to the channel behind the session. */
export interface AgiSide {
  /** GET VARIABLE: a variable or function; undefined when unset. */
  getVariable(name: string): string | undefined;
  /** GET FULL VARIABLE: dialplan substitution of the expression. */
  evaluate(expression: string): string;
  setVariable(name: string, value: string): void;
  verbose(message: string, level: number): void;
  /** CHANNEL STATUS result: 4 ringing (inbound, not answered), 5 remote ringing, 6 up. */
  channelStatus(): number;
  answer(): Promise<void> | void;
  /** EXEC: the application's return (0), -2 for an unknown application. */
  exec?(app: string, args: string): Promise<number> | number;
  database?: {
    get(family: string, key: string): string | undefined;
    put(family: string, key: string, value: string): void;
    del(family: string, key: string): boolean;
    deltree(family: string, key?: string): boolean;
  };
  setCallerId?(value: string): void;
  /** HANGUP on a live channel. */
  hangup?(): void;
}

const USAGE = (text: string) => `520-Invalid command syntax.  Proper usage follows:\n${text}\n520 End of proper usage.`;

/** res_agi's answer to one command line. */
export async function agiReply(line: string, side: AgiSide, dead: boolean): Promise<string> {
  const words = parseAgiArgs(line);
  const one = (words[0] ?? '').toUpperCase();
  const two = words.slice(0, 2).join(' ').toUpperCase();
  if (dead && !DEAD_OK.test(line)) return DEAD_REPLY;
  if (words.slice(0, 3).join(' ').toUpperCase() === 'GET FULL VARIABLE') {
    if (words.length !== 4) return USAGE('Evaluates the given expression against the channel specified by channelname, or the current channel if channelname is not provided.');
    return `200 result=1 (${side.evaluate(words[3])})`;
  }
  if (two === 'GET VARIABLE') {
    if (words.length !== 3) return USAGE('Returns 0 if variablename is not set. Returns 1 if variablename is set and returns the variable in parentheses.');
    const v = side.getVariable(words[2]);
    return v === undefined ? '200 result=0' : `200 result=1 (${v})`;
  }
  if (two === 'SET VARIABLE') {
    if (words.length !== 4) return USAGE('Sets a variable to the current channel.');
    side.setVariable(words[2], words[3]);
    return '200 result=1';
  }
  if (one === 'VERBOSE') {
    side.verbose(words[1] ?? '', Number(words[2] ?? 1) || 1);
    return '200 result=1';
  }
  if (one === 'NOOP') return '200 result=0';
  if (two === 'CHANNEL STATUS') return `200 result=${side.channelStatus()}`;
  if (one === 'ANSWER') {
    await side.answer();
    return '200 result=0';
  }
  if (one === 'EXEC' && side.exec) {
    if (words.length < 2) return USAGE('Executes application with given options.');
    return `200 result=${await side.exec(words[1], words[2] ?? '')}`;
  }
  if (one === 'DATABASE' && side.database) {
    const sub = (words[1] ?? '').toUpperCase();
    const db = side.database;
    if (sub === 'GET' && words.length === 4) {
      const v = db.get(words[2], words[3]);
      return v === undefined ? '200 result=0' : `200 result=1 (${v})`;
    }
    if (sub === 'PUT' && words.length === 5) {
      db.put(words[2], words[3], words[4]);
      return '200 result=1';
    }
    if (sub === 'DEL' && words.length === 4) return `200 result=${db.del(words[2], words[3]) ? 1 : 0}`;
    if (sub === 'DELTREE' && (words.length === 3 || words.length === 4)) return `200 result=${db.deltree(words[2], words[3]) ? 1 : 0}`;
    return USAGE('Usage: DATABASE GET|PUT|DEL|DELTREE <family> <key> [value]');
  }
  if (two === 'SET CALLERID' && side.setCallerId) {
    side.setCallerId(words[2] ?? '');
    return '200 result=1';
  }
  if (one === 'HANGUP' && side.hangup) {
    side.hangup();
    return '200 result=1';
  }
  return '510 Invalid or unknown command';
}

export interface AgiTranscript {
  /** Command lines as the script sent them. */
  commands: string[];
  /** `>> command` / `<< reply` lines in order, from the script's point of view. */
  lines: string[];
  /** Commands answered 510/520: Asterisk would not have understood them. */
  rejected: string[];
}

/**
 * One session: feed it what the script writes, it writes the replies back in order (a command
 * may take time, e.g. EXEC Wait, so replies are chained, never interleaved).
 */
export class AgiSession {
  readonly transcript: AgiTranscript = { commands: [], lines: [], rejected: [] };
  /** Failures of the test PBX itself while answering (an unsupported function, …). */
  readonly errors: Error[] = [];
  private buffer = '';
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly side: AgiSide,
    private readonly write: (text: string) => void,
    public dead = false,
    private readonly afterCommand?: (count: number) => void,
  ) {}

  start(env: Record<string, string>): void {
    this.write(environmentBlock(env));
  }

  /** Unsolicited line (FastAGI `HANGUP`). */
  send(text: string): void {
    this.transcript.lines.push(`<< ${text}`);
    this.write(`${text}\n`);
  }

  feed(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.chain = this.chain.then(() => this.handle(line));
    }
  }

  /** Resolves once every command received so far has been answered. */
  settled(): Promise<void> {
    return this.chain;
  }

  private async handle(line: string): Promise<void> {
    this.transcript.commands.push(line);
    this.transcript.lines.push(`>> ${line}`);
    let reply: string;
    try {
      reply = await agiReply(line, this.side, this.dead);
    } catch (err) {
      // The test PBX could not answer as Asterisk would: the owner of the session fails the test.
      reply = '510 Invalid or unknown command';
      this.errors.push(err as Error);
      this.transcript.lines.push(`!! ${(err as Error).message}`);
    }
    if (/^5(10|20)/.test(reply)) this.transcript.rejected.push(line);
    for (const l of reply.split('\n')) this.transcript.lines.push(`<< ${l}`);
    this.write(`${reply}\n`);
    this.afterCommand?.(this.transcript.commands.length);
  }
}

export interface AgiProcessOptions {
  command: string;
  argv: string[];
  processEnv: NodeJS.ProcessEnv;
  env: Record<string, string>;
  side: AgiSide;
  dead?: boolean;
  /** Kill the script if it runs longer than this (a test failure, not Asterisk behaviour). */
  killAfterMs?: number;
  afterCommand?: (count: number, process: AgiProcess) => void;
}

export interface AgiProcessResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  durationMs: number;
  stderr: string;
  /** The spawn itself failed (ENOENT, EACCES). */
  spawnError?: string;
}

export interface AgiProcess {
  session: AgiSession;
  child: ChildProcess;
  /** The caller hung up: dead mode from now on, SIGHUP unless Asterisk was told not to send it. */
  hangup(sendSighup: boolean): void;
  /** The script still has its stdout open (Asterisk still reads it). */
  talking(): boolean;
  done: Promise<AgiProcessResult>;
}

/** Launches a local AGI script the way res_agi does and plays Asterisk's side until it exits. */
export function startAgiProcess(opts: AgiProcessOptions): AgiProcess {
  const started = Date.now();
  const child = spawn(opts.command, opts.argv, { env: opts.processEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  const write = (text: string) => {
    if (child.stdin && !child.stdin.destroyed && child.stdin.writable) child.stdin.write(text);
  };
  let proc: AgiProcess;
  const session = new AgiSession(opts.side, write, !!opts.dead, (n) => opts.afterCommand?.(n, proc));
  let stderr = '';
  let spawnError: string | undefined;
  let stdoutEnded = false;
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => session.feed(c));
  child.stdout!.on('end', () => (stdoutEnded = true));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => (stderr += c));
  child.stdin!.on('error', () => undefined);
  child.on('error', (err) => (spawnError = err.message));
  session.start(opts.env);
  const killer = setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs ?? 15_000);
  proc = {
    session,
    child,
    hangup(sendSighup: boolean) {
      session.dead = true;
      // Once the script closed its stdout Asterisk only waits for it to exit: no signal (lab §5).
      if (sendSighup && !stdoutEnded && child.exitCode === null && child.signalCode === null) child.kill('SIGHUP');
    },
    talking: () => !stdoutEnded,
    done: new Promise((resolve) => {
      child.on('close', (code, signal) => {
        clearTimeout(killer);
        session.settled().finally(() =>
          resolve({ exitCode: code, signal, durationMs: Date.now() - started, stderr, spawnError }),
        );
      });
    }),
  };
  return proc;
}
