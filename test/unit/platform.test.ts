// Which shipped sqlite3 binding fits a host, and the self-test's checks (agi-src/platform/).
import { expect } from 'chai';
import { createHash } from 'crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'fs';
import { join } from 'path';
import {
  ShippedBinding, bindingFileName, chooseBinding, compareVersions, parseBindingName, pickForGlibc, privateCopyName, staleCopies,
} from '../../agi-src/platform/bindings';
import { bindingToLoad, takeSqlite3BindingNote } from '../../agi-src/platform/sqlite3-binding';
import { tempDir } from '../helpers/tmp';
import { checkArch, checkGlibc, checkNode, exerciseSqlite3, runSelfTest } from '../../agi-src/platform/selftest';

const shipped = ['itd_bitrix_sqlite3-linux-x64-glibc2.28.node', 'itd_bitrix_sqlite3-linux-arm64-glibc2.28.node']
  .map((n) => parseBindingName(n) as ShippedBinding);
const noGlibcAsked = () => { throw new Error('glibc asked for'); };

describe('platform: shipped sqlite3 bindings', function () {
  it('reads platform, architecture and glibc floor from the file name, and writes the same name', function () {
    expect(parseBindingName('itd_bitrix_sqlite3-linux-arm64-glibc2.28.node')).to.deep.equal({
      file: 'itd_bitrix_sqlite3-linux-arm64-glibc2.28.node', platform: 'linux', arch: 'arm64', glibc: '2.28',
    });
    expect(bindingFileName('linux', 'x64', '2.28')).to.equal('itd_bitrix_sqlite3-linux-x64-glibc2.28.node');
    for (const bad of ['node_sqlite3.node', 'itd_bitrix_sqlite3-linux-x64.node', 'itd_bitrix_sqlite3-linux-x64-glibc2.28.node.bak']) {
      expect(parseBindingName(bad), bad).to.equal(null);
    }
  });

  it('compares glibc versions as numbers', function () {
    expect(compareVersions('2.9', '2.28')).to.be.lessThan(0);
    expect(compareVersions('2.28', '2.28')).to.equal(0);
    expect(compareVersions('2.36', '2.28')).to.be.greaterThan(0);
    expect(compareVersions('2.28.1', '2.28')).to.be.greaterThan(0);
  });

  it('an AGI takes the one binding of its architecture without asking for the glibc version', function () {
    expect(chooseBinding(shipped, 'linux', 'arm64', noGlibcAsked).file).to.equal('itd_bitrix_sqlite3-linux-arm64-glibc2.28.node');
    expect(chooseBinding(shipped, 'linux', 'x64', noGlibcAsked).file).to.equal('itd_bitrix_sqlite3-linux-x64-glibc2.28.node');
  });

  it('an architecture without a binding gets one line naming it and what is shipped', function () {
    expect(() => chooseBinding(shipped, 'linux', 'arm', noGlibcAsked)).to.throw('no SQLite binding for linux arm: itd-bitrix ships one for linux x64 and arm64');
    expect(() => chooseBinding(shipped, 'freebsd', 'x64', noGlibcAsked)).to.throw('freebsd x64');
  });

  it('with several bindings for one architecture, the newest floor the host glibc satisfies wins', function () {
    const two = [...shipped, parseBindingName('itd_bitrix_sqlite3-linux-x64-glibc2.35.node') as ShippedBinding];
    expect(chooseBinding(two, 'linux', 'x64', () => '2.36').glibc).to.equal('2.35');
    expect(chooseBinding(two, 'linux', 'x64', () => '2.31').glibc).to.equal('2.28');
    expect(() => chooseBinding(two, 'linux', 'x64', () => '2.17')).to.throw('glibc 2.17');
    expect(() => chooseBinding(two, 'linux', 'x64', () => null)).to.throw('none found');
    expect(pickForGlibc(two, null)).to.equal(undefined);
  });
});

describe('platform: the private copy of the binding the bundles load', function () {
  const x64 = shipped[0];
  const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

  it('is named after the binding and the first 16 hex digits of its hash, dotted so reload never writes it', function () {
    expect(privateCopyName(x64.file, 'e2323a43c9d31a2956074bca8c8d3c01476ca587825f2ed84d01609dc11d8197'))
      .to.equal('.itd_bitrix_sqlite3-linux-x64-glibc2.28.e2323a43c9d31a29.node');
  });

  it('other versions\' copies of the same platform and architecture are stale; the shipped files, other architectures and temp files are not', function () {
    const keep = '.itd_bitrix_sqlite3-linux-x64-glibc2.28.e2323a43c9d31a29.node';
    const names = [
      keep,
      '.itd_bitrix_sqlite3-linux-x64-glibc2.28.0123456789abcdef.node',
      '.itd_bitrix_sqlite3-linux-x64-glibc2.31.fedcba9876543210.node',
      '.itd_bitrix_sqlite3-linux-arm64-glibc2.28.0123456789abcdef.node',
      '.itd_bitrix_sqlite3-linux-x64-glibc2.28.0123456789abcdef.node.123-abcd.tmp',
      'itd_bitrix_sqlite3-linux-x64-glibc2.28.node',
      'node_sqlite3.node',
      '.other.node',
    ];
    expect(staleCopies(names, x64, keep)).to.deep.equal([
      '.itd_bitrix_sqlite3-linux-x64-glibc2.28.0123456789abcdef.node',
      '.itd_bitrix_sqlite3-linux-x64-glibc2.31.fedcba9876543210.node',
    ]);
  });

  it('is made once from a shipped file that matches the build (mode 0644, older copies removed), then found with one look', function () {
    const dir = tempDir('binding-copy-');
    const bytes = Buffer.from('binding v2');
    writeFileSync(join(dir, x64.file), bytes, { mode: 0o755 });
    const old = '.itd_bitrix_sqlite3-linux-x64-glibc2.28.0123456789abcdef.node';
    const arm = '.itd_bitrix_sqlite3-linux-arm64-glibc2.28.0123456789abcdef.node';
    writeFileSync(join(dir, old), 'binding v1');
    writeFileSync(join(dir, arm), 'arm binding v1');
    const copy = join(dir, privateCopyName(x64.file, sha(bytes)));
    expect(bindingToLoad(dir, x64, sha(bytes))).to.equal(copy);
    expect(readFileSync(copy).equals(bytes)).to.equal(true);
    expect(statSync(copy).mode & 0o777).to.equal(0o644);
    expect(readdirSync(dir).sort()).to.deep.equal([arm, privateCopyName(x64.file, sha(bytes)), x64.file].sort());
    expect(takeSqlite3BindingNote()).to.equal(null);

    writeFileSync(join(dir, x64.file), 'rewritten by reload');
    expect(bindingToLoad(dir, x64, sha(bytes)), 'the copy exists: the shipped file is not read').to.equal(copy);
  });

  it('a shipped file that does not match the build (reload rewriting it right now) is loaded itself, with one note', function () {
    const dir = tempDir('binding-copy-');
    writeFileSync(join(dir, x64.file), 'half a bind');
    expect(bindingToLoad(dir, x64, sha('binding v2'))).to.equal(join(dir, x64.file));
    expect(readdirSync(dir)).to.deep.equal([x64.file]);
    expect(takeSqlite3BindingNote()).to.match(/^SQLite binding: loading the shipped itd_bitrix_sqlite3-linux-x64-glibc2\.28\.node itself \(it differs from the build/);
    expect(takeSqlite3BindingNote(), 'taken once').to.equal(null);
  });

  it('a missing folder or binding: the shipped path, as before (require names what is missing)', function () {
    const dir = join(tempDir('binding-copy-'), 'gone');
    expect(bindingToLoad(dir, x64, sha('x'))).to.equal(join(dir, x64.file));
    expect(existsSync(dir)).to.equal(false);
    expect(takeSqlite3BindingNote()).to.contain('ENOENT');
  });
});

describe('platform: self-test checks', function () {
  it('Node.js: 18 and newer pass; older ones name the version and the floor', function () {
    expect(checkNode('v18.19.0').ok).to.equal(true);
    expect(checkNode('v22.11.0').ok).to.equal(true);
    const old = checkNode('v16.20.2');
    expect(old).to.deep.equal({ id: 'node', ok: false, message: 'Node.js v16.20.2 is too old: itd-bitrix needs Node.js 18 or newer' });
    expect(checkNode('v8.16.0').ok).to.equal(false);
    expect(checkNode('garbage').ok).to.equal(false);
  });

  it('architecture: names the host and the shipped ones the way Debian calls them too', function () {
    expect(checkArch(shipped, 'linux', 'arm64')).to.deep.equal({ id: 'arch', ok: true, message: 'linux arm64' });
    expect(checkArch(shipped, 'linux', 'arm').message).to.equal('architecture linux arm (armhf) is not supported: itd-bitrix runs on linux x64 (amd64) and arm64');
  });

  it('glibc: below the floor, or no glibc at all, is named', function () {
    const x64 = shipped.filter((b) => b.arch === 'x64');
    expect(checkGlibc(x64, '2.31').check.ok).to.equal(true);
    expect(checkGlibc(x64, '2.28').binding?.file).to.equal('itd_bitrix_sqlite3-linux-x64-glibc2.28.node');
    expect(checkGlibc(x64, '2.17').check.message).to.equal('glibc 2.17 is too old: itd-bitrix needs glibc 2.28 or newer (Debian 10 or later)');
    expect(checkGlibc(x64, null).check.message).to.include('no glibc found');
  });

  const host = (over: Partial<Parameters<typeof runSelfTest>[0]> = {}) => ({
    nodeVersion: 'v18.19.0', platform: 'linux', arch: 'x64', glibc: () => '2.36', shipped, exerciseSqlite: async () => '3.44.2', ...over,
  });

  it('all well: ok, one summary line, every check listed', async function () {
    const r = await runSelfTest(host());
    expect(r.ok).to.equal(true);
    expect(r.failed).to.equal(null);
    expect(r.checks.map((c) => c.id)).to.deep.equal(['node', 'arch', 'glibc', 'sqlite']);
    expect(r.message).to.equal('itd-bitrix can run here: Node.js v18.19.0, linux x64 (amd64), glibc 2.36, SQLite 3.44.2 (itd_bitrix_sqlite3-linux-x64-glibc2.28.node)');
    expect(r).to.include({ binding: 'itd_bitrix_sqlite3-linux-x64-glibc2.28.node', sqlite: '3.44.2', glibc: '2.36' });
  });

  it('the first failing check is the one line; the others are still reported', async function () {
    const oldNode = await runSelfTest(host({ nodeVersion: 'v16.20.2' }));
    expect(oldNode.failed).to.equal('node');
    expect(oldNode.message).to.include('v16.20.2');
    expect(oldNode.checks.filter((c) => c.ok).map((c) => c.id)).to.deep.equal(['arch', 'glibc', 'sqlite']);

    let loaded = false;
    const arm = await runSelfTest(host({ arch: 'arm', exerciseSqlite: async () => { loaded = true; return 'x'; } }));
    expect(arm.failed).to.equal('arch');
    expect(loaded, 'no binding is loaded for an unsupported architecture').to.equal(false);

    const glibc = await runSelfTest(host({ glibc: () => '2.17', exerciseSqlite: async () => { loaded = true; return 'x'; } }));
    expect(glibc.failed).to.equal('glibc');
    expect(glibc.message).to.include('glibc 2.17');
    expect(loaded, 'no binding is loaded on a glibc below its floor').to.equal(false);

    const broken = await runSelfTest(host({ exerciseSqlite: async () => { throw new Error('libm.so.6: version `GLIBC_2.29\' not found\nmore'); } }));
    expect(broken.failed).to.equal('sqlite');
    expect(broken.message).to.equal("the SQLite binding itd_bitrix_sqlite3-linux-x64-glibc2.28.node does not work here: libm.so.6: version `GLIBC_2.29' not found");
  });

  it('exercises a real SQLite file in WAL mode and leaves nothing behind', async function () {
    expect(await exerciseSqlite3()).to.match(/^3\.\d+\.\d+$/);
  });
});
