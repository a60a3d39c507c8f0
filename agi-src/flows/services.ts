// What a flow needs from the outside world, opened lazily and at most once per process:
// nothing here is touched before the flow knows the call is one of ours.
import { BitrixClient, Credentials, Health } from '../bitrix/client';
import { asBitrixError, BitrixError } from '../bitrix/errors';
import type { Transport } from '../bitrix/http';
import { OAuthSession } from '../bitrix/oauth';
import { Config, credentialsFingerprint } from '../config/config';
import type { Claim } from '../config/owner';
import { Logger } from '../log/logger';
import { MAX_ATTACH_ATTEMPTS } from '../logic/upload';
import { Caches } from '../store/caches';
import { CallStore } from '../store/calls';
import { Db } from '../store/db';
import { DbRequestGate, Priority } from '../store/gate';
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

export class Services {
  private storesP?: Promise<Stores>;
  private clientP?: Promise<BitrixClient>;
  private sessionP?: Promise<OAuthSession>;
  private lastHealth?: { ok: true; at: number } | { ok: false; at: number; error: string };

  constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly now: () => number = Date.now,
    /** Longest a statement may wait for another process's write lock. */
    private readonly busyTimeoutMs = 2000,
    /** Whether a caller waits for this process's requests (see DbRequestGate). */
    private readonly priority: Priority = 'background',
    /** Hands the database (and its folder) to the AGIs' user when this process creates it as root. */
    private readonly claim?: Claim,
  ) {}

  stores(): Promise<Stores> {
    if (!this.storesP) {
      this.storesP = Db.openOrRecreate(this.config.databasePath, this.busyTimeoutMs, (msg) => this.log.error(msg), this.claim).then((db) => ({
        db,
        calls: new CallStore(db),
        outbox: new Outbox(db),
        caches: new Caches(db),
        health: new HealthStore(db),
        leases: new Leases(db),
      }));
    }
    return this.storesP;
  }

  client(): Promise<BitrixClient> {
    if (!this.clientP) this.clientP = this.makeClient();
    return this.clientP;
  }

  /** The local application's OAuth session (tokens in the database); only when `app` is configured. */
  oauthSession(): Promise<OAuthSession> {
    if (!this.sessionP) this.sessionP = this.makeSession();
    return this.sessionP;
  }

  /**
   * For the scheduled retry only: renews the local application's tokens ahead of expiry, with
   * time to spare. Call steps never refresh (see bitrix/oauth.ts).
   */
  async renewTokensIfDue(): Promise<void> {
    if (!this.config.app) return;
    try {
      if ((await (await this.oauthSession()).renewIfDue()) === 'renewed') this.log.info('OAuth: access token renewed');
    } catch (err) {
      const e = asBitrixError(err, 'oauth');
      this.lastHealth = { ok: false, at: this.now(), error: e.message };
      if (e.code === 'invalid_grant') this.log.error(`OAuth: the token endpoint refused to renew the access token (${e.message}); press Connect in the module settings`);
      else if (e.kind === 'auth') this.log.error(`OAuth: the access token was not renewed (${e.message}); check the application settings`);
      else this.log.warn(`OAuth: the access token was not renewed (${e.message}); trying again on the next run`);
    }
  }

  /** How this process connects to Bitrix24: directly, or through the configured HTTPS proxy. */
  transport(): Transport {
    return this.config.httpsProxy ? { proxy: this.config.httpsProxy } : {};
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

  /** Writes the last exchange's outcome for the status panel, then closes the database. */
  async close(): Promise<void> {
    if (!this.storesP) return;
    const stores = await this.storesP.catch(() => undefined);
    if (!stores) return;
    if (this.lastHealth) await stores.health.record(this.lastHealth).catch(() => undefined);
    await stores.db.close().catch(() => undefined);
  }

  private async makeClient(): Promise<BitrixClient> {
    // Without the database a webhook still works (no shared rate bucket then); OAuth needs its tokens.
    const db = await this.stores().then(
      (st) => st.db,
      () => undefined,
    );
    const cfg = this.config;
    const health: Health = {
      success: () => (this.lastHealth = { ok: true, at: this.now() }),
      failure: (err: BitrixError) => (this.lastHealth = { ok: false, at: this.now(), error: err.message }),
    };
    const credentials: Credentials = cfg.app
      ? { kind: 'oauth', portalUrl: cfg.app.portalUrl, session: await this.oauthSession() }
      : { kind: 'webhook', baseUrl: cfg.webhookUrl };
    return new BitrixClient({
      credentials,
      gate: db ? new DbRequestGate(db, cfg.rateLimitPerSecond, cfg.rateLimitBurst, this.priority, this.now) : undefined,
      health,
      now: this.now,
      transport: this.transport(),
    });
  }

  private async makeSession(): Promise<OAuthSession> {
    const app = this.config.app;
    if (!app) throw new BitrixError('auth', 'NOT_CONFIGURED', 'no local application is configured', 0, 'oauth');
    const db = await this.stores().then(
      (st) => st.db,
      () => undefined,
    );
    if (!db) throw new BitrixError('transient', 'NO_DATABASE', 'the OAuth tokens are in the database, which cannot be opened', 0, 'oauth');
    return new OAuthSession(
      { clientId: app.clientId, clientSecret: app.clientSecret, oauthUrl: this.config.oauthUrl },
      new DbTokenStore(db, this.now),
      this.now,
      this.transport(),
    );
  }
}
