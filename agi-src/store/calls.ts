// The call record: the database is the record of truth for every call the PBX reported.
import type { Db } from './db';

export type Step = 'register' | 'finish' | 'attach';

export interface CallRow {
  uniqueid: string;
  linkedid: string;
  type: string;
  caller_number: string;
  did: string;
  started_at: number;
  bitrix_call_id: string | null;
  crm_name: string | null;
  answered_at: number | null;
  operator_ext: string | null;
  operator_user_id: number | null;
  shown_user_ids: string;
  hungup_at: number | null;
  recording_path: string | null;
  finish_user_id: number | null;
  finish_duration: number | null;
  finish_status: string | null;
  finished_at: number | null;
  state: 'active' | 'hungup' | 'finished' | 'failed';
  updated_at: number;
}

export interface NewCall {
  uniqueid: string;
  linkedid: string;
  callerNumber: string;
  did: string;
  startedAt: number;
}

/**
 * An outgoing call: `number` is the number dialled (PHONE_NUMBER), `line` the route (LINE_NUMBER),
 * `extension` the calling extension and `userId` its Bitrix24 user when known. A clicked call
 * comes with the CALL_ID Bitrix24 registered it under: it owes no register step.
 */
export interface NewOutgoingCall {
  uniqueid: string;
  linkedid: string;
  number: string;
  line: string;
  startedAt: number;
  extension: string;
  userId: number | null;
  callId: string | null;
}

export interface HangupRecord {
  hungupAt: number;
  recordingPath: string | null;
  finishUserId: number;
  finishDuration: number;
  finishStatus: string;
  attach: boolean;
}

export class CallStore {
  constructor(private readonly db: Db) {}

  /** The call and its pending register step, in one transaction. */
  async insertIncoming(call: NewCall, registerDueAt: number, now = call.startedAt): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO calls (uniqueid, linkedid, caller_number, did, started_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(uniqueid) DO NOTHING`,
        [call.uniqueid, call.linkedid, call.callerNumber, call.did, call.startedAt, call.startedAt],
      );
      await tx.run(
        `INSERT INTO outbox (uniqueid, step, next_at, created_at) VALUES (?, 'register', ?, ?)
         ON CONFLICT(uniqueid, step) DO NOTHING`,
        [call.uniqueid, registerDueAt, now],
      );
    });
  }

  /** The outgoing call and, unless Bitrix24 registered it already, its pending register step. */
  async insertOutgoing(call: NewOutgoingCall, registerDueAt: number, now = call.startedAt): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO calls (uniqueid, linkedid, type, caller_number, did, started_at, operator_ext, operator_user_id, bitrix_call_id, updated_at)
         VALUES (?, ?, 'out', ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(uniqueid) DO NOTHING`,
        [call.uniqueid, call.linkedid, call.number, call.line, call.startedAt, call.extension || null, call.userId, call.callId, now],
      );
      if (!call.callId) {
        await tx.run(
          `INSERT INTO outbox (uniqueid, step, next_at, created_at) VALUES (?, 'register', ?, ?)
           ON CONFLICT(uniqueid, step) DO NOTHING`,
          [call.uniqueid, registerDueAt, now],
        );
      }
    });
  }

  /**
   * Clicks (their channel's uniqueid is "<s>.c2c<hex>", logic/click.ts) still open since
   * `startedAfter`: after a restart of the service, the calls it was watching.
   */
  openClicks(startedAfter: number): Promise<CallRow[]> {
    return this.db.all<CallRow>(
      `SELECT * FROM calls WHERE type = 'out' AND hungup_at IS NULL AND bitrix_call_id IS NOT NULL AND uniqueid LIKE '%.c2c%' AND started_at > ?
       ORDER BY started_at`,
      [startedAfter],
    );
  }

  /** A clicked call's CALL_ID is known: is it on a call already (the same click delivered twice)? */
  async hasCallId(callId: string): Promise<boolean> {
    return !!(await this.db.get<{ n: number }>('SELECT 1 AS n FROM calls WHERE bitrix_call_id = ? LIMIT 1', [callId]));
  }

  async markRegistered(uniqueid: string, callId: string, crmName: string | null, now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run(
        `UPDATE calls SET bitrix_call_id = ?, crm_name = COALESCE(?, crm_name), updated_at = ? WHERE uniqueid = ?`,
        [callId, crmName, now, uniqueid],
      );
      await tx.run(`DELETE FROM outbox WHERE uniqueid = ? AND step = 'register'`, [uniqueid]);
    });
  }

  get(uniqueid: string): Promise<CallRow | undefined> {
    return this.db.get<CallRow>('SELECT * FROM calls WHERE uniqueid = ?', [uniqueid]);
  }

  /**
   * The answer as the dialplan recorded it (the first answer's time, README "Dialplan contract";
   * the operator who has the call now — after a transfer, its target): the show step and the
   * hangup step write the same fact, whichever comes first.
   * The operator's user is kept when the extension is the same, else set from `userId`.
   */
  async recordAnswer(
    uniqueid: string,
    answer: { at: number; extension: string; userId: number | null; recordingPath: string | null },
    now: number,
  ): Promise<void> {
    await this.db.run(
      `UPDATE calls SET
         answered_at = ?,
         operator_user_id = CASE WHEN operator_ext = ? AND operator_user_id IS NOT NULL THEN operator_user_id ELSE ? END,
         operator_ext = ?,
         recording_path = COALESCE(recording_path, ?),
         updated_at = ?
       WHERE uniqueid = ?`,
      [answer.at, answer.extension, answer.userId, answer.extension, answer.recordingPath, now, uniqueid],
    );
  }

  /** The operator's Bitrix24 user, once known: the answered call is finished by them. */
  async setOperatorUser(uniqueid: string, extension: string, userId: number): Promise<void> {
    await this.db.run(
      `UPDATE calls SET operator_user_id = ?, finish_user_id = CASE WHEN finish_user_id IS NULL THEN NULL ELSE ? END
       WHERE uniqueid = ? AND operator_ext = ? AND operator_user_id IS NULL`,
      [userId, userId, uniqueid, extension],
    );
  }

  /** Whose screen has the call's card: `shown` added, `hidden` removed (the finish hides what is left here). */
  async updateShownUsers(uniqueid: string, shown: number[], hidden: number[], now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      const row = await tx.get<{ shown_user_ids: string }>('SELECT shown_user_ids FROM calls WHERE uniqueid = ?', [uniqueid]);
      if (!row) return;
      const ids = new Set(parseIds(row.shown_user_ids));
      for (const id of shown) ids.add(id);
      for (const id of hidden) ids.delete(id);
      await tx.run('UPDATE calls SET shown_user_ids = ?, updated_at = ? WHERE uniqueid = ?', [JSON.stringify([...ids]), now, uniqueid]);
    });
  }

  /**
   * Hangup facts and the steps still owed to Bitrix24, in one transaction. `decide` sees the row
   * as it is under the write lock (a show step may have just learnt the operator's user); a call
   * whose hangup is recorded already is left alone (null).
   */
  async recordHangup(uniqueid: string, decide: HangupRecord | ((row: CallRow) => HangupRecord), finishDueAt: number): Promise<HangupRecord | null> {
    return this.db.transaction(async (tx) => {
      const row = await tx.get<CallRow>('SELECT * FROM calls WHERE uniqueid = ?', [uniqueid]);
      if (!row || row.hungup_at !== null) return null;
      const facts = typeof decide === 'function' ? decide(row) : decide;
      await tx.run(
        `UPDATE calls SET hungup_at = COALESCE(hungup_at, ?), recording_path = COALESCE(?, recording_path),
           finish_user_id = ?, finish_duration = ?, finish_status = ?,
           state = CASE WHEN state = 'active' THEN 'hungup' ELSE state END, updated_at = ?
         WHERE uniqueid = ?`,
        [facts.hungupAt, facts.recordingPath, facts.finishUserId, facts.finishDuration, facts.finishStatus, facts.hungupAt, uniqueid],
      );
      await tx.run(
        `INSERT INTO outbox (uniqueid, step, next_at, created_at) VALUES (?, 'finish', ?, ?) ON CONFLICT(uniqueid, step) DO NOTHING`,
        [uniqueid, finishDueAt, facts.hungupAt],
      );
      if (facts.attach) {
        await tx.run(
          `INSERT INTO outbox (uniqueid, step, next_at, created_at) VALUES (?, 'attach', ?, ?) ON CONFLICT(uniqueid, step) DO NOTHING`,
          [uniqueid, finishDueAt, facts.hungupAt],
        );
      }
      return facts;
    });
  }

  async markFinished(uniqueid: string, now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run(`UPDATE calls SET state = 'finished', finished_at = COALESCE(finished_at, ?), updated_at = ? WHERE uniqueid = ?`, [
        now,
        now,
        uniqueid,
      ]);
      await tx.run(`DELETE FROM outbox WHERE uniqueid = ? AND step = 'finish'`, [uniqueid]);
    });
  }

  async markStepDone(uniqueid: string, step: Step): Promise<void> {
    await this.db.run('DELETE FROM outbox WHERE uniqueid = ? AND step = ?', [uniqueid, step]);
  }

  /**
   * Finished calls (and given-up ones) older than the retention go, with their given-up steps. A
   * call with a step still to send (waiting, or held for credentials) stays, whatever its age.
   */
  async purge(olderThan: number): Promise<number> {
    const res = await this.db.run(
      `DELETE FROM calls WHERE state IN ('finished', 'failed') AND COALESCE(hungup_at, started_at) < ?
         AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.uniqueid = calls.uniqueid AND o.state IN ('pending', 'blocked'))`,
      [olderThan],
    );
    return res.changes;
  }

  /** Calls still open since before `startedBefore`: their hangup never came (the PBX lost them). */
  lost(startedBefore: number, limit: number): Promise<CallRow[]> {
    return this.db.all<CallRow>(`SELECT * FROM calls WHERE state = 'active' AND hungup_at IS NULL AND started_at < ? ORDER BY started_at LIMIT ?`, [
      startedBefore,
      limit,
    ]);
  }

  recent(limit: number): Promise<CallRow[]> {
    return this.db.all<CallRow>('SELECT * FROM calls ORDER BY started_at DESC LIMIT ?', [limit]);
  }
}

export function parseIds(text: string | null | undefined): number[] {
  try {
    const v = JSON.parse(text ?? '[]');
    return Array.isArray(v) ? v.filter((n) => Number.isInteger(n)) : [];
  } catch {
    return [];
  }
}
