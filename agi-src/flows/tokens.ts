// The local application's access token, refreshed ahead of its expiry by whoever runs the
// scheduled work (the resident service): the call steps then find a valid token and never wait
// for the token endpoint. Under the same lease as any other refresh (refresh tokens rotate).
import { OAuthSession } from '../bitrix/oauth';
import { DbTokenStore } from '../store/tokens';
import type { Services } from './services';

export async function refreshTokensAhead(s: Services, aheadMs: number, deadline: number): Promise<'refreshed' | 'fresh' | 'not-connected' | 'no-app'> {
  const app = s.config.app;
  if (!app) return 'no-app';
  const { db } = await s.stores();
  const store = new DbTokenStore(db, s.now);
  const tokens = await store.read();
  if (!tokens) return 'not-connected';
  if (tokens.expiresAt - s.now() > aheadMs) return 'fresh';
  const session = new OAuthSession({ clientId: app.clientId, clientSecret: app.clientSecret, oauthUrl: s.config.oauthUrl }, store, s.now);
  await session.refresh(tokens.accessToken, deadline);
  s.log.info('oauth: access token refreshed ahead of its expiry');
  return 'refreshed';
}
