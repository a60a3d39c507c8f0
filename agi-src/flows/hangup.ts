// hangup: runs in the inbound channel's hangup handler (dead channel). Record what the PBX knows,
// finish the call in Bitrix24 (or leave it to the recording worker / the retry), purge old calls.
import { join } from 'path';
import type { AgiChannel } from '../agi/channel';
import type { AgiEnvironment } from '../agi/protocol';
import { decideFinish } from '../logic/finish';
import { normaliseNumber } from '../logic/phone';
import { readCallVars } from './channel-vars';
import { completeCall, oweFinish } from './complete';
import { applyOutgoingHangup, readOutgoingEnd } from './outgoing';
import { appendHangup, HangupFacts, markApplied } from '../store/journal';
import type { Services } from './services';

export interface HangupOptions {
  /** Starts the detached worker that attaches the recording once Asterisk has closed it. */
  spawnRecordingWorker?: (uniqueid: string) => void;
}

export async function hangup(s: Services, channel: AgiChannel, env: AgiEnvironment, deadline: number, opts: HangupOptions = {}): Promise<void> {
  const hungupAt = s.now();
  const vars = await readCallVars(channel);
  if (!vars.uniqueid) {
    // incoming sets BITRIX_UNIQUEID first thing for every call it reports (unlisted DIDs,
    // anonymous callers and a disabled module never get it): nothing to finish.
    s.log.debug(`hangup: no BITRIX_UNIQUEID on ${env.agi_channel ?? 'this channel'}; not a reported call`);
    return;
  }
  const facts: HangupFacts = {
    uniqueid: vars.uniqueid,
    hungupAt,
    callId: vars.callId,
    recording: vars.recording,
    linkedid: vars.linkedid,
    did: vars.did,
    callerid: env.agi_callerid ?? '',
  };
  await settle(s, facts, deadline, opts);
}

/** The hangup handler of an outgoing call (`AGI(itd_bitrix_hangup.js,out)`): the calling channel's facts. */
export async function outgoingHangup(s: Services, channel: AgiChannel, env: AgiEnvironment, deadline: number, opts: HangupOptions = {}): Promise<void> {
  const facts = await readOutgoingEnd(channel, s.now());
  if (!facts) {
    s.log.debug(`hangup: no BITRIX_OUT_UNIQUEID on ${env.agi_channel ?? 'this channel'}; not a reported outgoing call`);
    return;
  }
  await settle(s, facts, deadline, opts);
}

/**
 * What every hangup does with its facts: the journal line first (nothing is lost if the database
 * is busy), the call's row, then the finish (now, or after the recording by a detached worker)
 * and the purge of old calls.
 */
async function settle(s: Services, facts: HangupFacts, deadline: number, opts: HangupOptions): Promise<void> {
  let journaled = false;
  try {
    appendHangup(s.config.databasePath, facts);
    journaled = true;
  } catch (err) {
    s.log.error(`hangup ${facts.uniqueid}: cannot write the hangup journal (${(err as Error).message})`);
  }
  const attach = await applyHangup(s, facts);
  if (journaled) {
    try {
      markApplied(s.config.databasePath, facts.uniqueid);
    } catch {
      // Without the mark the retry looks the call up again and finds it recorded.
    }
  }
  if (attach === null) return;
  if (attach && opts.spawnRecordingWorker) {
    // MixMonitor closes the file only after this handler returns: finish and upload together later.
    opts.spawnRecordingWorker(facts.uniqueid);
  } else {
    await completeCall(s, facts.uniqueid, deadline);
  }
  const { calls, caches } = await s.stores();
  const purged = await calls.purge(facts.hungupAt - s.config.retentionHours * 3600_000);
  await caches.purge(facts.hungupAt - s.config.nameCacheSeconds * 1000);
  if (purged) s.log.info(`purged ${purged} finished call(s) older than ${s.config.retentionHours} h`);
}

/**
 * Writes what the PBX knew at hangup into the call's row, with the finish it owes Bitrix24.
 * Used by the hangup handler and, from the journal and for calls the PBX lost, by the retry.
 * Returns whether a recording follows, or null when there is no call to finish (or it was
 * recorded already). `rebuild: false`: a call the database does not hold is not created from the
 * channel's facts (a journal line older than the retention: the call may have been purged).
 */
export async function applyHangup(s: Services, facts: HangupFacts, opts: { rebuild?: boolean } = {}): Promise<boolean | null> {
  const cfg = s.config;
  const { calls } = await s.stores();
  const uniqueid = facts.uniqueid;
  let call = await calls.get(uniqueid);
  if (facts.out || call?.type === 'out') return applyOutgoingHangup(s, facts, opts);
  if (call?.hungup_at) return null;
  if (!call && opts.rebuild === false) {
    s.log.info(`hangup ${uniqueid}: the journal line is older than the retention and the call is not in the database; not reported again`);
    return null;
  }
  if (!call) {
    // incoming ran for this call (BITRIX_UNIQUEID is set) but could not save it (database down
    // or locked then): rebuild the row from the channel so the call still reaches Bitrix24.
    const number = normaliseNumber(facts.callerid, cfg.countryCode)?.forBitrix;
    if (!number) {
      s.log.error(`hangup ${uniqueid}: no local record and no caller number on the channel; nothing to report`);
      return null;
    }
    const startedAt = startFromUniqueid(uniqueid) ?? facts.hungupAt;
    await calls.insertIncoming(
      { uniqueid, linkedid: facts.linkedid || uniqueid, callerNumber: number, did: facts.did, startedAt },
      facts.hungupAt,
      s.now(),
    );
    if (facts.callId) await calls.markRegistered(uniqueid, facts.callId, null, s.now());
    call = await calls.get(uniqueid);
    s.log.warn(`hangup ${uniqueid}: the call had no local record; rebuilt from the channel${facts.callId ? ` (${facts.callId})` : ''}`);
    if (!call) return null;
  }
  const decision = decideFinish({ answeredAt: call.answered_at, hungUpAt: facts.hungupAt, operatorUserId: call.operator_user_id }, cfg.defaultUserId);
  const attach = await oweFinish(s, uniqueid, facts.hungupAt, decision, facts.recording || call.recording_path);
  s.log.info(`hangup ${uniqueid}: ${decision.statusCode}, ${decision.duration} s, user ${decision.userId}${attach ? ', recording follows' : ''}`);
  return attach;
}

/** Asterisk uniqueids are "<epoch seconds>.<sequence>": the channel's creation time. */
export function startFromUniqueid(uniqueid: string): number | null {
  const secs = Number(uniqueid.split('.')[0]);
  return Number.isFinite(secs) && secs > 1_000_000_000 ? secs * 1000 : null;
}

/** `itd_bitrix.js complete <uniqueid>` in the background, outliving this AGI. */
export function detachedWorker(configPath: string): (uniqueid: string) => void {
  return (uniqueid) => {
    // Required here, not at the top: only answered, recorded calls pay for loading it.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { spawn } = require('child_process') as typeof import('child_process');
    const child = spawn(process.execPath, [join(__dirname, 'itd_bitrix.js'), 'complete', uniqueid, '--config', configPath], {
      detached: true,
      stdio: 'ignore',
    });
    child.unref();
  };
}
