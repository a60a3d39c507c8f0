// The operator CLI tried as an admin would: as root, with mistakes, in scripts (--json, exit codes).
import { expect } from 'chai';
import { chownSync, existsSync, statSync, writeFileSync } from 'fs';
import { join } from 'path';
import { FakeBitrix } from '../fake-bitrix/server';
import { runCli } from '../helpers/cli';
import { testSetup, TestSetup } from '../helpers/config';
import { runAgiScript } from '../helpers/fake-asterisk';

const DID = '74951234567';

describe('operator CLI', function () {
  this.timeout(30_000);
  let t: TestSetup;
  beforeEach(() => {
    t = testSetup({ webhookUrl: 'http://127.0.0.1:9/rest/1/S3cretHookCode/', dids: [DID] });
  });

  describe('exit codes and --json', () => {
    it('check: a portal that cannot be reached exits 1; the JSON still lists the checks', async () => {
      const out = await runCli(t, ['check', '--json']);
      expect(out.code).to.equal(1);
      const report = JSON.parse(out.stdout);
      expect(report.ok).to.equal(false);
      expect(report.checks.map((c: { id: string; ok: boolean }) => [c.id, c.ok])).to.deep.equal([
        ['config', true],
        ['reach', false],
      ]);
      expect(out.stdout).not.to.contain('S3cretHookCode');
    });

    it('check: a config that cannot be read exits 1 with an error field and the failed config check', async () => {
      writeFileSync(t.configPath, '{"version": 1,');
      const out = await runCli(t, ['check', '--json']);
      expect(out.code).to.equal(1);
      const report = JSON.parse(out.stdout);
      expect(report).to.include({ ok: false });
      expect(report.error).to.match(/not valid JSON/);
      expect(report.checks[0]).to.include({ id: 'config', ok: false });
    });

    for (const cmd of [['status'], ['calls'], ['retry'], ['validate-config']]) {
      it(`${cmd[0]} --json with a missing config: {"ok": false, "error": …} on stdout, exit 1`, async () => {
        const out = await runCli({ ...t, configPath: join(t.dir, 'missing.json') }, [...cmd, '--json']);
        expect(out.code).to.equal(1);
        const res = JSON.parse(out.stdout);
        expect(res.ok).to.equal(false);
        expect(res.error).to.match(/missing\.json: cannot read \(ENOENT\)/);
      });
    }

    it('a plain error goes to stderr in one line, exit 1', async () => {
      const out = await runCli({ ...t, configPath: join(t.dir, 'missing.json') }, ['status']);
      expect(out.code).to.equal(1);
      expect(out.stdout).to.equal('');
      expect(out.stderr.trim().split('\n')).to.have.length(1);
      expect(out.stderr).to.match(/cannot read \(ENOENT\)/);
    });

    it('oauth-exchange: no local application configured exits 1, with an error field', async () => {
      const out = await runCli(t, ['oauth-exchange', '--json'], 'somecode\n');
      expect(out.code).to.equal(1);
      expect(JSON.parse(out.stdout)).to.include({ ok: false, error: 'no local application is configured' });
    });

    it('oauth-exchange: a refused code exits 1 (message kept for the settings page)', async () => {
      const fake = await FakeBitrix.start();
      try {
        t.write({ webhookUrl: '', app: { portalUrl: fake.portalUrl, clientId: 'local.app1', clientSecret: 'app-s3cr3t-value' }, oauthUrl: fake.oauthUrl });
        const out = await runCli(t, ['oauth-exchange', '--json'], 'not-a-granted-code\n');
        expect(out.code).to.equal(1);
        const res = JSON.parse(out.stdout);
        expect(res.ok).to.equal(false);
        expect(res.error).to.match(/refused the code/);
        expect(res.message).to.equal(res.error);
        expect(out.stdout).not.to.contain('app-s3cr3t-value');
      } finally {
        await fake.stop();
      }
    });

    for (const [args, option] of [
      [['calls', '--limit', 'abc'], '--limit'],
      [['calls', '--limit', '0'], '--limit'],
      [['calls', '--limit', '5x'], '--limit'],
      [['retry', '--max-seconds', 'soon'], '--max-seconds'],
      [['retry', '--max-seconds', '-1'], '--max-seconds'],
    ] as const) {
      it(`${args.join(' ')}: a usage error naming ${option}, exit 2 (also as JSON)`, async () => {
        const out = await runCli(t, [...args]);
        expect(out.code).to.equal(2);
        expect(out.stderr).to.contain(option);
        expect(out.stderr).to.match(/whole number/);
        const json = await runCli(t, [...args, '--json']);
        expect(json.code).to.equal(2);
        expect(JSON.parse(json.stdout)).to.include({ ok: false });
        expect(JSON.parse(json.stdout).error).to.contain(option);
      });
    }

    it('an unknown command is a usage error, exit 2', async () => {
      const out = await runCli(t, ['stauts']);
      expect(out.code).to.equal(2);
      expect(out.stderr).to.match(/unknown command 'stauts'/);
    });
  });

  describe('config keys', () => {
    it('validate-config: a near-miss of a known key is an error with the suggestion', async () => {
      const { webhookUrl, ...rest } = t.config;
      writeFileSync(t.configPath, JSON.stringify({ ...rest, webhookURL: webhookUrl }));
      const out = await runCli(t, ['validate-config']);
      expect(out.code).to.equal(1);
      expect(out.stderr).to.match(/"webhookURL" is not a known key; did you mean "webhookUrl"\?/);
    });

    it('validate-config and check warn about other unknown keys; the file is still valid', async () => {
      t.write({ futureOption: true });
      const v = await runCli(t, ['validate-config']);
      expect(v.code, v.stderr).to.equal(0);
      expect(v.stdout).to.match(/valid/);
      expect(v.stdout).to.match(/warning: key "futureOption" is not known to this version; ignored/);
      const vj = JSON.parse((await runCli(t, ['validate-config', '--json'])).stdout);
      expect(vj).to.deep.equal({ ok: true, warnings: ['key "futureOption" is not known to this version; ignored'] });
      const c = JSON.parse((await runCli(t, ['check', '--json'])).stdout);
      expect(c.warnings).to.deep.equal(vj.warnings);
      expect(c.checks[0].message).to.contain('futureOption');
    });

    it('a JSON syntax error gives the line and column and never quotes the file', async () => {
      writeFileSync(t.configPath, '{\n  "version": 1,\n  "webhookUrl": "https://b24.example.ru/rest/1/s3cr3tc0de/" x\n}\n');
      const out = await runCli(t, ['validate-config', '--json']);
      expect(out.code).to.equal(1);
      const { error } = JSON.parse(out.stdout);
      expect(error).to.match(/not valid JSON at line 3, column 61$/);
      expect(error).not.to.contain('s3cr3tc0de');
      expect(error).not.to.contain('"');
    });
  });

  describe('calls', () => {
    it('prints a header row and aligned columns', async () => {
      const fake = await FakeBitrix.start();
      try {
        fake.addUser({ ID: 1, NAME: 'Default', ACTIVE: true, UF_PHONE_INNER: null });
        t.write({ webhookUrl: fake.webhookUrl });
        for (const [id, caller] of [
          ['1700030000.1', '+79161234567'],
          ['1700030000.22', '84951112233'],
        ]) {
          await runAgiScript({ script: 'itd_bitrix_incoming.js', args: [DID], env: { agi_uniqueid: id, agi_callerid: caller }, configPath: t.configPath });
        }
      } finally {
        await fake.stop();
      }
      const out = await runCli(t, ['calls']);
      expect(out.code, out.stderr).to.equal(0);
      const lines = out.stdout.trimEnd().split('\n');
      expect(lines).to.have.length(3);
      expect(lines[0]).to.match(/^STARTED\s+DIR\s+NUMBER\s+DID\/ROUTE\s+STATE\s+RESULT\s+TALK\s+OPERATOR\s+UNIQUEID\s+BITRIX24 CALL$/);
      const columnStarts = (line: string) => [...line.matchAll(/(?:^|\s{2,})(\S)/g)].map((m) => (m.index ?? 0) + m[0].length - 1);
      const header = columnStarts(lines[0].replace('BITRIX24 CALL', 'BITRIX24_CALL'));
      for (const row of lines.slice(1)) {
        for (const start of header) {
          expect(row[start - 1] ?? ' ', `space before column ${start} in ${JSON.stringify(row)}`).to.equal(' ');
          expect(row[start], `cell at column ${start} in ${JSON.stringify(row)}`).to.match(/\S/);
        }
      }
      expect(lines[1]).to.contain('+74951112233');
      expect(lines[2]).to.contain('+79161234567');
    });

    it('says so when there are no calls yet', async () => {
      const out = await runCli(t, ['calls']);
      expect(out.stdout).to.equal('no calls yet\n');
    });
  });

  describe('run as root (how admins run things on a PBX)', () => {
    before(function () {
      if (process.getuid?.() !== 0) this.skip();
    });

    it('the database, its folder and the log it creates belong to the owner of the config file (the asterisk user)', async () => {
      const asterisk = 4321;
      t.write({ databasePath: join(t.dir, 'lib', 'itd_bitrix.sqlite'), logPath: join(t.dir, 'log', 'itd_bitrix.log') });
      chownSync(t.configPath, asterisk, asterisk);
      const out = await runCli(t, ['calls', '--json']);
      expect(out.code, out.stderr).to.equal(0);
      // Something to log: a journal line the retry leaves alone.
      const line = { uniqueid: '1.1', hungupAt: Date.now() - 49 * 3600_000, callId: '', recording: '', linkedid: '1.1', did: DID, callerid: '+79161234567' };
      writeFileSync(join(t.dir, 'lib', 'itd_bitrix.sqlite.hangups'), `${JSON.stringify(line)}\n`);
      const retried = await runCli(t, ['retry']);
      expect(retried.code, retried.stderr).to.equal(0);
      for (const p of ['lib', 'lib/itd_bitrix.sqlite', 'log', 'log/itd_bitrix.log']) {
        const st = statSync(join(t.dir, p));
        expect([st.uid, st.gid], p).to.deep.equal([asterisk, asterisk]);
      }
      expect(statSync(join(t.dir, 'lib', 'itd_bitrix.sqlite')).mode & 0o777).to.equal(0o640);
      expect(statSync(join(t.dir, 'log', 'itd_bitrix.log')).mode & 0o777).to.equal(0o640);
      for (const side of ['-wal', '-shm']) {
        const p = join(t.dir, 'lib', `itd_bitrix.sqlite${side}`);
        if (existsSync(p)) expect(statSync(p).uid, side).to.equal(asterisk);
      }
    });

    it('files that exist keep their owner', async () => {
      await runCli(t, ['calls']);
      chownSync(t.configPath, 4321, 4321);
      await runCli(t, ['status']);
      expect(statSync(t.dbPath).uid).to.equal(0);
    });
  });
});
