// The service's watchdog: a process whose event loop stops is killed, so Asterisk's FastAGI
// connections drop and the calls go on.
import { expect } from 'chai';
import { spawn } from 'child_process';
import { mkdtempSync, readFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

describe('service watchdog', () => {
  it('kills a process whose event loop is stuck, with one line in the log; leaves a live one alone', async function () {
    this.timeout(30_000);
    const log = join(mkdtempSync(join(tmpdir(), 'itd-watchdog-')), 'log');
    const run = (stuck: boolean) => {
      const code =
        `require(${JSON.stringify(join(__dirname, '../../agi-src/service/watchdog.ts'))}).startWatchdog(1500, () => ${JSON.stringify(log)});` +
        (stuck ? 'setTimeout(() => { for (;;) {} }, 200);' : 'setTimeout(() => process.exit(0), 4000);');
      const child = spawn(process.execPath, ['-r', 'tsx/cjs', '-e', code], { stdio: 'ignore' });
      return new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (c, s) => resolve({ code: c, signal: s })));
    };
    const [stuck, live] = await Promise.all([run(true), run(false)]);
    expect(stuck.signal).to.equal('SIGKILL');
    expect(live).to.deep.equal({ code: 0, signal: null });
    expect(readFileSync(log, 'utf8')).to.match(/ERROR .*event loop stuck for \d+ ms; killing the service/);
  });
});
