// Versioned schema (PRAGMA user_version). Each step runs once, inside one write transaction.
import type { Db } from './db';

const MIGRATIONS: string[] = [
  // 1: calls, their pending Bitrix24 steps, caches, OAuth tokens, health.
  `
  CREATE TABLE calls (
    uniqueid TEXT PRIMARY KEY,
    linkedid TEXT NOT NULL,
    type TEXT NOT NULL DEFAULT 'in',
    caller_number TEXT NOT NULL,
    did TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    bitrix_call_id TEXT,
    crm_name TEXT,
    answered_at INTEGER,
    operator_ext TEXT,
    operator_user_id INTEGER,
    shown_user_ids TEXT NOT NULL DEFAULT '[]',
    hungup_at INTEGER,
    recording_path TEXT,
    finish_user_id INTEGER,
    finish_duration INTEGER,
    finish_status TEXT,
    finished_at INTEGER,
    state TEXT NOT NULL DEFAULT 'active',
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX calls_state_started ON calls(state, started_at);
  CREATE TABLE outbox (
    uniqueid TEXT NOT NULL REFERENCES calls(uniqueid) ON DELETE CASCADE,
    step TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_error TEXT,
    PRIMARY KEY (uniqueid, step)
  );
  CREATE INDEX outbox_due ON outbox(state, next_at);
  CREATE TABLE user_map (
    extension TEXT PRIMARY KEY,
    user_id INTEGER,
    fetched_at INTEGER NOT NULL
  );
  CREATE TABLE name_cache (
    number TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    fetched_at INTEGER NOT NULL
  );
  CREATE TABLE oauth (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    access_token TEXT,
    refresh_token TEXT,
    expires_at INTEGER,
    lease_until INTEGER,
    updated_at INTEGER
  );
  CREATE TABLE health (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_success_at INTEGER,
    last_error_at INTEGER,
    last_error TEXT,
    auth_blocked_fingerprint TEXT
  );
  INSERT INTO health (id) VALUES (1);
  CREATE TABLE rate_bucket (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    level REAL NOT NULL,
    updated_at INTEGER NOT NULL
  );
  INSERT INTO rate_bucket (id, level, updated_at) VALUES (1, 0, 0);
  CREATE TABLE method_pause (
    method TEXT PRIMARY KEY,
    until INTEGER NOT NULL
  );
  `,
  // 2: named leases (one retry run at a time).
  `
  CREATE TABLE lease (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until INTEGER NOT NULL
  );
  `,
  // 3: the host a portal redirects to, kept while the outbox waits for the new address.
  `
  ALTER TABLE health ADD COLUMN redirect_host TEXT;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export async function migrate(db: Db): Promise<void> {
  const current = (await db.get<{ user_version: number }>('PRAGMA user_version'))?.user_version ?? 0;
  if (current >= SCHEMA_VERSION) return;
  // journal_mode is a property of the file: set once, by whoever creates or upgrades it.
  await db.exec('PRAGMA journal_mode=WAL');
  await db.transaction(async (tx) => {
    const again = (await tx.get<{ user_version: number }>('PRAGMA user_version'))?.user_version ?? 0;
    for (let v = again; v < SCHEMA_VERSION; v++) await tx.exec(MIGRATIONS[v]);
    await tx.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  });
}
