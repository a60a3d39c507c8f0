// The resident service as pm2 runs it: the BUILT agi-bin/itd_bitrix.js serve, on a free port
// (--port 0; the port is read from its status file), with a test setup's config.
import { ChildProcess, spawn } from 'child_process';
import { join } from 'path';
import { readStatus, ServiceStatus, statusPath } from '../../agi-src/service/status';
import { waitFor } from './calls';
import type { TestSetup } from './config';
import { AGI_BIN } from './fake-asterisk';

/**
 * What the module puts in the environment pm2 starts it with (ResidentService::PROCESS_ENV): the
 * bench and the tests run the service as production does.
 */
export const SERVICE_PROCESS_ENV: Readonly<Record<string, string>> = {
  NODE_OPTIONS: '--max-semi-space-size=1',
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
};

export interface RunningService {
  child: ChildProcess;
  pid: number;
  port: number;
  stderr(): string;
  status(): ServiceStatus | null;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startService(t: TestSetup, processEnv: NodeJS.ProcessEnv = {}, agiBin = AGI_BIN): Promise<RunningService> {
  const child = spawn(process.execPath, [join(agiBin, 'itd_bitrix.js'), 'serve', '--port', '0', '--config', t.configPath], {
    env: { ...process.env, ...SERVICE_PROCESS_ENV, ...processEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const file = statusPath(t.dbPath);
  const pid = child.pid as number;
  await waitFor(() => {
    if (gone) throw new Error(`the service exited before it was online: ${stderr}`);
    const s = readStatus(file);
    return !!s && s.pid === pid && s.state === 'online' && s.port > 0;
  }, 20_000);
  return {
    child,
    pid,
    port: (readStatus(file) as ServiceStatus).port,
    stderr: () => stderr,
    status: () => readStatus(file),
    exited,
    stop: (signal = 'SIGTERM') => {
      if (!gone) child.kill(signal);
      return exited;
    },
  };
}
