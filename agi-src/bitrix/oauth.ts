// Local-application OAuth: access tokens live an hour, refresh tokens rotate on every refresh.
// A refresh whose answer is lost (the caller gave up first) has used up the refresh token, and the
// connection with it. So only the scheduled retry renews, well ahead of expiry and with time to
// spare (`renewIfDue`); a call step that finds the access token expired does not refresh: its
// work waits in the outbox. Only one process renews at a time (a lease row in the database);
// the others wait for the new token and re-read it.
import { BitrixError, classify, movedError, transientError } from './errors';
import { HttpError, request, Transport } from './http';
import { isRedirect, sleep } from './client';

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** epoch ms */
  expiresAt: number;
}

export interface TokenStore {
  read(): Promise<Tokens | null>;
  /** Takes the refresh lease for `ms` if nobody holds it; true when taken. */
  tryLease(ms: number): Promise<boolean>;
  /** Stores new tokens and releases the lease. */
  save(tokens: Tokens): Promise<void>;
  releaseLease(): Promise<void>;
  /** The portal refused this access token: it is expired for every process. */
  expire(accessToken: string): Promise<void>;
  /** The token endpoint refused the refresh token: not connected until Connect is pressed again. */
  disconnect(): Promise<void>;
}

export interface OAuthApp {
  clientId: string;
  clientSecret: string;
  oauthUrl: string;
}

/** The scheduled retry (every minute) renews an access token that expires within this. */
export const RENEW_WINDOW_MS = 10 * 60_000;
/** How long the renewal waits for the token endpoint: far beyond any call step's budget. */
export const RENEW_TIMEOUT_MS = 30_000;
/** An access token this close to its expiry is not sent: the portal would refuse it on arrival. */
const USABLE_MARGIN_MS = 5_000;
const LEASE_MS = 10_000;

export class OAuthSession {
  constructor(
    private readonly app: OAuthApp,
    private readonly store: TokenStore,
    private readonly now: () => number = Date.now,
    private readonly transport: Transport = {},
  ) {}

  /** The current access token; never refreshes (see `renewIfDue`). */
  async accessToken(): Promise<string> {
    const tokens = await this.store.read();
    if (!tokens) {
      throw new BitrixError('auth', 'NOT_CONNECTED', 'the local application is not connected (use Connect in the module settings)', 0, 'oauth');
    }
    if (tokens.expiresAt - USABLE_MARGIN_MS > this.now()) return tokens.accessToken;
    throw new BitrixError('expired', 'TOKEN_EXPIRED', 'the access token has expired; the scheduled retry renews it', 0, 'oauth');
  }

  /** The portal answered expired_token: nobody sends this token again; the retry renews it. */
  async markExpired(accessToken: string): Promise<void> {
    if (accessToken) await this.store.expire(accessToken);
  }

  /**
   * For the scheduled retry: renews the tokens when the access token expires within `windowMs`
   * (so also when no call came for days). 'fresh' when nothing was due or another process has
   * just renewed. A refresh token the endpoint no longer accepts disconnects the application:
   * the outbox then waits for Connect instead of asking again every minute.
   */
  async renewIfDue(windowMs = RENEW_WINDOW_MS, timeoutMs = RENEW_TIMEOUT_MS): Promise<'fresh' | 'renewed' | 'not-connected'> {
    const tokens = await this.store.read();
    if (!tokens) return 'not-connected';
    if (tokens.expiresAt - windowMs > this.now()) return 'fresh';
    try {
      return (await this.renew(tokens.accessToken, this.now() + timeoutMs)).granted ? 'renewed' : 'fresh';
    } catch (err) {
      if (err instanceof BitrixError && err.code === 'invalid_grant') await this.store.disconnect();
      throw err;
    }
  }

  /** Refreshes unless another process already replaced `staleAccessToken`. */
  async refresh(staleAccessToken: string, deadline: number): Promise<Tokens> {
    return (await this.renew(staleAccessToken, deadline)).tokens;
  }

  private async renew(staleAccessToken: string, deadline: number): Promise<{ tokens: Tokens; granted: boolean }> {
    const replaced = (t: Tokens | null): boolean => !!t && t.accessToken !== staleAccessToken && t.expiresAt - USABLE_MARGIN_MS > this.now();
    while (this.now() < deadline) {
      const current = await this.store.read();
      if (!current) throw new BitrixError('auth', 'NOT_CONNECTED', 'the local application is not connected', 0, 'oauth');
      if (replaced(current)) return { tokens: current, granted: false };
      // The lease outlives the request: nobody may use the same refresh token while it is in flight.
      if (await this.store.tryLease(Math.max(LEASE_MS, deadline - this.now() + 5000))) {
        try {
          // Read again under the lease: another process may have refreshed between our read and
          // the lease, and its refresh token replaced the one we read (they rotate).
          const latest = await this.store.read();
          if (latest && replaced(latest)) {
            await this.store.releaseLease();
            return { tokens: latest, granted: false };
          }
          const fresh = await this.grant({ grant_type: 'refresh_token', refresh_token: (latest ?? current).refreshToken }, deadline);
          await this.store.save(fresh);
          return { tokens: fresh, granted: true };
        } catch (err) {
          await this.store.releaseLease();
          throw err;
        }
      }
      await sleep(50);
    }
    throw transientError('oauth', 'token refresh by another process did not finish in time');
  }

  /** Exchanges the authorization code from the Connect flow for the first tokens. */
  async exchangeCode(code: string, deadline: number): Promise<Tokens> {
    const tokens = await this.grant({ grant_type: 'authorization_code', code }, deadline);
    await this.store.save(tokens);
    return tokens;
  }

  private async grant(params: Record<string, string>, deadline: number): Promise<Tokens> {
    const query = new URLSearchParams({ ...params, client_id: this.app.clientId, client_secret: this.app.clientSecret });
    const sep = this.app.oauthUrl.includes('?') ? '&' : '?';
    let status = 0;
    let body: Record<string, unknown> = {};
    const url = `${this.app.oauthUrl}${sep}${query}`;
    try {
      const res = await request({ method: 'GET', url, timeoutMs: deadline - this.now(), ...this.transport });
      status = res.status;
      if (isRedirect(status)) throw movedError('oauth', status, res.location, url);
      body = JSON.parse(res.body);
    } catch (err) {
      if (err instanceof BitrixError) throw err;
      if (err instanceof HttpError) throw transientError('oauth', err.message);
      throw transientError('oauth', `token endpoint answered HTTP ${status} without JSON`, status);
    }
    if (typeof body.error === 'string' || typeof body.access_token !== 'string') {
      const code = typeof body.error === 'string' ? body.error : 'invalid_grant';
      const kind = status >= 500 ? 'transient' : classify(code, status) === 'rejected' ? 'auth' : classify(code, status);
      throw new BitrixError(kind, code, String(body.error_description ?? 'token endpoint refused'), status, 'oauth');
    }
    const expiresIn = Number(body.expires_in) > 0 ? Number(body.expires_in) : 3600;
    return {
      accessToken: body.access_token,
      refreshToken: String(body.refresh_token ?? ''),
      expiresAt: this.now() + expiresIn * 1000,
    };
  }
}
