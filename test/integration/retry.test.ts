// The scheduled retry against the built CLI: the hangup journal, calls the PBX lost, one run at a
// time, and the words `retry` and `status` use for calls and steps.
import { expect } from 'chai';
import { appendFileSync, utimesSync, writeFileSync } from 'fs';
import { join } from 'path';
import { FakeBitrix } from '../fake-bitrix/server';
import { openCallDb, waitFor, wavFile } from '../helpers/calls';
import { runCli } from '../helpers/cli';
import { testSetup, TestSetup } from '../helpers/config';
import { cardsDone, endFacts, inboundFacts, recordAnswer } from '../helpers/facts';
import { AgiRunResult, runAgiScript } from '../helpers/fake-asterisk';

const DID = '74951234567';
const HOUR = 3600_000;

describe('retry (built CLI, fake Bitrix24, real SQLite)', function () {
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
  const incoming = (uniqueid: string, callerid: string) =>
    runAgiScript({
      script: 'itd_bitrix_incoming.js',
      args: [DID],
      env: { agi_uniqueid: uniqueid, agi_callerid: callerid },
      vars: inboundFacts(uniqueid),
      configPath: t.configPath,
    });
  /** The operator answers (the dialplan records it), the show step runs, its card goes out. */
  const show = async (uniqueid: string, ext: string, vars: Record<string, string> = {}) => {
    const call = inboundFacts(uniqueid);
    recordAnswer(call, ext);
    const r = await runAgiScript({
      script: 'itd_bitrix_show.js',
      args: [ext],
      env: { agi_uniqueid: `${uniqueid}.m`, agi_channel: `PJSIP/${ext}-00000002` },
      vars: { ...call, ...vars },
      configPath: t.configPath,
    });
    await cardsDone(uniqueid);
    return r;
  };
  const hangup = (uniqueid: string, r: AgiRunResult) =>
    runAgiScript({
      script: 'itd_bitrix_hangup.js',
      env: { agi_uniqueid: uniqueid, agi_callerid: r.vars['CALLERID(num)'] ?? '' },
      vars: endFacts({ ...inboundFacts(uniqueid), BITRIX_CALL_ID: r.vars.__BITRIX_CALL_ID ?? '', FROM_DID: DID }),
      dead: true,
      configPath: t.configPath,
    });
  const sql = async (text: string, params: Array<string | number> = []) => {
    const db = await openCallDb(t.dbPath);
    try {
      return await db.all<Record<string, unknown>>(text, params);
    } finally {
      await db.close();
    }
  };
  const registersOf = (externalId: string) => fake.calls('telephony.externalcall.register').filter((r) => r.params.EXTERNAL_CALL_ID === externalId);
  const finishesOf = (externalId: string) => [...fake.finishedCalls.values()].filter((c) => c.EXTERNAL_CALL_ID === externalId);
  const retryJson = async (...args: string[]) => {
    const out = await runCli(t, ['retry', '--json', ...args]);
    expect(out.code, out.stderr + out.stdout).to.equal(0);
    return JSON.parse(out.stdout);
  };

  describe('the hangup journal', () => {
    it('a hangup the handler recorded is not replayed, even after its call was purged (no second register, no second lead)', async () => {
      t.write({ createCrmEntity: true });
      const first = await incoming('1700020000.1', '+79169990001');
      expect(first.vars.__BITRIX_CALL_ID).to.match(/^externalCall\./);
      await hangup('1700020000.1', first);
      expect(finishesOf('1700020000.1')).to.have.length(1);
      // The retry job has not run for longer than the retention: the call ages out and the next
      // call's hangup purges it. Its line is still in the journal.
      await sql('UPDATE calls SET started_at = started_at - 49 * 3600000, hungup_at = hungup_at - 49 * 3600000, finished_at = finished_at - 49 * 3600000');
      const second = await incoming('1700020000.2', '+79169990002');
      await hangup('1700020000.2', second);
      expect((await sql('SELECT uniqueid FROM calls')).map((r) => r.uniqueid)).to.deep.equal(['1700020000.2']);

      const report = await retryJson();
      expect(report.replayed).to.equal(0);
      expect(registersOf('1700020000.1'), 'registered once').to.have.length(1);
      expect(finishesOf('1700020000.1'), 'finished once').to.have.length(1);
      expect(fake.createdLeads, 'one lead per unknown caller').to.have.length(2);
      expect(await sql("SELECT uniqueid FROM calls WHERE uniqueid = '1700020000.1'")).to.deep.equal([]);
    });

    it('a journal line carries the dialplan\'s facts: replayed, the call is registered late and finished by its operator with its talk time', async () => {
      await incoming('1700020002.0', '+79169990004'); // creates the database
      const started = Date.now() - 60_000;
      const line = {
        uniqueid: '1700020002.1',
        hungupAt: started + 45_000,
        callId: '',
        recording: '',
        linkedid: '1700020002.1',
        did: DID,
        callerid: '+79169990005',
        startedAt: started,
        answer: { extension: '101', at: started + 15_000, source: 'hook' },
      };
      appendFileSync(`${t.dbPath}.hangups`, `${JSON.stringify(line)}\n`);
      const report = await retryJson();
      expect(report.replayed).to.equal(1);
      expect(registersOf('1700020002.1')).to.have.length(1);
      expect(finishesOf('1700020002.1')).to.have.length(1);
      expect(finishesOf('1700020002.1')[0]).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200', CALL_DURATION: 30 });
    });

    it('a journal line older than the retention never brings back a call the database does not hold', async () => {
      await incoming('1700020001.0', '+79169990003'); // creates the database
      const old = Date.now() - 49 * HOUR;
      const line = { uniqueid: '1700020001.1', hungupAt: old, callId: '', recording: '', linkedid: '1700020001.1', did: DID, callerid: '+79169990004' };
      appendFileSync(`${t.dbPath}.hangups`, `${JSON.stringify(line)}\n`);
      const report = await retryJson();
      expect(report.replayed).to.equal(0);
      expect(registersOf('1700020001.1')).to.deep.equal([]);
      expect(await sql("SELECT uniqueid FROM calls WHERE uniqueid = '1700020001.1'")).to.deep.equal([]);
      expect(t.log()).to.match(/1700020001\.1.*older than the retention/);
    });
  });

  describe('calls whose hangup never came (Asterisk crashed or restarted)', () => {
    it('are finished after staleCallHours with what is known; younger calls stay open', async () => {
      const recording = join(t.dir, 'lost-call.wav');
      writeFileSync(recording, wavFile(16000));
      const answered = await incoming('1700020010.1', '+79169990010');
      await show('1700020010.1', '101', { MIXMONITOR_FILENAME: recording });
      const missed = await incoming('1700020010.2', '+79169990011');
      const young = await incoming('1700020010.3', '+79169990012');
      for (const r of [answered, missed, young]) expect(r.vars.__BITRIX_CALL_ID).to.match(/^externalCall\./);
      // Five hours ago; Asterisk wrote the recording for 95 s after the answer, then died.
      await sql("UPDATE calls SET started_at = started_at - 5 * 3600000, answered_at = answered_at - 5 * 3600000 WHERE uniqueid IN ('1700020010.1', '1700020010.2')");
      const [{ answered_at: answeredAt }] = await sql("SELECT answered_at FROM calls WHERE uniqueid = '1700020010.1'");
      const lastWrite = (Number(answeredAt) + 95_000) / 1000;
      utimesSync(recording, lastWrite, lastWrite);

      const report = await retryJson();
      expect(report.lost).to.equal(2);
      const a = fake.finishedCalls.get(answered.vars.__BITRIX_CALL_ID);
      expect(a, 'answered call finished').to.exist;
      expect(a).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200' });
      expect(a!.CALL_DURATION).to.be.within(94, 96);
      expect(fake.attachedFiles.map((f) => f.callId)).to.deep.equal([answered.vars.__BITRIX_CALL_ID]);
      expect(fake.finishedCalls.get(missed.vars.__BITRIX_CALL_ID)).to.include({ PORTAL_USER_ID: 1, CALL_FAILED_CODE: '304', CALL_DURATION: 0 });
      expect(fake.finishedCalls.has(young.vars.__BITRIX_CALL_ID), 'a call of a few seconds is not lost').to.equal(false);
      expect(t.log()).to.match(/1700020010\.1: no hangup for 5 h/);
    });

    it('an answered call without a recording is finished by its operator with no talk time', async () => {
      t.write({ staleCallHours: 2 });
      const r = await incoming('1700020011.1', '+79169990013');
      await show('1700020011.1', '101');
      await sql('UPDATE calls SET started_at = started_at - 3 * 3600000, answered_at = answered_at - 3 * 3600000');
      await retryJson();
      expect(fake.finishedCalls.get(r.vars.__BITRIX_CALL_ID)).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200', CALL_DURATION: 0 });
    });
  });

  it('two runs at once: the second sees the first one holding the lock and leaves; every step is sent once', async () => {
    fake.setDown(true);
    const rs: AgiRunResult[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await incoming(`1700020020.${i}`, `+7916999002${i}`);
      await hangup(`1700020020.${i}`, r);
      rs.push(r);
    }
    fake.setDown(false);
    fake.setLatency(700);
    await sql('UPDATE outbox SET next_at = 0');
    const first = runCli(t, ['retry', '--json']);
    await waitFor(() => fake.requests.length > 0, 15_000);
    const second = await runCli(t, ['retry', '--json']);
    expect(second.code, second.stderr).to.equal(0);
    const report = JSON.parse(second.stdout);
    expect(report.ran).to.equal(false);
    expect(report.lockedUntil).to.match(/^\d{4}-/);
    const done = await first;
    expect(done.code, done.stderr).to.equal(0);
    expect(JSON.parse(done.stdout)).to.include({ ran: true });
    expect(fake.calls('telephony.externalcall.register')).to.have.length(4);
    expect(fake.finishedCalls.size).to.equal(4);
  });

  describe('status and retry: calls and steps, the same words', () => {
    it('a step waiting for its back-off shows with its next attempt; "given up" is the only failure', async () => {
      fake.setDown(true);
      const r = await incoming('1700020030.1', '+79169990030');
      await hangup('1700020030.1', r);
      await sql('UPDATE outbox SET next_at = 0');
      const report = await retryJson();
      expect(report).not.to.have.property('failed');
      expect(report.calls).to.deep.equal({ tried: 1, done: 0, waiting: 1, held: 0 });
      expect(report.steps).to.deep.equal({ sent: 0, waiting: 1, held: 0 });
      expect(report.givenUp).to.deep.equal({ calls: 0, steps: 0 });
      expect(Date.parse(report.nextAttemptAt)).to.be.greaterThan(Date.now());

      const status = await runCli(t, ['status', '--json']);
      expect(status.code, status.stderr).to.equal(0);
      const s = JSON.parse(status.stdout);
      // The settings page reads these four (steps, as before).
      expect(s.outbox).to.include({ pending: 2, blocked: 0, failed: 0 });
      expect(s.outbox.oldestAt).to.match(/^\d{4}-/);
      // The finish waits with the register it depends on: one back-off for the whole call.
      expect(s.outbox.steps).to.deep.equal({ due: 0, waiting: 2, held: 0, givenUp: 0 });
      expect(s.outbox.calls).to.deep.equal({ due: 0, waiting: 1, held: 0, givenUp: 0 });
      expect(s.outbox.nextAttemptAt).to.equal(report.nextAttemptAt);
      expect(s.outbox.waiting.map((w: { step: string }) => w.step).sort()).to.deep.equal(['finish', 'register']);
      const reg = s.outbox.waiting.find((w: { step: string }) => w.step === 'register');
      expect(reg).to.include({ uniqueid: '1700020030.1', nextAttemptAt: report.nextAttemptAt });
      expect(reg.attempts).to.be.at.least(2);
      expect(reg.lastError).to.be.a('string');

      const text = (await runCli(t, ['status'])).stdout;
      expect(text).to.match(/waiting\s+1\s+2/);
      expect(text).to.match(/1700020030\.1\s+register\s+\d+\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
      expect(text).to.match(/given up\s+0\s+0/);
      expect(text, 'one word for a step never sent: given up').not.to.match(/^\s*failed/im);
      const attempts = () => sql('SELECT step, attempts, next_at FROM outbox ORDER BY step');
      const before = await attempts();
      const again = await runCli(t, ['retry']);
      expect(again.stdout).to.match(/calls: 0 tried/);
      expect(again.stdout).not.to.match(/fail/i);
      expect(await attempts(), 'nothing is tried before the next attempt time').to.deep.equal(before);
    });
  });
});
