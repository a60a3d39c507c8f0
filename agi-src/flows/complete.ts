// Sends whatever a call still owes Bitrix24 (register, hide+finish, recording) in as few
// requests as the API allows. Used by the hangup step and by `itd_bitrix.js retry` alike.
import { readFileSync } from 'fs';
import { basename } from 'path';
import { BitrixError } from '../bitrix/errors';
import { usersToHide } from '../logic/finish';
import { CallRow, parseIds, Step } from '../store/calls';
import { judge, probe } from './recording';
import { callIdFrom, finishRequest, hideRequest, registerRequest, Request } from './requests';
import type { Services } from './services';

/** Recordings up to this size travel Base64-encoded inside the finish batch; larger ones use the upload URL. */
export const INLINE_RECORDING_MAX = 512 * 1024;
const RECORDING_QUIET_MS = 1000;

export interface CompleteOutcome {
  done: Step[];
  failed: Array<{ step: Step; error: BitrixError }>;
}

export async function completeCall(s: Services, uniqueid: string, deadline: number): Promise<CompleteOutcome> {
  const outcome: CompleteOutcome = { done: [], failed: [] };
  const { calls, outbox } = await s.stores();
  const row = await calls.get(uniqueid);
  if (!row) return outcome;
  const pending = new Set((await outbox.itemsFor(uniqueid)).filter((i) => i.state === 'pending').map((i) => i.step));
  if (!pending.size) return outcome;

  const cmds: Record<string, Request> = {};
  let callRef = row.bitrix_call_id;
  if (pending.has('register') || !callRef) {
    cmds.reg = registerRequest(row, s.config);
    callRef = '$result[reg][CALL_ID]';
  }
  const finishPending = pending.has('finish') && row.hungup_at !== null && row.finish_user_id !== null;
  if (finishPending) {
    const hide = usersToHide(parseIds(row.shown_user_ids), row.finish_user_id as number);
    if (hide.length) cmds.hide = hideRequest(callRef, hide);
    cmds.fin = finishRequest(callRef, {
      userId: row.finish_user_id as number,
      duration: row.finish_duration ?? 0,
      statusCode: row.finish_status ?? '304',
    });
  }
  let upload: { name: string; data: Buffer } | undefined;
  if (pending.has('attach') && !pending.has('finish') || pending.has('attach') && finishPending) {
    const rec = readyRecording(row, s.now());
    if (rec === 'nothing') {
      await calls.markStepDone(uniqueid, 'attach');
      s.log.info(`call ${uniqueid}: no recording to attach (${row.recording_path ?? 'none'})`);
    } else if (rec !== 'wait') {
      if (rec.data.length <= INLINE_RECORDING_MAX) cmds.rec = attachRequest(callRef, rec.name, rec.data.toString('base64'));
      else upload = rec;
    }
  }
  if (Object.keys(cmds).length === 0 && !upload) return outcome;

  const client = await s.client();
  const results: Record<string, unknown> = {};
  const errors: Record<string, BitrixError> = {};
  if (Object.keys(cmds).length > 0) {
    try {
      const res = await client.sendAll(cmds, deadline);
      Object.assign(results, res.result);
      Object.assign(errors, res.errors);
    } catch (err) {
      const error = err instanceof BitrixError ? err : new BitrixError('transient', 'ERROR', String(err), 0, 'batch');
      for (const key of Object.keys(cmds)) errors[key] = error;
    }
  }

  const now = s.now();
  const fail = async (step: Step, error: BitrixError) => {
    outcome.failed.push({ step, error });
    await outbox.failed(uniqueid, step, error.message, now, error.kind === 'auth');
  };
  let callId = row.bitrix_call_id;
  if (cmds.reg) {
    callId = callIdFrom(results.reg);
    if (callId) {
      await calls.markRegistered(uniqueid, callId, null, now);
      outcome.done.push('register');
    } else {
      await fail('register', errors.reg ?? new BitrixError('rejected', '', 'register returned no CALL_ID', 200, 'register'));
    }
  }
  if (cmds.hide && errors.hide) s.log.debug(`call ${uniqueid}: hide failed: ${errors.hide.message}`);
  let finished = !pending.has('finish');
  if (cmds.fin) {
    const err = errors.fin;
    if (!err && results.fin !== undefined) finished = true;
    else if (err && err.isCallNotFound && callId && !errors.reg) {
      // A finish repeated after a lost answer: Bitrix24 already closed the call.
      s.log.info(`call ${uniqueid}: finish answered "Call is not found"; it was already finished`);
      finished = true;
    } else await fail('finish', err ?? new BitrixError('rejected', '', 'finish returned nothing', 200, 'finish'));
    if (finished) {
      await calls.markFinished(uniqueid, now);
      outcome.done.push('finish');
    }
  }
  if (cmds.rec) {
    if (!errors.rec && results.rec !== undefined) {
      await calls.markStepDone(uniqueid, 'attach');
      outcome.done.push('attach');
    } else await fail('attach', errors.rec ?? new BitrixError('rejected', '', 'attachRecord returned nothing', 200, 'attach'));
  }
  if (upload && finished && callId) {
    try {
      const target = (await client.call('telephony.externalCall.attachRecord', { CALL_ID: callId, FILENAME: upload.name }, deadline)) as {
        uploadUrl?: string;
        fieldName?: string;
      };
      if (!target?.uploadUrl) throw new BitrixError('rejected', '', 'attachRecord gave no uploadUrl', 200, 'attachRecord');
      await client.upload(target.uploadUrl, target.fieldName || 'file', upload.name, upload.data, deadline);
      await calls.markStepDone(uniqueid, 'attach');
      outcome.done.push('attach');
    } catch (err) {
      await fail('attach', err instanceof BitrixError ? err : new BitrixError('transient', 'ERROR', String(err), 0, 'upload'));
    }
  }
  for (const f of outcome.failed) {
    const line = `call ${uniqueid}: ${f.step} not done: ${f.error.message}`;
    if (f.error.kind === 'auth') s.log.error(`${line}; waiting for new credentials in the module settings`);
    else s.log.warn(`${line}; will retry`);
  }
  return outcome;
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
