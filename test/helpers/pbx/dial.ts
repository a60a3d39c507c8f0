// Dial() and the channels it creates, as app_dial.c, core_local.c and chan_pjsip behave in
// Asterisk 22: outgoing channels inherit _/__ variables and the caller's linkedid; a Local
// channel is a ;1/;2 pair whose ;2 half runs the dialplan and whose answer answers ;1; pre-dial
// b() runs on each new channel before it is called; the first to answer wins, the others are
// hung up at once (after whatever else happens in the same instant); U() runs on the answered channel before the bridge, and only then is the
// caller answered; ANSWEREDTIME/DIALEDTIME are set when the bridge ends.
import { standardArgs } from './args';
import type { Channel, ControlFrame } from './channel';
import type { Pbx } from './engine';
import { App, PbxError, registerApps } from './registry';
import { callPhone } from './phones';

/** Option letters of Dial() in Asterisk 22, and whether they take (arguments). */
const DIAL_OPTIONS: Record<string, boolean> = {
  A: true, a: false, b: true, B: true, C: false, c: false, d: false, D: true, e: false, E: false,
  f: true, F: true, g: false, G: true, h: false, H: false, i: false, I: false, j: false, k: false,
  K: false, L: true, m: true, n: true, N: false, o: true, O: true, p: false, P: true, Q: true,
  r: true, R: false, s: true, S: true, t: false, T: false, u: true, U: true, w: false, W: false,
  x: false, X: false, z: false,
};

/** ast_app_parse_options: letters, some with (arguments) that may nest parentheses. */
export function parseOptions(text: string, known: Record<string, boolean>, app: string): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (!(c in known)) {
      if (c === 'M' && app === 'Dial') throw new PbxError('Dial option M (macro) no longer exists in Asterisk 21+; FreePBX 17 uses U()');
      throw new PbxError(`${app} option '${c}' (in ${JSON.stringify(text)}) is not an Asterisk 22 option`);
    }
    let arg = '';
    if (known[c] && text[i + 1] === '(') {
      let depth = 0;
      let j = i + 1;
      for (; j < text.length; j++) {
        if (text[j] === '(') depth++;
        else if (text[j] === ')' && --depth === 0) break;
      }
      arg = text.slice(i + 2, j).replace(/\\(.)/g, '$1');
      i = j;
    }
    out.set(c, arg);
  }
  return out;
}

/** U(sub^arg1^arg2) → `sub,s,1(arg1,arg2)`; b(ctx^exten^pri) → `ctx,exten,pri`. */
export function subSpec(arg: string, withS: boolean): string {
  const spec = arg.replace(/\^/g, ',');
  if (!withS) return spec;
  const comma = spec.indexOf(',');
  return comma < 0 ? `${spec},s,1` : `${spec.slice(0, comma)},s,1(${spec.slice(comma + 1)})`;
}

/** ast_request: a new outgoing channel for `tech/resource`, or undefined when none can be had. */
export function requestChannel(pbx: Pbx, tech: string, resource: string, requester: Channel): Channel | undefined {
  let chan: Channel;
  if (tech.toUpperCase() === 'PJSIP' && /^[^/@]+@[^/@]+$/.test(resource)) {
    // A trunk: PJSIP/<number>@<endpoint> (FreePBX's ${OUT_n}/${OUTNUM}${OUT_n_SUFFIX}).
    const [number, endpoint] = resource.split('@');
    const trunk = pbx.trunks.get(endpoint);
    if (!trunk) throw new PbxError(`Dial to PJSIP/${resource}: no trunk scripted for ${endpoint} (pbx.trunk('${endpoint}', …))`);
    const script = typeof trunk === 'function' ? trunk(number) : trunk;
    if (script.unavailable) {
      pbx.warn(`Unable to create channel of type 'PJSIP' (cause 20 - Subscriber absent) for ${endpoint}`);
      requester.hangupCause = 20;
      return undefined;
    }
    chan = pbx.newChannel(`PJSIP/${endpoint}-${pbx.channelSuffix()}`, 'PJSIP', endpoint, requester.linkedid);
    chan.farEnd = script;
    pbx.trunkCalls.push({ endpoint, number, channel: chan.name });
  } else if (tech.toUpperCase() === 'PJSIP') {
    const endpoint = resource.split('/')[0];
    const script = pbx.phones.get(endpoint);
    if (!script) throw new PbxError(`Dial to PJSIP/${endpoint}: no phone scripted for it (pbx.phone('PJSIP/${endpoint}', …))`);
    if (script.unavailable) {
      pbx.warn(`Unable to create channel of type 'PJSIP' (cause 20 - Subscriber absent) for ${endpoint}`);
      return undefined;
    }
    chan = pbx.newChannel(`PJSIP/${endpoint}-${pbx.channelSuffix()}`, 'PJSIP', endpoint, requester.linkedid);
  } else if (tech === 'Local') {
    const m = /^([^@/]+)(?:@([^/]+))?(?:\/(.*))?$/.exec(resource);
    if (!m) throw new PbxError(`Local/${resource}: not exten@context[/options]`);
    const [, exten, context = 'default', options = ''] = m;
    if (/[^n]/.test(options)) throw new PbxError(`Local channel options /${options} are not supported by the test PBX`);
    const base = `Local/${exten}@${context}-${pbx.localSuffix()}`;
    chan = pbx.newChannel(`${base};1`, 'Local', '', requester.linkedid);
    const two = pbx.newChannel(`${base};2`, 'Local', '', requester.linkedid);
    chan.other = two;
    two.other = chan;
    chan.half = 1;
    two.half = 2;
    two.context = context;
    two.exten = exten;
  } else throw new PbxError(`Dial to ${tech}/${resource}: technology ${tech} is not supported by the test PBX`);
  chan.owner = requester;
  requester.inheritTo(chan);
  chan.caller = { ...requester.caller };
  chan.connected = { ...requester.caller };
  chan.language = requester.language;
  return chan;
}

/** ast_call: start the phone ringing, or start the ;2 half of a Local channel. */
export function callChannel(pbx: Pbx, chan: Channel): boolean {
  if (chan.tech === 'Local') {
    const two = chan.other!;
    // ast_unreal_call_setup: every variable of ;1 is copied, caller ID crosses over.
    two.vars = chan.vars.map((v) => ({ ...v }));
    two.caller = { ...chan.connected };
    two.connected = { ...chan.caller };
    two.language = chan.language;
    two.state = 'Ring';
    if (!pbx.dialplan.exists(two.context, two.exten, 1, two.caller.num)) {
      pbx.warn(`No such extension/context ${two.exten}@${two.context} while calling Local channel`);
      return false;
    }
    pbx.startPbx(two, two.context, two.exten, 1);
    return true;
  }
  return callPhone(pbx, chan, chan.farEnd ?? pbx.phones.get(chan.endpoint)!);
}

export function nextFrame(pbx: Pbx, chan: Channel, ms: number | undefined, accept: (f: ControlFrame) => boolean) {
  return chan.next(pbx.clock.timer.bind(pbx.clock), ms, accept);
}

/** Hangs up and destroys outgoing channels nobody will talk to (hanguptree). */
export async function hangupAll(pbx: Pbx, chans: Iterable<Channel>, cause: number): Promise<void> {
  const list = [...chans];
  for (const c of list) pbx.hangup(c, cause);
  for (const c of list) await pbx.destroy(c);
}

/** The outcome of ringing a set of channels from `caller`. */
export type RingResult =
  | { answered: Channel; rest: Set<Channel> }
  | { answered?: undefined; status: 'CANCEL' | 'NOANSWER' | 'BUSY' | 'CONGESTION' | 'CHANUNAVAIL'; rest: Set<Channel> };

/** wait_for_answer: control frames from the outgoing channels until one answers. */
export async function ringUntilAnswer(
  pbx: Pbx,
  caller: Channel,
  ringing: Channel[],
  deadline: number | undefined,
  /** `dial`: app_dial's handle_cause() and the callee's cause copied to the caller (HANGUPCAUSE after a failed Dial). */
  opts: { indicateRinging: boolean; nochan?: number; dial?: boolean },
): Promise<RingResult> {
  const active = new Set(ringing);
  let busy = 0;
  let congestion = 0;
  let nochan = opts.nochan ?? 0;
  let sentRinging = false;
  for (;;) {
    const remaining = deadline === undefined ? undefined : Math.max(0, deadline - pbx.clock.now());
    const f = await nextFrame(pbx, caller, remaining, (fr) => active.has(fr.from));
    if (f === 'timeout') return { status: 'NOANSWER', rest: active };
    if (f.from === caller) return { status: 'CANCEL', rest: active };
    if (f.type === 'answer') {
      active.delete(f.from);
      return { answered: f.from, rest: active };
    }
    if (f.type === 'ringing') {
      if (!sentRinging && opts.indicateRinging && caller.state !== 'Up') pbx.indicate(caller, 'ringing');
      sentRinging = true;
      continue;
    }
    if (f.type === 'progress') continue;
    const cause = f.type === 'busy' ? 17 : f.type === 'congestion' ? 34 : f.from.hangupCause;
    if (opts.dial) caller.hangupCause = f.from.hangupCause || cause;
    if (cause === 17) busy++;
    else if (cause === 34) congestion++;
    else if (cause === 20 || (opts.dial && cause !== 16 && cause !== 19)) nochan++;
    active.delete(f.from);
    await hangupAll(pbx, [f.from], cause);
    if (active.size === 0) return { status: busy ? 'BUSY' : congestion ? 'CONGESTION' : nochan ? 'CHANUNAVAIL' : 'NOANSWER', rest: active };
  }
}

const dial: App = async ({ pbx, chan: caller, data }) => {
  const [peers, timeoutArg, optionsArg, url] = standardArgs(data, 4);
  for (const v of ['DIALSTATUS', 'DIALEDPEERNUMBER', 'DIALEDPEERNAME', 'ANSWEREDTIME', 'ANSWEREDTIME_MS', 'DIALEDTIME', 'DIALEDTIME_MS']) caller.setVar(v, '');
  if (!peers) {
    pbx.warn('Dial requires an argument (technology/resource)');
    return -1;
  }
  if (url) throw new PbxError('Dial URL argument is not supported by the test PBX');
  const opts = parseOptions(optionsArg ?? '', DIAL_OPTIONS, 'Dial');
  let deadline: number | undefined;
  if (timeoutArg) {
    const t = parseFloat(timeoutArg);
    if (t > 0) deadline = pbx.clock.now() + t * 1000;
    else pbx.warn(`Invalid timeout specified: '${timeoutArg}'. Setting timeout to infinite`);
  }
  if (opts.has('B')) await pbx.runSub(caller, subSpec(opts.get('B')!, false));

  const outgoing: Channel[] = [];
  let nochan = 0;
  for (const target of peers.split('&')) {
    const slash = target.indexOf('/');
    if (slash < 0) {
      pbx.warn(`Dial argument takes format (technology/resource): ${target}`);
      nochan++;
      continue;
    }
    const c = requestChannel(pbx, target.slice(0, slash), target.slice(slash + 1), caller);
    if (!c) {
      nochan++;
      continue;
    }
    c.setVar('DIALEDPEERNUMBER', target.slice(slash + 1));
    outgoing.push(c);
  }
  if (opts.has('b')) for (const c of outgoing) await pbx.runSub(c, subSpec(opts.get('b')!, false));
  const ringing: Channel[] = [];
  for (const c of outgoing) {
    if (callChannel(pbx, c)) ringing.push(c);
    else {
      nochan++;
      await hangupAll(pbx, [c], 20);
    }
  }
  if (!ringing.length) {
    caller.setVar('DIALSTATUS', 'CHANUNAVAIL');
    pbx.event('dial-end', caller, { status: 'CHANUNAVAIL' });
    return 0;
  }
  pbx.event('dial', caller, { peers: ringing.map((c) => c.name) });
  const result = await ringUntilAnswer(pbx, caller, ringing, deadline, { indicateRinging: true, nochan, dial: true });
  // Other phones answering in the same instant do answer (in their own Dials too) before this
  // Dial hangs its other legs up and runs U(): lab §2b/§3b.
  if (result.answered) await pbx.clock.settle();
  await hangupAll(pbx, result.rest, result.answered ? 26 : 16);
  if (!result.answered) {
    caller.setVar('DIALSTATUS', result.status);
    pbx.event('dial-end', caller, { status: result.status });
    return result.status === 'CANCEL' ? -1 : 0;
  }
  const peer = result.answered;
  caller.setVar('DIALSTATUS', 'ANSWER');
  caller.setVar('DIALEDPEERNAME', peer.name);
  caller.setVar('DIALEDPEERNUMBER', peer.getVar('DIALEDPEERNUMBER') ?? '');
  pbx.event('dial-end', caller, { status: 'ANSWER', peer: peer.name });

  if (opts.has('U') && opts.get('U')) {
    await pbx.runSub(peer, subSpec(opts.get('U')!, true));
    const gosubResult = (peer.getVar('GOSUB_RESULT') ?? '').toUpperCase();
    if (gosubResult === 'ABORT' || gosubResult === 'BUSY' || gosubResult === 'CONGESTION') {
      await hangupAll(pbx, [peer], 16);
      return -1;
    }
    if (gosubResult && gosubResult !== 'CONTINUE') throw new PbxError(`GOSUB_RESULT=${gosubResult} after Dial U() is not supported by the test PBX`);
    if (gosubResult === 'CONTINUE') {
      await hangupAll(pbx, [peer], 16);
      return 0;
    }
  }
  if (caller.hungUp) {
    await hangupAll(pbx, [peer], 16);
    return -1;
  }
  pbx.answer(caller);
  const leaver = await pbx.bridge(caller, peer);
  const now = pbx.clock.now();
  const up = caller.answeredAt === undefined ? 0 : now - caller.answeredAt;
  caller.setVar('ANSWEREDTIME', String(Math.floor(up / 1000)));
  caller.setVar('ANSWEREDTIME_MS', String(up));
  caller.setVar('DIALEDTIME', String(Math.floor((now - caller.createdAt) / 1000)));
  caller.setVar('DIALEDTIME_MS', String(now - caller.createdAt));
  await hangupAll(pbx, [peer], 16);
  if (caller.pendingGoto && !caller.hungUp) {
    // A blind transfer: the caller goes on in the dialplan where the transfer sent it.
    const to = caller.pendingGoto;
    caller.pendingGoto = undefined;
    caller.goto(to.context, to.exten, 1);
    return 0;
  }
  if (leaver === peer && !caller.hungUp && opts.has('g')) return 0;
  return -1;
};

registerApps({ Dial: dial });
