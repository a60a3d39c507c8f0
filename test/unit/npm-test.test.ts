// `npm test` runs both suites whatever the first one did, and fails when either failed.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import { join } from 'path';

const RUNNER = join(__dirname, '..', '..', 'scripts', 'test-suites.sh');

function run(ts: string, php: string): { code: number | null; out: string } {
  const r = spawnSync('bash', [RUNNER], { env: { ...process.env, ITD_TEST_TS_CMD: ts, ITD_TEST_PHP_CMD: php }, encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('npm test', () => {
  it('runs the PHP suite even when mocha failed, reports both, exits non-zero', () => {
    const r = run('echo mocha-ran; exit 3', 'echo php-ran');
    expect(r.out).to.contain('mocha-ran').and.to.contain('php-ran');
    expect(r.out).to.contain('TypeScript suite FAILED (exit 3); PHP suite passed');
    expect(r.code).to.not.equal(0);
  });
  it('exits non-zero when only the PHP suite failed', () => {
    const r = run('true', 'exit 1');
    expect(r.out).to.contain('TypeScript suite passed; PHP suite FAILED (exit 1)');
    expect(r.code).to.not.equal(0);
  });
  it('exits 0 when both passed', () => {
    expect(run('true', 'true').code).to.equal(0);
  });
});
