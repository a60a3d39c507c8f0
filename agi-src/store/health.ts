// Last good and last failed exchange with Bitrix24, for the GUI's status panel.
import type { Db } from './db';

export interface HealthRow {
  last_success_at: number | null;
  last_error_at: number | null;
  last_error: string | null;
  auth_blocked_fingerprint: string | null;
  /** Where the portal redirects to, while the outbox waits for its new address. */
  redirect_host: string | null;
}

export class HealthStore {
  constructor(private readonly db: Db) {}

  async record(event: { ok: true; at: number } | { ok: false; at: number; error: string }): Promise<void> {
    if (event.ok) await this.db.run('UPDATE health SET last_success_at = ? WHERE id = 1', [event.at]);
    else await this.db.run('UPDATE health SET last_error_at = ?, last_error = ? WHERE id = 1', [event.at, event.error.slice(0, 500)]);
  }

  async read(): Promise<HealthRow> {
    return (
      (await this.db.get<HealthRow>(
        'SELECT last_success_at, last_error_at, last_error, auth_blocked_fingerprint, redirect_host FROM health WHERE id = 1',
      )) ?? {
        last_success_at: null,
        last_error_at: null,
        last_error: null,
        auth_blocked_fingerprint: null,
        redirect_host: null,
      }
    );
  }

  /** The outbox waits for other credentials (or, with `redirectHost`, another portal address); null: no longer. */
  async setAuthBlocked(fingerprint: string | null, redirectHost: string | null = null): Promise<void> {
    await this.db.run('UPDATE health SET auth_blocked_fingerprint = ?, redirect_host = ? WHERE id = 1', [fingerprint, redirectHost]);
  }
}
