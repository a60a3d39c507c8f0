// Runs the built operator CLI against a test setup's config.
import { execFile } from 'child_process';
import { join } from 'path';
import type { TestSetup } from './config';
import { AGI_BIN } from './fake-asterisk';

export function runCli(t: TestSetup, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [join(AGI_BIN, 'itd_bitrix.js'), ...args, '--config', t.configPath], (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input ?? '');
  });
}
