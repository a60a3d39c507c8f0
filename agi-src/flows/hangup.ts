// hangup: runs in the inbound channel's hangup handler (dead channel). Record what the dialplan
// recorded about the call (start, answer: who and when, end), finish the call in Bitrix24 (or leave
// it to the recording worker / the retry), purge old calls. A process that starts late changes
// nothing: every time here is Asterisk's.
import { join } from 'path';
import type { AgiChannel } from '../agi/channel';
import type { AgiEnvironment } from '../agi/protocol';
import { decideAnswer } from '../logic/answer';
import { epochMs } from '../logic/time';
import { decideFinish } from '../logic/finish';
import { isListedDid, normaliseNumber } from '../logic/phone';
import { readHangupVars } from './channel-vars';
import { completeCall, oweFinish } from './complete';
import { applyOutgoingHangup, readOutgoingEnd } from './outgoing';
import { appendHangup, HangupFacts, markApplied } from '../store/journal';
import type { Services } from './services';

export interface HangupOptions {
  /** Starts the worker that attaches the recording once Asterisk has closed it (a detached process, or a task of the service). */
  spawnRecordingWorker?: (uniqueid: string) => void;
  /** The process does not leave before this has settled, whatever its budget (see agi-runner). */
  mustFinish?: (work: Promise<unknown>) => void;
  /** Called once the hangup facts are safe on disk: the handler need not wait for Bitrix24 (a FastAGI session ends). */
  release?: () => void;
}

export async function hangup(s: Services, channel: AgiChannel, env: AgiEnvironment, deadline: number, opts: HangupOptions = {}): Promise<void> {
  await keepingFacts(opts, async (factsSafe) => {
    const vars = await readHangupVars(channel);
    if (!vars.uniqueid) {
      // The inbound subroutine marks every call on a listed route before anything else: not ours.
      s.log.debug(`hangup: no BITRIX_UNIQUEID on ${env.agi_channel ?? 'this channel'}; not a reported call`);
      return;
    }
    const hungupAt = epochMs(vars.ended) ?? s.now();
    const facts: HangupFacts = {
      uniqueid: vars.uniqueid,
      hungupAt,
      callId: vars.callId,
      recording: vars.recording,
      linkedid: vars.linkedid,
      did: vars.did,
      callerid: env.agi_callerid ?? '',
      startedAt: epochMs(vars.started),
      answer: decideAnswer({
        answerFact: vars.answerFact,
        lastOperatorFact: vars.lastOperatorFact,
        dialStatus: vars.dialStatus,
        dialOperator: vars.dialOperator,
        answeredTimeMs: vars.answeredTimeMs,
        endedAt: hungupAt,
      }),
    };
    await settle(s, facts, deadline, opts, factsSafe);
  });
}

/** The hangup handler of an outgoing call (`AGI(itd_bitrix_hangup.js,out)`): the calling channel's facts. */
export async function outgoingHangup(s: Services, channel: AgiChannel, env: AgiEnvironment, deadline: number, opts: HangupOptions = {}): Promise<void> {
  await keepingFacts(opts, async (factsSafe) => {
    const facts = await readOutgoingEnd(channel, s.now());
    if (!facts) {
      s.log.debug(`hangup: no BITRIX_OUT_UNIQUEID on ${env.agi_channel ?? 'this channel'}; not a reported outgoing call`);
      return;
    }
    await settle(s, facts, deadline, opts, factsSafe);
  });
}

/**
 * A handler that starts late on a starved PBX still writes down how the call ended: the process
 * does not leave on its budget before `work` calls factsSafe (the journal line, else the row).
 */
async function keepingFacts(opts: HangupOptions, work: (factsSafe: () => void) => Promise<void>): Promise<void> {
  let factsSafe: () => void = () => undefined;
  opts.mustFinish?.(new Promise<void>((resolve) => (factsSafe = resolve)));
  try {
    await work(() => factsSafe());
  } finally {
    factsSafe();
  }
}

/**
 * What every hangup does with its facts: the journal line first (nothing is lost if the database
 * is busy), the call's row, then the finish (now, or after the recording by a detached worker)
 * and the purge of old calls.
 */
async function settle(s: Services, facts: HangupFacts, deadline: number, opts: HangupOptions, factsSafe: () => void): Promise<void> {
  let journaled = false;
  try {
    appendHangup(s.config.databasePath, facts);
    journaled = true;
    // The facts are safe on disk: the handler need not wait for the database or Bitrix24.
    opts.release?.();
  } catch (err) {
    s.log.error(`hangup ${facts.uniqueid}: cannot write the hangup journal (${(err as Error).message})`);
  }
  // Without the journal the database is the only record: that write must not be cut short either.
  if (journaled) factsSafe();
  const attach = await applyHangup(s, facts);
  factsSafe();
  if (journaled) {
    try {
      markApplied(s.config.databasePath, facts.uniqueid);
    } catch {
      // Without the mark the retry looks the call up again and finds it recorded.
    }
  }
  opts.release?.();
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
  const call = await calls.get(uniqueid);
  if (facts.out || call?.type === 'out') return applyOutgoingHangup(s, facts, opts);
  if (call?.hungup_at) return null;
  if (!call && opts.rebuild === false) {
    s.log.info(`hangup ${uniqueid}: the journal line is older than the retention and the call is not in the database; not reported again`);
    return null;
  }
  if (!call) {
    // The dialplan marked the call, but its incoming step did not save it (it never ran, was
    // killed or starved, or the database was down): the call is rebuilt from the channel's facts
    // and registered now, late, with its finish.
    if (!isListedDid(facts.did, cfg.dids, cfg.countryCode)) {
      s.log.debug(`hangup ${uniqueid}: DID ${facts.did || '(none)'} is not listed; not reported`);
      return null;
    }
    const number = normaliseNumber(facts.callerid, cfg.countryCode)?.forBitrix;
    if (!number) {
      s.log.info(`hangup ${uniqueid}: anonymous caller (${JSON.stringify(facts.callerid)}); not reported`);
      return null;
    }
    const startedAt = facts.startedAt ?? startFromUniqueid(uniqueid) ?? facts.hungupAt;
    await calls.insertIncoming(
      { uniqueid, linkedid: facts.linkedid || uniqueid, callerNumber: number, did: facts.did, startedAt },
      facts.hungupAt,
      s.now(),
    );
    if (facts.callId) await calls.markRegistered(uniqueid, facts.callId, null, s.now());
    s.log.warn(`hangup ${uniqueid}: the call had no local record; rebuilt from the channel${facts.callId ? ` (${facts.callId})` : ', registered late'}`);
  }
  if (facts.answer) {
    // The dialplan's answer is the truth; the show step's record (if it got that far) is the same fact.
    const { caches } = await s.stores();
    const cached = await caches.user(facts.answer.extension, s.now(), cfg.userCacheSeconds * 1000).catch(() => undefined);
    await calls.recordAnswer(uniqueid, { ...facts.answer, userId: cached?.userId ?? null, recordingPath: null }, s.now());
    if (facts.answer.source === 'dial') s.log.info(`hangup ${uniqueid}: answered by ${facts.answer.extension} (from the dial result)`);
  }
  // Decided under the write lock: a card being delivered may have just learnt the operator's user.
  const owed = await oweFinish(
    s,
    uniqueid,
    facts.hungupAt,
    (row) => decideFinish({ answeredAt: row.answered_at, hungUpAt: facts.hungupAt, operatorUserId: row.operator_user_id }, cfg.defaultUserId),
    facts.recording,
  );
  if (!owed) return null;
  const { decision, attach } = owed;
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
