// The Bitrix24 client against the strict fake portal: what a redirect means.
import { expect } from 'chai';
import { BitrixClient } from '../../agi-src/bitrix/client';
import { BitrixError } from '../../agi-src/bitrix/errors';
import { OAuthSession, Tokens, TokenStore } from '../../agi-src/bitrix/oauth';
import { FakeBitrix } from '../fake-bitrix/server';
import { rejects } from '../helpers/assert';

function memoryTokens(initial: Tokens | null = null): TokenStore & { tokens: Tokens | null } {
  const store = {
    tokens: initial,
    read: async () => (store.tokens ? { ...store.tokens } : null),
    tryLease: async () => true,
    save: async (t: Tokens) => {
      store.tokens = { ...t };
    },
    releaseLease: async () => undefined,
    expire: async (accessToken: string) => {
      if (store.tokens?.accessToken === accessToken) store.tokens.expiresAt = 0;
    },
    disconnect: async () => {
      store.tokens = null;
    },
  };
  return store;
}

describe('Bitrix24 client', () => {
  let fake: FakeBitrix;
  beforeEach(async () => (fake = await FakeBitrix.start({ rateLimit: false })));
  afterEach(() => fake.stop());

  describe('a redirect (portal renamed, or moved to https) is a configuration error', () => {
    const code = () => new URL(fake.webhookUrl).pathname.split('/')[3];

    for (const status of [301, 302, 307, 308]) {
      it(`HTTP ${status}: refused like credentials, naming the new host and never the path (which holds the webhook code)`, async () => {
        fake.setRedirect('https://new-name.bitrix24.ru', status);
        const client = new BitrixClient({ credentials: { kind: 'webhook', baseUrl: fake.webhookUrl } });
        const err = await rejects(client.call('telephony.externalcall.register', { USER_ID: 1 }, Date.now() + 2000), BitrixError);
        expect(err).to.include({ kind: 'auth', code: 'PORTAL_MOVED', redirectHost: 'new-name.bitrix24.ru', httpStatus: status });
        expect(err.message).to.contain('https://new-name.bitrix24.ru');
        expect(err.message).not.to.contain(code());
        expect(fake.requests, 'not followed, not repeated').to.have.length(1);
      });
    }

    it('a batch and an upload alike', async () => {
      fake.setRedirect('https://new-name.bitrix24.ru');
      const client = new BitrixClient({ credentials: { kind: 'webhook', baseUrl: fake.webhookUrl } });
      const batchErr = await rejects(
        client.sendAll({ a: { method: 'user.current', params: {} }, b: { method: 'user.get', params: {} } }, Date.now() + 2000),
        BitrixError,
      );
      expect(batchErr).to.include({ kind: 'auth', redirectHost: 'new-name.bitrix24.ru' });
      const uploadErr = await rejects(
        client.upload(`${fake.url}/rest/upload.json?token=t`, 'file', 'r.wav', Buffer.from('RIFF'), Date.now() + 2000),
        BitrixError,
      );
      expect(uploadErr).to.include({ kind: 'auth', code: 'PORTAL_MOVED', redirectHost: 'new-name.bitrix24.ru' });
    });

    it('the token endpoint too', async () => {
      fake.failNext(1, { status: 302, body: '', headers: { Location: 'https://oauth.example.net/oauth/token/?client_secret=app-s3cr3t-value' } }, 'oauth.token');
      const session = new OAuthSession({ clientId: 'local.app1', clientSecret: 'app-s3cr3t-value', oauthUrl: fake.oauthUrl }, memoryTokens());
      const err = await rejects(session.exchangeCode(fake.grantAuthorizationCode(), Date.now() + 2000), BitrixError);
      expect(err).to.include({ kind: 'auth', code: 'PORTAL_MOVED', redirectHost: 'oauth.example.net' });
      expect(err.message).not.to.contain('s3cr3t');
    });
  });
});
