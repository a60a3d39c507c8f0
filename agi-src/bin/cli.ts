// itd_bitrix.js: the operator CLI used by the GUI, the scheduled retry and admins.
// Output goes to stdout here (this is not an AGI); --json for machines, plain lines for people.
// Exit codes: 0 done; 1 the command ran and failed (check failed, config invalid, code refused,
// database unusable …); 2 usage error. With --json an error is {"ok": false, "error": "…"}.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'fs';
import { BitrixError } from '../bitrix/errors';
import { Config, configSecrets } from '../config/config';
import { ConfigError, readConfig, resolveConfigPath } from '../config/load';
import { claimFor, fileOwner } from '../config/owner';
import { check } from '../flows/check';
import { completeAfterRecording } from '../flows/complete';
import { retry, RetryReport } from '../flows/retry';
import { Services } from '../flows/services';
import { CARD_BUDGET_MS, deliverCard } from '../flows/show';
import { Logger } from '../log/logger';
import { redact } from '../log/redact';
import { isoWithOffset } from '../logic/time';
import { DEFAULT_PORT } from '../service/service';
import { describeService, readStatus, ServiceView, statusPath } from '../service/status';
import type { CallRow } from '../store/calls';
import type { Priority } from '../store/gate';
import type { OutboxSummary, StateCounts } from '../store/outbox';
import { serve } from './serve';

interface GlobalOptions {
  config?: string;
  json?: boolean;
}

/** What a command prints: `data` with --json, `text` for people; `ok: false` exits 1. */
interface Outcome {
  data: object;
  text: string;
  ok?: boolean;
}

/** A failure with more to say in JSON than its message (e.g. the checks that ran). */
class CliError extends Error {
  constructor(message: string, readonly data: object = {}) {
    super(message);
  }
}

/** The default of `retry --max-seconds`: FreePBX's job runner waits for us before other modules' jobs. */
export const RETRY_MAX_SECONDS = 20;

const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : null);
/** Local wall-clock time for people: "2026-12-02 10:03:10". */
const local = (ms: number | null | undefined) => (ms ? isoWithOffset(ms).slice(0, 19).replace('T', ' ') : '-');

let secrets: string[] = [];

function wholeNumber(min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    }
    return Number(value);
  };
}

/** Wraps a command: prints its outcome, or its error (stderr, or JSON on stdout) with exit code 1. */
function action(fn: (cmd: Command, args: string[]) => Promise<Outcome>): (...args: unknown[]) => Promise<void> {
  return async (...args) => {
    const cmd = args[args.length - 1] as Command;
    const json = !!cmd.optsWithGlobals<GlobalOptions>().json;
    try {
      const out = await fn(cmd, args.slice(0, -2) as string[]);
      process.stdout.write(json ? `${JSON.stringify(out.data)}\n` : out.text ? `${out.text}\n` : '');
      if (out.ok === false) process.exitCode = 1;
    } catch (err) {
      const message = redact(err instanceof Error ? err.message : String(err), secrets);
      if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: message, ...(err instanceof CliError ? err.data : {}) })}\n`);
      else process.stderr.write(`itd_bitrix.js ${cmd.name()}: ${message}\n`);
      process.exitCode = 1;
    }
  };
}

async function withServices<T>(
  cmd: Command,
  tag: string,
  fn: (s: Services, config: Config, warnings: string[]) => Promise<T>,
  priority: Priority = 'background',
): Promise<T> {
  const path = resolveConfigPath(cmd.optsWithGlobals<GlobalOptions>().config);
  const { config, warnings } = readConfig(path);
  secrets = configSecrets(config);
  // Run as root (admins do), what this creates must still belong to the user the AGIs run as.
  const claim = claimFor(fileOwner(path));
  const log = new Logger(tag);
  log.configure({ path: config.logPath, level: config.logLevel, secrets, claim });
  const services = new Services(config, log, Date.now, 2000, priority, { claim });
  try {
    return await fn(services, config, warnings);
  } finally {
    await services.close();
  }
}

/** Columns padded to their widest cell, two spaces apart; counts (`right`) right-aligned. */
function table(rows: string[][], right: number[] = []): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) => r.map((cell, i) => (right.includes(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd())
    .join('\n');
}

export function makeProgram(): Command {
  const wantsJson = process.argv.includes('--json');
  const program = new Command()
    .name('itd_bitrix.js')
    .description('itd-bitrix operator CLI: connection check, outbox retry, status, recent calls')
    .addOption(new Option('--config <path>', 'config file').env('ITD_BITRIX_CONFIG'))
    .option('--json', 'machine-readable output')
    // Usage errors become exit code 2 (and JSON with --json) in main(); set before the subcommands inherit it.
    .exitOverride()
    .configureOutput({ outputError: (text, write) => (wantsJson ? undefined : write(text)) });

  program
    .command('validate-config')
    .description('check the config file against the schema; exit 1 when invalid')
    .action(
      action(async (cmd) => {
        const path = resolveConfigPath(cmd.optsWithGlobals<GlobalOptions>().config);
        const { warnings } = readConfig(path);
        return { data: { ok: true, warnings }, text: [`config ${path}: valid`, ...warnings.map((w) => `warning: ${w}`)].join('\n') };
      }),
    );

  program
    .command('check')
    .description('live test of the Bitrix24 connection; exit 1 when a check fails')
    .action(
      action(async (cmd) => {
        let report;
        try {
          report = await withServices(cmd, 'check', (s, _c, warnings) => check(s, Date.now() + 10_000, warnings));
        } catch (err) {
          const message = redact((err as Error).message, secrets);
          throw new CliError(message, { checks: [{ id: err instanceof ConfigError ? 'config' : 'run', ok: false, message }], warnings: [] });
        }
        return { data: report, text: report.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.id}: ${c.message}`).join('\n'), ok: report.ok };
      }),
    );

  program
    .command('retry')
    .description('send what calls still owe Bitrix24 (scheduled every minute; one run at a time)')
    .addOption(
      new Option('--max-seconds <n>', 'start no new work after this long').argParser(wholeNumber(1, 3600)).default(RETRY_MAX_SECONDS),
    )
    .action(
      action(async (cmd) => {
        const maxSeconds = cmd.opts<{ maxSeconds: number }>().maxSeconds;
        const report = await withServices(cmd, 'retry', (s) => retry(s, Date.now() + maxSeconds * 1000));
        return { data: retryData(report), text: retryText(report) };
      }),
    );

  program
    .command('card <uniqueid> <extension>')
    .description('record an answer and pop the call card for the operator (started by the show AGI, which does not wait for it)')
    .addOption(new Option('--answered-at <ms>', 'the answer time the dialplan recorded (epoch ms)').argParser(wholeNumber(0, Number.MAX_SAFE_INTEGER)))
    .option('--call-id <id>', 'the Bitrix24 CALL_ID the channel carried')
    .option('--recording <path>', "the answering channel's MixMonitor file")
    .option('--transferred', 'the call was transferred to this operator: the card is hidden for the others')
    .action(
      action(async (cmd, [uniqueid, extension]) => {
        const o = cmd.opts<{ answeredAt?: number; callId?: string; recording?: string; transferred?: boolean }>();
        const job = { uniqueid, extension, answeredAt: o.answeredAt ?? null, callId: o.callId ?? '', recording: o.recording ?? '', transferred: !!o.transferred };
        await withServices(cmd, 'show', (s) => deliverCard(s, job, Date.now() + CARD_BUDGET_MS), 'call-path');
        return { data: { ok: true }, text: '' };
      }),
    );

  program
    .command('complete <uniqueid>')
    .description('finish one call and attach its recording once Asterisk has closed the file (started by the hangup AGI)')
    .action(
      action(async (cmd, [uniqueid]) => {
        await withServices(cmd, 'complete', (s) => completeAfterRecording(s, uniqueid));
        return { data: { ok: true }, text: '' };
      }),
    );

  program
    .command('serve')
    .description('resident service: the call steps over FastAGI on 127.0.0.1 (the AGI executables stay the fallback); runs until SIGTERM')
    .addOption(new Option('--port <n>', 'FastAGI port (0: any free port, see the status file)').argParser(wholeNumber(0, 65535)).default(DEFAULT_PORT))
    .action(async (o: { port: number }, cmd: Command) => {
      await serve({ configPath: resolveConfigPath(cmd.optsWithGlobals<GlobalOptions>().config), port: o.port });
    });

  program
    .command('status')
    .description('last exchange with Bitrix24, what the outbox holds, and the resident service')
    .action(
      action(async (cmd) => {
        const { h, o, giveUpHours, service } = await withServices(cmd, 'status', async (s, config) => {
          const { health, outbox } = await s.stores();
          return {
            h: await health.read(),
            o: await outbox.summary(Date.now()),
            giveUpHours: config.retryGiveUpHours,
            service: describeService(readStatus(statusPath(config.databasePath))),
          };
        });
        const data = {
          lastSuccessAt: iso(h.last_success_at),
          lastErrorAt: iso(h.last_error_at),
          lastError: h.last_error,
          redirectHost: h.redirect_host,
          outbox: statusOutbox(o),
          service,
        };
        return { data, text: `${statusText(data.lastError, h, o, giveUpHours, data.redirectHost)}\n\n${serviceText(service)}` };
      }),
    );

  program
    .command('calls')
    .description('recent calls, newest first')
    .addOption(new Option('--limit <n>', 'how many').argParser(wholeNumber(1, 1000)).default(50))
    .action(
      action(async (cmd) => {
        const limit = cmd.opts<{ limit: number }>().limit;
        const rows = await withServices(cmd, 'calls', async (s) => (await s.stores()).calls.recent(limit));
        return { data: { calls: rows.map(callData) }, text: callsText(rows) };
      }),
    );

  program
    .command('oauth-exchange')
    .description('exchange the authorization code from the Connect flow (read from stdin) for tokens')
    .action(
      action(async (cmd) => {
        const code = readFileSync(0, 'utf8').trim().split(/\s+/)[0] ?? '';
        try {
          await withServices(cmd, 'oauth', async (s, config) => {
            if (!config.app) throw new Error('no local application is configured');
            if (!/^[A-Za-z0-9._~-]{4,256}$/.test(code)) throw new Error('the authorization code is missing or malformed');
            const { outbox } = await s.stores();
            await (await s.oauthSession()).exchangeCode(code, Date.now() + 15_000);
            await outbox.unblock(Date.now());
          });
        } catch (err) {
          const message = redact(err instanceof BitrixError ? `the portal refused the code: ${err.description || err.code}` : (err as Error).message, secrets);
          // `message` as well: the settings page of earlier versions reads it.
          throw new CliError(message, { message });
        }
        return { data: { ok: true, message: 'connected' }, text: 'connected' };
      }),
    );

  return program;
}

function retryData(r: RetryReport): object {
  return { ...r, lockedUntil: iso(r.lockedUntil), nextAttemptAt: iso(r.nextAttemptAt) };
}

function retryText(r: RetryReport): string {
  if (!r.ran) return `another retry run is at work (until ${local(r.lockedUntil)}); nothing done`;
  return [
    `calls: ${r.calls.tried} tried, ${r.calls.done} done, ${r.calls.waiting} waiting, ${r.calls.held} held`,
    `steps: ${r.steps.sent} sent, ${r.steps.waiting} waiting, ${r.steps.held} held`,
    `next attempt: ${local(r.nextAttemptAt)}`,
    `given up now: ${r.givenUp.calls} calls, ${r.givenUp.steps} steps`,
    `hangups from the journal: ${r.replayed}; lost calls finished: ${r.lost}; due again after new credentials: ${r.unblocked}`,
  ].join('\n');
}

/** `status --json`'s outbox: the four fields the settings page reads (steps), then the rest. */
function statusOutbox(o: OutboxSummary): object {
  return {
    pending: o.steps.due + o.steps.waiting + o.steps.held,
    blocked: o.steps.held,
    failed: o.steps.givenUp,
    oldestAt: iso(o.oldestAt),
    steps: o.steps,
    calls: o.calls,
    nextAttemptAt: iso(o.nextAttemptAt),
    waiting: o.waiting.map((w) => ({ ...w, nextAttemptAt: iso(w.nextAttemptAt) })),
  };
}

function statusText(
  lastError: string | null,
  h: { last_success_at: number | null; last_error_at: number | null },
  o: OutboxSummary,
  giveUpHours: number,
  redirectHost: string | null,
): string {
  const row = (label: string, k: keyof StateCounts, note: string) => [label, String(o.calls[k]), String(o.steps[k]), note];
  const lines = [
    `Bitrix24: last success ${h.last_success_at ? local(h.last_success_at) : 'never'}; last error ${h.last_error_at ? `${local(h.last_error_at)} (${lastError ?? ''})` : 'never'}`,
    ...(redirectHost ? [`The portal redirects to ${redirectHost}: put its new address in the module settings.`] : []),
    '',
    table([
      ['OUTBOX', 'CALLS', 'STEPS', ''],
      row('due', 'due', 'sent by the next retry run'),
      row('waiting', 'waiting', o.nextAttemptAt ? `next attempt ${local(o.nextAttemptAt)}` : ''),
      row('held', 'held', 'until the credentials or the portal address change'),
      row('given up', 'givenUp', `older than ${giveUpHours} h; not sent`),
    ], [1, 2]),
  ];
  if (o.waiting.length) {
    lines.push('', 'Waiting:');
    lines.push(
      table([
        ['UNIQUEID', 'STEP', 'ATTEMPTS', 'NEXT ATTEMPT', 'LAST ERROR'],
        ...o.waiting.map((w) => [w.uniqueid, w.step, String(w.attempts), local(w.nextAttemptAt), (w.lastError ?? '-').slice(0, 80)]),
      ]),
    );
  }
  return lines.join('\n');
}

function serviceText(svc: ServiceView): string {
  if (!('pid' in svc)) return 'Service: not running (the AGI executables serve the calls)';
  const state = svc.online ? 'online' : `offline (${svc.state})`;
  return (
    `Service: ${state}, pid ${svc.pid}, port ${svc.port}, up ${svc.uptimeSec} s since ${local(Date.parse(svc.startedAt))}; ` +
    `${svc.served.total} step(s) served, ${svc.memory.rssMB} MB, heartbeat ${svc.heartbeatAgeSec} s ago`
  );
}

function callData(r: CallRow): object {
  return {
    uniqueid: r.uniqueid,
    /** 'out': an outgoing call; callerNumber is then the number dialled and did the route. */
    direction: r.type === 'out' ? 'out' : 'in',
    callerNumber: r.caller_number,
    did: r.did,
    bitrixCallId: r.bitrix_call_id,
    crmName: r.crm_name,
    startedAt: iso(r.started_at),
    answeredAt: iso(r.answered_at),
    operatorExtension: r.operator_ext,
    status: r.finish_status,
    duration: r.finish_duration,
    finishedAt: iso(r.finished_at),
    state: r.state,
  };
}

function callsText(rows: CallRow[]): string {
  if (!rows.length) return 'no calls yet';
  return table([
    ['STARTED', 'DIR', 'NUMBER', 'DID/ROUTE', 'STATE', 'RESULT', 'TALK', 'OPERATOR', 'UNIQUEID', 'BITRIX24 CALL'],
    ...rows.map((r) => [
      local(r.started_at),
      r.type === 'out' ? 'out' : 'in',
      r.caller_number,
      r.did,
      r.state === 'failed' ? 'given up' : r.state,
      r.finish_status ?? '-',
      r.finish_duration === null ? '-' : `${r.finish_duration}s`,
      r.operator_ext ?? '-',
      r.uniqueid,
      r.bitrix_call_id ?? '-',
    ]),
  ]);
}

makeProgram()
  .parseAsync(process.argv)
  .catch((err) => {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return; // --help, --version
      if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ ok: false, error: err.message.replace(/^error: /, '') })}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`itd_bitrix.js: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
