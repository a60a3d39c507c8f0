// One call step (incoming, show, outgoing, hangup) around its flow, whatever carries the AGI
// session: read the environment, load the config, keep the time budget, log problems where an
// admin sees them, and never fail the dialplan. The AGI executables (one process per step) and
// the resident service (FastAGI) both run their steps through here.
import type { AgiChannel } from '../agi/channel';
import type { AgiEnvironment } from '../agi/protocol';
import type { CardJob } from '../flows/show';
import type { RequestPriority } from '../bitrix/client';
import { Config, configSecrets } from '../config/config';
import type { Services } from '../flows/services';
import type { Logger } from '../log/logger';
import { parseAgiArgv } from './agi-args';

export type StepName = 'incoming' | 'show' | 'outgoing' | 'hangup';

export interface StepDefinition {
  name: StepName;
  budgetMs(config: Config): number;
  /**
   * Time the flow gets after start-up even when start-up itself ate the budget (a PBX short of
   * CPU). Only the hangup handler uses it: its caller is gone, and writing down how the call
   * ended matters more than a few hundred milliseconds of the handler.
   */
  minRunMs: number;
  /** Whether a caller waits for this step's Bitrix24 requests. */
  priority: RequestPriority;
  /** How long one of its statements may wait for another process's write lock. */
  busyTimeoutMs(remainingMs: number): number;
  flow(run: StepRun): Promise<void>;
}

export interface StepRun {
  services: Services;
  channel: AgiChannel;
  env: AgiEnvironment;
  /** The first AGI argument (DID, extension, `out`), if any. */
  arg: string | undefined;
  configPath: string;
  deadline: number;
  /**
   * The flow needs the channel no more: the caller may go on. FastAGI ends the session here; an
   * AGI process cannot (Asterisk waits for it to exit), so there it changes nothing.
   */
  release(): void;
  /** Finishes the call and attaches its recording once Asterisk has closed the file. */
  completeLater(uniqueid: string): void;
  /** Sends the operator's card after the step has returned (the bridge waits for nothing else). */
  deliverLater(job: CardJob): number | undefined;
  /**
   * The budget does not end the step before `work` has settled (at most MUST_FINISH_MS more):
   * what the PBX told it is written down before it leaves. Only the hangup step uses it.
   */
  mustFinish(work: Promise<unknown>): void;
}

/** How long a step may overrun its budget to write down what it was told. */
export const MUST_FINISH_MS = 20_000;

/** Why the session may end: the flow released it, the budget is used up, or the step is over. */
export type ReleaseReason = 'flow' | 'budget' | 'done';

/** What carries the step: an AGI process or the resident service. */
export interface StepHost {
  /** `--config` of the step's arguments, else the host's own default. */
  configPath(option: string | undefined): string;
  /** Throws a ConfigError when the file cannot be used. */
  config(path: string): Config;
  services(step: StepDefinition, config: Config, log: Logger, deadline: number): Services;
  completeLater(configPath: string): (uniqueid: string) => void;
  /** A detached `itd_bitrix.js card` process, or a task of the resident service; a pid if it has one. */
  deliverLater(configPath: string): (job: CardJob) => number | undefined;
  release(why: ReleaseReason): void;
}

export interface StepSession {
  channel: AgiChannel;
  log: Logger;
  host: StepHost;
  /** When Asterisk started the step: the budget counts from here. */
  startedAt: number;
  /** The step's arguments: argv of an AGI process, agi_arg_N of a FastAGI session. */
  argv(env: AgiEnvironment): string[];
}

/** Runs one step to its end; never rejects. The host's release('done') is the caller's to call. */
export async function runStep(step: StepDefinition, session: StepSession): Promise<void> {
  const { channel, log, host } = session;
  let timer: NodeJS.Timeout | undefined;
  try {
    const env = await channel.readEnvironment();
    const { arg, config: option } = parseAgiArgv(session.argv(env));
    const configPath = host.configPath(option);
    let config: Config;
    try {
      config = host.config(configPath);
    } catch (err) {
      log.attachConsole(channel);
      log.error(`${step.name}: ${(err as Error).message}; call goes on untouched`);
      return;
    }
    if (!config.enabled) return;
    log.configure({ path: config.logPath, level: config.logLevel, secrets: configSecrets(config) });
    log.attachConsole(channel);
    const budget = step.budgetMs(config);
    const deadline = Math.max(session.startedAt + budget, Date.now() + step.minRunMs);
    const unfinished = new Set<Promise<unknown>>();
    timer = setTimeout(() => {
      const safe = Promise.all([...unfinished]).catch(() => undefined);
      const cap = new Promise((r) => setTimeout(r, MUST_FINISH_MS).unref());
      void Promise.race([safe, cap]).then(() => {
        log.warn(`${step.name}: time budget of ${budget} ms used up; leaving, what is left is queued`);
        host.release('budget');
      });
    }, Math.max(0, deadline - Date.now() - 25));
    timer.unref();
    const mustFinish = (work: Promise<unknown>) => {
      const w = work.catch(() => undefined);
      unfinished.add(w);
      void w.finally(() => unfinished.delete(w));
    };
    const services = host.services(step, config, log, deadline);
    try {
      await step.flow({
        services,
        channel,
        env,
        arg,
        configPath,
        deadline,
        release: () => host.release('flow'),
        completeLater: host.completeLater(configPath),
        deliverLater: host.deliverLater(configPath),
        mustFinish,
      });
    } catch (err) {
      log.error(`${step.name}: ${(err as Error).message}`);
    } finally {
      await services.close();
    }
  } catch (err) {
    log.error(`${step.name}: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}
