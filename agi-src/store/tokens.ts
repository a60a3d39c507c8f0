// OAuth tokens of the local application, shared by every process (see bitrix/oauth.ts).
import type { Db } from './db';
import type { Tokens, TokenStore } from '../bitrix/oauth';

export class DbTokenStore implements TokenStore {
  private leaseToken = 0;

  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  async read(): Promise<Tokens | null> {
    const row = await this.db.get<{ access_token: string | null; refresh_token: string | null; expires_at: number | null }>(
      'SELECT access_token, refresh_token, expires_at FROM oauth WHERE id = 1',
    );
    if (!row?.access_token) return null;
    return { accessToken: row.access_token, refreshToken: row.refresh_token ?? '', expiresAt: row.expires_at ?? 0 };
  }

  async tryLease(ms: number): Promise<boolean> {
    const now = this.now();
    this.leaseToken = now + ms;
    await this.db.run('INSERT INTO oauth (id) VALUES (1) ON CONFLICT(id) DO NOTHING');
    const res = await this.db.run('UPDATE oauth SET lease_until = ? WHERE id = 1 AND (lease_until IS NULL OR lease_until < ?)', [
      this.leaseToken,
      now,
    ]);
    return res.changes === 1;
  }

  async save(tokens: Tokens): Promise<void> {
    await this.db.run(
      `INSERT INTO oauth (id, access_token, refresh_token, expires_at, lease_until, updated_at) VALUES (1, ?, ?, ?, NULL, ?)
       ON CONFLICT(id) DO UPDATE SET access_token = excluded.access_token, refresh_token = excluded.refresh_token,
         expires_at = excluded.expires_at, lease_until = NULL, updated_at = excluded.updated_at`,
      [tokens.accessToken, tokens.refreshToken, tokens.expiresAt, this.now()],
    );
  }

  async expire(accessToken: string): Promise<void> {
    await this.db.run('UPDATE oauth SET expires_at = 0 WHERE id = 1 AND access_token = ?', [accessToken]);
  }

  async disconnect(): Promise<void> {
    await this.db.run('UPDATE oauth SET access_token = NULL, expires_at = NULL, lease_until = NULL, updated_at = ? WHERE id = 1', [this.now()]);
  }

  async releaseLease(): Promise<void> {
    await this.db.run('UPDATE oauth SET lease_until = NULL WHERE id = 1 AND lease_until = ?', [this.leaseToken]);
  }
}
