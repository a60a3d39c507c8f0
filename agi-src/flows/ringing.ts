// Cards while the phones ring: what the dialplan's ring and ring-end lines hand the resident
// service (read from the FastAGI environment alone: the leg never waits for a command), and one
// flush of a call's shows and hides sent to Bitrix24 (service/live-cards.ts decides them).
import type { AgiEnvironment } from '../agi/protocol';
import { BitrixError } from '../bitrix/errors';
import type { Config } from '../config/config';
import { EXTENSION } from '../logic/answer';
import { isCallId } from '../logic/call-id';
import { hideRequest, Request, showRequest } from './requests';
import type { Services } from './services';
import { userOfExtension } from './users';

/** Asterisk's uniqueid (`<epoch>.<n>`, optionally prefixed by the system name). */
const UNIQUEID = /^[A-Za-z0-9_.-]{1,64}$/;

export interface RingEvent {
  extension: string;
  uniqueid: string;
  /** '' when the call was not registered when the phone started ringing. */
  callId: string;
  /** The ringing channel (one person may have several phones ringing). */
  leg: string;
}

/** Whether cards go to ringing phones with this config. */
export function cardsOnRinging(c: Pick<Config, 'enabled' | 'showCard' | 'cardMode'>): boolean {
  return c.enabled && c.showCard && c.cardMode === 'ringing';
}

/** `ring,<extension>,<BITRIX_UNIQUEID>[,<BITRIX_CALL_ID>]` / `ringend,<extension>,<BITRIX_UNIQUEID>`; null if unusable. */
export function parseRingEvent(env: AgiEnvironment, args: string[]): RingEvent | null {
  const [extension = '', uniqueid = '', callId = ''] = args.map((a) => a.trim());
  const leg = (env.agi_channel ?? '').trim();
  if (!EXTENSION.test(extension) || !UNIQUEID.test(uniqueid) || !leg) return null;
  return { extension, uniqueid, callId: isCallId(callId) ? callId : '', leg };
}

/**
 * Sends one flush: show and hide, each with a USER_ID array, together in one batch when both.
 * Extensions without an active Bitrix24 user are skipped. 'unregistered' when the call has no
 * CALL_ID yet (neither on the leg nor in the database): the shows wait for it.
 */
export async function sendCardBatch(
  s: Services,
  batch: { uniqueid: string; callId: string; show: string[]; hide: string[] },
  deadline: number,
): Promise<'sent' | 'failed' | 'unregistered'> {
  const { calls } = await s.stores();
  let callId = batch.callId;
  if (!callId) callId = (await calls.get(batch.uniqueid))?.bitrix_call_id ?? '';
  if (!callId) return 'unregistered';
  try {
    const client = await s.client();
    const users = async (exts: string[]) => {
      const ids = await Promise.all(exts.map((ext) => userOfExtension(s, ext, deadline)));
      return [...new Set(ids.filter((id): id is number => id !== null))];
    };
    const show = await users(batch.show);
    const hide = (await users(batch.hide)).filter((id) => !show.includes(id));
    const cmds: Record<string, Request> = {};
    if (show.length) cmds.show = showRequest(callId, show);
    if (hide.length) cmds.hide = hideRequest(callId, hide);
    const keys = Object.keys(cmds);
    if (keys.length === 0) return 'sent';
    let shown = false;
    let hidden = false;
    if (keys.length === 1) {
      const r = await client.call(cmds[keys[0]].method, cmds[keys[0]].params, deadline);
      shown = keys[0] === 'show' && r === true;
      hidden = keys[0] === 'hide' && r === true;
    } else {
      const r = await client.sendAll(cmds, deadline);
      if (r.errors.show || r.errors.hide) throw r.errors.show ?? r.errors.hide;
      shown = r.result.show === true;
      hidden = r.result.hide === true;
    }
    // The finish hides the card for everyone it was shown to and not hidden since, but the finisher.
    if (shown || hidden) await calls.updateShownUsers(batch.uniqueid, shown ? show : [], hidden ? hide : [], s.now());
    s.log.debug(`cards ${batch.uniqueid}: shown to [${show.join(',')}], hidden for [${hide.join(',')}]`);
    return 'sent';
  } catch (err) {
    const msg = err instanceof BitrixError ? err.message : (err as Error).message;
    s.log.warn(`cards ${batch.uniqueid}: ringing cards not sent (${msg}); the card still goes to whoever answers`);
    return 'failed';
  }
}
