// show: an operator answered and the dialplan has recorded it (who, when) on the inbound channel.
// This step only delivers: it reads that fact and hands the card over; the bridge waits for
// nothing else. The card itself (answer into the database, the operator's user, the show
// request) is `deliverCard`, run after the step has returned.
import type { AgiChannel } from '../agi/channel';
import type { AgiEnvironment } from '../agi/protocol';
import { BitrixError } from '../bitrix/errors';
import { EXTENSION, showVerdict } from '../logic/answer';
import { readAnswerVars } from './channel-vars';
import { usersToHide } from '../logic/finish';
import { parseIds } from '../store/calls';
import { hideRequest, showRequest, userByExtensionRequest, userIdFrom } from './requests';
import type { Services } from './services';

/** The card's budget once handed over: it holds no call, but a card that comes much later is of no use. */
export const CARD_BUDGET_MS = 10_000;

/** What the card needs, all of it read from the channel. */
export interface CardJob {
  uniqueid: string;
  extension: string;
  /** From the answer fact; null when the dialplan recorded none (the card still goes out). */
  answeredAt: number | null;
  callId: string;
  recording: string;
  /** The call moved to this operator after its first answer (a transfer): the others' cards are hidden. */
  transferred?: boolean;
  /** The operator has the card already (shown while the phone rang): only the answer is recorded. */
  shownAlready?: boolean;
}

export interface ShowOptions {
  /**
   * Sends the card after this step has returned: a detached process (its pid is returned and
   * logged), or a task of a resident service.
   */
  deliverLater?: (job: CardJob) => number | undefined;
}

export async function show(
  s: Services,
  channel: AgiChannel,
  env: AgiEnvironment,
  extension: string | undefined,
  deadline: number,
  opts: ShowOptions = {},
): Promise<void> {
  if (!extension || !EXTENSION.test(extension)) {
    s.log.warn(`show: operator extension ${JSON.stringify(extension ?? '')} is not usable; card not shown`);
    return;
  }
  const vars = await readAnswerVars(channel);
  if (!vars.uniqueid) {
    // Inherited from the inbound channel by every call the dialplan marked: not one of ours.
    s.log.debug(`show: no BITRIX_UNIQUEID on ${env.agi_channel ?? 'this channel'}; not a reported call`);
    return;
  }
  const v = showVerdict(vars.answerFact, vars.lastOperatorFact, extension);
  if (v.verdict === 'lost') {
    s.log.info(`show ${vars.uniqueid}: ${v.winner} ${vars.lastOperatorFact ? 'has the call' : 'answered first'}; no card for ${extension}`);
    return;
  }
  if (v.verdict === 'no-fact') s.log.info(`show ${vars.uniqueid}: no answer fact on the channel (dialplan older than the module? Apply Config); card only`);
  const job: CardJob = {
    uniqueid: vars.uniqueid,
    extension,
    answeredAt: v.verdict === 'deliver' ? v.at : null,
    callId: vars.callId,
    recording: vars.recording,
    transferred: v.verdict === 'deliver' && v.transferred,
  };
  if (!opts.deliverLater) return deliverCard(s, job, deadline);
  const pid = opts.deliverLater(job);
  s.log.debug(`show ${job.uniqueid}: the card for ${extension} handed over${pid ? ` to process ${pid}` : ''}`);
}

/** Records the answer (from the fact) and pops the card for the operator's Bitrix24 user. */
export async function deliverCard(s: Services, job: CardJob, deadline: number): Promise<void> {
  const cfg = s.config;
  const { calls, caches } = await s.stores();
  const call = await calls.get(job.uniqueid);
  if (!call) {
    s.log.info(`show ${job.uniqueid}: the call has no local record yet (its incoming step did not run); no card, the hangup step reports it`);
    return;
  }
  const cached = await caches.user(job.extension, s.now(), cfg.userCacheSeconds * 1000);
  if (job.answeredAt !== null) {
    await calls.recordAnswer(
      call.uniqueid,
      { at: job.answeredAt, extension: job.extension, userId: cached?.userId ?? null, recordingPath: job.recording || null },
      s.now(),
    );
  }
  s.log.info(`show ${call.uniqueid}: ${job.transferred ? 'transferred to' : 'answered by'} ${job.extension}`);

  let userId = cached?.userId ?? null;
  try {
    const client = await s.client();
    if (!cached) {
      const req = userByExtensionRequest(job.extension);
      userId = userIdFrom(await client.call(req.method, req.params, deadline));
      await caches.putUser(job.extension, userId, s.now());
      if (userId && job.answeredAt !== null) await calls.setOperatorUser(call.uniqueid, job.extension, userId);
    }
    if (!userId) {
      s.log.info(`show ${call.uniqueid}: extension ${job.extension} has no active Bitrix24 user; no card`);
      return;
    }
    if (!cfg.showCard || cfg.cardMode === 'off' || job.shownAlready) return;
    const latest = await calls.get(call.uniqueid);
    if (latest?.hungup_at) {
      s.log.info(`show ${call.uniqueid}: the call ended before the card could be sent; no card`);
      return;
    }
    const callId = job.callId || latest?.bitrix_call_id || call.bitrix_call_id;
    if (!callId) {
      s.log.info(`show ${call.uniqueid}: call not registered yet; no card (the retry back-fills it)`);
      return;
    }
    const req = showRequest(callId, userId);
    const shown = await client.call(req.method, req.params, deadline);
    if (shown === true) await calls.updateShownUsers(call.uniqueid, [userId], [], s.now());
    if (job.transferred) await hideForOthers(s, call.uniqueid, callId, userId, deadline);
  } catch (err) {
    const msg = err instanceof BitrixError ? err.message : (err as Error).message;
    s.log.warn(`show ${call.uniqueid}: card not shown (${msg}); the answer is recorded`);
  }
}

/** The call moved to `userId` (a transfer): whoever else still has its card (the transferring operator) has it hidden. */
export async function hideForOthers(s: Services, uniqueid: string, callId: string, userId: number, deadline: number): Promise<void> {
  const { calls } = await s.stores();
  const hide = usersToHide(parseIds((await calls.get(uniqueid))?.shown_user_ids), userId);
  if (!hide.length) return;
  const client = await s.client();
  const req = hideRequest(callId, hide);
  await client.call(req.method, req.params, deadline);
  await calls.updateShownUsers(uniqueid, [], hide, s.now());
  s.log.info(`show ${uniqueid}: card hidden for user(s) ${hide.join(', ')}`);
}

/** `itd_bitrix.js card …` in the background: the card goes out after the show step has returned. */
export function detachedCard(configPath: string): (job: CardJob) => number | undefined {
  return (job) => {
    // Required here: only a show step that has a card to send pays for loading it.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { spawn } = require('child_process') as typeof import('child_process');
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { join } = require('path') as typeof import('path');
    const args = [join(__dirname, 'itd_bitrix.js'), 'card', job.uniqueid, job.extension, '--config', configPath];
    if (job.answeredAt !== null) args.push('--answered-at', String(job.answeredAt));
    if (job.callId) args.push('--call-id', job.callId);
    if (job.recording) args.push('--recording', job.recording);
    if (job.transferred) args.push('--transferred');
    // stdio 'ignore': a child holding the AGI's pipes would hold the channel until it exits.
    const child = spawn(process.execPath, args, { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined); // no card then; the answer is recorded in the dialplan all the same
    child.unref();
    return child.pid;
  };
}
