// outgoing: a call leaves through a trunk and the trunk waits (budget outgoingTimeoutMs). The
// dialplan has written the call's facts on the calling channel already; this step saves the
// call and registers it in Bitrix24 by the caller's user, with the card for them. Its hangup
// handler (the hangup step with `out`) finishes it from the facts the dialplan added since.
import type { AgiChannel } from '../agi/channel';
import type { AgiEnvironment } from '../agi/protocol';
import { BitrixError } from '../bitrix/errors';
import { causeCode, decideOutgoingFinish, lineNumber } from '../logic/outgoing';
import { epochMs } from '../logic/time';
import { normaliseNumber } from '../logic/phone';
import type { CallRow } from '../store/calls';
import type { HangupFacts, OutgoingHangupFacts } from '../store/journal';
import { oweFinish } from './complete';
import { callIdFrom, registerRequest, userByExtensionRequest, userIdFrom } from './requests';
import type { Services, Stores } from './services';

/** Kept for saving the outcome after Bitrix24 answers. */
const OUTGOING_RESERVE_MS = 80;

export interface OutgoingOptions {
  /** The caller may go on (the trunk is dialled) while this step finishes its requests. */
  release?: () => void;
}

interface StartFacts {
  uniqueid: string;
  startedAt: number | null;
  extension: string;
  number: string;
  linkedid: string;
  clickCallId: string;
  line: string;
}

const START = '${BITRIX_OUT_UNIQUEID}|${BITRIX_OUT_STARTED}|${BITRIX_OUT_EXTEN}|${BITRIX_OUT_NUMBER}|${CHANNEL(linkedid)}|${BITRIX_CLICK_CALL_ID}';
const END =
  '${BITRIX_OUT_UNIQUEID}|${BITRIX_OUT_STARTED}|${BITRIX_OUT_ENDED}|${BITRIX_OUT_EXTEN}|${BITRIX_OUT_NUMBER}|${CHANNEL(linkedid)}' +
  '|${SHARED(BITRIX_OUT_ANSWER)}|${DIALSTATUS}|${BITRIX_OUT_CAUSE}|${HANGUPCAUSE}|${ANSWEREDTIME_MS}|${BITRIX_CLICK_CALL_ID}|${BITRIX_OUT_CALL_ID}';

async function read(channel: AgiChannel, expr: string): Promise<string[]> {
  return (await channel.getFullVariable(expr).catch(() => '')).split('|').map((v) => v.trim());
}

/** The route name travels alone: it is the admin's free text. */
async function readLine(channel: AgiChannel): Promise<string> {
  return lineNumber(await channel.getFullVariable('${BITRIX_OUT_LINE}').catch(() => ''));
}

export async function outgoing(s: Services, channel: AgiChannel, env: AgiEnvironment, deadline: number, opts: OutgoingOptions = {}): Promise<void> {
  const cfg = s.config;
  const [uniqueid = '', started = '', extension = '', rawNumber = '', linkedid = '', clickCallId = ''] = await read(channel, START);
  if (!uniqueid) {
    s.log.debug(`outgoing: no BITRIX_OUT_UNIQUEID on ${env.agi_channel ?? 'this channel'}; not a reported call`);
    return;
  }
  const facts: StartFacts = {
    uniqueid,
    startedAt: epochMs(started),
    extension,
    number: rawNumber,
    linkedid: linkedid || uniqueid,
    clickCallId,
    line: await readLine(channel),
  };
  const number = normaliseNumber(facts.number, cfg.countryCode);
  if (!number) {
    s.log.info(`outgoing ${uniqueid}: dialled number ${JSON.stringify(facts.number)} has no digits; not reported`);
    return;
  }
  const startedAt = facts.startedAt ?? s.now();
  const stores = await s.stores();
  const existing = await stores.calls.get(uniqueid);
  const cached = extension ? await stores.caches.user(extension, s.now(), cfg.userCacheSeconds * 1000) : undefined;
  if (!existing) {
    await stores.calls.insertOutgoing(
      {
        uniqueid,
        linkedid: facts.linkedid,
        number: number.forBitrix,
        line: facts.line,
        startedAt,
        extension,
        userId: cached?.userId ?? null,
        callId: clickCallId || null,
      },
      startedAt + cfg.outgoingTimeoutMs + 5000,
      s.now(),
    );
  }
  const line = `${extension || '?'} to ${number.forBitrix}${facts.line ? ` on ${facts.line}` : ''}`;
  if (clickCallId || existing?.bitrix_call_id) {
    // A click-to-call: Bitrix24 registered it and showed its card; it is only finished here.
    s.log.info(`outgoing ${uniqueid}: ${line}, clicked in Bitrix24 as ${clickCallId || existing?.bitrix_call_id}`);
    return;
  }
  if (existing) return; // a repeated run: the first one registers it
  // The facts are safe: the trunk may be dialled while Bitrix24 is asked.
  opts.release?.();
  await register(s, stores, { uniqueid, extension, cachedUser: cached, line }, deadline - OUTGOING_RESERVE_MS);
}

async function register(
  s: Services,
  stores: Stores,
  c: { uniqueid: string; extension: string; cachedUser: { userId: number | null } | undefined; line: string },
  deadline: number,
): Promise<void> {
  try {
    const client = await s.client();
    let userId = c.cachedUser ? c.cachedUser.userId : null;
    if (!c.cachedUser && c.extension) {
      const req = userByExtensionRequest(c.extension);
      userId = userIdFrom(await client.call(req.method, req.params, deadline));
      await stores.caches.putUser(c.extension, userId, s.now());
      if (userId !== null) await stores.calls.setOperatorUser(c.uniqueid, c.extension, userId);
    }
    if (userId === null) s.log.info(`outgoing ${c.uniqueid}: extension ${c.extension || '(none)'} has no active Bitrix24 user; registered by the default user`);
    const row = (await stores.calls.get(c.uniqueid)) as CallRow;
    const req = registerRequest(row, s.config);
    const callId = callIdFrom(await client.call(req.method, req.params, deadline));
    if (!callId) throw new BitrixError('rejected', '', 'register returned no CALL_ID', 200, req.method);
    await stores.calls.markRegistered(c.uniqueid, callId, null, s.now());
    s.log.info(`outgoing ${c.uniqueid}: ${c.line} registered as ${callId}`);
  } catch (err) {
    await s.recordFailure(c.uniqueid, 'register', err, 'outgoing');
  }
}

/** The outgoing hangup handler's facts, in three reads (the free-text ones alone). */
export async function readOutgoingEnd(channel: AgiChannel, hungupAt: number): Promise<HangupFacts | null> {
  const [uniqueid = '', started = '', ended = '', extension = '', number = '', linkedid = '', answer = '', dialStatus = '', outCause = '', cause = '', answeredMs = '', clickCallId = '', callId = ''] =
    await read(channel, END);
  if (!uniqueid) return null;
  const recording = (await channel.getFullVariable('${MIXMONITOR_FILENAME}').catch(() => '')).trim();
  const line = await readLine(channel);
  const out: OutgoingHangupFacts = {
    startedAt: epochMs(started),
    extension,
    number,
    line,
    answeredAt: epochMs(answer),
    dialStatus,
    cause: causeCode(outCause) ?? causeCode(cause),
    answeredTimeMs: /^\d+$/.test(answeredMs) ? Number(answeredMs) : null,
    clickCallId,
  };
  return {
    uniqueid,
    hungupAt: epochMs(ended) ?? hungupAt,
    callId: callId || clickCallId,
    recording,
    linkedid: linkedid || uniqueid,
    did: line,
    callerid: number,
    out,
  };
}

/**
 * Writes how an outgoing call ended into its row, with the finish it owes Bitrix24; rebuilds the
 * row from the channel's facts when the outgoing step could not save it. Returns whether a
 * recording follows, or null when there is nothing to finish. `facts.out` missing: a call the PBX
 * lost (no hangup came), finished with what the row knows.
 */
export async function applyOutgoingHangup(s: Services, facts: HangupFacts, opts: { rebuild?: boolean } = {}): Promise<boolean | null> {
  const cfg = s.config;
  const { calls, caches } = await s.stores();
  const uniqueid = facts.uniqueid;
  const out = facts.out;
  let call = await calls.get(uniqueid);
  if (call?.hungup_at) return null;
  if (!call) {
    if (opts.rebuild === false || !out) {
      s.log.info(`hangup ${uniqueid}: the outgoing call is not in the database and cannot be rebuilt; not reported again`);
      return null;
    }
    const number = normaliseNumber(out.number, cfg.countryCode)?.forBitrix;
    if (!number) {
      s.log.info(`hangup ${uniqueid}: dialled number ${JSON.stringify(out.number)} has no digits; not reported`);
      return null;
    }
    const cached = out.extension ? await caches.user(out.extension, s.now(), cfg.userCacheSeconds * 1000) : undefined;
    const startedAt = out.startedAt ?? facts.hungupAt;
    await calls.insertOutgoing(
      { uniqueid, linkedid: facts.linkedid || uniqueid, number, line: out.line, startedAt, extension: out.extension, userId: cached?.userId ?? null, callId: facts.callId || null },
      facts.hungupAt,
      s.now(),
    );
    call = await calls.get(uniqueid);
    s.log.warn(`hangup ${uniqueid}: the outgoing call had no local record; rebuilt from the channel${facts.callId ? ` (${facts.callId})` : ''}`);
    if (!call) return null;
  }
  const userId = call.operator_user_id ?? cfg.defaultUserId;
  const decision = out
    ? decideOutgoingFinish(
        { answeredAt: out.answeredAt, hungUpAt: facts.hungupAt, dialStatus: out.dialStatus, cause: out.cause, answeredTimeMs: out.answeredTimeMs },
        userId,
      )
    : // Lost (Asterisk crashed or restarted): how it ended is not known.
      { userId, duration: 0, statusCode: 'OTHER' };
  const answeredAt = out?.answeredAt ?? (decision.statusCode === '200' ? facts.hungupAt - decision.duration * 1000 : null);
  if (answeredAt !== null && call.operator_ext) {
    await calls.recordAnswer(uniqueid, { at: answeredAt, extension: call.operator_ext, userId: call.operator_user_id, recordingPath: null }, s.now());
  }
  const attach = await oweFinish(s, uniqueid, facts.hungupAt, decision, facts.recording || call.recording_path);
  s.log.info(
    `hangup ${uniqueid}: outgoing ${out?.dialStatus || 'call'}, ${decision.statusCode}, ${decision.duration} s, user ${decision.userId}${attach ? ', recording follows' : ''}`,
  );
  return attach;
}
