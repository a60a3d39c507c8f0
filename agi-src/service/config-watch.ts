// The service's config: the file the module writes (atomically: temp file + rename), read again
// when it changes. A directory watch notices at once, a cheap stat every few seconds catches what
// a watch may miss. A new file that does not load keeps the old config, logged once per version.
import { FSWatcher, promises as fsp, watch } from 'fs';
import { basename, dirname } from 'path';
import type { Config } from '../config/config';
import { ConfigError, loadConfig } from '../config/load';
import type { Logger } from '../log/logger';

const POLL_MS = 2000;
const DEBOUNCE_MS = 30;

export class ConfigWatcher {
  private config?: Config;
  private error?: string;
  private seen = '';
  private loadedAt?: number;
  private watcher?: FSWatcher;
  private poll?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private checking = false;

  constructor(
    readonly path: string,
    private readonly log: Logger,
    private readonly onChange: (config: Config) => void,
  ) {}

  /** Loads the file now (a failure is kept and reported by `current`), then watches it. */
  async start(): Promise<void> {
    await this.check();
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, name) => {
        if (name && name.toString() !== basename(this.path)) return;
        clearTimeout(this.debounce);
        this.debounce = setTimeout(() => void this.check(), DEBOUNCE_MS);
      });
      this.watcher.on('error', () => undefined); // the poll still runs
    } catch {
      // no directory watch here (a missing directory, a file system without inotify): poll only
    }
    this.poll = setInterval(() => void this.check(), POLL_MS);
    this.poll.unref();
  }

  stop(): void {
    this.watcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.debounce);
  }

  /** The config in force; throws the load error when there has never been a good one. */
  current(): Config {
    if (this.config) return this.config;
    throw new ConfigError(this.error ?? `config ${this.path}: not loaded`);
  }

  state(): { ok: boolean; error: string | null; loadedAt: number | null } {
    return { ok: !!this.config && !this.error, error: this.error ?? null, loadedAt: this.loadedAt ?? null };
  }

  /** Reloads when the file is another one (inode) or was written since (mtime, size). */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const version = await fsp.stat(this.path).then(
        (st) => `${st.ino}:${st.mtimeMs}:${st.size}`,
        (err: NodeJS.ErrnoException) => `missing:${err.code}`,
      );
      if (version === this.seen) return;
      this.seen = version;
      let next: Config;
      try {
        next = loadConfig(this.path);
      } catch (err) {
        this.error = (err as Error).message;
        this.log.error(`service: ${this.error}; ${this.config ? 'keeping the config loaded before' : 'steps leave the call untouched until it is fixed'}`);
        return;
      }
      const first = !this.config;
      this.config = next;
      this.error = undefined;
      this.loadedAt = Date.now();
      if (!first) this.log.info(`service: config ${this.path} reloaded`);
      this.onChange(next);
    } finally {
      this.checking = false;
    }
  }
}
