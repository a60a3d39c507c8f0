// The small applications: variables, flow (Goto, Gosub, ExecIf, While), channel state, media
// that takes no time here (Playback), MixMonitor, UserEvent. Argument rules follow Asterisk 22.
import { checkCondition, separateArgs, splitOnce, standardArgs } from './args';
import type { Pbx } from './engine';
import { App, AppContext, PbxError, registerApps } from './registry';

function gotoTarget(pbx: Pbx, ctx: AppContext, target: string): number {
  const dest = pbx.resolveLocation(ctx.chan, target);
  if (!dest) {
    pbx.errors.push(new PbxError(`Goto(${target}): no such label on ${ctx.chan.name}`));
    return -1;
  }
  ctx.chan.goto(dest.context, dest.exten, dest.priority);
  return 0;
}

function gosub(pbx: Pbx, ctx: AppContext, data: string): number {
  const c = ctx.chan;
  const frame = pbx.gosubPush(c, data, { context: c.context, exten: c.exten, priority: c.priority + 1 });
  return frame ? 0 : -1;
}

/** App name and data of `App(data)` as ExecIf/Exec read them. */
function appCall(text: string): [string, string] {
  const open = text.indexOf('(');
  if (open < 0) return [text.trim(), ''];
  return [text.slice(0, open).trim(), text.slice(open + 1).replace(/\)\s*$/, '')];
}

/** The extension the channel is in, for While/EndWhile scanning. */
function currentSteps(pbx: Pbx, ctx: AppContext) {
  const hit = pbx.dialplan.find(ctx.chan.context, ctx.chan.exten, ctx.chan.priority, ctx.chan.caller.num);
  if (!hit) throw new PbxError(`While/EndWhile outside any extension on ${ctx.chan.name}`);
  return hit.ext.steps;
}

function findMatching(pbx: Pbx, ctx: AppContext, forward: boolean): number {
  const steps = currentSteps(pbx, ctx);
  let depth = 0;
  for (let p = ctx.chan.priority + (forward ? 1 : -1); p > 0 && p <= Math.max(...steps.keys()); p += forward ? 1 : -1) {
    const app = steps.get(p)?.app.toLowerCase();
    if (app === (forward ? 'while' : 'endwhile')) depth++;
    else if (app === (forward ? 'endwhile' : 'while')) {
      if (depth === 0) return p;
      depth--;
    }
  }
  throw new PbxError(`unbalanced While/EndWhile at ${ctx.chan.exten}@${ctx.chan.context}:${ctx.chan.priority}`);
}

const noop: App = () => 0;

async function nextDigit(pbx: Pbx, chan: AppContext['chan'], ms: number): Promise<string | 'timeout' | 'hangup'> {
  const f = await chan.next(pbx.clock.timer.bind(pbx.clock), ms, (fr) => fr.type === 'dtmf' && fr.from === chan);
  if (f === 'timeout') return 'timeout';
  return f.type === 'dtmf' ? f.digit ?? '' : 'hangup';
}

/** Media applications: no audio here; they return at once, or -1 on a hung-up channel. */
const media: App = ({ chan }) => (chan.hungUp && !chan.dead ? -1 : 0);

const APPLICATIONS: Record<string, App> = {
  NoOp: noop,
  Verbose: noop,
  Log: noop,
  ResetCDR: noop,
  NoCDR: noop,
  CELGenUserEvent: noop,
  Progress: noop,
  QueueLog: noop,
  Playtones: noop,
  StopPlaytones: noop,
  Playback: media,
  Background: media,
  SayDigits: media,
  SayNumber: media,
  SayAlpha: media,

  DBDel({ pbx, data }) {
    // DBDel(family/key): the family is everything before the first '/', as in app_db.
    const slash = data.indexOf('/');
    if (slash <= 0) {
      pbx.warn(`DBDel requires an argument (family/key): ${data}`);
      return 0;
    }
    pbx.astdb.delete(`${data.slice(0, slash)}/${data.slice(slash + 1)}`);
    return 0;
  },

  Set({ pbx, chan, data }) {
    const eq = data.indexOf('=');
    if (!data || eq < 0) {
      pbx.warn(`Set requires an '=' to be a valid assignment (${data})`);
      return 0;
    }
    pbx.setVariable(chan, data.slice(0, eq), data.slice(eq + 1));
    return 0;
  },

  MSet({ pbx, chan, data }) {
    for (const pair of separateArgs(data, ',', true, 99)) {
      const [name, value] = separateArgs(pair, '=', false, 2);
      if (value === undefined) pbx.warn(`MSet: ignoring entry '${name}' with no '='`);
      else pbx.setVariable(chan, name, value);
    }
    return 0;
  },

  Gosub: (ctx) => gosub(ctx.pbx, ctx, ctx.data),

  GosubIf(ctx) {
    const [cond, labels] = separateArgs(ctx.data, '?', false, 2);
    if (labels === undefined) {
      ctx.pbx.warn(`GosubIf requires an argument: ${ctx.data}`);
      return 0;
    }
    const [yes, no] = separateArgs(labels, ':', false, 2);
    const target = checkCondition(cond) ? yes : no;
    return target ? gosub(ctx.pbx, ctx, target) : 0;
  },

  Return({ pbx, chan, data }) {
    const frame = pbx.popFrame(chan);
    if (!frame) {
      pbx.errors.push(new PbxError(`Return without Gosub: stack is empty on ${chan.name}`));
      return -1;
    }
    chan.setVar('GOSUB_RETVAL', data);
    if (frame.ret) chan.goto(frame.ret.context, frame.ret.exten, frame.ret.priority);
    else chan.jumped = true;
    return 0;
  },

  StackPop({ pbx, chan }) {
    if (!pbx.popFrame(chan)) pbx.warn(`StackPop: stack is empty on ${chan.name}`);
    return 0;
  },

  Goto(ctx) {
    if (!ctx.data) {
      ctx.pbx.warn('Goto requires an argument ([[context,]extension,]priority)');
      return -1;
    }
    return gotoTarget(ctx.pbx, ctx, ctx.data);
  },

  GotoIf(ctx) {
    const q = ctx.data.indexOf('?');
    const condition = q < 0 ? ctx.data : ctx.data.slice(0, q);
    const branches = q < 0 ? '' : ctx.data.slice(q + 1);
    const colon = branches.indexOf(':');
    const yes = colon < 0 ? branches : branches.slice(0, colon);
    const no = colon < 0 ? '' : branches.slice(colon + 1);
    const branch = checkCondition(condition) ? yes : no;
    return branch ? gotoTarget(ctx.pbx, ctx, branch) : 0;
  },

  async ExecIf({ pbx, chan, data, step }) {
    const [expr, rest] = splitOnce(data, '?');
    const [yes, no] = splitOnce(rest ?? '', ':');
    const chosen = checkCondition(expr) ? yes : no;
    if (!chosen) return 0;
    const [app, appData] = appCall(chosen);
    if (!app) {
      pbx.warn(`ExecIf: could not find application (${chosen})`);
      return -1;
    }
    return pbx.execApp(chan, app, appData, step);
  },

  async Exec({ pbx, chan, data, step }) {
    const [app, appData] = appCall(data);
    return pbx.execApp(chan, app, appData, step);
  },

  Answer({ pbx, chan }) {
    if (chan.hungUp && !chan.dead) return -1;
    pbx.answer(chan);
    return 0;
  },

  Ringing({ pbx, chan }) {
    pbx.indicate(chan, 'ringing');
    return 0;
  },

  async Wait({ pbx, chan, data }) {
    const secs = parseFloat(data || '0');
    return (await pbx.sleep(chan, Math.max(0, secs) * 1000)) ? 0 : -1;
  },

  async MusicOnHold({ pbx, chan, data }) {
    const [, duration] = standardArgs(data, 2);
    if (!duration) {
      await pbx.sleep(chan, undefined);
      return -1;
    }
    return (await pbx.sleep(chan, Number(duration) * 1000)) ? 0 : -1;
  },

  async Echo({ pbx, chan }) {
    await pbx.sleep(chan, undefined);
    return -1;
  },

  Hangup({ pbx, chan, data }) {
    const cause = Number(data) || 16;
    if (!chan.hungUp) chan.hangupCause = cause;
    pbx.hangup(chan, cause);
    return -1;
  },

  async Busy({ pbx, chan, data }) {
    pbx.indicate(chan, 'busy');
    if (chan.state !== 'Up') chan.hangupCause = 17;
    await pbx.sleep(chan, data ? Number(data) * 1000 : undefined);
    return -1;
  },

  async Congestion({ pbx, chan, data }) {
    pbx.indicate(chan, 'congestion');
    if (chan.state !== 'Up') chan.hangupCause = 34;
    await pbx.sleep(chan, data ? Number(data) * 1000 : undefined);
    return -1;
  },

  UserEvent({ pbx, chan, data }) {
    const [name, ...fields] = standardArgs(data, 128).filter((x) => x !== undefined) as string[];
    const body: Record<string, string> = {};
    for (const f of fields) {
      const colon = f.indexOf(':');
      if (colon > 0) body[f.slice(0, colon).trim()] = f.slice(colon + 1).trim();
    }
    pbx.event('userevent', chan, { name, body });
    return 0;
  },

  /** Waits for the caller's keys, then goes to the extension they name (t on timeout, i if none). */
  async WaitExten({ pbx, chan, data }) {
    const [secs] = standardArgs(data, 2);
    const response = parseFloat(secs || '') || parseFloat(chan.props.get('TIMEOUT(response)') ?? '') || 10;
    const digitTimeout = (parseFloat(chan.props.get('TIMEOUT(digit)') ?? '') || 5) * 1000;
    let digits = '';
    for (;;) {
      const f = await nextDigit(pbx, chan, digits ? digitTimeout : response * 1000);
      if (f === 'hangup') return -1;
      if (f !== 'timeout') digits += f;
      const done = f === 'timeout' || !pbx.dialplan.canMatchMore(chan.context, digits, chan.caller.num);
      if (!done) continue;
      if (!digits) {
        if (!pbx.dialplan.exists(chan.context, 't', 1, chan.caller.num)) {
          pbx.warn(`WaitExten: timeout on ${chan.name} and no t extension in ${chan.context}`);
          return -1;
        }
        chan.goto(chan.context, 't', 1);
        return 0;
      }
      if (pbx.dialplan.exists(chan.context, digits, 1, chan.caller.num)) chan.goto(chan.context, digits, 1);
      else {
        chan.setVar('INVALID_EXTEN', digits);
        chan.goto(chan.context, 'i', 1);
      }
      return 0;
    }
  },

  While(ctx) {
    const { chan } = ctx;
    if (checkCondition(ctx.data)) return 0;
    chan.goto(chan.context, chan.exten, findMatching(ctx.pbx, ctx, true) + 1);
    return 0;
  },

  EndWhile(ctx) {
    ctx.chan.goto(ctx.chan.context, ctx.chan.exten, findMatching(ctx.pbx, ctx, false));
    return 0;
  },

  ExitWhile(ctx) {
    const end = findMatching(ctx.pbx, ctx, true);
    ctx.chan.goto(ctx.chan.context, ctx.chan.exten, end + 1);
    return 0;
  },

  ContinueWhile(ctx) {
    ctx.chan.goto(ctx.chan.context, ctx.chan.exten, findMatching(ctx.pbx, ctx, false));
    return 0;
  },
};

// Asterisk's own spelling is NoOp; FreePBX writes Noop. Application names are case-insensitive.
registerApps(APPLICATIONS);
