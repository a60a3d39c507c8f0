// install.sh against a fake fwconsole (test/dist/fixtures/fwconsole) and a loopback repository.
import { expect } from 'chai';
import { execFile } from 'child_process';
import fs from 'fs';
import path from 'path';
import {
  FIXTURES, INSTALL_SH, PackageRun, RepoServer, makeFixtureRoot, runPackage, serveDir, sharedPackage, tmpDir,
} from './helpers';

const ORIGINAL_REPO = 'http://mirror1.freepbx.org,http://mirror2.freepbx.org';

interface Sandbox { state: string; modules: string; agi: string }
interface Result { code: number; stdout: string; stderr: string; calls: string[]; moduleRepo: string }

function sandbox(): Sandbox {
  const base = tmpDir('inst');
  const sb = { state: path.join(base, 'state'), modules: path.join(base, 'modules'), agi: path.join(base, 'agi-bin') };
  fs.mkdirSync(sb.state);
  fs.mkdirSync(sb.modules);
  fs.writeFileSync(path.join(sb.state, 'setting.MODULE_REPO'), ORIGINAL_REPO);
  fs.writeFileSync(path.join(sb.state, 'setting.ASTAGIDIR'), sb.agi);
  return sb;
}

function runInstall(sb: Sandbox, args: string[], env: Record<string, string> = {}): Promise<Result> {
  const fullEnv: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${FIXTURES}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    FAKE_FW_STATE: sb.state,
    ITD_BITRIX_MODULES_DIR: sb.modules,
    ITD_BITRIX_SKIP_SU: '1',
    ITD_BITRIX_ALLOW_NONROOT: '1',
    ...env,
  };
  delete fullEnv.ITD_BITRIX_REPO;
  if (env.ITD_BITRIX_REPO) fullEnv.ITD_BITRIX_REPO = env.ITD_BITRIX_REPO;
  return new Promise((resolve) => {
    execFile('bash', [INSTALL_SH, ...args], { env: fullEnv, timeout: 60000 }, (err, stdout, stderr) => {
      const log = path.join(sb.state, 'calls.log');
      resolve({
        code: err ? (typeof err.code === 'number' ? err.code : -1) : 0,
        stdout,
        stderr,
        calls: fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : [],
        moduleRepo: fs.readFileSync(path.join(sb.state, 'setting.MODULE_REPO'), 'utf8'),
      });
    });
  });
}

const show = (r: Result) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}\n--- calls\n${r.calls.join('\n')}`;
const writes = (r: Result) => r.calls.filter((c) => /^setting MODULE_REPO \S/.test(c));

describe('dist: install.sh with a fake fwconsole', function () {
  this.timeout(120000);
  let pkg: PackageRun;
  let repo: RepoServer;
  let oldTarball: string;

  before(async function () {
    fs.chmodSync(path.join(FIXTURES, 'fwconsole'), 0o755); // in case a checkout lost the mode
    pkg = sharedPackage();
    repo = await serveDir(path.join(pkg.out, 'repo'));
    oldTarball = runPackage(makeFixtureRoot('17.0.0'), tmpDir('old')).tgzPath;
  });
  after(async function () { if (repo) await repo.close(); });

  it('--help prints usage; an unknown option exits 2', async function () {
    const sb = sandbox();
    const h = await runInstall(sb, ['--help']);
    expect(h.code, show(h)).to.equal(0);
    expect(h.stdout).to.include('Usage:').and.include('--tarball').and.include('--repo');
    const bad = await runInstall(sb, ['--bogus']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('unknown argument');
  });

  it('installs from the repository, restores MODULE_REPO, reloads and says what next', async function () {
    const sb = sandbox();
    const r = await runInstall(sb, [], { ITD_BITRIX_REPO: repo.url });
    expect(r.code, show(r)).to.equal(0);
    expect(r.moduleRepo).to.equal(ORIGINAL_REPO);
    const idx = (c: string) => r.calls.indexOf(c);
    for (const c of ['setting MODULE_REPO', `setting MODULE_REPO ${repo.url}`, 'ma refreshsignatures', 'ma downloadinstall bitrix',
      `setting MODULE_REPO ${ORIGINAL_REPO}`, 'chown', 'reload']) {
      expect(idx(c), `${c}\n${show(r)}`).to.be.at.least(0);
    }
    expect(idx(`setting MODULE_REPO ${repo.url}`)).to.be.lessThan(idx('ma refreshsignatures'));
    expect(idx('ma refreshsignatures')).to.be.lessThan(idx('ma downloadinstall bitrix'));
    expect(idx('ma downloadinstall bitrix')).to.be.lessThan(idx(`setting MODULE_REPO ${ORIGINAL_REPO}`));
    expect(idx(`setting MODULE_REPO ${ORIGINAL_REPO}`)).to.be.lessThan(idx('chown'));
    expect(idx('chown')).to.be.lessThan(idx('reload'));
    expect(r.stdout).to.include(`installed bitrix ${pkg.version}`).and.include('Connectivity -> Bitrix24');
    expect(fs.statSync(path.join(sb.agi, 'itd_bitrix_incoming.js')).mode & 0o111).to.not.equal(0);
    expect(repo.requests.some((q) => q.method === 'POST' && q.path === '/all-17.0.xml')).to.equal(true);
    expect(repo.requests.some((q) => q.method === 'POST' && q.path === `/modules/bitrix/bitrix-${pkg.version}.tgz`)).to.equal(true);
  });

  it('a second run upgrades (and a third reinstalls the same version)', async function () {
    const sb = sandbox();
    const first = await runInstall(sb, ['--tarball', oldTarball]);
    expect(first.code, show(first)).to.equal(0);
    expect(first.stdout).to.include('installed bitrix 17.0.0');
    const second = await runInstall(sb, ['--repo', repo.url]);
    expect(second.code, show(second)).to.equal(0);
    expect(second.stdout).to.include(`upgraded bitrix from 17.0.0 to ${pkg.version}`);
    expect(second.moduleRepo).to.equal(ORIGINAL_REPO);
    const third = await runInstall(sb, ['--repo', repo.url]);
    expect(third.code, show(third)).to.equal(0);
    expect(third.stdout).to.include(`reinstalled bitrix ${pkg.version}`);
    expect(third.moduleRepo).to.equal(ORIGINAL_REPO);
  });

  const failures: { env: Record<string, string>; code: number; step: string }[] = [
    { env: { FAKE_FW_FAIL: 'setting MODULE_REPO' }, code: 20, step: 'set MODULE_REPO' },
    { env: { FAKE_FW_FAIL: 'setting MODULE_REPO http://127.0.0.1' }, code: 20, step: 'set MODULE_REPO' },
    { env: { FAKE_FW_FAIL: 'ma refreshsignatures' }, code: 21, step: 'fwconsole ma refreshsignatures' },
    { env: { FAKE_FW_FAIL: 'ma downloadinstall' }, code: 22, step: 'fwconsole ma downloadinstall bitrix' },
    { env: { FAKE_FW_NOOP: 'ma downloadinstall' }, code: 26, step: 'verify module' },
    { env: { FAKE_FW_FAIL: 'ma list' }, code: 26, step: 'verify module' },
    { env: { FAKE_FW_FAIL: 'chown' }, code: 31, step: 'fwconsole chown' },
    { env: { FAKE_FW_FAIL: 'reload' }, code: 32, step: 'fwconsole reload' },
    { env: { FAKE_FW_NOOP: 'reload' }, code: 33, step: 'verify AGI scripts' },
  ];
  for (const f of failures) {
    const how = 'FAKE_FW_NOOP' in f.env ? 'a silently skipped' : 'a failing';
    it(`${how} "${Object.values(f.env)[0]}" exits ${f.code}, names "${f.step}" and leaves MODULE_REPO as it was`, async function () {
      const sb = sandbox();
      const r = await runInstall(sb, ['--repo', repo.url], f.env);
      expect(r.code, show(r)).to.equal(f.code);
      expect(r.stderr, show(r)).to.include(`FAILED at step "${f.step}" (exit ${f.code})`);
      expect(r.moduleRepo, show(r)).to.equal(ORIGINAL_REPO);
    });
  }

  it('if MODULE_REPO cannot be restored it exits 30 and prints the command to do it', async function () {
    const sb = sandbox();
    const r = await runInstall(sb, ['--repo', repo.url], { FAKE_FW_FAIL: `setting MODULE_REPO ${ORIGINAL_REPO}` });
    expect(r.code, show(r)).to.equal(30);
    expect(r.stderr).to.include('FAILED at step "restore MODULE_REPO"').and.include(`fwconsole setting MODULE_REPO '${ORIGINAL_REPO}'`);
    expect(r.calls).not.to.include('reload');
  });

  it('a MODULE_REPO left pointing at our repository is restored to the FreePBX mirrors', async function () {
    const sb = sandbox();
    fs.writeFileSync(path.join(sb.state, 'setting.MODULE_REPO'), repo.url);
    const r = await runInstall(sb, ['--repo', repo.url]);
    expect(r.code, show(r)).to.equal(0);
    expect(r.moduleRepo).to.equal(ORIGINAL_REPO);
  });

  it('checks fwconsole, FreePBX version and node before touching anything', async function () {
    const noFw = await runInstall(sandbox(), [], { PATH: '/usr/bin:/bin', ITD_BITRIX_REPO: repo.url });
    expect(noFw.code, show(noFw)).to.equal(11);
    expect(noFw.stderr).to.include('check fwconsole');

    const old = await runInstall(sandbox(), [], { FAKE_FW_VERSION: '15.0.37.4', ITD_BITRIX_REPO: repo.url });
    expect(old.code, show(old)).to.equal(12);
    expect(old.stderr).to.include('FreePBX 15.0.37.4').and.include('16');

    const bin = tmpDir('node16');
    fs.writeFileSync(path.join(bin, 'node'), '#!/bin/sh\necho v16.20.2\n', { mode: 0o755 });
    const n16 = await runInstall(sandbox(), [], { PATH: `${bin}:${FIXTURES}:${process.env.PATH}`, ITD_BITRIX_REPO: repo.url });
    expect(n16.code, show(n16)).to.equal(13);
    expect(n16.stderr).to.include('v16.20.2').and.include('>= 18');
    for (const r of [old, n16]) expect(writes(r)).to.deep.equal([]);
  });

  it('an unreachable repository fails the repository check without touching MODULE_REPO', async function () {
    const r = await runInstall(sandbox(), ['--repo', 'http://127.0.0.1:9/nowhere']);
    expect(r.code, show(r)).to.equal(14);
    expect(r.stderr).to.include('check repository').and.include('--tarball');
    expect(writes(r)).to.deep.equal([]);
    expect(r.moduleRepo).to.equal(ORIGINAL_REPO);
  });

  describe('hosting that answers GET only', function () {
    let getOnly: RepoServer;
    let corrupt: RepoServer;
    before(async function () {
      getOnly = await serveDir(path.join(pkg.out, 'repo'), { post: false });
      corrupt = await serveDir(path.join(pkg.out, 'repo'), { post: false, corrupt: true });
    });
    after(async function () { if (getOnly) await getOnly.close(); if (corrupt) await corrupt.close(); });

    it('downloads the tarball itself, checks md5, installs, and never sets MODULE_REPO', async function () {
      const sb = sandbox();
      const r = await runInstall(sb, ['--repo', getOnly.url]);
      expect(r.code, show(r)).to.equal(0);
      expect(r.stderr).to.include('not POST');
      expect(writes(r)).to.deep.equal([]);
      expect(r.calls).to.include('ma install bitrix');
      expect(r.stdout).to.include(`installed bitrix ${pkg.version}`);
      expect(fs.existsSync(path.join(sb.agi, 'itd_bitrix_hangup.js'))).to.equal(true);
    });

    it('refuses a tarball whose md5 does not match the repository XML', async function () {
      const r = await runInstall(sandbox(), ['--repo', corrupt.url]);
      expect(r.code, show(r)).to.equal(25);
      expect(r.stderr).to.include('download tarball').and.include('md5');
      expect(r.calls).not.to.include('ma install bitrix');
    });
  });

  it('--tarball installs offline without MODULE_REPO; a bad tarball fails the tarball check', async function () {
    const sb = sandbox();
    const r = await runInstall(sb, ['--tarball', pkg.tgzPath], { ITD_BITRIX_REPO: 'http://127.0.0.1:9/unused' });
    expect(r.code, show(r)).to.equal(0);
    expect(writes(r)).to.deep.equal([]);
    expect(r.calls).to.include('ma install bitrix');
    expect(fs.readFileSync(path.join(sb.modules, 'bitrix', 'module.xml'), 'utf8')).to.include(`<version>${pkg.version}</version>`);
    expect(fs.statSync(path.join(sb.modules, 'bitrix', 'agi-bin', 'itd_bitrix_show.js')).mode & 0o777).to.equal(0o755);

    const junk = path.join(tmpDir('junk'), 'bitrix-0.tgz');
    fs.writeFileSync(junk, 'not a tarball');
    const bad = await runInstall(sandbox(), ['--tarball', junk]);
    expect(bad.code, show(bad)).to.equal(15);
    expect(bad.stderr).to.include('check tarball');
    const missing = await runInstall(sandbox(), ['--tarball', '/nonexistent/bitrix.tgz']);
    expect(missing.code, show(missing)).to.equal(15);
  });

  it('--tarball failing at ma install exits 24', async function () {
    const r = await runInstall(sandbox(), ['--tarball', pkg.tgzPath], { FAKE_FW_FAIL: 'ma install' });
    expect(r.code, show(r)).to.equal(24);
    expect(r.stderr).to.include('FAILED at step "fwconsole ma install bitrix"');
  });
});
