// Sends whatever a call still owes Bitrix24 (register, hide+finish, recording) in as few
// requests as the API allows. Used by the hangup step and by `itd_bitrix.js retry` alike.
import { readFileSync } from 'fs';
import { basename } from 'path';
import { BitrixError } from '../bitrix/errors';
import { usersToHide } from '../logic/finish';
import { uploadBudgetMs } from '../logic/upload';
import { CallRow, parseIds, Step } from '../store/calls';
import { judge, probe, waitForRecording } from './recording';
import { callIdFrom, finishRequest, hideRequest, registerRequest, Request } from './requests';
import type { Services } from './services';
import { userOfExtension } from './users';

/** Recordings up to this size travel Base64-encoded inside the finish batch; larger ones use the upload URL. */
export const INLINE_RECORDING_MAX = 512 * 1024;
const RECORDING_QUIET_MS = 1000;

/** The retry leaves a hung-up call alone this long: the hangup step or its worker is on it. */
export const FINISH_GRACE_MS = 90_000;

/** How a call ended, as Bitrix24's finish says it. */
export interface FinishDecision {
  userId: number;
  duration: number;
  statusCode: string;
}

/**
 * Writes how a call ended into its row, with the finish (and the recording, when it has talk time
 * and one) it now owes Bitrix24. `decide` sees the row under the write lock. Null when the call is
 * not in the database or its hangup is recorded already; else the decision and whether a
 * recording follows.
 */
export async function oweFinish(
  s: Services,
  uniqueid: string,
  hungupAt: number,
  decide: (row: CallRow) => FinishDecision,
  recordingPath: string | null | undefined,
): Promise<{ decision: FinishDecision; attach: boolean } | null> {
  const { calls } = await s.stores();
  let decision: FinishDecision | undefined;
  const recorded = await calls.recordHangup(
    uniqueid,
    (row) => {
      decision = decide(row);
      const path = recordingPath || row.recording_path;
      const attach = s.config.attachRecordings && decision.duration > 0 && !!path;
      return { hungupAt, recordingPath: path || null, finishUserId: decision.userId, finishDuration: decision.duration, finishStatus: decision.statusCode, attach };
    },
    hungupAt + FINISH_GRACE_MS,
  );
  return recorded && decision ? { decision, attach: recorded.attach } : null;
}

export interface CompleteOutcome {
  done: Step[];
  failed: Array<{ step: Step; error: BitrixError }>;
}

export async function completeCall(s: Services, uniqueid: string, deadline: number): Promise<CompleteOutcome> {
  const outcome: CompleteOutcome = { done: [], failed: [] };
  const { calls, outbox } = await s.stores();
  const row = await calls.get(uniqueid);
  if (!row) return outcome;
  const items = await outbox.itemsFor(uniqueid);
  // Refused credentials: every step of the call waits for new ones (retry unblocks them).
  if (items.some((i) => i.state === 'blocked')) return outcome;
  const pending = new Set(items.filter((i) => i.state === 'pending').map((i) => i.step));
  if (!pending.size) return outcome;
  const fail = async (step: Step, err: unknown) => {
    outcome.failed.push({ step, error: await s.recordFailure(uniqueid, step, err, 'call') });
  };
  const client = await s.client();

  if (pending.has('register') && row.type === 'out' && row.operator_ext && row.operator_user_id === null) {
    // An outgoing call is registered by the caller's user: ask whose extension it is first.
    if ((await resolveOperator(s, row, 'register')) === 'unknown') return outcome;
  }
  if (pending.has('register')) {
    // Sent alone: while the call is open Bitrix24 answers a repeated register (same
    // EXTERNAL_CALL_ID) with the same CALL_ID, so a lost answer costs nothing. In one batch with
    // finish, a lost answer would make the next attempt register a second call.
    try {
      const req = registerRequest(row, s.config);
      const callId = callIdFrom(await client.call(req.method, req.params, deadline));
      if (!callId) throw new BitrixError('rejected', '', 'register returned no CALL_ID', 200, req.method);
      await calls.markRegistered(uniqueid, callId, null, s.now());
      row.bitrix_call_id = callId;
      outcome.done.push('register');
    } catch (err) {
      await fail('register', err);
      return outcome;
    }
  }
  const callId = row.bitrix_call_id;
  if (!callId) return outcome;

  const finishDue = pending.has('finish') && row.hungup_at !== null && row.finish_user_id !== null;
  if (finishDue && (row.answered_at !== null || row.type === 'out') && row.operator_ext && row.operator_user_id === null) {
    // The answer (or, for an outgoing call, the call) was recorded while Bitrix24 could not say
    // whose extension it is: ask now, so the call is finished by that user and not the default one.
    if ((await resolveOperator(s, row, 'finish')) === 'unknown') return outcome;
  }
  const cmds: Record<string, Request> = {};
  if (finishDue) {
    const hide = usersToHide(parseIds(row.shown_user_ids), row.finish_user_id as number);
    if (hide.length) cmds.hide = hideRequest(callId, hide);
    cmds.fin = finishRequest(callId, {
      userId: row.finish_user_id as number,
      duration: row.finish_duration ?? 0,
      statusCode: row.finish_status ?? '304',
    });
  }
  let upload: { name: string; data: Buffer } | undefined;
  if (pending.has('attach') && (finishDue || !pending.has('finish'))) {
    const rec = readyRecording(row, s.now());
    if (rec === 'nothing') {
      await calls.markStepDone(uniqueid, 'attach');
      s.log.info(`call ${uniqueid}: no recording to attach (${row.recording_path ?? 'none'})`);
    } else if (rec !== 'wait') {
      if (rec.data.length <= INLINE_RECORDING_MAX) cmds.rec = attachRequest(callId, rec.name, rec.data.toString('base64'));
      else upload = rec;
    }
  }

  let results: Record<string, unknown> = {};
  let errors: Record<string, BitrixError> = {};
  let wholeRequestFailed = false;
  if (Object.keys(cmds).length > 0) {
    // A recording inline takes its size's time on the uplink, whatever this step's budget.
    const sendBy = cmds.rec ? await longDeadline(s, uniqueid, deadline, String(cmds.rec.params.FILE_CONTENT).length) : deadline;
    try {
      ({ result: results, errors } = await client.sendAll(cmds, sendBy));
    } catch (err) {
      wholeRequestFailed = true;
      for (const key of Object.keys(cmds)) errors[key] = err as BitrixError;
    }
  }
  if (cmds.hide && errors.hide) s.log.debug(`call ${uniqueid}: hide failed: ${errors.hide.message}`);
  let finished = !pending.has('finish');
  if (cmds.fin) {
    const err = errors.fin;
    if (!err && results.fin !== undefined) finished = true;
    else if (err instanceof BitrixError && err.isCallNotFound) {
      // A finish repeated after its answer was lost: Bitrix24 already closed the call.
      s.log.info(`call ${uniqueid}: finish answered "Call is not found"; it was already finished`);
      finished = true;
    } else await fail('finish', err ?? new BitrixError('rejected', '', 'finish returned nothing', 200, 'finish'));
    if (finished) {
      await calls.markFinished(uniqueid, s.now());
      outcome.done.push('finish');
    }
  }
  if (cmds.rec) {
    if (!errors.rec && results.rec !== undefined) {
      await calls.markStepDone(uniqueid, 'attach');
      outcome.done.push('attach');
    } else if (wholeRequestFailed && cmds.fin) {
      // The finish it travelled with could not be sent: its failure is the finish's (retried
      // with it); the recording's attempts count what happens to the recording.
    } else await fail('attach', errors.rec ?? new BitrixError('rejected', '', 'attachRecord returned nothing', 200, 'attach'));
  }
  if (upload && finished) {
    try {
      const target = (await client.call('telephony.externalCall.attachRecord', { CALL_ID: callId, FILENAME: upload.name }, deadline)) as {
        uploadUrl?: string;
        fieldName?: string;
      };
      if (!target?.uploadUrl) throw new BitrixError('rejected', '', 'attachRecord gave no uploadUrl', 200, 'attachRecord');
      const uploadBy = await longDeadline(s, uniqueid, deadline, upload.data.length);
      await client.upload(target.uploadUrl, target.fieldName || 'file', upload.name, upload.data, uploadBy);
      await calls.markStepDone(uniqueid, 'attach');
      outcome.done.push('attach');
    } catch (err) {
      await fail('attach', err);
    }
  }
  return outcome;
}

/**
 * The deadline for sending `bytes` of recording: the step's own, or the time the slowest planned
 * uplink needs for them (logic/upload.ts), whichever is later. Until then, and a minute more,
 * no retry run starts the call's steps again.
 */
async function longDeadline(s: Services, uniqueid: string, deadline: number, bytes: number): Promise<number> {
  const until = Math.max(deadline, s.now() + uploadBudgetMs(bytes));
  if (until > deadline) await (await s.stores()).outbox.postpone(uniqueid, until + 60_000);
  return until;
}

/**
 * After a recorded call's hangup: waits until Asterisk has closed the recording, then finishes
 * the call and attaches it (`itd_bitrix.js complete`, or a task of the resident service).
 */
export async function completeAfterRecording(s: Services, uniqueid: string): Promise<CompleteOutcome> {
  const call = await (await s.stores()).calls.get(uniqueid);
  if (call?.recording_path) await waitForRecording(call.recording_path, s.now() + 30_000);
  return completeCall(s, uniqueid, s.now() + 20_000);
}

/** Fills in the operator's Bitrix24 user (and so the finishing user) from the cache or user.get. */
async function resolveOperator(s: Services, row: CallRow, step: Step): Promise<'resolved' | 'unknown'> {
  const { calls } = await s.stores();
  const ext = row.operator_ext as string;
  let userId: number | null;
  try {
    userId = await userOfExtension(s, ext, s.now() + 5000);
  } catch (err) {
    await s.recordFailure(row.uniqueid, step, err, 'call');
    return 'unknown';
  }
  if (userId !== null) {
    await calls.setOperatorUser(row.uniqueid, ext, userId);
    row.operator_user_id = userId;
    row.finish_user_id = userId;
  }
  return 'resolved';
}

function attachRequest(callRef: string, filename: string, base64: string): Request {
  return { method: 'telephony.externalCall.attachRecord', params: { CALL_ID: callRef, FILENAME: filename, FILE_CONTENT: base64 } };
}

/** The recording's bytes when final; 'wait' while it may still grow; 'nothing' when there is none to send. */
function readyRecording(row: CallRow, now: number): { name: string; data: Buffer } | 'wait' | 'nothing' {
  const path = row.recording_path;
  if (!path) return 'nothing';
  const name = basename(path);
  if (!/\.(wav|mp3)$/i.test(name)) return 'nothing';
  const state = judge(probe(path), now, RECORDING_QUIET_MS);
  if (state === 'growing') return 'wait';
  if (state !== 'ready') return 'nothing';
  try {
    return { name, data: readFileSync(path) };
  } catch {
    return 'wait';
  }
}
