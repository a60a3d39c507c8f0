// What every AGI executable does around its flow: ignore SIGHUP, read the AGI environment, load
// the config, keep the time budget, log problems where an admin sees them, and always exit 0.
import { Command } from 'commander';
import { AgiChannel } from '../agi/channel';
import type { AgiEnvironment } from '../agi/protocol';
import { Config, configSecrets } from '../config/config';
import { loadConfig, resolveConfigPath } from '../config/load';
import { Services } from '../flows/services';
import { Logger } from '../log/logger';

export interface AgiRun {
  services: Services;
  channel: AgiChannel;
  env: AgiEnvironment;
  /** The first AGI argument (DID or extension), if any. */
  arg: string | undefined;
  configPath: string;
  deadline: number;
}

/** Process start, the moment Asterisk launched us: the budget counts from here. */
const processStart = Math.round(performance.timeOrigin);

export function runAgi(tag: string, budgetMs: (config: Config) => number, flow: (run: AgiRun) => Promise<void>): void {
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

  const program = new Command()
    .name(tag)
    .argument('[arg]')
    .option('--config <path>', 'config file (else ITD_BITRIX_CONFIG, else /etc/asterisk/itd_bitrix.json)')
    .allowUnknownOption()
    .allowExcessArguments()
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  let arg: string | undefined;
  let configOption: string | undefined;
  try {
    program.parse(process.argv);
    arg = program.args[0];
    configOption = program.opts().config;
  } catch {
    arg = process.argv[2];
  }
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
    const deadline = processStart + budgetMs(config);
    const timer = setTimeout(() => {
      log.warn(`${tag}: time budget of ${budgetMs(config)} ms used up; leaving, what is left is queued`);
      leave(log);
    }, Math.max(0, deadline - Date.now() - 15));
    timer.unref();
    const services = new Services(config, log, Date.now, Math.max(100, Math.min(2000, (deadline - Date.now()) / 2)));
    try {
      await flow({ services, channel: ch, env, arg, configPath, deadline });
    } catch (err) {
      log.error(`${tag}: ${(err as Error).message}`);
    } finally {
      await services.close();
    }
  })()
    .catch((err) => log.error(`${tag}: ${(err as Error).message}`))
    .finally(() => leave(log));
}

let leaving = false;

function leave(log: Logger): void {
  if (leaving) return;
  leaving = true;
  process.exitCode = 0;
  log
    .drain(150)
    .catch(() => undefined)
    .finally(() => {
      // Pipe writes are asynchronous: let stdout drain before the process goes.
      if (process.stdout.writableLength === 0) process.exit(0);
      process.stdout.write('', () => process.exit(0));
      setTimeout(() => process.exit(0), 100).unref();
    });
}
