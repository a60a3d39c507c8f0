// Refresh tokens rotate: two processes must never both refresh with the same one, and a refresh
// whose answer is lost costs the connection. So only the scheduled retry renews, ahead of expiry
// and with time to spare; a call step that finds the access token expired leaves the work queued.
import { expect } from 'chai';
import { BitrixClient } from '../../agi-src/bitrix/client';
import { BitrixError } from '../../agi-src/bitrix/errors';
import { OAuthSession, RENEW_WINDOW_MS, Tokens, TokenStore } from '../../agi-src/bitrix/oauth';
import { FakeBitrix } from '../fake-bitrix/server';
import { rejects } from '../helpers/assert';

/** One shared "database" row, as the SQLite store keeps it, with hooks to force an interleaving. */
class SharedTokens {
  tokens: Tokens | null = null;
  leaseUntil = 0;
  leases = 0;
  store(hooks: { beforeLease?: () => Promise<void> } = {}): TokenStore {
    return {
      read: async () => (this.tokens ? { ...this.tokens } : null),
      tryLease: async (ms) => {
        await hooks.beforeLease?.();
        if (this.leaseUntil > Date.now()) return false;
        this.leaseUntil = Date.now() + ms;
        this.leases++;
        return true;
      },
      save: async (t) => {
        this.tokens = { ...t };
        this.leaseUntil = 0;
      },
      releaseLease: async () => {
        this.leaseUntil = 0;
      },
      expire: async (accessToken) => {
        if (this.tokens?.accessToken === accessToken) this.tokens.expiresAt = 0;
      },
      disconnect: async () => {
        this.tokens = null;
      },
    };
  }
}

describe('OAuth session', () => {
  let fake: FakeBitrix;
  let shared: SharedTokens;
  const app = () => ({ clientId: 'local.app1', clientSecret: 'app-s3cr3t-value', oauthUrl: fake.oauthUrl });
  const install = (expiresInMs: number) => {
    const t = fake.issueTokens();
    shared.tokens = { accessToken: t.accessToken, refreshToken: t.refreshToken, expiresAt: Date.now() + expiresInMs };
    return t;
  };
  beforeEach(async () => {
    fake = await FakeBitrix.start({ rateLimit: false });
    shared = new SharedTokens();
  });
  afterEach(() => fake.stop());

  it('a process that read the tokens just before another refreshed them uses the new ones', async () => {
    const t = install(3600_000);
    let bMayLease!: () => void;
    const bWaits = new Promise<void>((r) => (bMayLease = r));
    const a = new OAuthSession(app(), shared.store());
    const b = new OAuthSession(app(), shared.store({ beforeLease: () => bWaits }));
    // B has read the old tokens and is about to take the lease when A refreshes and saves.
    const bResult = b.refresh(t.accessToken, Date.now() + 5000);
    await new Promise((r) => setTimeout(r, 20));
    const aResult = await a.refresh(t.accessToken, Date.now() + 5000);
    bMayLease();
    const bTokens = await bResult;
    expect(bTokens.accessToken).to.equal(aResult.accessToken);
    expect(fake.issuedTokens().refreshGrants).to.equal(1);
  });

  it('a call step never refreshes: an expired access token is an "expired" error and nothing goes to the token endpoint', async () => {
    install(-1000);
    const session = new OAuthSession(app(), shared.store());
    const err = await rejects(session.accessToken(), BitrixError);
    expect(err).to.include({ kind: 'expired', code: 'TOKEN_EXPIRED' });
    const client = new BitrixClient({ credentials: { kind: 'oauth', portalUrl: fake.portalUrl, session } });
    expect(await rejects(client.call('user.current', {}, Date.now() + 2000), BitrixError)).to.include({ kind: 'expired' });
    expect(fake.requests, 'neither the portal nor the token endpoint').to.have.length(0);
  });

  it('the portal refusing a token the database thought valid: marked expired for everyone, not refreshed', async () => {
    install(3600_000);
    fake.expireAccessTokens();
    const session = new OAuthSession(app(), shared.store());
    const client = new BitrixClient({ credentials: { kind: 'oauth', portalUrl: fake.portalUrl, session } });
    expect(await rejects(client.call('user.current', {}, Date.now() + 2000), BitrixError)).to.include({ kind: 'expired', code: 'expired_token' });
    expect(shared.tokens!.expiresAt, 'the next step does not even try it').to.equal(0);
    expect(fake.issuedTokens().refreshGrants).to.equal(0);
    expect(fake.calls('oauth.token')).to.have.length(0);
  });

  it('the scheduled renewal: ahead of expiry, once, with more time than any call budget; a fresh token is left alone', async () => {
    install(RENEW_WINDOW_MS + 60_000);
    const session = new OAuthSession(app(), shared.store());
    expect(await session.renewIfDue()).to.equal('fresh');
    expect(fake.calls('oauth.token')).to.have.length(0);
    install(RENEW_WINDOW_MS - 60_000);
    fake.setOAuthLatency(2500); // slower than a 2 s call budget
    const [a, b] = await Promise.all([session.renewIfDue(), new OAuthSession(app(), shared.store()).renewIfDue()]);
    expect([a, b].sort()).to.deep.equal(['fresh', 'renewed']);
    expect(fake.issuedTokens().refreshGrants, 'one refresh for two runs at once').to.equal(1);
    expect(shared.tokens!.expiresAt).to.be.greaterThan(Date.now() + RENEW_WINDOW_MS);
    const client = new BitrixClient({ credentials: { kind: 'oauth', portalUrl: fake.portalUrl, session } });
    expect(await client.call('user.current', {}, Date.now() + 2000)).to.include({ ID: '1' });
  });

  it('a refresh token the endpoint no longer knows: disconnected, so the work waits for Connect instead of trying every minute', async () => {
    install(-1000);
    shared.tokens!.refreshToken = 'used-up';
    const session = new OAuthSession(app(), shared.store());
    expect(await rejects(session.renewIfDue(), BitrixError)).to.include({ kind: 'auth', code: 'invalid_grant' });
    expect(await rejects(session.accessToken(), BitrixError)).to.include({ kind: 'auth', code: 'NOT_CONNECTED' });
    expect(await session.renewIfDue()).to.equal('not-connected');
    expect(fake.calls('oauth.token')).to.have.length(1);
  });

  it('a token endpoint that is down: the tokens are kept and the next run tries again', async () => {
    install(-1000);
    fake.failNext(1, 'html502', 'oauth.token');
    const session = new OAuthSession(app(), shared.store());
    expect(await rejects(session.renewIfDue(), BitrixError)).to.include({ kind: 'transient' });
    expect(await session.renewIfDue()).to.equal('renewed');
  });
});
