// Refresh tokens rotate: two processes must never both refresh with the same one.
import { expect } from 'chai';
import { OAuthSession, Tokens, TokenStore } from '../../agi-src/bitrix/oauth';
import { FakeBitrix } from '../fake-bitrix/server';

/** One shared "database" row, as the SQLite store keeps it, with hooks to force an interleaving. */
class SharedTokens {
  tokens: Tokens | null = null;
  leaseUntil = 0;
  store(hooks: { beforeLease?: () => Promise<void> } = {}): TokenStore {
    return {
      read: async () => (this.tokens ? { ...this.tokens } : null),
      tryLease: async (ms) => {
        await hooks.beforeLease?.();
        if (this.leaseUntil > Date.now()) return false;
        this.leaseUntil = Date.now() + ms;
        return true;
      },
      save: async (t) => {
        this.tokens = { ...t };
        this.leaseUntil = 0;
      },
      releaseLease: async () => {
        this.leaseUntil = 0;
      },
    };
  }
}

describe('OAuth session', () => {
  let fake: FakeBitrix;
  beforeEach(async () => (fake = await FakeBitrix.start()));
  afterEach(() => fake.stop());

  it('a process that read the tokens just before another refreshed them uses the new ones', async () => {
    const shared = new SharedTokens();
    const t = fake.issueTokens();
    shared.tokens = { accessToken: t.accessToken, refreshToken: t.refreshToken, expiresAt: Date.now() + 3600_000 };
    const app = { clientId: 'local.app1', clientSecret: 'app-s3cr3t-value', oauthUrl: fake.oauthUrl };
    let bMayLease!: () => void;
    const bWaits = new Promise<void>((r) => (bMayLease = r));
    const a = new OAuthSession(app, shared.store());
    const b = new OAuthSession(app, shared.store({ beforeLease: () => bWaits }));
    // B has read the old tokens and is about to take the lease when A refreshes and saves.
    const bResult = b.refresh(t.accessToken, Date.now() + 5000);
    await new Promise((r) => setTimeout(r, 20));
    const aResult = await a.refresh(t.accessToken, Date.now() + 5000);
    bMayLease();
    const bTokens = await bResult;
    expect(bTokens.accessToken).to.equal(aResult.accessToken);
    expect(fake.issuedTokens().refreshGrants).to.equal(1);
  });
});
