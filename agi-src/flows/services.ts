// What a flow needs from the outside world. The database and the Bitrix24 client live in a
// Backend: opened lazily and once per process by an AGI executable or the operator CLI, or
// kept warm and shared by every step of the resident service. Nothing here is touched before the
// flow knows the call is one of ours.
import { BitrixApi, BitrixClient, Credentials, Health, RequestGate, RequestPriority } from '../bitrix/client';
import { asBitrixError, BitrixError } from '../bitrix/errors';
import type { Transport } from '../bitrix/http';
import { OAuthSession } from '../bitrix/oauth';
import { Config, credentialsFingerprint } from '../config/config';
import type { Claim } from '../config/owner';
import { Logger } from '../log/logger';
import { takeSqlite3BindingNote } from '../platform/sqlite3-binding';
import { MAX_ATTACH_ATTEMPTS } from '../logic/upload';
import { Caches } from '../store/caches';
import { CallStore } from '../store/calls';
import { Db } from '../store/db';
import { DbRequestGate } from '../store/gate';
import { HealthStore } from '../store/health';
import { Leases } from '../store/leases';
import { Outbox } from '../store/outbox';
import type { Step } from '../store/calls';
import { DbTokenStore } from '../store/tokens';

export interface Stores {
  db: Db;
  calls: CallStore;
  outbox: Outbox;
  caches: Caches;
  health: HealthStore;
  leases: Leases;
}

/** The long-lived half of the services: the database and the way to Bitrix24. */
export interface Backend {
  /** The outcome of the last exchange with Bitrix24, for the status panel. */
  readonly health: HealthTracker;
  stores(): Promise<Stores>;
  /** Work a caller waits for (incoming, show) uses 'call-path'; the rest leaves headroom. */
  client(priority: RequestPriority): Promise<BitrixApi>;
  /** The local application's OAuth session (tokens in the database); only when `app` is configured. */
  oauthSession(): Promise<OAuthSession>;
  close(): Promise<void>;
}

export type LastHealth = { ok: true; at: number } | { ok: false; at: number; error: string };

export interface ServicesOptions {
  /** Hands the database (and its folder) to the AGIs' user when this process creates it as root. */
  claim?: Claim;
  /** The resident service's warm backend; without it this process opens its own. */
  backend?: Backend;
}

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
    opts: ServicesOptions = {},
  ) {
    this.backend = opts.backend ?? new ProcessBackend(config, log, now, busyTimeoutMs, opts.claim);
    this.ownsBackend = !opts.backend;
  }

  stores(): Promise<Stores> {
    return this.backend.stores();
  }

  client(): Promise<BitrixApi> {
    return this.backend.client(this.priority);
  }

  /** The local application's OAuth session (tokens in the database); only when `app` is configured. */
  oauthSession(): Promise<OAuthSession> {
    return this.backend.oauthSession();
  }

  /**
   * For the scheduled retry only (the cron run, or the resident service's drain): renews the
   * local application's tokens ahead of expiry, with time to spare. Call steps never refresh
   * (see bitrix/oauth.ts).
   */
  async renewTokensIfDue(): Promise<void> {
    if (!this.config.app) return;
    try {
      if ((await (await this.oauthSession()).renewIfDue()) === 'renewed') this.log.info('OAuth: access token renewed');
    } catch (err) {
      const e = asBitrixError(err, 'oauth');
      this.backend.health.failure(e);
      if (e.code === 'invalid_grant') this.log.error(`OAuth: the token endpoint refused to renew the access token (${e.message}); press Connect in the module settings`);
      else if (e.kind === 'auth') this.log.error(`OAuth: the access token was not renewed (${e.message}); check the application settings`);
      else this.log.warn(`OAuth: the access token was not renewed (${e.message}); trying again on the next run`);
    }
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
    if (blocked) this.log.error(err.redirectHost ? line : `${line}; fix the credentials in the module settings`);
    const { outbox, health } = await this.stores();
    const giveUpAfter = step === 'attach' ? MAX_ATTACH_ATTEMPTS : 0;
    const { attempts, gaveUp } = await outbox.failed(uniqueid, step, err.message, this.now(), blocked, giveUpAfter);
    if (gaveUp) this.log.error(`${context} ${uniqueid}: recording not attached after ${attempts} attempts; given up (last: ${err.message}). The call itself is finished`);
    else if (!blocked) this.log.warn(`${line}; queued for retry`);
    if (blocked) await health.setAuthBlocked(credentialsFingerprint(this.config), err.redirectHost ?? null);
    return err;
  }

  /** Closes what this step opened itself (a shared backend stays open). */
  async close(): Promise<void> {
    if (this.ownsBackend) await this.backend.close();
  }
}

/** How an AGI process or the CLI connects to Bitrix24: directly, or through the configured HTTPS proxy. */
export function proxyTransport(cfg: Config): Transport {
  return cfg.httpsProxy ? { proxy: cfg.httpsProxy } : {};
}

/** The local application's session over the tokens in the database. */
export async function openOAuthSession(cfg: Config, stores: () => Promise<Stores>, now: () => number, transport: Transport): Promise<OAuthSession> {
  const app = cfg.app;
  if (!app) throw new BitrixError('auth', 'NOT_CONFIGURED', 'no local application is configured', 0, 'oauth');
  const db = await stores().then(
    (st) => st.db,
    () => undefined,
  );
  if (!db) throw new BitrixError('transient', 'NO_DATABASE', 'the OAuth tokens are in the database, which cannot be opened', 0, 'oauth');
  return new OAuthSession({ clientId: app.clientId, clientSecret: app.clientSecret, oauthUrl: cfg.oauthUrl }, new DbTokenStore(db, now), now, transport);
}

/** Bitrix24 credentials as the config gives them; OAuth tokens come from the database. */
export async function credentialsFrom(cfg: Config, session: () => Promise<OAuthSession>): Promise<Credentials> {
  return cfg.app ? { kind: 'oauth', portalUrl: cfg.app.portalUrl, session: await session() } : { kind: 'webhook', baseUrl: cfg.webhookUrl };
}

/** The URL every REST request of this config goes to (the agent must speak its protocol). */
export function portalUrl(cfg: Config): string {
  return cfg.app ? cfg.app.portalUrl : cfg.webhookUrl;
}

export function openStores(cfg: Config, log: Logger, busyTimeoutMs: number, opts: { claim?: Claim; caches?: (db: Db) => Caches } = {}): Promise<Stores> {
  return Db.openOrRecreate(cfg.databasePath, busyTimeoutMs, (msg) => log.error(msg), opts.claim).then((db) => {
    const bindingNote = takeSqlite3BindingNote();
    if (bindingNote) log.debug(bindingNote);
    return {
      db,
      calls: new CallStore(db),
      outbox: new Outbox(db),
      caches: opts.caches ? opts.caches(db) : new Caches(db),
      health: new HealthStore(db),
      leases: new Leases(db),
    };
  });
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
  readonly health: HealthTracker;
  private storesP?: Promise<Stores>;
  private clientP?: Promise<BitrixApi>;
  private sessionP?: Promise<OAuthSession>;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly now: () => number,
    private readonly busyTimeoutMs: number,
    private readonly claim?: Claim,
  ) {
    this.health = new HealthTracker(now);
  }

  stores(): Promise<Stores> {
    if (!this.storesP) this.storesP = openStores(this.config, this.log, this.busyTimeoutMs, { claim: this.claim });
    return this.storesP;
  }

  client(priority: RequestPriority): Promise<BitrixApi> {
    if (!this.clientP) this.clientP = this.makeClient(priority);
    return this.clientP;
  }

  oauthSession(): Promise<OAuthSession> {
    if (!this.sessionP) this.sessionP = openOAuthSession(this.config, () => this.stores(), this.now, proxyTransport(this.config));
    return this.sessionP;
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
    return new BitrixClient({
      credentials: await credentialsFrom(cfg, () => this.oauthSession()),
      gate,
      health: this.health,
      now: this.now,
      transport: proxyTransport(cfg),
    });
  }
}
