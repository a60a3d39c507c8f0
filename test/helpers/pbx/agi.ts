// AGI() as res_agi.c runs it in Asterisk 22: a local script from astagidir gets the agi_*
// environment and talks over stdin/stdout (agi-session.ts, shared with the single-AGI fake);
// SIGHUP when the channel hangs up unless AGISIGHUP=no; dead mode in h and hangup handlers;
// AGISTATUS SUCCESS / FAILURE / NOTFOUND / HANGUP. `agi://host[:port]/script` is FastAGI over
// TCP (agi_network lines, an unsolicited HANGUP line, FAILURE at once on a refused connection).
import { accessSync, constants, existsSync } from 'fs';
import { connect } from 'net';
import { isAbsolute, join } from 'path';
import { AgiSession, AgiSide, startAgiProcess } from '../agi-session';
import { standardArgs } from './args';
import { leftBehindGone, markedProcesses, MARK_VAR } from './left-behind';
import type { Channel } from './channel';
import type { Pbx } from './engine';
import { App, PbxError, registerApps } from './registry';

/** A script the PBX answers itself (FreePBX's own AGIs, which are PHP). */
export type BuiltinAgi = (api: { pbx: Pbx; chan: Channel; args: string[]; get(name: string): string; set(name: string, value: string): void }) => Promise<void> | void;

const CLOCK_SHIFT = join(__dirname, 'clock-shift.cjs');
let agiProcesses = 0;

function agiEnvironment(chan: Channel, request: string, args: string[], network?: { script: string }): Record<string, string> {
  const env: Record<string, string> = {};
  if (network) {
    env.agi_network = 'yes';
    env.agi_network_script = network.script;
  }
  Object.assign(env, {
    agi_request: request,
    agi_channel: chan.name,
    agi_language: chan.language,
    agi_type: chan.tech,
    agi_uniqueid: chan.uniqueid,
    agi_version: '22.10.1',
    agi_callerid: chan.caller.num || 'unknown',
    agi_calleridname: chan.caller.name || 'unknown',
    agi_callingpres: chan.caller.num ? '0' : '67',
    agi_callingani2: '0',
    agi_callington: '0',
    agi_callingtns: '0',
    agi_dnid: chan.dnid || 'unknown',
    agi_rdnis: 'unknown',
    agi_context: chan.context,
    agi_extension: chan.exten,
    agi_priority: String(chan.priority),
    agi_enhanced: '0.0',
    agi_accountcode: chan.accountcode,
    agi_threadid: chan.threadId,
  });
  args.forEach((a, i) => (env[`agi_arg_${i + 1}`] = a));
  return env;
}

function channelSide(pbx: Pbx, chan: Channel, verbose: string[]): AgiSide {
  return {
    getVariable: (name) => (name.endsWith(')') ? pbx.readFunction(chan, name) : pbx.readVariable(chan, name)),
    evaluate: (expr) => pbx.substitute(chan, expr),
    setVariable: (name, value) => pbx.setVariable(chan, name, value),
    verbose: (message) => verbose.push(message),
    channelStatus: () => chan.stateCode(),
    answer: () => pbx.answer(chan),
    exec: async (app, args) => {
      if (!pbx.hasApp(app)) throw new PbxError(`AGI EXEC of application ${app}, which the test PBX does not support`);
      return pbx.execApp(chan, app, args);
    },
    database: {
      get: (f, k) => pbx.astdb.get(`${f}/${k}`),
      put: (f, k, v) => void pbx.astdb.set(`${f}/${k}`, v),
      del: (f, k) => pbx.astdb.delete(`${f}/${k}`),
      deltree: (f, k) => {
        const prefix = k ? `${f}/${k}` : f;
        let any = false;
        for (const key of [...pbx.astdb.keys()]) if (key === prefix || key.startsWith(`${prefix}/`)) any = pbx.astdb.delete(key) || any;
        return any;
      },
    },
    setCallerId: (value) => {
      const m = /^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$/.exec(value);
      if (m) chan.caller = { name: m[1], num: m[2] };
      else chan.caller = { ...chan.caller, name: value };
    },
    hangup: () => pbx.hangup(chan, 16),
  };
}

function falsy(v: string | undefined): boolean {
  return v !== undefined && /^(no|false|n|f|0|off)$/i.test(v.trim());
}

async function runLocal(pbx: Pbx, chan: Channel, script: string, args: string[], request: string, network?: { script: string }): Promise<number> {
  const builtin = pbx.options.builtinAgi?.[script];
  if (builtin) {
    pbx.agiRuns.push({ channel: chan.name, script, args, env: {}, dead: chan.dead, status: 'SUCCESS', lines: ['(builtin)'], exitCode: 0, stderr: '' });
    await builtin({ pbx, chan, args, get: (n) => (n.endsWith(')') ? pbx.readFunction(chan, n) : pbx.readVariable(chan, n)) ?? '', set: (n, v) => pbx.setVariable(chan, n, v) });
    chan.setVar('AGISTATUS', 'SUCCESS');
    return 0;
  }
  const path = isAbsolute(script) ? script : join(pbx.options.agiDir, script);
  if (!existsSync(path)) {
    pbx.warn(`Failed to execute '${path}': File does not exist.`);
    chan.setVar('AGISTATUS', 'NOTFOUND');
    return 0;
  }
  const direct = !path.endsWith('.js') && isExecutable(path);
  const verbose: string[] = [];
  const startedDead = chan.dead;
  const offset = pbx.options.shiftAgiClocks === false ? 0 : pbx.clock.offsetMs();
  const env = agiEnvironment(chan, request, args, network);
  const mark = `${process.pid}.${++agiProcesses}`;
  const proc = startAgiProcess({
    command: direct ? path : process.execPath,
    argv: direct ? args : [path, ...args],
    processEnv: {
      ...process.env,
      ...pbx.options.agiEnv,
      [MARK_VAR]: mark,
      ...(offset ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${CLOCK_SHIFT}`.trim(), PBX_CLOCK_OFFSET_MS: String(offset) } : {}),
    },
    env,
    side: channelSide(pbx, chan, verbose),
    dead: startedDead,
    killAfterMs: 30_000,
    afterCommand: (count, p) => pbx.onAgiCommand?.(chan, p.session.transcript.commands[count - 1], count),
  });
  let hungUpDuring = false;
  if (!startedDead) {
    chan.onHangupHook = () => {
      if (proc.talking()) hungUpDuring = true;
      proc.hangup(!falsy(chan.getVar('AGISIGHUP')));
    };
    if (chan.hungUp) chan.onHangupHook();
  }
  const result = await pbx.clock.real(proc.done);
  chan.onHangupHook = undefined;
  // What the script left running goes on without the channel; the run ends when it has.
  if (markedProcesses(mark).length > 0) pbx.track(pbx.clock.real(leftBehindGone(mark)));
  const status = result.spawnError ? 'FAILURE' : hungUpDuring ? 'HANGUP' : result.exitCode === 0 ? 'SUCCESS' : 'FAILURE';
  pbx.agiRuns.push({ channel: chan.name, script, args, env, dead: startedDead, status, lines: proc.session.transcript.lines, exitCode: result.exitCode, stderr: result.stderr });
  if (proc.session.errors.length) throw new PbxError(`AGI ${script} on ${chan.name}: ${proc.session.errors[0].message}`);
  chan.setVar('AGISTATUS', status);
  // A live channel that hung up leaves the dialplan (the rest of the extension is skipped).
  return !startedDead && (hungUpDuring || chan.hungUp) ? -1 : 0;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function runFast(pbx: Pbx, chan: Channel, url: string, args: string[]): Promise<number> {
  const m = /^agi:\/\/([^/:]+)(?::(\d+))?\/?(.*)$/.exec(url);
  if (!m) throw new PbxError(`AGI URL ${url} is not agi://host[:port]/script`);
  const [, host, portText, script] = m;
  const port = Number(portText ?? 4573);
  if (pbx.options.coreFastAgi && host === '127.0.0.1' && port === 4573) return runLocal(pbx, chan, script, args, url, { script });
  const verbose: string[] = [];
  const startedDead = chan.dead;
  const socket = connect({ host, port });
  socket.setEncoding('utf8');
  const session: AgiSession = new AgiSession(channelSide(pbx, chan, verbose), (t) => socket.writable && socket.write(t), startedDead, (count) =>
    pbx.onAgiCommand?.(chan, session.transcript.commands[count - 1], count),
  );
  const connected = await pbx.clock.real(
    new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      socket.once('error', () => resolve(false));
    }),
  );
  if (!connected) {
    pbx.warn(`Connecting to '${host}:${port}' failed for url '${url}'`);
    chan.setVar('AGISTATUS', 'FAILURE');
    return 0;
  }
  let hungUpDuring = false;
  const env = agiEnvironment(chan, url, args, { script });
  session.start(env);
  socket.on('data', (c: string) => session.feed(c));
  if (!startedDead) {
    chan.onHangupHook = () => {
      hungUpDuring = true;
      session.dead = true;
      session.send('HANGUP');
    };
    if (chan.hungUp) chan.onHangupHook();
  }
  await pbx.clock.real(
    new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.once('error', () => resolve());
    }).then(() => session.settled()),
  );
  chan.onHangupHook = undefined;
  const status = hungUpDuring ? 'HANGUP' : 'SUCCESS';
  pbx.agiRuns.push({ channel: chan.name, script: url, args, env, dead: startedDead, status, lines: session.transcript.lines, exitCode: null, stderr: '' });
  if (session.errors.length) throw new PbxError(`FastAGI ${url} on ${chan.name}: ${session.errors[0].message}`);
  chan.setVar('AGISTATUS', status);
  return hungUpDuring ? -1 : 0;
}

const agi: App = async ({ pbx, chan, data }) => {
  const all = standardArgs(data, 128).filter((a): a is string => a !== undefined);
  const [script, ...args] = all;
  if (!script) throw new PbxError('AGI requires an argument (script)');
  if (/^hagi:/.test(script)) throw new PbxError('AGI over hagi:// is not supported by the test PBX');
  if (script.startsWith('agi://')) return runFast(pbx, chan, script, args);
  return runLocal(pbx, chan, script, args, script);
};

registerApps({ AGI: agi });
