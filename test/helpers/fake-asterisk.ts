// Plays Asterisk's side of a local AGI session against a built executable: the environment
// block, replies as res_agi gives them (quoting rules, 510/511/520, dead mode), SIGHUP.
import { ChildProcess, spawn } from 'child_process';
import { join } from 'path';

export const AGI_BIN = join(__dirname, '..', '..', 'agi-bin');

export interface AgiRunOptions {
  script: 'itd_bitrix_incoming.js' | 'itd_bitrix_show.js' | 'itd_bitrix_hangup.js';
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

const DEAD_OK = /^(NOOP|VERBOSE|GET VARIABLE|GET FULL VARIABLE|SET VARIABLE|DATABASE (GET|PUT|DEL|DELTREE)|EXEC|ASYNCAGI BREAK)\b/i;

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

/** res_agi's parse_args: spaces/tabs split, "…" groups, backslash escapes the next character. */
export function parseAgiArgs(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inQuote = false;
  let escaped = false;
  let started = false;
  for (const ch of line) {
    if (escaped) {
      cur += ch;
      escaped = false;
      started = true;
      continue;
    }
    if (ch === '\\') {
      escaped = true;
      continue;
    }
    if (ch === '"') {
      inQuote = !inQuote;
      started = true;
      continue;
    }
    if (!inQuote && (ch === ' ' || ch === '\t')) {
      if (started) out.push(cur);
      cur = '';
      started = false;
      continue;
    }
    cur += ch;
    started = true;
  }
  if (started) out.push(cur);
  return out;
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
  let dead = !!opts.dead;
  const started = Date.now();
  const scriptPath = join(opts.agiBin ?? AGI_BIN, opts.script);
  const [command, argv] = opts.viaShebang ? [scriptPath, opts.args ?? []] : [opts.node ?? process.execPath, [scriptPath, ...(opts.args ?? [])]];
  const child: ChildProcess = spawn(command, argv, {
    env: { ...process.env, ...(opts.configPath ? { ITD_BITRIX_CONFIG: opts.configPath } : {}), ...opts.processEnv },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const reply = (text: string) => {
    if (child.stdin && !child.stdin.destroyed) child.stdin.write(`${text}\n`);
  };
  const answer = (line: string): string => {
    const words = parseAgiArgs(line);
    const cmd = words.slice(0, 3).join(' ').toUpperCase();
    if (dead && !DEAD_OK.test(line)) return '511 Command Not Permitted on a dead channel or intercept routine';
    if (cmd.startsWith('GET FULL VARIABLE')) {
      if (words.length !== 4) return '520-Invalid command syntax.  Proper usage follows:\nUsage: GET FULL VARIABLE\n520 End of proper usage.';
      return `200 result=1 (${evaluate(words[3], vars)})`;
    }
    const two = words.slice(0, 2).join(' ').toUpperCase();
    if (two === 'GET VARIABLE') {
      if (words.length !== 3) return '520-Invalid command syntax.  Proper usage follows:\nUsage: GET VARIABLE\n520 End of proper usage.';
      const v = lookup(vars, words[2]);
      return v === undefined ? '200 result=0' : `200 result=1 (${v})`;
    }
    if (two === 'SET VARIABLE') {
      if (words.length !== 4) return '520-Invalid command syntax.  Proper usage follows:\nSets a variable to the current channel.\n520 End of proper usage.';
      vars[words[2]] = words[3];
      return '200 result=1';
    }
    if (words[0]?.toUpperCase() === 'VERBOSE') {
      result.verbose.push(words[1] ?? '');
      return '200 result=1';
    }
    if (words[0]?.toUpperCase() === 'NOOP') return '200 result=0';
    if (two === 'CHANNEL STATUS') return '200 result=4';
    if (words[0]?.toUpperCase() === 'ANSWER') return '200 result=0';
    return '510 Invalid or unknown command';
  };

  let buffer = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      result.commands.push(line);
      const r = answer(line);
      if (/^5(10|20)/.test(r)) result.rejected.push(line);
      reply(r);
      if (opts.hangupAfterCommand === result.commands.length) {
        dead = true;
        child.kill('SIGHUP');
      }
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => (result.stderr += c));
  child.stdin!.on('error', () => undefined);

  const envBlock = Object.entries(env)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
  child.stdin!.write(`${envBlock}\n\n`);

  if (opts.hangupAfterMs !== undefined) {
    setTimeout(() => {
      dead = true;
      child.kill('SIGHUP');
    }, opts.hangupAfterMs);
  }
  const killer = setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs ?? 15_000);
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      result.exitCode = code;
      result.signal = signal;
      result.durationMs = Date.now() - started;
      resolve(result);
    });
  });
}
