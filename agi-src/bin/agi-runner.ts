// What every AGI executable does around its flow: ignore SIGHUP, read the AGI environment, load
// the config, keep the time budget, log problems where an admin sees them, and always exit 0.
import { AgiChannel } from '../agi/channel';
import type { AgiEnvironment } from '../agi/protocol';
import { Config, configSecrets } from '../config/config';
import { loadConfig, resolveConfigPath } from '../config/load';
import { Services } from '../flows/services';
import { Logger } from '../log/logger';
import { parseAgiArgv } from './agi-args';

export interface AgiRun {
  services: Services;
  channel: AgiChannel;
  env: AgiEnvironment;
  /** The first AGI argument (DID or extension), if any. */
  arg: string | undefined;
  configPath: string;
  deadline: number;
  /**
   * The budget does not end the process before `work` has settled (at most MUST_FINISH_MS more):
   * what the PBX told this step is written down before it leaves. Only the hangup step uses it.
   */
  mustFinish(work: Promise<unknown>): void;
}

/** How long a step may overrun its budget to write down what it was told. */
const MUST_FINISH_MS = 20_000;

/** Process start, the moment Asterisk launched us: the budget counts from here. */
const processStart = Date.now() - Math.round(process.uptime() * 1000);

/**
 * `minRunMs`: time the flow gets after start-up even when start-up itself ate the budget (a
 * PBX short of CPU). Only the hangup handler uses it: its caller is gone, and writing down how
 * the call ended matters more than a few hundred milliseconds of the handler.
 */
export function runAgi(tag: string, budgetMs: (config: Config) => number, flow: (run: AgiRun) => Promise<void>, minRunMs = 0): void {
  const log = new Logger(tag);
  let channel: AgiChannel | undefined;
  process.on('SIGHUP', () => channel?.markHungUp());
  process.on('uncaughtException', (err) => {
    log.error(`${tag}: unexpected ${err.name}: ${err.message}`);
    leave(log);
  });
  process.on('unhandledRejection', (err) => {
    log.error(`${tag}: unexpected rejection: ${(err as Error)?.message ?? String(err)}`);
    leave(log);
  });

  const { arg, config: configOption } = parseAgiArgv(process.argv.slice(2));
  const configPath = resolveConfigPath(configOption);
  channel = new AgiChannel({ input: process.stdin, output: process.stdout });
  const ch = channel;

  (async () => {
    const env = await ch.readEnvironment();
    let config: Config;
    try {
      config = loadConfig(configPath);
    } catch (err) {
      log.attachConsole(ch);
      log.error(`${tag}: ${(err as Error).message}; call goes on untouched`);
      return;
    }
    if (!config.enabled) return;
    log.configure({ path: config.logPath, level: config.logLevel, secrets: configSecrets(config) });
    log.attachConsole(ch);
    const deadline = Math.max(processStart + budgetMs(config), Date.now() + minRunMs);
    const unfinished = new Set<Promise<unknown>>();
    const timer = setTimeout(() => {
      const safe = Promise.all([...unfinished]).catch(() => undefined);
      const cap = new Promise((r) => setTimeout(r, MUST_FINISH_MS).unref());
      void Promise.race([safe, cap]).then(() => {
        log.warn(`${tag}: time budget of ${budgetMs(config)} ms used up; leaving, what is left is queued`);
        leave(log, 10);
      });
    }, Math.max(0, deadline - Date.now() - 25));
    timer.unref();
    const mustFinish = (work: Promise<unknown>) => {
      const w = work.catch(() => undefined);
      unfinished.add(w);
      void w.finally(() => unfinished.delete(w));
    };
    const priority = tag === 'hangup' ? 'background' : 'call-path';
    const services = new Services(config, log, Date.now, busyTimeoutMs(tag, deadline - Date.now()), priority);
    try {
      await flow({ services, channel: ch, env, arg, configPath, deadline, mustFinish });
    } catch (err) {
      log.error(`${tag}: ${(err as Error).message}`);
    } finally {
      await services.close();
    }
  })()
    .catch((err) => log.error(`${tag}: ${(err as Error).message}`))
    .finally(() => leave(log));
}

/**
 * How long a statement may wait for another process's write lock. The caller waits for incoming
 * and show, so they keep most of their budget for Bitrix24; the hangup handler's caller is gone
 * and its first job is to write down what the PBX knows, so it may wait almost all of its budget.
 */
function busyTimeoutMs(tag: string, remainingMs: number): number {
  const share = tag === 'hangup' ? remainingMs - 300 : remainingMs / 2;
  return Math.max(100, Math.min(tag === 'hangup' ? 10_000 : 2000, share));
}

let leaving = false;

function leave(log: Logger, graceMs = 150): void {
  if (leaving) return;
  leaving = true;
  process.exitCode = 0;
  log
    .drain(graceMs)
    .catch(() => undefined)
    .finally(() => {
      // Pipe writes are asynchronous: let stdout drain before the process goes.
      if (process.stdout.writableLength === 0) process.exit(0);
      process.stdout.write('', () => process.exit(0));
      setTimeout(() => process.exit(0), Math.min(graceMs, 100)).unref();
    });
}
