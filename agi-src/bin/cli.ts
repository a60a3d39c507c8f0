// itd_bitrix.js: the operator CLI used by the GUI, the scheduled retry and admins.
// Output goes to stdout here (this is not an AGI); --json for machines, plain lines for people.
import { Command, Option } from 'commander';
import { readFileSync } from 'fs';
import { BitrixError } from '../bitrix/errors';
import { OAuthSession } from '../bitrix/oauth';
import { Config, configSecrets } from '../config/config';
import { loadConfig, resolveConfigPath } from '../config/load';
import { check } from '../flows/check';
import { completeAfterRecording } from '../flows/complete';
import { retry } from '../flows/retry';
import { Services } from '../flows/services';
import { Logger } from '../log/logger';
import { describeService, readStatus, statusPath } from '../service/status';
import { DEFAULT_PORT } from '../service/service';
import { DbTokenStore } from '../store/tokens';
import { serve } from './serve';

interface GlobalOptions {
  config?: string;
  json?: boolean;
}

function print(json: boolean | undefined, data: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(data)}\n` : `${text}\n`);
}

const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : null);

async function withServices<T>(cmd: Command, tag: string, fn: (s: Services, config: Config, path: string) => Promise<T>): Promise<T> {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  const path = resolveConfigPath(opts.config);
  const log = new Logger(tag);
  const config = loadConfig(path);
  log.configure({ path: config.logPath, level: config.logLevel, secrets: configSecrets(config) });
  const services = new Services(config, log);
  try {
    return await fn(services, config, path);
  } finally {
    await services.close();
  }
}

export function makeProgram(): Command {
  const program = new Command()
    .name('itd_bitrix.js')
    .description('itd-bitrix operator CLI: connection check, outbox retry, status, recent calls')
    .addOption(new Option('--config <path>', 'config file').env('ITD_BITRIX_CONFIG'))
    .option('--json', 'machine-readable output');

  program
    .command('validate-config')
    .description('check the config file against the schema; exit 1 when invalid')
    .action((_o, cmd: Command) => {
      const path = resolveConfigPath(cmd.optsWithGlobals<GlobalOptions>().config);
      try {
        loadConfig(path);
        print(cmd.optsWithGlobals<GlobalOptions>().json, { ok: true }, `config ${path}: valid`);
      } catch (err) {
        print(cmd.optsWithGlobals<GlobalOptions>().json, { ok: false, message: (err as Error).message }, (err as Error).message);
        process.exitCode = 1;
      }
    });

  program
    .command('check')
    .description('live test of the Bitrix24 connection')
    .action(async (_o, cmd: Command) => {
      const json = cmd.optsWithGlobals<GlobalOptions>().json;
      let report;
      try {
        report = await withServices(cmd, 'check', (s) => check(s, Date.now() + 10_000));
      } catch (err) {
        report = { ok: false, checks: [{ id: 'config', ok: false, message: (err as Error).message }] };
      }
      print(json, report, report.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.id}: ${c.message}`).join('\n'));
    });

  program
    .command('retry')
    .description('send what calls still owe Bitrix24 (scheduled every minute)')
    .option('--max-seconds <n>', 'stop starting new work after this long', '50')
    .action(async (o: { maxSeconds: string }, cmd: Command) => {
      const report = await withServices(cmd, 'retry', (s) => retry(s, Date.now() + Number(o.maxSeconds) * 1000));
      print(cmd.optsWithGlobals<GlobalOptions>().json, report, `calls ${report.calls}, steps done ${report.done}, failed ${report.failed}, gave up ${report.gaveUp}`);
    });

  program
    .command('complete <uniqueid>')
    .description('finish one call and attach its recording once Asterisk has closed the file (started by the hangup AGI)')
    .action(async (uniqueid: string, _o, cmd: Command) => {
      await withServices(cmd, 'complete', (s) => completeAfterRecording(s, uniqueid));
    });

  program
    .command('serve')
    .description('resident service: incoming, show and hangup over FastAGI on 127.0.0.1 (the AGI executables stay the fallback)')
    .option('--port <n>', 'FastAGI port (0: any free port, see the status file)', String(DEFAULT_PORT))
    .action(async (o: { port: string }, cmd: Command) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a TCP port, not ${JSON.stringify(o.port)}`);
      await serve({ configPath: resolveConfigPath(cmd.optsWithGlobals<GlobalOptions>().config), port });
    });

  program
    .command('status')
    .description('last exchange with Bitrix24 and the outbox')
    .action(async (_o, cmd: Command) => {
      const data = await withServices(cmd, 'status', async (s, config) => {
        const { health, outbox } = await s.stores();
        const h = await health.read();
        const o = await outbox.summary();
        return {
          lastSuccessAt: iso(h.last_success_at),
          lastErrorAt: iso(h.last_error_at),
          lastError: h.last_error,
          outbox: { pending: o.pending + o.blocked, blocked: o.blocked, failed: o.failed, oldestAt: iso(o.oldestAt) },
          service: describeService(readStatus(statusPath(config.databasePath))),
        };
      });
      const svc = data.service;
      print(
        cmd.optsWithGlobals<GlobalOptions>().json,
        data,
        `last success ${data.lastSuccessAt ?? 'never'}; last error ${data.lastErrorAt ?? 'never'} ${data.lastError ?? ''}\n` +
          `outbox: ${data.outbox.pending} pending (${data.outbox.blocked} waiting for credentials), ${data.outbox.failed} failed, oldest ${data.outbox.oldestAt ?? '-'}\n` +
          ('pid' in svc
            ? `service: ${svc.online ? 'online' : `offline (${svc.state})`}, pid ${svc.pid}, port ${svc.port}, up ${svc.uptimeSec} s since ${svc.startedAt}, ` +
              `${svc.served.total} step(s) served, ${svc.memory.rssMB} MB, heartbeat ${svc.heartbeatAgeSec} s ago`
            : 'service: not running (the AGI executables serve the calls)'),
      );
    });

  program
    .command('calls')
    .description('recent calls')
    .option('--limit <n>', 'how many', '50')
    .action(async (o: { limit: string }, cmd: Command) => {
      const rows = await withServices(cmd, 'calls', async (s) => (await s.stores()).calls.recent(Math.max(1, Math.min(1000, Number(o.limit) || 50))));
      const calls = rows.map((r) => ({
        uniqueid: r.uniqueid,
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
      }));
      print(
        cmd.optsWithGlobals<GlobalOptions>().json,
        { calls },
        calls.map((c) => `${c.startedAt} ${c.callerNumber} → ${c.did} ${c.state} ${c.status ?? ''} ${c.operatorExtension ?? ''}`).join('\n'),
      );
    });

  program
    .command('oauth-exchange')
    .description('exchange the authorization code from the Connect flow (read from stdin) for tokens')
    .action(async (_o, cmd: Command) => {
      const json = cmd.optsWithGlobals<GlobalOptions>().json;
      const code = readFileSync(0, 'utf8').trim().split(/\s+/)[0] ?? '';
      try {
        await withServices(cmd, 'oauth', async (s, config) => {
          if (!config.app) throw new Error('no local application is configured');
          if (!/^[A-Za-z0-9._~-]{4,256}$/.test(code)) throw new Error('the authorization code is missing or malformed');
          const { db, outbox } = await s.stores();
          const session = new OAuthSession(
            { clientId: config.app.clientId, clientSecret: config.app.clientSecret, oauthUrl: config.oauthUrl },
            new DbTokenStore(db),
          );
          await session.exchangeCode(code, Date.now() + 15_000);
          await outbox.unblock(Date.now());
        });
        print(json, { ok: true, message: 'connected' }, 'connected');
      } catch (err) {
        const message = err instanceof BitrixError ? `the portal refused the code: ${err.description || err.code}` : (err as Error).message;
        print(json, { ok: false, message }, message);
      }
    });

  return program;
}

makeProgram()
  .parseAsync(process.argv)
  .catch((err) => {
    process.stderr.write(`itd_bitrix.js: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
