// The people around the PBX: phones that ring, answer after N ms, stay busy or unregistered,
// hang up after M ms of talk; and callers arriving on a trunk with a DID and caller ID who hang up
// after a while or after some talk. All times are virtual (clock.ts).
import type { Channel } from './channel';
import type { ChannelRecord, Pbx } from './engine';

export interface PhoneScript {
  /** Rings this long, then answers; never answers when undefined. */
  answerAfterMs?: number;
  /** After answering, the phone hangs up after this long (the caller may leave first). */
  hangupAfterMs?: number;
  /** Answers "busy" at once (cause 17). */
  busy?: boolean;
  /** Not registered: PJSIP_DIAL_CONTACTS is empty and a Dial() to it fails (CHANUNAVAIL). */
  unavailable?: boolean;
  /** Declines after ringing this long (cause 21). */
  rejectAfterMs?: number;
  /**
   * After talking this long (from joining the bridge), the phone blind-transfers its peer to
   * `to` (feature code `##<to>`, or the phone's own REFER: the same ast_bridge_transfer_blind).
   */
  blindTransfer?: { afterTalkMs: number; to: string };
  /**
   * After talking this long, the phone starts an attended transfer to `to` by DTMF (`*2<to>`):
   * the consultation call (pbx.consultTransfer); `onConsult` gets its Local ;1.
   */
  consultTransfer?: { afterTalkMs: number; to: string; onConsult?: (local: Channel) => void };
  /** Ends the call after ringing this long with `cause` (a trunk: 1 unallocated number, 34 no circuit …). */
  failAfterMs?: number;
  cause?: number;
}

/** A trunk's far end: one script for every number, or one per number dialled. */
export type TrunkScript = PhoneScript | ((number: string) => PhoneScript);

export interface OutboundOptions {
  /** The phone the call is made from: `PJSIP/101` (its extension is the caller ID number). */
  from: string;
  /** What the user dialled (the channel's EXTEN in from-internal). */
  number: string;
  callerName?: string;
  /** The caller hangs up this long after dialling, whatever happens meanwhile (gives up while it rings). */
  hangupAfterMs?: number;
  /** The caller hangs up this long after being connected. */
  hangupAfterTalkMs?: number;
  /** Variables already on the channel (e.g. what an Originate set). */
  vars?: Record<string, string>;
}

export interface InboundOptions {
  /** The dialled number as the trunk delivers it (the channel's EXTEN and dnid). */
  did: string;
  callerNum?: string;
  callerName?: string;
  /** Context the trunk delivers into (FreePBX: from-pstn / from-trunk). */
  context?: string;
  /** PJSIP endpoint of the trunk; the channel is PJSIP/<trunk>-<n>. */
  trunk?: string;
  /** The caller hangs up this long after the call arrived, whatever happens meanwhile. */
  hangupAfterMs?: number;
  /** The caller hangs up this long after being connected to someone. */
  hangupAfterTalkMs?: number;
  /** Keys the caller presses, each this long after the inbound channel was answered (an IVR). */
  dtmf?: Array<{ afterAnswerMs: number; digits: string }>;
  /**
   * The lab's topology (`channel originate Local/<DID>@<context>`): the inbound channel is the ;2
   * half of a Local pair and the caller ;1 owns the linkedid, so MASTER_CHANNEL() is the caller
   * half, not the inbound channel (lab FINDINGS §2). Default: a PJSIP trunk channel, as on a PBX.
   */
  viaLocal?: boolean;
}

export interface InboundCall {
  channel: Channel;
  /** The channel's record once it is gone (variables at hangup, times). */
  record(): ChannelRecord | undefined;
}

/** ast_call on a phone channel: ring, then follow the script. False when it cannot be called. */
export function callPhone(pbx: Pbx, chan: Channel, script: PhoneScript): boolean {
  if (script.unavailable) return false;
  pbx.clock.timer(0, () => {
    if (chan.hungUp) return;
    if (script.busy) {
      chan.hangupCause = 17;
      pbx.indicate(chan, 'busy');
      return;
    }
    chan.state = 'Ringing';
    pbx.indicate(chan, 'ringing');
    if (script.rejectAfterMs !== undefined) pbx.clock.timer(script.rejectAfterMs, () => chan.state === 'Ringing' && pbx.hangup(chan, 21));
    if (script.failAfterMs !== undefined) pbx.clock.timer(script.failAfterMs, () => chan.state === 'Ringing' && pbx.hangup(chan, script.cause ?? 34));
    if (script.answerAfterMs === undefined) return;
    pbx.clock.timer(script.answerAfterMs, () => {
      if (chan.hungUp || chan.state !== 'Ringing') return;
      const xfer = script.blindTransfer ?? script.consultTransfer;
      if (xfer) {
        let armed = false;
        chan.onBridge = () => {
          if (armed) return;
          armed = true;
          pbx.clock.timer(xfer.afterTalkMs, () => {
            try {
              if (script.blindTransfer) pbx.blindTransfer(chan, xfer.to);
              else {
                const local = pbx.consultTransfer(chan, xfer.to);
                if (local) script.consultTransfer?.onConsult?.(local);
              }
            } catch (err) {
              pbx.fail(err as Error, chan);
            }
          });
        };
      }
      pbx.answer(chan);
      if (script.hangupAfterMs !== undefined) pbx.clock.timer(script.hangupAfterMs, () => pbx.hangup(chan, 16));
    });
  });
  return true;
}

/** The caller (`caller`, whose call `chan` carries) hangs up after a while, or after some talk. */
function callerLeaves(pbx: Pbx, chan: Channel, caller: Channel, opts: { hangupAfterMs?: number; hangupAfterTalkMs?: number }): void {
  if (opts.hangupAfterMs !== undefined) pbx.clock.timer(opts.hangupAfterMs, () => pbx.hangup(caller, 16));
  if (opts.hangupAfterTalkMs !== undefined) {
    const talk = opts.hangupAfterTalkMs;
    let armed = false;
    chan.onBridge = () => {
      if (armed) return;
      armed = true;
      pbx.clock.timer(talk, () => pbx.hangup(caller, 16));
    };
  }
}

/** A call arriving from the PSTN on a PJSIP trunk. */
export function placeInbound(pbx: Pbx, opts: InboundOptions): InboundCall {
  const trunk = opts.trunk ?? 'trunk';
  const context = opts.context ?? 'from-pstn';
  let chan: Channel;
  let caller: Channel;
  if (opts.viaLocal) {
    const base = `Local/${opts.did}@${context}-${pbx.localSuffix()}`;
    caller = pbx.newChannel(`${base};1`, 'Local');
    chan = pbx.newChannel(`${base};2`, 'Local', '', caller.linkedid);
    caller.other = chan;
    chan.other = caller;
    caller.half = 1;
    chan.half = 2;
    caller.caller = { num: opts.callerNum ?? '', name: opts.callerName ?? '' };
    caller.connected = { ...caller.caller };
  } else {
    chan = caller = pbx.newChannel(`PJSIP/${trunk}-${pbx.channelSuffix()}`, 'PJSIP', trunk);
  }
  chan.state = 'Ring';
  chan.caller = { num: opts.callerNum ?? '', name: opts.callerName ?? '' };
  chan.dnid = opts.did;
  callerLeaves(pbx, chan, caller, opts);
  if (opts.dtmf?.length) {
    const presses = opts.dtmf;
    chan.onAnswer = () => {
      for (const p of presses)
        pbx.clock.timer(p.afterAnswerMs, () => {
          for (const digit of p.digits) chan.post({ type: 'dtmf', from: chan, digit });
        });
    };
  }
  pbx.startPbx(chan, context, opts.did, 1);
  // The originating half has no dialplan: it is gone with the call.
  if (caller !== chan) chan.onDestroyed = () => pbx.track(pbx.destroy(caller));
  return { channel: chan, record: () => pbx.ended.find((r) => r.uniqueid === chan.uniqueid) };
}

/** A call from a phone: its PJSIP channel enters from-internal at the dialled number. */
export function placeOutbound(pbx: Pbx, opts: OutboundOptions): InboundCall {
  const endpoint = opts.from.replace(/^PJSIP\//, '');
  const chan = pbx.newChannel(`PJSIP/${endpoint}-${pbx.channelSuffix()}`, 'PJSIP', endpoint);
  chan.state = 'Ring';
  chan.caller = { num: endpoint, name: opts.callerName ?? `Ext ${endpoint}` };
  chan.dnid = opts.number;
  for (const [k, v] of Object.entries(opts.vars ?? {})) chan.setVar(k, v);
  callerLeaves(pbx, chan, chan, opts);
  pbx.startPbx(chan, 'from-internal', opts.number, 1);
  return { channel: chan, record: () => pbx.ended.find((r) => r.uniqueid === chan.uniqueid) };
}
