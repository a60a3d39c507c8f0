// The resident service's log writer: lines are queued and appended by libuv's thread pool, in
// order, per file. A disk that stalls (a checkpoint's fsync, a busy volume) then delays the log,
// never the calls. Bounded: past `maxQueued` lines waiting, new ones are counted and dropped.
import { promises as fsp } from 'fs';
import { dirname } from 'path';
import { LOG_FILE_MODE } from './logger';

export class QueuedLogWriter {
  private readonly queues = new Map<string, string[]>();
  private readonly writing = new Set<string>();
  private dropped = 0;
  private idle: Array<() => void> = [];

  constructor(private readonly maxQueued = 10_000) {}

  readonly write = (path: string, line: string): void => {
    let q = this.queues.get(path);
    if (!q) this.queues.set(path, (q = []));
    if (q.length >= this.maxQueued) {
      this.dropped++;
      return;
    }
    q.push(line);
    if (!this.writing.has(path)) void this.flush(path);
  };

  /** Resolves once every queued line is written (or given up). */
  drained(): Promise<void> {
    if (!this.writing.size) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private async flush(path: string): Promise<void> {
    this.writing.add(path);
    const q = this.queues.get(path) as string[];
    while (q.length) {
      let text = q.splice(0).join('');
      if (this.dropped) {
        text += `${new Date().toISOString()} WARN log: ${this.dropped} line(s) dropped while the disk was slow\n`;
        this.dropped = 0;
      }
      try {
        await fsp.appendFile(path, text, { mode: LOG_FILE_MODE });
      } catch {
        try {
          await fsp.mkdir(dirname(path), { recursive: true });
          await fsp.appendFile(path, text, { mode: LOG_FILE_MODE });
        } catch {
          process.stderr.write(text);
        }
      }
    }
    this.writing.delete(path);
    this.queues.delete(path);
    if (!this.writing.size) for (const r of this.idle.splice(0)) r();
  }
}
