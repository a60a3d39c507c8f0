// install.sh against a fake fwconsole (test/dist/fixtures/fwconsole) and a loopback repository.
import { expect } from 'chai';
import { execFile, execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import {
  FIXTURES, INSTALL_SH, PackageRun, REPO_ROOT, RepoServer, makeFixtureRoot, runPackage, serveDir, sharedPackage, tmpDir,
} from './helpers';
import { debianRuntime } from './runtimes';

/** `node` of a host that lacks one requirement (test/fixtures/fake-host). */
const FAKE_HOST = path.join(REPO_ROOT, 'test', 'fixtures', 'fake-host');

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
/** Nothing changed: fwconsole was only asked for its version and settings, the modules dir is empty. */
function unchanged(r: Result, sb: Sandbox): void {
  expect(r.calls.filter((c) => !/^(-V|--version|setting [A-Z_]+)$/.test(c)), show(r)).to.deep.equal([]);
  expect(fs.readdirSync(sb.modules), show(r)).to.deep.equal([]);
  expect(r.moduleRepo).to.equal(ORIGINAL_REPO);
}

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

  it('checks fwconsole and the FreePBX version before touching anything', async function () {
    const noFw = await runInstall(sandbox(), [], { PATH: '/usr/bin:/bin', ITD_BITRIX_REPO: repo.url });
    expect(noFw.code, show(noFw)).to.equal(11);
    expect(noFw.stderr).to.include('check fwconsole');

    const sb = sandbox();
    const old = await runInstall(sb, [], { FAKE_FW_VERSION: '15.0.37.4', ITD_BITRIX_REPO: repo.url });
    expect(old.code, show(old)).to.equal(12);
    expect(old.stderr).to.include('FreePBX 15.0.37.4').and.include('16');
    unchanged(old, sb);
  });

  it('refuses a tarball whose sha1 does not match the repository XML, even when the md5 does', async function () {
    const copy = tmpDir('repo-sha1');
    fs.cpSync(path.join(pkg.out, 'repo'), copy, { recursive: true });
    for (const v of ['16.0', '17.0']) {
      const f = path.join(copy, `all-${v}.xml`);
      fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace(/<sha1sum>[0-9a-f]{40}<\/sha1sum>/, `<sha1sum>${'0'.repeat(40)}</sha1sum>`));
    }
    const server = await serveDir(copy);
    try {
      const sb = sandbox();
      const r = await runInstall(sb, ['--repo', server.url]);
      expect(r.code, show(r)).to.equal(25);
      expect(r.stderr).to.include('download tarball').and.include('sha1');
      unchanged(r, sb);
    } finally {
      await server.close();
    }
  });

  it('follows no redirect away from https', async function () {
    const target = await serveDir(path.join(pkg.out, 'repo'));
    const redirecting = await serveDir(path.join(pkg.out, 'repo'), { redirectTo: target.url });
    try {
      const sb = sandbox();
      const r = await runInstall(sb, ['--repo', redirecting.url]);
      expect(r.code, show(r)).to.equal(14);
      expect(r.stderr).to.include('check repository');
      expect(redirecting.requests.length, 'the redirect was answered').to.be.greaterThan(0);
      expect(target.requests, 'nothing reached the redirect target').to.deep.equal([]);
      unchanged(r, sb);
    } finally {
      await redirecting.close();
      await target.close();
    }
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

  describe('a host that lacks one requirement: refused by the module\'s own self-test, nothing changed', function () {
    const cases: { what: string; env: Record<string, string>; code: number; step: string; says: string[] }[] = [
      { what: 'Node.js 16', env: { FAKE_HOST_NODE: 'v16.20.2' }, code: 13, step: 'check Node.js', says: ['v16.20.2', 'Node.js 18 or newer'] },
      { what: 'a 32-bit ARM machine', env: { FAKE_HOST_ARCH: 'arm' }, code: 16, step: 'check architecture', says: ['arm (armhf) is not supported', 'x64 (amd64)', 'arm64'] },
      { what: 'glibc 2.17 (SNG7)', env: { FAKE_HOST_GLIBC: '2.17' }, code: 17, step: 'check glibc', says: ['glibc 2.17 is too old', '2.28'] },
      { what: 'no glibc (musl)', env: { FAKE_HOST_GLIBC: '' }, code: 17, step: 'check glibc', says: ['no glibc found'] },
    ];
    for (const c of cases) {
      for (const mode of ['repo', 'tarball'] as const) {
        it(`${c.what} (${mode}): exit ${c.code}, "${c.step}", the message names it`, async function () {
          const sb = sandbox();
          const args = mode === 'repo' ? ['--repo', repo.url] : ['--tarball', pkg.tgzPath];
          const r = await runInstall(sb, args, { PATH: `${FAKE_HOST}:${FIXTURES}:${process.env.PATH}`, ...c.env });
          expect(r.code, show(r)).to.equal(c.code);
          expect(r.stderr, show(r)).to.include(`FAILED at step "${c.step}" (exit ${c.code})`);
          for (const s of c.says) expect(r.stderr, show(r)).to.include(s);
          expect(r.stderr.trim().split('\n').filter((l) => l.includes('FAILED')), 'one line').to.have.length(1);
          unchanged(r, sb);
        });
      }
    }

    it('no node on the asterisk user\'s PATH: exit 13', async function () {
      const bin = tmpDir('bin-without-node');
      for (const tool of ['sh', 'bash', 'tar', 'gzip', 'curl', 'md5sum', 'sha1sum', 'sed', 'grep', 'awk', 'tr', 'cut', 'mktemp', 'rm', 'mkdir', 'chmod', 'cat', 'id', 'ls', 'head', 'tail', 'basename', 'dirname', 'printf', 'env', 'mv', 'cp']) {
        const real = ['/usr/bin', '/bin'].map((d) => path.join(d, tool)).find((f) => fs.existsSync(f));
        if (real) fs.symlinkSync(real, path.join(bin, tool));
      }
      const sb = sandbox();
      const r = await runInstall(sb, ['--tarball', pkg.tgzPath], { PATH: `${FIXTURES}:${bin}` });
      expect(r.code, show(r)).to.equal(13);
      expect(r.stderr).to.include('Node.js is not on the PATH');
      unchanged(r, sb);
    });

    it('a SQLite binding that does not load: exit 18, the binding named', async function () {
      const dir = tmpDir('tampered');
      execFileSync('tar', ['-xzf', pkg.tgzPath, '-C', dir]);
      const binding = fs.readdirSync(path.join(dir, 'bitrix', 'agi-bin')).find((n) => n.includes(`-${process.arch}-`))!;
      fs.writeFileSync(path.join(dir, 'bitrix', 'agi-bin', binding), 'not an ELF file');
      const tgz = path.join(dir, 'bitrix-tampered.tgz');
      execFileSync('tar', ['-czf', tgz, '-C', dir, 'bitrix']);
      const sb = sandbox();
      const r = await runInstall(sb, ['--tarball', tgz]);
      expect(r.code, show(r)).to.equal(18);
      expect(r.stderr).to.include('FAILED at step "check SQLite binding"').and.include(binding);
      unchanged(r, sb);
    });

    // Real hosts: Debian's own Node.js of an older release, or of an architecture not shipped
    const realHosts = [
      { what: 'Debian 11\'s own Node.js 12 (a real old runtime)', runtime: 'bullseye-amd64', code: 13, says: 'Node.js v12.22.12 is too old' },
      { what: 'Debian 12 on 32-bit ARM (armhf under qemu)', runtime: 'bookworm-armhf', code: 16, says: 'architecture linux arm (armhf) is not supported' },
    ];
    for (const h of realHosts) {
      it(`${h.what}: exit ${h.code}`, async function () {
        const node = debianRuntime(this, h.runtime);
        const sb = sandbox();
        const r = await runInstall(sb, ['--tarball', pkg.tgzPath], { PATH: `${FAKE_HOST}:${FIXTURES}:${process.env.PATH}`, FAKE_HOST_REAL_NODE: node });
        expect(r.code, show(r)).to.equal(h.code);
        expect(r.stderr).to.include(h.says);
        unchanged(r, sb);
      });
    }
  });
});
