// The resident service's warm half: one database connection with memory caches in front, one
// keep-alive connection pool to the portal, one coalescing front that takes slots of the shared
// rate bucket (which the AGI processes of the fallback path and the cron retry use too).
import * as http from 'http';
import * as https from 'https';
import { BitrixApi, BitrixClient, RequestPriority } from '../bitrix/client';
import { CoalescingClient, RequestLimiter } from '../bitrix/coalesce';
import { Transport, tunnelAgent } from '../bitrix/http';
import type { OAuthSession } from '../bitrix/oauth';
import type { Config } from '../config/config';
import { Backend, credentialsFrom, HealthTracker, openOAuthSession, openStores, portalUrl, Stores } from '../flows/services';
import type { Logger } from '../log/logger';
import { MemoryCaches } from '../store/caches';
import { Db } from '../store/db';
import { CALL_PATH_LOCK_WAIT_MS, Priority, SharedBucket } from '../store/gate';

/** A statement of the service waits this long for another process's write lock. */
const BUSY_TIMEOUT_MS = 2000;

/** What a backend is bound to: a change of any of these opens a new one. */
export function backendKey(c: Config): string {
  return JSON.stringify([c.databasePath, c.webhookUrl, c.app, c.oauthUrl, c.httpsProxy ?? null, c.rateLimitPerSecond, c.rateLimitBurst]);
}

/**
 * Slots the service's background work (finish, retry) leaves free below the threshold. Its call
 * path needs one slot per request however many calls ride in it, so a few suffice; the AGI
 * processes keep their fifth (they send one call per request).
 */
const SERVICE_HEADROOM = 3;

/**
 * Slots are taken from the shared bucket a few at a time while it has room to spare, and used
 * within a quarter of a second: most requests then need no database transaction of their own.
 */
const PREFETCH = 4;
const PREFETCH_HOLD_MS = 250;

/** SQLite's default wal_autocheckpoint, in frames (pages). */
const WAL_RESTART_FRAMES = 1000;

/** The portal's operating limit resets within 10 minutes: a longer pause is a clock that stepped. */
const MAX_PAUSE_MS = 10 * 60_000;

/** The shared bucket, with OPERATION_TIME_LIMIT pauses kept in memory (refreshed from the database). */
class ServiceLimiter implements RequestLimiter {
  private readonly pauses = new Map<string, number>();
  private spare = { n: 0, until: 0 };

  constructor(
    private readonly bucket: SharedBucket,
    readonly ratePerSec: number,
    private readonly now: () => number,
  ) {}

  async take(priority: Priority): Promise<number> {
    if (this.spare.n > 0 && this.now() < this.spare.until) {
      this.spare.n--;
      return 0;
    }
    const full = this.bucket.threshold;
    const capacity = priority === 'call-path' ? full : Math.max(this.bucket.capacity('background'), full - SERVICE_HEADROOM);
    const { granted, waitMs } = await this.bucket.takeSome(capacity, PREFETCH, priority === 'call-path' ? CALL_PATH_LOCK_WAIT_MS : undefined);
    if (granted > 1) this.spare = { n: granted - 1, until: this.now() + PREFETCH_HOLD_MS };
    return waitMs;
  }

  pausedUntil(method: string): number {
    const until = this.pauses.get(method) ?? 0;
    if (until && until <= this.now()) this.pauses.delete(method);
    return until > this.now() ? until : 0;
  }

  pauseMethod(method: string, untilMs: number): void {
    this.pauses.set(method, Math.max(Math.min(untilMs, this.now() + MAX_PAUSE_MS), this.pauses.get(method) ?? 0));
    void this.bucket.pauseMethod(method, untilMs).catch(() => undefined);
  }

  /** Pauses other processes wrote (an AGI of the fallback path, the cron retry). */
  async refresh(): Promise<void> {
    for (const p of await this.bucket.activePauses()) this.pauses.set(p.method, Math.max(p.until, this.pauses.get(p.method) ?? 0));
    for (const [m, until] of this.pauses) if (until <= this.now()) this.pauses.delete(m);
  }
}

export class ServiceBackend implements Backend {
  readonly key: string;
  readonly health: HealthTracker;
  private storesP?: Promise<Stores>;
  private frontP?: Promise<{ front: CoalescingClient; limiter?: ServiceLimiter }>;
  private sessionP?: Promise<OAuthSession>;
  private readonly agent: http.Agent;
  private checkpointer?: Db;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.key = backendKey(config);
    this.health = new HealthTracker(now);
    // The one place the keep-alive agent is made; it goes to the client and the OAuth session.
    // Behind an HTTPS proxy it keeps the CONNECT tunnels (with TLS inside) open instead.
    const secure = /^https:/i.test(portalUrl(config));
    const opts = { keepAlive: true, maxSockets: 8, maxFreeSockets: 4 };
    if (config.httpsProxy) this.agent = tunnelAgent(config.httpsProxy, secure, opts);
    else this.agent = secure ? new https.Agent(opts) : new http.Agent(opts);
  }

  stores(): Promise<Stores> {
    if (!this.storesP) {
      this.storesP = openStores(this.config, this.log, BUSY_TIMEOUT_MS, { caches: (db) => new MemoryCaches(db) }).then(async (stores) => {
        // The steps' connection never checkpoints the WAL itself (a checkpoint syncs the file and
        // would hold every statement behind it); a second connection does it on the heartbeat.
        await stores.db.exec('PRAGMA wal_autocheckpoint=0').catch(() => undefined);
        return stores;
      });
      // A database that cannot be opened now (a full disk, a path being fixed) is tried again by the next step.
      this.storesP.catch(() => (this.storesP = undefined));
    }
    return this.storesP;
  }

  async client(priority: RequestPriority): Promise<BitrixApi> {
    if (!this.frontP) {
      this.frontP = this.makeFront();
      this.frontP.catch(() => (this.frontP = undefined));
    }
    const made = await this.frontP;
    // Made while the database could not be opened (a webhook still works, without the shared
    // bucket): not kept, the next step tries again.
    if (!made.limiter) this.frontP = undefined;
    return made.front.as(priority);
  }

  oauthSession(): Promise<OAuthSession> {
    if (!this.sessionP) {
      this.sessionP = openOAuthSession(this.config, () => this.stores(), this.now, this.transport());
      this.sessionP.catch(() => (this.sessionP = undefined)); // no database yet: the next use tries again
    }
    return this.sessionP;
  }

  /** The kept connections; a URL of the other protocol (a test's token endpoint) goes without them. */
  private transport(): Transport {
    return { agent: this.agent, ...(this.config.httpsProxy ? { proxy: this.config.httpsProxy } : {}) };
  }

  /** Now and then: drop expired cache entries, learn pauses other processes wrote, write health. */
  async maintain(config: Config): Promise<void> {
    const stores = await this.stores().catch(() => undefined);
    if (!stores) return;
    const now = this.now();
    (stores.caches as MemoryCaches).sweep(now, { userMs: config.userCacheSeconds * 1000, nameMs: config.nameCacheSeconds * 1000 });
    await this.health.flush(stores.health);
    const front = await this.frontP?.catch(() => undefined);
    await front?.limiter?.refresh().catch(() => undefined);
    await this.checkpoint(stores);
  }

  /** PASSIVE: copies what it can without waiting for anybody; the AGI processes checkpoint on their own. */
  private async checkpoint(stores: Stores): Promise<void> {
    try {
      if (!this.checkpointer) {
        this.checkpointer = await Db.open(this.config.databasePath, BUSY_TIMEOUT_MS);
        await this.checkpointer.exec('PRAGMA cache_size=-64'); // it reads nothing: no page cache to speak of
      }
      const wal = await this.checkpointer.get<{ log: number }>('PRAGMA wal_checkpoint(PASSIVE)');
      // The WAL starts over only when a write finds it wholly copied. Under steady load a step
      // commits during every checkpoint of the second connection, so that never happens and the
      // WAL (and the index SQLite maps for it) grows as long as the load lasts: 1.2 GB over 12 000
      // calls in the soak. Past SQLite's own autocheckpoint size, the steps' connection copies the
      // rest between two of its statements (a few frames, one sync); its next write starts over.
      if (wal && wal.log > WAL_RESTART_FRAMES) await stores.db.exec('PRAGMA wal_checkpoint(PASSIVE)');
    } catch (err) {
      this.log.debug(`service: WAL checkpoint not done (${(err as Error).message})`);
    }
  }

  /** For the status file. */
  async stats(): Promise<{ requests: number; commands: number; batched: number; queued: number; users: number; names: number }> {
    const front = (await this.frontP?.catch(() => undefined))?.front;
    const caches = (await this.storesP?.catch(() => undefined))?.caches as MemoryCaches | undefined;
    return { ...(front?.stats ?? { requests: 0, commands: 0, batched: 0 }), queued: front?.queued() ?? 0, ...(caches?.sizes() ?? { users: 0, names: 0 }) };
  }

  async close(): Promise<void> {
    this.agent.destroy();
    await this.checkpointer?.close().catch(() => undefined);
    const stores = await this.storesP?.catch(() => undefined);
    if (!stores) return;
    await this.health.flush(stores.health);
    // The last connection to close checkpoints the WAL into the database file.
    await stores.db.exec('PRAGMA wal_autocheckpoint=1000').catch(() => undefined);
    await stores.db.close().catch(() => undefined);
  }

  private async makeFront(): Promise<{ front: CoalescingClient; limiter?: ServiceLimiter }> {
    // Without the database a webhook still works (no shared rate bucket then); OAuth needs its tokens.
    const db = await this.stores().then(
      (st) => st.db,
      () => undefined,
    );
    const cfg = this.config;
    const limiter = db ? new ServiceLimiter(new SharedBucket(db, cfg.rateLimitPerSecond, cfg.rateLimitBurst, this.now), cfg.rateLimitPerSecond, this.now) : undefined;
    await limiter?.refresh().catch(() => undefined);
    const inner = new BitrixClient({
      credentials: await credentialsFrom(cfg, () => this.oauthSession()),
      // The front takes the slots; the client only remembers OPERATION_TIME_LIMIT pauses.
      gate: limiter && { acquire: async () => undefined, pauseMethod: async (m, until) => limiter.pauseMethod(m, until) },
      health: this.health,
      now: this.now,
      transport: this.transport(),
    });
    const open: RequestLimiter = { ratePerSec: cfg.rateLimitPerSecond, take: async () => 0, pausedUntil: () => 0, pauseMethod: () => undefined };
    return { front: new CoalescingClient(inner, limiter ?? open, { now: this.now }), limiter };
  }
}
