// The support matrix against what ships: every sqlite3 binding in the tarball inspected
// (architecture, the highest glibc symbol version it needs, nothing from the shared libstdc++),
// then loaded on Debian's own Node.js for the hosts in the matrix: Debian 12 arm64 under qemu
// (a whole call), Debian 11 amd64 and arm64 (glibc 2.31), and this machine.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { FakeBitrix } from '../fake-bitrix/server';
import { testSetup } from '../helpers/config';
import { cardsDone, endFacts, inboundFacts, recordAnswer } from '../helpers/facts';
import { AgiRunResult, runAgiScript } from '../helpers/fake-asterisk';
import { PackageRun, REPO_ROOT, readTgz, sharedPackage, tmpDir, untar } from './helpers';
import { debianRuntime } from './runtimes';

/** The support matrix (README "Where it runs", module.xml): one binding per architecture. */
const MATRIX = [
  { arch: 'x64', debian: 'amd64', machine: /X86-64/, glibcFloor: '2.28', loader: 'ld-linux-x86-64.so.2' },
  { arch: 'arm64', debian: 'arm64', machine: /AArch64/, glibcFloor: '2.28', loader: 'ld-linux-aarch64.so.1' },
];
const SYSTEM_LIBS = ['libc.so.6', 'libm.so.6', 'libpthread.so.0', 'libdl.so.2'];
/** Undefined (non-weak) symbols without a version come from the Node.js process itself. */
const FROM_NODE = /^(napi_|node_api_|uv_)/;
/** Was 4.5 MiB (main: 4 713 924 bytes); the loader of the binding's private copy adds ~2.5 KB to each of the six bundles. */
const AGI_BUDGET_BYTES = 4.6 * 1024 * 1024;

const versionCmp = (a: string, b: string) => {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] || 0) !== (pb[i] || 0)) return (pa[i] || 0) - (pb[i] || 0);
  return 0;
};
const readelf = (args: string[], file: string) => execFileSync('readelf', [...args, file], { encoding: 'utf8' });

interface SelfTest { ok: boolean; failed: string | null; message: string; arch: string; glibc: string | null; sqlite: string | null; checks: { id: string; ok: boolean; message: string }[] }

describe('dist: platforms (support matrix, shipped bindings)', function () {
  this.timeout(180_000);
  let pkg: PackageRun;
  let moduleDir: string;
  let bindings: string[];

  before(function () {
    pkg = sharedPackage();
    const dir = tmpDir('platform');
    untar(pkg.tgzPath, dir);
    moduleDir = path.join(dir, 'bitrix');
    bindings = fs.readdirSync(path.join(moduleDir, 'agi-bin')).filter((n) => n.endsWith('.node')).sort();
  });

  const selftest = (node: string, extraEnv: NodeJS.ProcessEnv = {}): { code: number | null; report: SelfTest } => {
    const r = spawnSync(node, [path.join(moduleDir, 'agi-bin', 'itd_bitrix_selftest.js'), '--json'], {
      encoding: 'utf8', env: { ...process.env, ...extraEnv }, timeout: 120_000,
    });
    expect(r.stdout, r.stderr).to.match(/^\{/);
    return { code: r.status, report: JSON.parse(r.stdout) as SelfTest };
  };

  it('ships exactly one module-named binding per architecture of the matrix', function () {
    expect(bindings).to.deep.equal(MATRIX.map((m) => `itd_bitrix_sqlite3-linux-${m.arch}-glibc${m.glibcFloor}.node`).sort());
  });

  for (const m of MATRIX) {
    it(`${m.arch}: built for ${m.machine.source}, needs at most GLIBC_${m.glibcFloor}, no shared libstdc++ or libgcc`, function () {
      const file = path.join(moduleDir, 'agi-bin', `itd_bitrix_sqlite3-linux-${m.arch}-glibc${m.glibcFloor}.node`);
      expect(readelf(['-h'], file)).to.match(new RegExp(`Machine:\\s+.*${m.machine.source}`));
      const versions = [...readelf(['-V', '--wide'], file).matchAll(/Name: ((?:GLIBC|GLIBCXX|CXXABI|GCC)_[0-9.]+)/g)].map((x) => x[1]);
      const glibc = versions.filter((v) => v.startsWith('GLIBC_')).map((v) => v.slice('GLIBC_'.length)).sort(versionCmp);
      const highest = glibc[glibc.length - 1];
      expect(versionCmp(highest, m.glibcFloor), `highest GLIBC_${highest}`).to.be.at.most(0);
      expect(versions.filter((v) => !v.startsWith('GLIBC_')), 'C++ runtime linked statically').to.deep.equal([]);
      const needed = [...readelf(['-d'], file).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((x) => x[1]);
      expect(needed.filter((n) => !SYSTEM_LIBS.includes(n) && n !== m.loader), `NEEDED ${needed.join(' ')}`).to.deep.equal([]);
      const unversioned = readelf(['--dyn-syms', '--wide'], file).split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f[6] === 'UND' && f[4] === 'GLOBAL' && f[7] && !f[7].includes('@'))
        .map((f) => f[7]);
      expect(unversioned.filter((s) => !FROM_NODE.test(s)), 'undefined symbols that are neither glibc nor Node').to.deep.equal([]);
      // eslint-disable-next-line no-console
      console.log(`      ${path.basename(file)}: ${fs.statSync(file).size} bytes, highest GLIBC_${highest}, NEEDED ${needed.join(' ')}`);
    });
  }

  it('README and module.xml state the matrix the bindings are built for', function () {
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const moduleXml = fs.readFileSync(path.join(moduleDir, 'module.xml'), 'utf8');
    for (const m of MATRIX) {
      expect(moduleXml, 'module.xml').to.include(m.debian);
      expect(readme).to.include(`| ${m.debian} |`);
    }
    for (const text of [readme, moduleXml]) expect(text).to.include(`glibc ${MATRIX[0].glibcFloor}`).and.include('Node.js 18');
  });

  it('agi-bin/ stays small: its size is reported and within the budget', function () {
    const agi = readTgz(pkg.tgzPath).filter((e) => e.type === '0' && e.name.startsWith('bitrix/agi-bin/'));
    const total = agi.reduce((n, e) => n + e.data.length, 0);
    // eslint-disable-next-line no-console
    console.log(`      tarball ${fs.statSync(pkg.tgzPath).size} bytes; agi-bin/ ${total} bytes:\n${agi.map((e) => `        ${e.data.length.toString().padStart(8)} ${path.basename(e.name)}`).join('\n')}`);
    expect(total).to.be.at.most(AGI_BUDGET_BYTES);
  });

  it('this machine: the self-test passes with the shipped binding', function () {
    const { code, report } = selftest(process.execPath);
    expect(code, report.message).to.equal(0);
    expect(report.ok).to.equal(true);
    expect(report.sqlite).to.match(/^3\.\d+\.\d+$/);
  });

  it('Debian 11 amd64 (glibc 2.31, its own Node.js 12): the x64 binding loads and writes; the self-test names the Node.js floor', function () {
    const { code, report } = selftest(debianRuntime(this, 'bullseye-amd64'));
    expect(code).to.equal(3);
    expect(report.failed).to.equal('node');
    expect(report.glibc).to.equal('2.31');
    expect(report.checks.find((c) => c.id === 'sqlite'), JSON.stringify(report.checks)).to.include({ ok: true });
  });

  it('Debian 11 arm64 under qemu (glibc 2.31, Node.js 12): the arm64 binding loads and writes', function () {
    const { code, report } = selftest(debianRuntime(this, 'bullseye-arm64'));
    expect(code).to.equal(3);
    expect(report).to.include({ arch: 'arm64', glibc: '2.31' });
    expect(report.checks.find((c) => c.id === 'sqlite'), JSON.stringify(report.checks)).to.include({ ok: true });
  });

  it('Debian 12 arm64 under qemu (Node.js 18): the self-test passes', function () {
    const { code, report } = selftest(debianRuntime(this, 'bookworm-arm64'));
    expect(code, report.message).to.equal(0);
    expect(report).to.include({ ok: true, arch: 'arm64', glibc: '2.36', binding: 'itd_bitrix_sqlite3-linux-arm64-glibc2.28.node' });
  });

  it('Debian 12 arm64 under qemu: a whole call through the unpacked agi-bin/: every step writes its part to the database', async function () {
    const node = debianRuntime(this, 'bookworm-arm64');
    const fake = await FakeBitrix.start();
    try {
      fake.addUser({ ID: 1, NAME: 'Default', ACTIVE: true, UF_PHONE_INNER: null });
      fake.addUser({ ID: 12, NAME: 'Ivan', LAST_NAME: 'Petrov', ACTIVE: true, UF_PHONE_INNER: '101' });
      fake.addCrm({ type: 'CONTACT', name: 'Иван Петров', phones: ['+79161234567'] });
      // qemu runs Node.js several times slower: the largest budgets the schema allows
      const t = testSetup({ webhookUrl: fake.webhookUrl, dids: ['74951234567'], incomingTimeoutMs: 10_000, showTimeoutMs: 10_000, hangupTimeoutMs: 10_000 });
      const run = (o: Parameters<typeof runAgiScript>[0]) => runAgiScript({ node, agiBin: path.join(moduleDir, 'agi-bin'), configPath: t.configPath, ...o });
      const ok = (r: AgiRunResult) => expect([r.exitCode, r.stderr, r.rejected], t.log()).to.deep.equal([0, '', []]);
      const cli = (...args: string[]) => spawnSync(node, [path.join(moduleDir, 'agi-bin', 'itd_bitrix.js'), ...args, '--json', '--config', t.configPath], { encoding: 'utf8', timeout: 150_000 });
      // The channel variables the module's dialplan sets (test/helpers/facts.ts).
      const call = inboundFacts('1700000900.1');
      const inc = await run({ script: 'itd_bitrix_incoming.js', args: ['74951234567'], env: { agi_uniqueid: '1700000900.1', agi_callerid: '+79161234567' }, vars: call });
      ok(inc);
      // Emulated Node is slow, several times more on a busy machine: a step may use up its budget
      // before it has done its part and leave the rest to the retry, or not get to it at all (the
      // caller is never held). What holds whatever the timing: the call has its row in the
      // database on arm64, its end is recorded (the hangup journals first), and what was recorded
      // agrees with itself.
      const vars = { ...call, BITRIX_CALL_ID: inc.vars.__BITRIX_CALL_ID ?? '' };
      recordAnswer(vars, '101');
      ok(await run({ script: 'itd_bitrix_show.js', args: ['101'], env: { agi_uniqueid: '1700000900.2', agi_channel: 'PJSIP/101-00000002' }, vars }));
      await cardsDone('1700000900.1', 150_000);
      ok(await run({ script: 'itd_bitrix_hangup.js', env: { agi_uniqueid: '1700000900.1', agi_context: 'itd-bitrix-hangup', agi_extension: 's' }, vars: endFacts(vars), dead: true }));
      const retry = cli('retry');
      expect(retry.status, `${retry.stderr}\n${t.log()}`).to.equal(0);
      const calls = cli('calls');
      const row = (JSON.parse(calls.stdout) as { calls: Record<string, unknown>[] }).calls[0];
      expect(row, `${calls.stderr}\n${t.log()}`).to.include({ uniqueid: '1700000900.1' });
      expect(['hungup', 'finished'], t.log()).to.include(row.state);
      // the answer the dialplan recorded holds whatever the timing
      expect(row, t.log()).to.include({ operatorExtension: '101', status: '200' });
      // and Bitrix24 heard of one call, finished at most once, as answered
      const registers = fake.calls('telephony.externalcall.register');
      expect(new Set(registers.map((r) => r.params.EXTERNAL_CALL_ID)).size, t.log()).to.be.at.most(1);
      const finished = [...fake.finishedCalls.values()];
      expect(finished.length, t.log()).to.be.at.most(1);
      for (const f of finished) expect(f, t.log()).to.include({ CALL_FAILED_CODE: '200' });
    } finally {
      await fake.stop();
    }
  });
});
