// An AGI executable: one step in its own process. Around the shared step runner this adds what
// only a process has: SIGHUP, uncaught errors, the budget counted from process start, and the
// exit, always 0 (a non-zero exit only makes Asterisk log AGISTATUS=FAILURE).
import { AgiChannel } from '../agi/channel';
import { loadConfig, resolveConfigPath } from '../config/load';
import { detachedWorker } from '../flows/hangup';
import { Services } from '../flows/services';
import { detachedCard } from '../flows/show';
import { Logger } from '../log/logger';
import { runStep, StepDefinition, StepHost } from '../steps/runner';

/** Process start, the moment Asterisk launched us: the budget counts from here. */
const processStart = Date.now() - Math.round(process.uptime() * 1000);

export function runAgi(step: StepDefinition): void {
  const log = new Logger(step.name);
  const channel = new AgiChannel({ input: process.stdin, output: process.stdout });
  process.on('SIGHUP', () => channel.markHungUp());
  process.on('uncaughtException', (err) => {
    log.error(`${step.name}: unexpected ${err.name}: ${err.message}`);
    leave(log);
  });
  process.on('unhandledRejection', (err) => {
    log.error(`${step.name}: unexpected rejection: ${(err as Error)?.message ?? String(err)}`);
    leave(log);
  });

  const host: StepHost = {
    configPath: (option) => resolveConfigPath(option),
    config: loadConfig,
    services: (s, config, l, deadline) => new Services(config, l, Date.now, s.busyTimeoutMs(deadline - Date.now()), s.priority),
    completeLater: detachedWorker,
    // Asterisk holds the bridge until this process exits: the card goes out from a detached process.
    deliverLater: detachedCard,
    // Asterisk waits for the process to exit: only the budget ends it early.
    release: (why) => {
      if (why === 'budget') leave(log, 10);
    },
  };
  runStep(step, { channel, log, host, startedAt: processStart, argv: () => process.argv.slice(2) }).finally(() => leave(log));
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
