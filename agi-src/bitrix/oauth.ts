// Local-application OAuth: access tokens live an hour, refresh tokens rotate on every refresh.
// Only one process may refresh at a time (a lease row in the database); the others wait for
// the new token and re-read it, so nobody uses a refresh token that was just invalidated.
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
}

export interface OAuthApp {
  clientId: string;
  clientSecret: string;
  oauthUrl: string;
}

const EARLY_REFRESH_MS = 60_000;
const LEASE_MS = 10_000;

export class OAuthSession {
  constructor(
    private readonly app: OAuthApp,
    private readonly store: TokenStore,
    private readonly now: () => number = Date.now,
    private readonly transport: Transport = {},
  ) {}

  async accessToken(deadline: number): Promise<string> {
    const tokens = await this.store.read();
    if (!tokens) {
      throw new BitrixError('auth', 'NOT_CONNECTED', 'the local application is not connected yet (use Connect in the module settings)', 0, 'oauth');
    }
    if (tokens.expiresAt - EARLY_REFRESH_MS > this.now()) return tokens.accessToken;
    return (await this.refresh(tokens.accessToken, deadline)).accessToken;
  }

  /** Refreshes unless another process already replaced `staleAccessToken`. */
  async refresh(staleAccessToken: string, deadline: number): Promise<Tokens> {
    while (this.now() < deadline) {
      const current = await this.store.read();
      if (!current) throw new BitrixError('auth', 'NOT_CONNECTED', 'the local application is not connected', 0, 'oauth');
      if (current.accessToken !== staleAccessToken && current.expiresAt - EARLY_REFRESH_MS > this.now()) return current;
      if (await this.store.tryLease(LEASE_MS)) {
        try {
          // Read again under the lease: another process may have refreshed between our read and
          // the lease, and its refresh token replaced the one we read (they rotate).
          const latest = await this.store.read();
          if (latest && latest.accessToken !== staleAccessToken && latest.expiresAt - EARLY_REFRESH_MS > this.now()) {
            await this.store.releaseLease();
            return latest;
          }
          const fresh = await this.grant({ grant_type: 'refresh_token', refresh_token: (latest ?? current).refreshToken }, deadline);
          await this.store.save(fresh);
          return fresh;
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
