// FreePBX copies agi-bin/ into ASTAGIDIR on every reload by rewriting each file in place (PHP
// copy(): truncate, write, same inode). A process that has the shipped SQLite binding mapped dies
// of that; the BUILT bundles therefore load a private dotted copy beside it. Here: agi-bin/ copied
// into a temp folder as reload does, the service started from there, the binding rewritten under it.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import { appendFileSync, chmodSync, copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { ShippedBinding, chooseBinding, parseBindingName, privateCopyName } from '../../agi-src/platform/bindings';
import { FakeBitrix } from '../fake-bitrix/server';
import { testSetup, TestSetup } from '../helpers/config';
import { inboundFacts } from '../helpers/facts';
import { AGI_BIN, runAgiScript } from '../helpers/fake-asterisk';
import { runFastAgi } from '../helpers/fastagi-client';
import { RunningService, startService } from '../helpers/service';
import { tempDir } from '../helpers/tmp';

const DID = '74951234567';

/** agi-bin/ as reload leaves it in ASTAGIDIR: the shipped files only, executables 0755. */
function astAgiDir(): string {
  const dir = tempDir('astagidir-');
  chmodSync(dir, 0o755);
  for (const f of readdirSync(AGI_BIN).filter((n) => !n.startsWith('.'))) copyFileSync(join(AGI_BIN, f), join(dir, f));
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.js'))) chmodSync(join(dir, f), 0o755);
  return dir;
}

/** The shipped binding this host loads, and the name of its private copy. */
function hostBinding(dir: string): { binding: ShippedBinding; copy: string } {
  const shipped = readdirSync(dir).map(parseBindingName).filter((b): b is ShippedBinding => b !== null);
  const binding = chooseBinding(shipped, process.platform, process.arch, () => null);
  const sha = createHash('sha256').update(readFileSync(join(dir, binding.file))).digest('hex');
  return { binding, copy: privateCopyName(binding.file, sha) };
}

/** The files of `dir` a process has mapped. */
function mappedFrom(pid: number, dir: string): string[] {
  const lines = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n');
  return [...new Set(lines.map((l) => l.split(/\s+/).slice(5).join(' ')).filter((p) => p.startsWith(`${dir}/`)))];
}

/** What PHP copy() does to a file that exists: truncate it and write the new bytes into the same inode. */
function rewriteInPlace(path: string, bytes: Buffer): void {
  writeFileSync(path, bytes, { flag: 'w' });
}

describe('the SQLite binding beside the bundles survives reload rewriting it (built agi-bin/, private copy)', function () {
  this.timeout(120_000);
  let fake: FakeBitrix;
  let t: TestSetup;
  let svc: RunningService | undefined;

  beforeEach(async () => {
    fake = await FakeBitrix.start();
    fake.addUser({ ID: 1, NAME: 'Default', LAST_NAME: 'Owner', ACTIVE: true, UF_PHONE_INNER: null });
    t = testSetup({ webhookUrl: fake.webhookUrl, dids: [DID], defaultUserId: 1, attachRecordings: false });
    svc = undefined;
  });
  afterEach(async () => {
    await svc?.stop('SIGKILL');
    await fake.stop();
  });

  const incoming = (port: number, uid: string) =>
    runFastAgi({ port, script: 'incoming', args: [DID], env: { agi_uniqueid: uid, agi_callerid: '+79161234567' }, vars: inboundFacts(uid) });

  it('the service maps the private copy and keeps serving calls while reload rewrites the shipped binding', async () => {
    const dir = astAgiDir();
    const { binding, copy } = hostBinding(dir);
    svc = await startService(t, {}, dir);
    const first = await incoming(svc.port, '1700000100.1');
    expect(first.status).to.equal('SUCCESS');
    expect(first.vars.__BITRIX_CALL_ID).to.match(/^externalCall\./);

    expect(existsSync(join(dir, copy)), 'the private copy was made').to.equal(true);
    expect(mappedFrom(svc.pid, dir).filter((p) => p.endsWith('.node'))).to.deep.equal([join(dir, copy)]);

    // Reload as FreePBX does it, several times (same version, then another build's bytes), calls in between.
    const shipped = readFileSync(join(dir, binding.file));
    const other = Buffer.concat([shipped, Buffer.from('another build')]);
    for (const [i, bytes] of [shipped, shipped, other, shipped].entries()) {
      rewriteInPlace(join(dir, binding.file), bytes);
      const r = await incoming(svc.port, `1700000101.${i}`);
      expect(r.status, `call after reload ${i}`).to.equal('SUCCESS');
      expect(r.reset, `the service was not cut off after reload ${i}`).to.equal(false);
      expect(r.vars.__BITRIX_CALL_ID, `call after reload ${i}`).to.match(/^externalCall\./);
    }
    expect(svc.status()?.pid).to.equal(svc.pid);
    expect(svc.child.exitCode).to.equal(null);
    expect(svc.child.signalCode).to.equal(null);
    expect(fake.calls('telephony.externalcall.register')).to.have.length(5);
  });

  it('AGIs starting together on a fresh folder: every call goes on, one copy is left and no temp file', async () => {
    const dir = astAgiDir();
    const { copy } = hostBinding(dir);
    const runs = await Promise.all([1, 2, 3, 4].map((i) =>
      runAgiScript({ script: 'itd_bitrix_incoming.js', agiBin: dir, configPath: t.configPath, args: [DID], env: { agi_uniqueid: `1700000103.${i}`, agi_callerid: '+79161234567' }, vars: inboundFacts(`1700000103.${i}`) })));
    for (const r of runs) {
      expect(r.exitCode, r.stderr).to.equal(0);
      expect(r.vars.__BITRIX_CALL_ID).to.match(/^externalCall\./);
    }
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).to.deep.equal([copy]);
  });

  it('a shipped binding that differs from the build: the AGI loads it itself and the call goes on', async () => {
    const dir = astAgiDir();
    const { binding, copy } = hostBinding(dir);
    appendFileSync(join(dir, binding.file), Buffer.from('not the build'));
    const r = await runAgiScript({ script: 'itd_bitrix_incoming.js', agiBin: dir, configPath: t.configPath, args: [DID], env: { agi_uniqueid: '1700000102.1', agi_callerid: '+79161234567' }, vars: inboundFacts('1700000102.1') });
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(r.vars.__BITRIX_CALL_ID).to.match(/^externalCall\./);
    expect(existsSync(join(dir, copy))).to.equal(false);
    expect(readdirSync(dir).filter((n) => n.startsWith('.')), 'no copy of a file that is not the build').to.deep.equal([]);
    expect(t.log()).to.contain(`loading the shipped ${binding.file} itself`);
  });

  it('a folder the process may not write: the shipped binding is loaded itself and the call goes on', async function () {
    const dir = astAgiDir();
    const { copy } = hostBinding(dir);
    // As root, permissions do not stop a write: run as nobody, with the database where nobody may write.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      chmodSync(t.dir, 0o777);
      chmodSync(t.configPath, 0o644);
    } else {
      chmodSync(dir, 0o555);
    }
    const r = spawnSync(process.execPath, [join(dir, 'itd_bitrix.js'), 'status', '--json', '--config', t.configPath], {
      encoding: 'utf8',
      ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    if (!asRoot) chmodSync(dir, 0o755);
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout).outbox, 'the database was read').to.include({ pending: 0 });
    expect(existsSync(join(dir, copy))).to.equal(false);
    expect(t.log()).to.match(/DEBUG .*loading the shipped .* itself \(EACCES/);
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).to.deep.equal([]);
  });
});
