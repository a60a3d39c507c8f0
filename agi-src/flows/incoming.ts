// incoming: the caller is waiting. Name from the CRM, register the call, save it, go on. The
// dialplan has marked the call as ours already (BITRIX_UNIQUEID, BITRIX_STARTED): if this step
// starts late or never, the hangup step registers the call from those facts.
import type { AgiChannel } from '../agi/channel';
import type { AgiEnvironment } from '../agi/protocol';
import { asBitrixError, BitrixError } from '../bitrix/errors';
import { epochMs } from '../logic/time';
import { pickCrmName } from '../logic/name';
import { isListedDid, normaliseNumber } from '../logic/phone';
import { pickResponsible, ResponsibleChoice } from '../logic/responsible';
import { readInboundVars } from './channel-vars';
import { callIdFrom, registerRequest, Request, searchRequest } from './requests';
import type { Services, Stores } from './services';

/** Kept for setting channel variables and saving the call after Bitrix24 answers. */
export const INCOMING_RESERVE_MS = 120;

export interface IncomingOptions {
  /** Called once the channel has what it needs (name, CALL_ID): the call need not wait for the database write. */
  release?: () => void;
}

export async function incoming(
  s: Services,
  channel: AgiChannel,
  env: AgiEnvironment,
  did: string | undefined,
  deadline: number,
  opts: IncomingOptions = {},
): Promise<void> {
  const cfg = s.config;
  if (!isListedDid(did, cfg.dids, cfg.countryCode)) {
    s.log.debug(`incoming: DID ${did ?? '(none)'} is not listed; call untouched`);
    return;
  }
  const uniqueid = env.agi_uniqueid;
  const caller = normaliseNumber(env.agi_callerid, cfg.countryCode);
  if (!uniqueid) {
    s.log.error('incoming: no agi_uniqueid in the AGI environment; call untouched');
    return;
  }
  if (!caller) {
    s.log.info(`incoming: anonymous caller (${JSON.stringify(env.agi_callerid ?? '')}) on DID ${did}; not registered`);
    return;
  }
  const opening = s.stores(); // the file opens on libuv's thread pool while Asterisk answers
  opening.catch(() => undefined); // handled below, after the channel's facts
  const facts = await readInboundVars(channel);
  const linkedid = facts.linkedid || uniqueid;
  // When the call reached the module, as Asterisk stamped it: this process may have started late.
  const startedAt = epochMs(facts.started) ?? s.now();
  const call = { uniqueid, linkedid, caller_number: caller.forBitrix, did: did as string, started_at: startedAt };

  let stores: Stores | undefined;
  try {
    stores = await opening;
  } catch (err) {
    s.log.error(`incoming ${uniqueid}: database unavailable (${(err as Error).message}); registering without a local record`);
  }
  const saved = stores?.calls
    .insertIncoming(
      { uniqueid, linkedid, callerNumber: caller.forBitrix, did: call.did, startedAt },
      startedAt + cfg.incomingTimeoutMs + 5000,
    )
    .catch((err) => {
      s.log.error(`incoming ${uniqueid}: could not save the call (${(err as Error).message})`);
      return 'unsaved' as const;
    });
  const cachedName = cfg.lookupCallerName && stores ? await stores.caches.name(caller.digits, startedAt, cfg.nameCacheSeconds * 1000).catch(() => undefined) : undefined;

  // The search goes first: with CRM_CREATE the register may create a lead for an unknown number.
  const cmds: Record<string, Request> = {};
  if ((cfg.lookupCallerName && cachedName === undefined) || cfg.responsibleRouting) cmds.find = searchRequest(caller.forBitrix);
  cmds.reg = registerRequest(call, cfg);
  let name = cachedName ?? '';
  let callId: string | null = null;
  let failure: BitrixError | undefined;
  let manager: ResponsibleChoice = { none: 'the CRM search did not answer' };
  try {
    const client = await s.client();
    const res = await client.sendAll(cmds, deadline - INCOMING_RESERVE_MS);
    failure = res.errors.reg;
    if (cmds.find && !res.errors.find) {
      if (cfg.responsibleRouting) manager = pickResponsible(res.result.find, { defaultUserId: cfg.defaultUserId, callerDigits: caller.digits, countryCode: cfg.countryCode });
      name = pickCrmName(res.result.find);
      if (stores && cfg.lookupCallerName) await stores.caches.putName(caller.digits, name, s.now()).catch(() => undefined);
    }
    callId = callIdFrom(res.result.reg);
  } catch (err) {
    failure = asBitrixError(err, 'batch');
  }

  // The channel variables (Asterisk round trips) and the database write go on side by side.
  const recorded = record(s, stores, saved, { uniqueid, callId, name, failure, line: `${caller.forBitrix} on ${did}` });
  recorded.catch(() => undefined); // awaited below, after the channel is done
  if (name && cfg.lookupCallerName) await channel.setVariable('CALLERID(name)', name).catch(() => undefined);
  if (callId) await channel.setVariable('__BITRIX_CALL_ID', callId).catch(() => undefined);
  if (cfg.responsibleRouting) await setResponsible(s, channel, uniqueid, manager);
  opts.release?.();
  await recorded;
}

async function record(
  s: Services,
  stores: Stores | undefined,
  saved: Promise<unknown> | undefined,
  r: { uniqueid: string; callId: string | null; name: string; failure?: BitrixError; line: string },
): Promise<void> {
  if (!stores || (await saved) === 'unsaved') return;
  if (r.callId) {
    await stores.calls.markRegistered(r.uniqueid, r.callId, r.name || null, s.now());
    s.log.info(`incoming ${r.uniqueid}: ${r.line} registered as ${r.callId}${r.name ? ` (${r.name})` : ''}`);
    return;
  }
  await s.recordFailure(r.uniqueid, 'register', r.failure ?? new BitrixError('rejected', '', 'register returned no CALL_ID', 200, 'register'), 'incoming');
}

/** The responsible-manager destination reads these; nothing set means "go to the fallback". */
async function setResponsible(s: Services, channel: AgiChannel, uniqueid: string, choice: ResponsibleChoice): Promise<void> {
  if ('none' in choice) {
    s.log.debug(`incoming ${uniqueid}: no responsible manager to ring (${choice.none})`);
    return;
  }
  const r = choice.responsible;
  s.log.debug(`incoming ${uniqueid}: responsible manager ${r.extension} (user ${r.userId}, ${r.entity}, workday ${r.workStatus || 'unknown'})`);
  await channel.setVariable('__BITRIX_RESP_EXT', r.extension).catch(() => undefined);
  await channel.setVariable('__BITRIX_RESP_STATUS', r.workStatus).catch(() => undefined);
}
