// show: an operator answered; the bridge waits. Record who and when, then pop the card.
import type { AgiChannel } from '../agi/channel';
import type { AgiEnvironment } from '../agi/protocol';
import { BitrixError } from '../bitrix/errors';
import { readCallVars } from './channel-vars';
import { showRequest, userByExtensionRequest, userIdFrom } from './requests';
import type { Services } from './services';

const EXTENSION = /^[0-9A-Za-z*#+_-]{1,32}$/;

export interface ShowOptions {
  /** Called once the answer is recorded: the bridge need not wait for the card. */
  release?: () => void;
}

export async function show(
  s: Services,
  channel: AgiChannel,
  env: AgiEnvironment,
  extension: string | undefined,
  deadline: number,
  opts: ShowOptions = {},
): Promise<void> {
  const cfg = s.config;
  if (!extension || !EXTENSION.test(extension)) {
    s.log.warn(`show: operator extension ${JSON.stringify(extension ?? '')} is not usable; card not shown`);
    return;
  }
  const answeredAt = s.now();
  const vars = await readCallVars(channel);
  if (!vars.uniqueid) {
    // Inherited from the inbound channel by every call incoming reported: not one of ours.
    s.log.debug(`show: no BITRIX_UNIQUEID on ${env.agi_channel ?? 'this channel'}; not a reported call`);
    return;
  }
  const uniqueid = vars.uniqueid;
  const { calls, caches } = await s.stores();
  const cached = await caches.user(extension, answeredAt, cfg.userCacheSeconds * 1000);
  const recorded = await calls.recordAnswer(uniqueid, {
    at: answeredAt,
    extension,
    userId: cached?.userId ?? null,
    recordingPath: vars.recording || null,
  });
  if (!recorded) {
    s.log.info(`show: call ${uniqueid} has no local record; answer not recorded`);
    return;
  }
  s.log.info(`show ${uniqueid}: answered by ${extension}`);
  opts.release?.();

  let userId = cached?.userId ?? null;
  try {
    const client = await s.client();
    if (!cached) {
      const req = userByExtensionRequest(extension);
      userId = userIdFrom(await client.call(req.method, req.params, deadline));
      await caches.putUser(extension, userId, s.now());
      if (userId) await calls.setOperatorUser(uniqueid, extension, userId);
    }
    if (!userId) {
      s.log.info(`show ${uniqueid}: extension ${extension} has no active Bitrix24 user; no card`);
      return;
    }
    const callId = vars.callId || (await calls.get(uniqueid))?.bitrix_call_id;
    if (!cfg.showCard) return;
    if (!callId) {
      s.log.info(`show ${uniqueid}: call not registered yet; no card (the retry back-fills it)`);
      return;
    }
    const req = showRequest(callId, userId);
    const shown = await client.call(req.method, req.params, deadline);
    if (shown === true) await calls.addShownUser(uniqueid, userId, s.now());
  } catch (err) {
    const msg = err instanceof BitrixError ? err.message : (err as Error).message;
    s.log.warn(`show ${uniqueid}: card not shown (${msg}); answer time and operator are recorded`);
  }
}
