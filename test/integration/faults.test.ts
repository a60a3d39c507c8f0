// Nothing lost, no call held: database and config faults, SIGKILL, outage and back-fill, rate limits.
import { expect } from 'chai';
import { spawn } from 'child_process';
import { readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { FakeBitrix } from '../fake-bitrix/server';
import { openCallDb, waitFor } from '../helpers/calls';
import { testSetup, TestSetup } from '../helpers/config';
import { cardsDone, endFacts, inboundFacts, recordAnswer } from '../helpers/facts';
import { AGI_BIN, AgiRunResult, runAgiScript } from '../helpers/fake-asterisk';
import { runCli } from '../helpers/cli';

const DID = '74951234567';

/** Another process holds the database's write lock for `ms`; resolves once it holds it. */
async function holdExclusiveLock(dbPath: string, ms: number): Promise<{ released: Promise<void>; isReleased(): boolean }> {
  const holder = spawn(process.execPath, [
    '-e',
    `const s=require(${JSON.stringify(require.resolve('sqlite3'))});const d=new s.Database(${JSON.stringify(dbPath)});` +
      `d.exec('BEGIN EXCLUSIVE',()=>{process.stdout.write('locked\\n');setTimeout(()=>d.exec('COMMIT',()=>process.exit(0)),${ms})})`,
  ]);
  await new Promise<void>((res) => holder.stdout.once('data', () => res()));
  let done = false;
  const released = new Promise<void>((res) => holder.on('exit', () => ((done = true), res())));
  return { released, isReleased: () => done };
}

describe('faults: the call goes on, nothing is lost', function () {
  this.timeout(60_000);
  let fake: FakeBitrix;
  let t: TestSetup;

  beforeEach(async () => {
    fake = await FakeBitrix.start();
    fake.addUser({ ID: 1, NAME: 'Default', LAST_NAME: 'Owner', ACTIVE: true, UF_PHONE_INNER: null });
    fake.addUser({ ID: 12, NAME: 'Ivan', ACTIVE: true, UF_PHONE_INNER: '101' });
    t = testSetup({ webhookUrl: fake.webhookUrl, dids: [DID] });
  });
  afterEach(() => fake.stop());

  // The channel variables as the module's dialplan leaves them (helpers/facts.ts).
  const incoming = (uniqueid: string, callerid = '+79161234567', more: Partial<Parameters<typeof runAgiScript>[0]> = {}) =>
    runAgiScript({
      script: 'itd_bitrix_incoming.js',
      args: [DID],
      env: { agi_uniqueid: uniqueid, agi_callerid: callerid },
      vars: inboundFacts(uniqueid),
      configPath: t.configPath,
      ...more,
    });
  const hangup = (uniqueid: string, r: AgiRunResult, extra: Record<string, string> = {}) =>
    runAgiScript({
      script: 'itd_bitrix_hangup.js',
      env: { agi_uniqueid: uniqueid, agi_callerid: r.vars['CALLERID(num)'] ?? '' },
      vars: endFacts({ ...inboundFacts(uniqueid), BITRIX_CALL_ID: r.vars.__BITRIX_CALL_ID ?? '', FROM_DID: DID, ...extra }),
      dead: true,
      configPath: t.configPath,
    });
  const errorLines = (log: string) => log.split('\n').filter((l) => / ERROR /.test(l));
  const dueNow = async () => {
    const db = await openCallDb(t.dbPath);
    await db.run('UPDATE outbox SET next_at = 0');
    await db.close();
  };

  describe('config', () => {
    for (const [what, content] of [
      ['missing', null],
      ['not JSON', '{"version": 1, "enabled": tru'],
      ['invalid per the schema', JSON.stringify({ version: 1, enabled: true, dids: ['74951234567'], webhookUrl: 'ftp://x' })],
    ] as const) {
      it(`${what}: the call is untouched, one clear line in the log and on the console`, async () => {
        const cfg = join(t.dir, 'other.json');
        if (content !== null) writeFileSync(cfg, content);
        const bootLog = join(t.dir, 'boot.log');
        const r = await runAgiScript({ script: 'itd_bitrix_incoming.js', args: [DID], configPath: cfg, processEnv: { ITD_BITRIX_LOG: bootLog } });
        expect(r.exitCode).to.equal(0);
        expect(r.commands.filter((c) => !c.startsWith('VERBOSE'))).to.deep.equal([]);
        expect(r.verbose).to.have.length(1);
        expect(r.verbose[0]).to.contain(cfg);
        const lines = errorLines(readFileSync(bootLog, 'utf8'));
        expect(lines).to.have.length(1);
        expect(fake.requests).to.have.length(0);
      });
    }
  });

  describe('database', () => {
    it('corrupt file: moved aside, recreated, call registered, one error line', async () => {
      writeFileSync(t.dbPath, Buffer.alloc(8192, 0x5a));
      const r = await incoming('1700000100.1');
      expect(r.exitCode).to.equal(0);
      expect(r.vars.__BITRIX_CALL_ID).to.match(/^externalCall\./);
      expect(errorLines(t.log()).join('\n')).to.match(/not a readable SQLite file .* recreated/);
      const db = await openCallDb(t.dbPath);
      expect(await db.get("SELECT bitrix_call_id FROM calls WHERE uniqueid = '1700000100.1'")).to.deep.equal({ bitrix_call_id: r.vars.__BITRIX_CALL_ID });
      await db.close();
    });

    it('unusable path: the call is still registered and finished from the channel variables', async () => {
      writeFileSync(join(t.dir, 'afile'), 'x');
      t.write({ databasePath: join(t.dir, 'afile', 'db.sqlite') });
      const r = await incoming('1700000101.1');
      expect(r.exitCode).to.equal(0);
      expect(r.vars.__BITRIX_CALL_ID).to.match(/^externalCall\./);
      expect(errorLines(t.log())).to.have.length(1);
      expect(errorLines(t.log())[0]).to.match(/database unavailable/);
      // The database is back by hangup time: the handler rebuilds the row and finishes the call.
      t.write({ databasePath: t.dbPath });
      const h = await hangup('1700000101.1', r);
      expect(h.exitCode).to.equal(0);
      expect(fake.finishedCalls.get(r.vars.__BITRIX_CALL_ID)).to.include({ CALL_FAILED_CODE: '304' });
    });

    it('locked by another writer beyond the budget: the AGI leaves on time, the call goes on', async () => {
      await incoming('1700000102.0'); // create the file
      t.write({ incomingTimeoutMs: 1000 });
      const lock = await holdExclusiveLock(t.dbPath, 4000);
      const { released } = lock;
      const r = await incoming('1700000102.1');
      expect(r.exitCode).to.equal(0);
      // Outcome, not wall time (npm run bench times the budgets): the caller did not wait for the lock.
      expect(lock.isReleased(), 'the AGI left while the lock was still held').to.equal(false);
      await released;
      // After the lock is gone the hangup handler rebuilds what incoming could not save.
      const h = await hangup('1700000102.1', r);
      expect(h.exitCode).to.equal(0);
      await dueNow();
      await runCli(t, ['retry']);
      const finished = [...fake.finishedCalls.values()].filter((c) => c.EXTERNAL_CALL_ID === '1700000102.1');
      expect(finished).to.have.length(1);
    });
  });

  it('database locked through the whole hangup: the handler leaves on time, the journal keeps the end of the call', async () => {
    const inc = await incoming('1700000104.1');
    expect(inc.vars.__BITRIX_CALL_ID).to.match(/^externalCall\./);
    t.write({ hangupTimeoutMs: 1000 });
    const lock = await holdExclusiveLock(t.dbPath, 5000);
    const { released } = lock;
    const h = await hangup('1700000104.1', inc);
    expect(h.exitCode).to.equal(0);
    expect(lock.isReleased(), 'the handler left while the lock was still held').to.equal(false);
    expect(fake.finishedCalls.size).to.equal(0);
    expect(readFileSync(`${t.dbPath}.hangups`, 'utf8')).to.contain('"uniqueid":"1700000104.1"');
    await released;
    const out = await runCli(t, ['retry', '--json']);
    expect(JSON.parse(out.stdout)).to.include({ replayed: 1 });
    await dueNow();
    await runCli(t, ['retry']);
    expect(fake.finishedCalls.get(inc.vars.__BITRIX_CALL_ID)).to.include({ CALL_FAILED_CODE: '304', PORTAL_USER_ID: 1 });
  });

  it('an incoming AGI killed with SIGKILL mid-register is finished by the retry, registered once', async () => {
    fake.setLatency(1500);
    const child = spawn(process.execPath, [join(AGI_BIN, 'itd_bitrix_incoming.js'), DID], { env: { ...process.env, ITD_BITRIX_CONFIG: t.configPath } });
    child.stdout.on('data', (c: Buffer) => {
      for (const line of String(c).split('\n').filter(Boolean)) {
        child.stdin.write(line.startsWith('GET FULL VARIABLE') ? '200 result=1 (1700000103.1)\n' : '200 result=1\n');
      }
    });
    child.stdin.write('agi_uniqueid: 1700000103.1\nagi_callerid: +79161234567\n\n');
    await waitFor(() => fake.requests.length > 0 || fake.calls('telephony.externalcall.register').length > 0, 5000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    fake.setLatency(0);
    await new Promise((r) => setTimeout(r, 1500)); // the fake finished handling the in-flight register
    // The dialplan had marked the call before the AGI ran.
    const h = await hangup('1700000103.1', { vars: { 'CALLERID(num)': '+79161234567' } } as unknown as AgiRunResult);
    expect(h.exitCode).to.equal(0);
    await dueNow();
    await runCli(t, ['retry']);
    const regs = fake.calls('telephony.externalcall.register').filter((r) => r.params.EXTERNAL_CALL_ID === '1700000103.1');
    expect(regs.length).to.be.at.least(1);
    const finished = [...fake.finishedCalls.values()].filter((c) => c.EXTERNAL_CALL_ID === '1700000103.1');
    expect(finished, 'one call in the CRM for one phone call').to.have.length(1);
    expect(fake.activeCalls.size).to.equal(0);
  });

  it('Bitrix24 down for 100 calls, then back: after retry exactly 100 finished calls, right data, no duplicates', async function () {
    this.timeout(120_000);
    fake.setDown(true);
    const N = Number(process.env.ITD_FAULTS_N ?? 100);
    const results: Array<{ id: string; number: string; answered: boolean }> = [];
    for (let batch = 0; batch < N; batch += 10) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, k) => {
          const i = batch + k;
          const id = `1700001000.${i}`;
          const number = `+7916200${String(i).padStart(4, '0')}`;
          const r = await incoming(id, number);
          expect(r.exitCode).to.equal(0);
          const answered = i % 2 === 0;
          const call = inboundFacts(id);
          if (answered) {
            recordAnswer(call, '101', Date.now() - 2000);
            await runAgiScript({ script: 'itd_bitrix_show.js', args: ['101'], env: { agi_uniqueid: `${id}.m` }, vars: call, configPath: t.configPath });
            await cardsDone(id);
          }
          await hangup(id, r, call);
          results.push({ id, number, answered });
        }),
      );
    }
    expect(fake.httpRequestCount()).to.equal(0);
    fake.setDown(false);
    // A portal on a large plan: the back-fill (register, then finish, per call) is not throttled.
    fake.setRateLimit(false);
    t.write({ rateLimitPerSecond: 100, rateLimitBurst: 1000 });
    await dueNow();
    const out = await runCli(t, ['retry', '--json', '--max-seconds', '60']);
    expect(out.code, out.stderr).to.equal(0);
    expect(fake.finishedCalls.size).to.equal(N);
    expect(fake.activeCalls.size).to.equal(0);
    const byExternal = new Map([...fake.finishedCalls.values()].map((c) => [c.EXTERNAL_CALL_ID, c]));
    const wrong = results
      .map((r) => ({ r, c: byExternal.get(r.id) }))
      .filter(({ r, c }) => !c || c.PHONE_NUMBER !== r.number || c.CALL_FAILED_CODE !== (r.answered ? '200' : '304') || c.PORTAL_USER_ID !== (r.answered ? 12 : 1))
      .map(({ r, c }) => `${r.id} ${r.number} answered=${r.answered}: ${c ? `${c.PHONE_NUMBER} ${c.CALL_FAILED_CODE} user ${c.PORTAL_USER_ID}` : 'missing'}`);
    expect(wrong).to.deep.equal([]);
    const regs = fake.calls('telephony.externalcall.register');
    expect(new Set(regs.map((r) => r.params.EXTERNAL_CALL_ID)).size).to.equal(N);
    const status = JSON.parse((await runCli(t, ['status', '--json'])).stdout);
    expect(status.outbox).to.include({ pending: 0, failed: 0 });
  });

  it('Bitrix24 at 5 s latency: every incoming AGI leaves on its budget, not on the portal; the retry registers each call once', async () => {
    // Whether it leaves within budget + 100 ms is a wall-time target: npm run bench judges it.
    t.write({ incomingTimeoutMs: 1500 });
    fake.setLatency(5000);
    const ids = Array.from({ length: 8 }, (_, i) => `1700002000.${i}`);
    const rs = await Promise.all(ids.map((id, i) => incoming(id, `+7916300000${i}`)));
    for (const r of rs) {
      expect(r.exitCode, r.stderr).to.equal(0);
      // The budget runs from the process's start and the portal answers 5 s after the request:
      // an AGI that had waited for the portal would have set the CRM call id.
      expect(r.vars.__BITRIX_CALL_ID, 'the caller was not held for the portal').to.equal(undefined);
    }
    fake.setLatency(0);
    await Promise.all(ids.map((id, i) => hangup(id, rs[i])));
    await dueNow();
    const out = await runCli(t, ['retry', '--max-seconds', '60']);
    expect(out.code, out.stderr).to.equal(0);
    const registered = fake.calls('telephony.externalcall.register').map((r) => r.params.EXTERNAL_CALL_ID);
    expect(new Set(registered).size, 'each call registered').to.equal(8);
    expect(fake.finishedCalls.size, 'one CRM call per phone call, finished').to.equal(8);
    expect(fake.activeCalls.size, 'none left open').to.equal(0);
  });

  it('a 503 storm with 50 concurrent calls: every call registered exactly once', async function () {
    this.timeout(120_000);
    // The storm is the fault here; the bucket itself is a large plan's, so draining the back-log
    // is not 2 requests a second for a minute.
    fake.setRateLimit(false);
    t.write({ incomingTimeoutMs: 3000, rateLimitPerSecond: 5, rateLimitBurst: 250 });
    fake.failNext(40, 'query_limit');
    const ids = Array.from({ length: 50 }, (_, i) => `1700003000.${i}`);
    // The harness's SIGKILL guards against a hung process; on a starved machine 50 Node start-ups
    // alone can take longer than its default.
    const rs = await Promise.all(ids.map((id, i) => incoming(id, `+7916400${String(i).padStart(4, '0')}`, { killAfterMs: 60_000 })));
    rs.forEach((r) => expect(r.exitCode).to.equal(0));
    await Promise.all(ids.map((id, i) => hangup(id, rs[i])));
    for (let run = 0; run < 3 && fake.finishedCalls.size < 50; run++) {
      await dueNow();
      const out = await runCli(t, ['retry']);
      expect(out.code, out.stderr).to.equal(0);
    }
    const finished = [...fake.finishedCalls.values()];
    expect(new Set(finished.map((c) => c.EXTERNAL_CALL_ID)).size).to.equal(50);
    expect(finished, 'one CRM call per phone call').to.have.length(50);
    expect(fake.activeCalls.size).to.equal(0);
  });

  it('the shared limiter keeps 30 concurrent calls under a 12-request portal bucket: every call registered once', async () => {
    // 30 rather than 50 processes: on 2 cores, 50 Node processes at once starve the one holding
    // SQLite's write lock, and the call path then skips the limiter rather than wait (see gate.ts).
    // That skip is by design (the caller never waits for our own bookkeeping), so a starved machine
    // may see a few 503s, which the step retries within its budget: the outcome asserted here is
    // the caller's. "0 × 503" with the limiter in reach is a bench target (npm run bench).
    fake.setRateLimit({ burst: 12, drainPerSec: 10 });
    // Configured a little under the portal's drain rate, as the settings page advises.
    t.write({ rateLimitPerSecond: 8, rateLimitBurst: 12, incomingTimeoutMs: 9000 });
    const ids = Array.from({ length: 30 }, (_, i) => `1700004000.${i}`);
    const rs = await Promise.all(ids.map((id, i) => incoming(id, `+7916500${String(i).padStart(4, '0')}`, { killAfterMs: 60_000 })));
    rs.forEach((r) => expect(r.exitCode, r.stderr).to.equal(0));
    // A step starved past its budget leaves the register to the retry: still once per call.
    await Promise.all(ids.map((id, i) => hangup(id, rs[i])));
    for (let run = 0; run < 3 && fake.finishedCalls.size < 30; run++) {
      await dueNow();
      const out = await runCli(t, ['retry']);
      expect(out.code, out.stderr).to.equal(0);
    }
    const registered = fake.calls('telephony.externalcall.register').map((r) => r.params.EXTERNAL_CALL_ID);
    expect(new Set(registered).size, 'each call registered').to.equal(30);
    expect(registered, 'registered once').to.have.length(30);
    expect(fake.finishedCalls.size, 'one CRM call per phone call').to.equal(30);
  });

  describe('local application: only the scheduled retry renews the tokens', () => {
    const connect = async () => {
      t.write({ webhookUrl: '', app: { portalUrl: fake.portalUrl, clientId: 'local.app1', clientSecret: 'app-s3cr3t-value' }, oauthUrl: fake.oauthUrl });
      const ex = await runCli(t, ['oauth-exchange', '--json'], `${fake.grantAuthorizationCode()}\n`);
      expect(JSON.parse(ex.stdout)).to.include({ ok: true });
    };
    const setExpiry = async (expiresAt: number) => {
      const db = await openCallDb(t.dbPath);
      await db.run('UPDATE oauth SET expires_at = ?', [expiresAt]);
      await db.close();
    };

    it('token endpoint slower than the call budget: calls send nothing to it and wait in the outbox; one retry renews once and delivers', async () => {
      await connect();
      fake.setOAuthLatency(3000); // the incoming budget is 2000 ms
      await setExpiry(Date.now() - 1000);
      fake.expireAccessTokens();
      const ids = Array.from({ length: 4 }, (_, i) => `1700007000.${i}`);
      const rs = await Promise.all(ids.map((id, i) => incoming(id, `+791670000${String(i).padStart(2, '0')}`)));
      rs.forEach((r) => expect(r.vars.__BITRIX_CALL_ID, r.stderr).to.equal(undefined));
      await Promise.all(ids.map((id, i) => hangup(id, rs[i])));
      expect(fake.calls('oauth.token').filter((r) => r.params.grant_type === 'refresh_token'), 'no call step went to the token endpoint').to.have.length(0);
      expect(fake.httpRequestCount(), 'nor to the portal with a token known to be expired').to.equal(0);
      const status = JSON.parse((await runCli(t, ['status', '--json'])).stdout);
      expect(status.outbox).to.include({ pending: 8, blocked: 0, failed: 0 });
      expect(t.log()).not.to.match(/ ERROR /);

      await dueNow();
      const out = await runCli(t, ['retry', '--json', '--max-seconds', '60']);
      const report = JSON.parse(out.stdout);
      expect(report.calls, out.stdout).to.include({ tried: 4, done: 4 });
      expect(report.steps, out.stdout).to.include({ waiting: 0, held: 0 });
      expect(fake.issuedTokens().refreshGrants, 'renewed once').to.equal(1);
      expect(new Set([...fake.finishedCalls.values()].map((c) => c.EXTERNAL_CALL_ID))).to.deep.equal(new Set(ids));
      expect(fake.finishedCalls.size).to.equal(4);
      expect(t.log()).to.match(/access token renewed/);
      expect(t.log()).not.to.match(/invalid_grant|app-s3cr3t-value/);
    });

    it('the retry renews a token that expires within 10 minutes, with nothing in the outbox (no calls for days)', async () => {
      await connect();
      await setExpiry(Date.now() + 5 * 60_000);
      expect((await runCli(t, ['retry'])).code).to.equal(0);
      expect(fake.issuedTokens().refreshGrants).to.equal(1);
      expect((await runCli(t, ['retry'])).code).to.equal(0);
      expect(fake.issuedTokens().refreshGrants, 'the new one is good for an hour').to.equal(1);
    });

    it('the portal refuses a token the database thought valid: the call goes on, the retry renews and delivers', async () => {
      await connect();
      fake.expireAccessTokens();
      const r = await incoming('1700007100.1');
      expect(r.vars.__BITRIX_CALL_ID).to.equal(undefined);
      await hangup('1700007100.1', r);
      expect(fake.issuedTokens().refreshGrants).to.equal(0);
      await dueNow();
      await runCli(t, ['retry']);
      expect(fake.issuedTokens().refreshGrants).to.equal(1);
      expect([...fake.finishedCalls.values()].map((c) => c.EXTERNAL_CALL_ID)).to.deep.equal(['1700007100.1']);
    });

    it('a refresh token that no longer works: one error line, the outbox waits for Connect, Connect delivers', async () => {
      await connect();
      await setExpiry(Date.now() - 1000);
      const db = await openCallDb(t.dbPath);
      await db.run("UPDATE oauth SET refresh_token = 'revoked'");
      await db.close();
      await runCli(t, ['retry']);
      expect(errorLines(t.log()).join('\n')).to.match(/invalid_grant.*press Connect/);
      const r = await incoming('1700007200.1');
      await hangup('1700007200.1', r);
      await dueNow();
      await runCli(t, ['retry']);
      const status = JSON.parse((await runCli(t, ['status', '--json'])).stdout);
      expect(status.outbox).to.include({ blocked: 1 });
      expect(fake.calls('oauth.token').filter((q) => q.params.grant_type === 'refresh_token'), 'not asked again').to.have.length(1);
      const ex = await runCli(t, ['oauth-exchange', '--json'], `${fake.grantAuthorizationCode()}\n`);
      expect(JSON.parse(ex.stdout)).to.include({ ok: true });
      await runCli(t, ['retry']);
      expect([...fake.finishedCalls.values()].map((c) => c.EXTERNAL_CALL_ID)).to.deep.equal(['1700007200.1']);
    });
  });

  it('retry is safe to run twice at once: no step is sent twice', async () => {
    fake.setDown(true);
    const rs = [];
    for (let i = 0; i < 10; i++) {
      const r = await incoming(`1700005000.${i}`, `+7916600000${i}`);
      await hangup(`1700005000.${i}`, r);
      rs.push(r);
    }
    fake.setDown(false);
    await dueNow();
    await Promise.all([runCli(t, ['retry']), runCli(t, ['retry'])]);
    expect(fake.calls('telephony.externalcall.register')).to.have.length(10);
    expect(fake.calls('telephony.externalcall.finish')).to.have.length(10);
  });

  it('portal renamed (3xx): the call goes on, one error line naming the new host, the outbox waits like refused credentials; status names the host', async () => {
    fake.setRedirect('https://renamed.bitrix24.ru');
    const r = await incoming('1700006100.1');
    expect(r.exitCode).to.equal(0);
    expect(r.vars.__BITRIX_CALL_ID).to.equal(undefined);
    await hangup('1700006100.1', r);
    const lines = errorLines(t.log());
    expect(lines.length).to.be.at.least(1);
    expect(lines[0]).to.match(/redirects to https:\/\/renamed\.bitrix24\.ru .*new address/);
    expect(t.log()).not.to.contain(fake.webhookUrl.split('/')[5]);
    const before = fake.requests.length;
    await dueNow();
    await runCli(t, ['retry']);
    expect(fake.requests.length, 'no request while the same address is configured').to.equal(before);
    const status = JSON.parse((await runCli(t, ['status', '--json'])).stdout);
    expect(status).to.include({ redirectHost: 'renamed.bitrix24.ru' });
    expect(status.outbox).to.include({ pending: 2, blocked: 1 });

    // The admin puts the new address in (here: the fake stops redirecting and is reached by another name).
    fake.setRedirect(null);
    t.write({ webhookUrl: fake.webhookUrl.replace('127.0.0.1', 'localhost') });
    const rr = await runCli(t, ['retry', '--json']);
    const report = JSON.parse(rr.stdout);
    expect(report, rr.stdout).to.include({ unblocked: 1 });
    expect(report.steps, rr.stdout).to.include({ waiting: 0, held: 0 });
    expect([...fake.finishedCalls.values()].map((c) => c.EXTERNAL_CALL_ID)).to.deep.equal(['1700006100.1']);
    expect(JSON.parse((await runCli(t, ['status', '--json'])).stdout)).to.include({ redirectHost: null });
  });

  it('credentials refused: nothing is retried until the credentials change; then it all goes through', async () => {
    fake.setWebhooksAllowedForTelephony(false);
    const r = await incoming('1700006000.1');
    await hangup('1700006000.1', r);
    const before = fake.requests.length;
    await dueNow();
    await runCli(t, ['retry']);
    await runCli(t, ['retry']);
    expect(fake.requests.length, 'no request while the same credentials are configured').to.equal(before);
    const status = JSON.parse((await runCli(t, ['status', '--json'])).stdout);
    expect(status.outbox).to.include({ pending: 2, blocked: 1 });

    // The admin switches to a local application and connects it (GUI → oauth-exchange).
    t.write({ app: { portalUrl: fake.portalUrl, clientId: 'local.app1', clientSecret: 'app-s3cr3t-value' }, oauthUrl: fake.oauthUrl });
    const code = fake.grantAuthorizationCode();
    const ex = await runCli(t, ['oauth-exchange', '--json'], `${code}\n`);
    expect(JSON.parse(ex.stdout)).to.deep.equal({ ok: true, message: 'connected' });
    const rr = await runCli(t, ['retry', '--json']);
    expect(rr.code, rr.stderr).to.equal(0);
    const report = JSON.parse(rr.stdout);
    expect(report.calls, rr.stdout).to.deep.include({ tried: 1, done: 1 });
    expect(report.steps, rr.stdout).to.deep.include({ waiting: 0, held: 0 });
    const finished = [...fake.finishedCalls.values()];
    expect(finished).to.have.length(1);
    expect(finished[0]).to.include({ EXTERNAL_CALL_ID: '1700006000.1', CALL_FAILED_CODE: '304' });
    expect(t.log()).not.to.contain('app-s3cr3t-value');
  });
});
