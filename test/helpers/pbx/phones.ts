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
    if (script.answerAfterMs === undefined) return;
    pbx.clock.timer(script.answerAfterMs, () => {
      if (chan.hungUp || chan.state !== 'Ringing') return;
      pbx.answer(chan);
      if (script.hangupAfterMs !== undefined) pbx.clock.timer(script.hangupAfterMs, () => pbx.hangup(chan, 16));
    });
  });
  return true;
}

/** A call arriving from the PSTN on a PJSIP trunk. */
export function placeInbound(pbx: Pbx, opts: InboundOptions): InboundCall {
  const trunk = opts.trunk ?? 'trunk';
  const chan = pbx.newChannel(`PJSIP/${trunk}-${pbx.channelSuffix()}`, 'PJSIP', trunk);
  chan.state = 'Ring';
  chan.caller = { num: opts.callerNum ?? '', name: opts.callerName ?? '' };
  chan.dnid = opts.did;
  if (opts.hangupAfterMs !== undefined) pbx.clock.timer(opts.hangupAfterMs, () => pbx.hangup(chan, 16));
  if (opts.hangupAfterTalkMs !== undefined) {
    const talk = opts.hangupAfterTalkMs;
    let armed = false;
    chan.onBridge = () => {
      if (armed) return;
      armed = true;
      pbx.clock.timer(talk, () => pbx.hangup(chan, 16));
    };
  }
  if (opts.dtmf?.length) {
    const presses = opts.dtmf;
    chan.onAnswer = () => {
      for (const p of presses)
        pbx.clock.timer(p.afterAnswerMs, () => {
          for (const digit of p.digits) chan.post({ type: 'dtmf', from: chan, digit });
        });
    };
  }
  pbx.startPbx(chan, opts.context ?? 'from-pstn', opts.did, 1);
  return { channel: chan, record: () => pbx.ended.find((r) => r.uniqueid === chan.uniqueid) };
}
