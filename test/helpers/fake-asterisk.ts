// Plays Asterisk's side of a local AGI session against a built executable: the environment
// block, replies as res_agi gives them (quoting rules, 510/511/520, dead mode), SIGHUP.
import { join } from 'path';
import { AgiSide, startAgiProcess } from './agi-session';

export { parseAgiArgs } from './agi-session';

export const AGI_BIN = join(__dirname, '..', '..', 'agi-bin');

export interface AgiRunOptions {
  script: 'itd_bitrix_incoming.js' | 'itd_bitrix_show.js' | 'itd_bitrix_hangup.js' | 'itd_bitrix_outgoing.js';
  args?: string[];
  env?: Record<string, string>;
  /** Channel variables and functions, e.g. {'CHANNEL(linkedid)': '...', MIXMONITOR_FILENAME: '...'}. */
  vars?: Record<string, string>;
  /** Dead channel from the start (h extension, hangup handler). */
  dead?: boolean;
  /** The caller hangs up this many ms after the environment was sent: SIGHUP, then dead mode. */
  hangupAfterMs?: number;
  /** The caller hangs up right after the AGI's Nth command was answered: SIGHUP, then dead mode. */
  hangupAfterCommand?: number;
  configPath?: string;
  node?: string;
  /** Execute the script file itself (its shebang and mode), as Asterisk does. */
  viaShebang?: boolean;
  agiBin?: string;
  processEnv?: NodeJS.ProcessEnv;
  /** Kill the AGI if it runs longer than this (the test fails on it). */
  killAfterMs?: number;
}

export interface AgiRunResult {
  commands: string[];
  vars: Record<string, string>;
  verbose: string[];
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  durationMs: number;
  stderr: string;
  /** Replies that were 510/520: commands Asterisk would not have understood. */
  rejected: string[];
}

export function defaultEnvironment(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    agi_request: 'itd_bitrix_incoming.js',
    agi_channel: 'PJSIP/trunk-00000001',
    agi_language: 'ru',
    agi_type: 'PJSIP',
    agi_uniqueid: '1795694681.5',
    agi_version: '22.10.1',
    agi_callerid: '79161234567',
    agi_calleridname: 'unknown',
    agi_callingpres: '0',
    agi_callingani2: '0',
    agi_callington: '0',
    agi_callingtns: '0',
    agi_dnid: 'unknown',
    agi_rdnis: 'unknown',
    agi_context: 'itd-bitrix-inbound',
    agi_extension: 's',
    agi_priority: '2',
    agi_enhanced: '0.0',
    agi_accountcode: '',
    agi_threadid: '140387888510656',
    ...overrides,
  };
}

function lookup(vars: Record<string, string>, name: string): string | undefined {
  if (name in vars) return vars[name];
  for (const prefix of ['_', '__']) if (prefix + name in vars) return vars[prefix + name];
  return undefined;
}

/** ${NAME} and ${FUNC(arg)} substitution as GET FULL VARIABLE does it (unset → empty). */
export function evaluate(expr: string, vars: Record<string, string>): string {
  let out = '';
  let i = 0;
  while (i < expr.length) {
    if (expr.startsWith('${', i)) {
      // As Asterisk does: the inner ${…} of a name first (SHARED(X,${CHAN})), then the name; values are not substituted again.
      let depth = 1;
      let j = i + 2;
      for (; j < expr.length && depth > 0; j++) {
        if (expr.startsWith('${', j)) {
          depth++;
          j++;
        } else if (expr[j] === '}') depth--;
      }
      const name = evaluate(expr.slice(i + 2, j - 1), vars);
      out += lookup(vars, name) ?? '';
      i = j;
    } else out += expr[i++];
  }
  return out;
}

export function runAgiScript(opts: AgiRunOptions): Promise<AgiRunResult> {
  const vars: Record<string, string> = { ...(opts.vars ?? {}) };
  const env = defaultEnvironment(opts.env);
  env.agi_request = opts.script;
  (opts.args ?? []).forEach((a, i) => (env[`agi_arg_${i + 1}`] = a));
  if (!('CALLERID(num)' in vars)) vars['CALLERID(num)'] = env.agi_callerid === 'unknown' ? '' : env.agi_callerid;
  if (!('CHANNEL(linkedid)' in vars)) vars['CHANNEL(linkedid)'] = env.agi_uniqueid;
  if (!('UNIQUEID' in vars)) vars.UNIQUEID = env.agi_uniqueid;

  const result: AgiRunResult = { commands: [], vars, verbose: [], exitCode: null, signal: null, durationMs: 0, stderr: '', rejected: [] };
  const side: AgiSide = {
    getVariable: (name) => lookup(vars, name),
    evaluate: (expr) => evaluate(expr, vars),
    setVariable: (name, value) => (vars[name] = value),
    verbose: (message) => result.verbose.push(message),
    channelStatus: () => 4,
    answer: () => undefined,
  };
  const scriptPath = join(opts.agiBin ?? AGI_BIN, opts.script);
  const [command, argv] = opts.viaShebang ? [scriptPath, opts.args ?? []] : [opts.node ?? process.execPath, [scriptPath, ...(opts.args ?? [])]];
  const proc = startAgiProcess({
    command,
    argv,
    processEnv: { ...process.env, ...(opts.configPath ? { ITD_BITRIX_CONFIG: opts.configPath } : {}), ...opts.processEnv },
    env,
    side,
    dead: opts.dead,
    killAfterMs: opts.killAfterMs,
    afterCommand: (count, p) => {
      if (opts.hangupAfterCommand === count) p.hangup(true);
    },
  });
  if (opts.hangupAfterMs !== undefined) setTimeout(() => proc.hangup(true), opts.hangupAfterMs);
  return proc.done.then((r) => {
    const t = proc.session.transcript;
    return { ...result, commands: t.commands, rejected: t.rejected, exitCode: r.exitCode, signal: r.signal, durationMs: r.durationMs, stderr: r.stderr };
  });
}
