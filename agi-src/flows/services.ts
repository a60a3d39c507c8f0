// What a flow needs from the outside world. The database and the Bitrix24 client live in a
// Backend: opened lazily and once per process by an AGI executable or the operator CLI, or
// kept warm and shared by every step of the resident service. Nothing here is touched before the
// flow knows the call is one of ours.
import { BitrixApi, BitrixClient, Credentials, Health, RequestGate, RequestPriority } from '../bitrix/client';
import { asBitrixError, BitrixError } from '../bitrix/errors';
import { OAuthSession } from '../bitrix/oauth';
import { Config, credentialsFingerprint } from '../config/config';
import { Logger } from '../log/logger';
import { Caches } from '../store/caches';
import { CallStore } from '../store/calls';
import { Db } from '../store/db';
import { DbRequestGate } from '../store/gate';
import { HealthStore } from '../store/health';
import { Outbox } from '../store/outbox';
import type { Step } from '../store/calls';
import { DbTokenStore } from '../store/tokens';

export interface Stores {
  db: Db;
  calls: CallStore;
  outbox: Outbox;
  caches: Caches;
  health: HealthStore;
}

/** The long-lived half of the services: the database and the way to Bitrix24. */
export interface Backend {
  stores(): Promise<Stores>;
  /** Work a caller waits for (incoming, show) uses 'call-path'; the rest leaves headroom. */
  client(priority: RequestPriority): Promise<BitrixApi>;
  close(): Promise<void>;
}

export type LastHealth = { ok: true; at: number } | { ok: false; at: number; error: string };

export class Services {
  private readonly backend: Backend;
  private readonly ownsBackend: boolean;

  constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly now: () => number = Date.now,
    /** Longest a statement may wait for another process's write lock. */
    busyTimeoutMs = 2000,
    /** Whether a caller waits for this step's requests (see the request gate). */
    private readonly priority: RequestPriority = 'background',
    /** The resident service's warm backend; without it this process opens its own. */
    shared?: Backend,
  ) {
    this.backend = shared ?? new ProcessBackend(config, log, now, busyTimeoutMs);
    this.ownsBackend = !shared;
  }

  stores(): Promise<Stores> {
    return this.backend.stores();
  }

  client(): Promise<BitrixApi> {
    return this.backend.client(this.priority);
  }

  /**
   * A Bitrix24 step did not complete: back off and retry later, or, when the credentials were
   * refused, wait until the admin changes them (the fingerprint of the refused ones is kept).
   * Writes the one log line that says so; `context` starts it (e.g. "incoming", "call").
   */
  async recordFailure(uniqueid: string, step: Step, failure: unknown, context: string): Promise<BitrixError> {
    const err = asBitrixError(failure, step);
    const blocked = err.kind === 'auth';
    const line = `${context} ${uniqueid}: ${step} not done (${err.message}); the call goes on`;
    if (blocked) this.log.error(`${line}; fix the credentials in the module settings`);
    else this.log.warn(`${line}; queued for retry`);
    const { outbox, health } = await this.stores();
    await outbox.failed(uniqueid, step, err.message, this.now(), blocked);
    if (blocked) await health.setAuthBlocked(credentialsFingerprint(this.config));
    return err;
  }

  /** Closes what this step opened itself (a shared backend stays open). */
  async close(): Promise<void> {
    if (this.ownsBackend) await this.backend.close();
  }
}

/** Bitrix24 credentials as the config gives them; OAuth tokens come from the database. */
export function credentialsFrom(cfg: Config, db: Db | undefined, now: () => number): Credentials {
  if (!cfg.app) return { kind: 'webhook', baseUrl: cfg.webhookUrl };
  if (!db) throw new BitrixError('transient', 'NO_DATABASE', 'the OAuth tokens are in the database, which cannot be opened', 0, 'oauth');
  const session = new OAuthSession(
    { clientId: cfg.app.clientId, clientSecret: cfg.app.clientSecret, oauthUrl: cfg.oauthUrl },
    new DbTokenStore(db, now),
    now,
  );
  return { kind: 'oauth', portalUrl: cfg.app.portalUrl, session };
}

/** The URL every REST request of this config goes to (the agent must speak its protocol). */
export function portalUrl(cfg: Config): string {
  return cfg.app ? cfg.app.portalUrl : cfg.webhookUrl;
}

export function openStores(cfg: Config, log: Logger, busyTimeoutMs: number, caches?: (db: Db) => Caches): Promise<Stores> {
  return Db.openOrRecreate(cfg.databasePath, busyTimeoutMs, (msg) => log.error(msg)).then((db) => ({
    db,
    calls: new CallStore(db),
    outbox: new Outbox(db),
    caches: caches ? caches(db) : new Caches(db),
    health: new HealthStore(db),
  }));
}

/** Collects the outcome of the last exchange with Bitrix24 for the status panel. */
export class HealthTracker implements Health {
  last?: LastHealth;
  constructor(private readonly now: () => number) {}
  success(): void {
    this.last = { ok: true, at: this.now() };
  }
  failure(err: BitrixError): void {
    this.last = { ok: false, at: this.now(), error: err.message };
  }
  /** Writes the last outcome (if any since the previous flush). */
  async flush(health: HealthStore): Promise<void> {
    const last = this.last;
    this.last = undefined;
    if (last) await health.record(last).catch(() => undefined);
  }
}

/** One AGI process or CLI command: its own database connection and client, closed at the end. */
class ProcessBackend implements Backend {
  private storesP?: Promise<Stores>;
  private clientP?: Promise<BitrixApi>;
  private readonly health: HealthTracker;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly now: () => number,
    private readonly busyTimeoutMs: number,
  ) {
    this.health = new HealthTracker(now);
  }

  stores(): Promise<Stores> {
    if (!this.storesP) this.storesP = openStores(this.config, this.log, this.busyTimeoutMs);
    return this.storesP;
  }

  client(priority: RequestPriority): Promise<BitrixApi> {
    if (!this.clientP) this.clientP = this.makeClient(priority);
    return this.clientP;
  }

  /** Writes the last exchange's outcome for the status panel, then closes the database. */
  async close(): Promise<void> {
    if (!this.storesP) return;
    const stores = await this.storesP.catch(() => undefined);
    if (!stores) return;
    await this.health.flush(stores.health);
    await stores.db.close().catch(() => undefined);
  }

  private async makeClient(priority: RequestPriority): Promise<BitrixApi> {
    // Without the database a webhook still works (no shared rate bucket then); OAuth needs its tokens.
    const db = await this.stores().then(
      (st) => st.db,
      () => undefined,
    );
    const cfg = this.config;
    const gate: RequestGate | undefined = db ? new DbRequestGate(db, cfg.rateLimitPerSecond, cfg.rateLimitBurst, priority, this.now) : undefined;
    return new BitrixClient({ credentials: credentialsFrom(cfg, db, this.now), gate, health: this.health, now: this.now });
  }
}
