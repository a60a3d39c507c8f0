// The resident service's process knobs: the module hands them to pm2, the bench and the tests use
// the same ones, and this Node starts with them.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import { readFileSync } from 'fs';
import { join } from 'path';
import { SERVICE_PROCESS_ENV } from '../helpers/service';

describe('the resident service process', () => {
  it('the bench and the tests start it with the environment the module gives pm2', () => {
    const php = readFileSync(join(__dirname, '..', '..', 'ResidentService.php'), 'utf8');
    const line = /const PROCESS_ENV = \[(.*)\];/.exec(php)?.[1] ?? '';
    const fromPhp = Object.fromEntries([...line.matchAll(/'([A-Z_]+)' => '([^']*)'/g)].map((m) => [m[1], m[2]]));
    expect(fromPhp).to.deep.equal(SERVICE_PROCESS_ENV);
  });

  it('this Node accepts them and caps the young generation', () => {
    // A million live objects: without the cap new space grows to 32 MiB (two 16 MiB semi-spaces).
    const probe = "const a = []; for (let i = 0; i < 1e6; i++) a.push({ i }); console.log(require('v8').getHeapSpaceStatistics().find((x) => x.space_name === 'new_space').space_size)";
    const out = spawnSync(process.execPath, ['-e', probe], { env: { ...process.env, ...SERVICE_PROCESS_ENV }, encoding: 'utf8' });
    expect(out.stderr).to.equal('');
    expect(out.status).to.equal(0);
    expect(Number(out.stdout)).to.be.at.most(2 * 2 ** 20);
  });
});
