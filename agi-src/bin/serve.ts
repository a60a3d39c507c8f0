// `itd_bitrix.js serve`: the resident service as a process (run by FreePBX's pm2 as the asterisk
// user). SIGTERM/SIGINT stop it gracefully, SIGHUP reloads the config now; it exits 0 when stopped,
// 1 when it cannot start or hits an unexpected error (pm2 starts it again).
import { Service } from '../service/service';

export async function serve(opts: { configPath: string; port: number }): Promise<void> {
  const service = new Service(opts);
  const stopAndExit = (reason: string, code: number) => {
    service
      .stop(reason)
      .catch((err) => service.log.error(`service: stop failed: ${(err as Error).message}`))
      .finally(() => process.exit(code));
  };
  process.on('SIGTERM', () => stopAndExit('SIGTERM', 0));
  process.on('SIGINT', () => stopAndExit('SIGINT', 0));
  process.on('SIGHUP', () => void service.reloadConfig());
  process.on('uncaughtException', (err) => {
    service.log.error(`service: unexpected ${err.name}: ${err.message}; restarting`);
    stopAndExit('unexpected error', 1);
  });
  process.on('unhandledRejection', (err) => {
    service.log.error(`service: unexpected rejection: ${(err as Error)?.message ?? String(err)}`);
  });
  try {
    await service.start();
  } catch (err) {
    service.log.error(`service: ${(err as Error).message}`);
    process.stderr.write(`itd_bitrix.js serve: ${(err as Error).message}\n`);
    await service.stop('start failed').catch(() => undefined);
    process.exit(1);
  }
}
