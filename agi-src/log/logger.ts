import { appendFileSync, existsSync } from 'fs';
import { dirname } from 'path';
import { Claim, makeDirs } from '../config/owner';
import { isoWithOffset } from '../logic/time';
import { redact } from './redact';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export const DEFAULT_LOG_PATH = '/var/log/asterisk/itd_bitrix.log';

/** Where lines go before the config is read (or when it cannot be): ITD_BITRIX_LOG, else the default. */
export function bootLogPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.ITD_BITRIX_LOG || DEFAULT_LOG_PATH;
}

/**
 * Appends one line to a log file, creating its folder (handed over with `claim`) if need be;
 * throws when it cannot (the line then goes to stderr).
 */
export type LogWriter = (path: string, line: string, claim?: Claim) => void;

/** Caller numbers and CRM names: private to the asterisk user and its group, like the database. */
export const LOG_FILE_MODE = 0o640;

function appendLine(path: string, line: string, claim?: Claim): void {
  try {
    appendFileSync(path, line, { mode: LOG_FILE_MODE });
  } catch {
    makeDirs(dirname(path), claim);
    appendFileSync(path, line, { mode: LOG_FILE_MODE });
  }
}

let writeLine: LogWriter = appendLine;

/**
 * Replaces how every Logger of this process writes: an AGI process appends each line at once
 * (it may exit any moment); the resident service queues them so its event loop never waits for
 * the disk.
 */
export function setLogWriter(writer: LogWriter): void {
  writeLine = writer;
}

/** Where warnings and errors are also shown while the channel is alive (Asterisk VERBOSE). */
export interface ConsoleSink {
  verbose(message: string, level?: number): Promise<void>;
}

/**
 * One line per event in the module's log file. AGI stderr is lost when Asterisk runs as a
 * daemon, so the file (and VERBOSE for warnings) is where problems go; stderr only if the file
 * cannot be written. Every line passes through `redact` so no secret is ever written.
 */
export class Logger {
  private secrets: string[] = [];
  private sink?: ConsoleSink;
  private pending: Promise<unknown>[] = [];
  private claim?: Claim;

  constructor(
    private readonly tag: string,
    private path: string = bootLogPath(),
    private level: LogLevel = 'info',
  ) {}

  /** `claim`: hands a log file or folder this process creates to the AGIs' user (CLI run as root). */
  configure(opts: { path?: string; level?: LogLevel; secrets?: string[]; claim?: Claim }): void {
    if (opts.path) this.path = opts.path;
    if (opts.level) this.level = opts.level;
    if (opts.secrets) this.secrets = opts.secrets.filter((s) => s && s.length >= 4);
    if (opts.claim) this.claim = opts.claim;
  }

  attachConsole(sink: ConsoleSink | undefined): void {
    this.sink = sink;
  }

  error(message: string): void {
    this.write('error', message);
  }
  warn(message: string): void {
    this.write('warn', message);
  }
  info(message: string): void {
    this.write('info', message);
  }
  debug(message: string): void {
    this.write('debug', message);
  }

  /** Waits (briefly) for VERBOSE lines still on their way to Asterisk. */
  async drain(timeoutMs = 200): Promise<void> {
    const all = Promise.allSettled(this.pending.splice(0));
    await Promise.race([all, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  private write(level: LogLevel, message: string): void {
    if (RANK[level] > RANK[this.level]) return;
    const text = redact(message.replace(/[\r\n]+/g, ' '), this.secrets);
    const line = `${isoWithOffset(Date.now())} ${level.toUpperCase()} [${this.tag} ${process.pid}] ${text}\n`;
    const fresh = this.claim !== undefined && !existsSync(this.path);
    try {
      writeLine(this.path, line, this.claim);
    } catch {
      process.stderr.write(line);
    }
    if (fresh && existsSync(this.path)) this.claim?.(this.path);
    if (this.sink && RANK[level] <= RANK.warn) {
      this.pending.push(this.sink.verbose(`itd-bitrix ${level}: ${text}`, 1).catch(() => undefined));
    }
  }
}
