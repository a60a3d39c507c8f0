// Whole calls through the FreePBX-shaped dialplan with the module's lines on the test PBX: the
// built agi-bin executables run as Asterisk runs them (and the card processes the show step
// leaves behind), against the strict fake Bitrix24 and a real SQLite file. Outcomes are what
// Bitrix24 got: exactly once, right operator, right status and talk time; on failure the PBX
// trace tells the story. Wall time belongs to `npm run bench`.
import { expect } from 'chai';
import { spawn } from 'child_process';
import { FakeBitrix } from '../fake-bitrix/server';
import { testSetup, TestSetup } from '../helpers/config';
import { openCallDb, waitFor } from '../helpers/calls';
import { runCli } from '../helpers/cli';
import { AGI_BIN } from '../helpers/fake-asterisk';
import { Pbx } from '../helpers/pbx';
import { dumpedFixture, freepbxFixtures, FreepbxFixture, freepbxPbx } from '../helpers/pbx/freepbx';

for (const fx of freepbxFixtures()) describe(`call flow on the test PBX (${fx.name}, built AGIs, fake Bitrix24)`, () => flows(fx, 'all'));

// The Queues module before 17.0.1.11 on Asterisk 22: Queue() passes the member gosub where
// Asterisk 21+ no longer reads it, so the module cannot place its queue hook (and says so).
const oldQueues = dumpedFixture(undefined, ['--asterisk', '20', '--astversion', '22.10.1']);
if (oldQueues) describe('call flow on the test PBX (Queues module before 17.0.1.11 on Asterisk 22)', () => flows(oldQueues, 'old-queue-line'));

/** 'all': every call path; 'old-queue-line': the queue without the module's member gosub. */
function flows(fx: FreepbxFixture, scope: 'all' | 'old-queue-line') {
  const { queue: QUEUE_DID, ringall: RINGALL_DID, direct: DIRECT_DID } = fx.dids;
  let fake: FakeBitrix;
  let t: TestSetup;
  let pbx: Pbx;

  beforeEach(async () => {
    fake = await FakeBitrix.start();
    fake.addUser({ ID: 1, NAME: 'Default', LAST_NAME: 'Owner', ACTIVE: true, UF_PHONE_INNER: null });
    fake.addUser({ ID: 12, NAME: 'Ivan', LAST_NAME: 'Petrov', ACTIVE: true, UF_PHONE_INNER: '101' });
    fake.addUser({ ID: 15, NAME: 'Anna', LAST_NAME: 'Smirnova', ACTIVE: true, UF_PHONE_INNER: '102' });
    fake.addUser({ ID: 17, NAME: 'Oleg', LAST_NAME: 'Sidorov', ACTIVE: true, UF_PHONE_INNER: '103' });
    fake.addUser({ ID: 21, NAME: 'Pavel', LAST_NAME: 'Orlov', ACTIVE: true, UF_PHONE_INNER: '104' });
    fake.addUser({ ID: 22, NAME: 'Olga', LAST_NAME: 'Lebedeva', ACTIVE: true, UF_PHONE_INNER: '105' });
    fake.addCrm({ type: 'CONTACT', name: 'Иван Петров', phones: ['+79161234567'] });
    t = testSetup({ webhookUrl: fake.webhookUrl, dids: Object.values(fx.dids) as string[], defaultUserId: 1 });
    pbx = freepbxPbx({ fixture: fx, agiDir: AGI_BIN, spoolDir: t.dir, agiEnv: { ITD_BITRIX_CONFIG: t.configPath } });
    // Every extension's phone rings and nobody answers unless a test says otherwise.
    for (const u of fx.users) pbx.phone(`PJSIP/${u.ext}`, {});
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') console.log(`--- PBX trace ---\n${pbx.traceText(80)}\n--- AGI ---\n${pbx.agiRuns.map((r) => `${r.channel} ${r.script} ${r.status}\n  ${r.lines.join('\n  ')}\n${r.stderr}`).join('\n')}`);
    await fake.stop();
  });

  /**
   * The finished call in Bitrix24. A recorded call (the generated fixture records every inbound
   * call) is finished by the detached worker once MixMonitor has closed the file: wait for it.
   */
  async function finishedCall(callId: string) {
    await waitFor(() => fake.finishedCalls.has(callId), 15_000);
    return fake.finishedCalls.get(callId)!;
  }

  /** Every AGI exited 0 and Asterisk understood every command it sent. */
  function expectCleanAgis() {
    for (const r of pbx.agiRuns) {
      expect(r.exitCode, `${r.script} on ${r.channel}: ${r.stderr}`).to.equal(0);
      expect(r.lines.filter((l) => /^<< 5[12]0/.test(l)), `${r.script}: commands Asterisk refused`).to.deep.equal([]);
    }
    expect(pbx.problems()).to.deep.equal([]);
  }

  /** Bitrix24 user of an extension (the fake's users above). */
  const USER: Record<string, number> = { '101': 12, '102': 15, '103': 17, '104': 21, '105': 22 };
  const members = () => fx.queues['400'].members.map((m) => /Local\/(\d+)@/.exec(typeof m === 'string' ? m : m.interface)![1]);
  const connectedMember = (callChannel: string) => {
    const e = pbx.events.filter((x) => x.type === 'queue-connect' && x.channel === callChannel);
    expect(e, `one queue connect for ${callChannel}`).to.have.length(1);
    return /Local\/(\d+)@/.exec(e[0].member as string)![1];
  };

  if (scope === 'old-queue-line') {
    it('several members pick up within milliseconds: one card and one finish per call, by the same operator (who may not be the one the queue connected)', async () => {
      members().forEach((ext) => pbx.phone(`PJSIP/${ext}`, { answerAfterMs: 4000 }));
      const call = pbx.inbound({ did: QUEUE_DID, callerNum: '89161234567', hangupAfterTalkMs: 10_000 });
      await pbx.run();
      expectCleanAgis();
      const callId = call.record()!.vars.BITRIX_CALL_ID;
      expect(fake.shows, 'one card: the first phone to pick up').to.have.length(1);
      const finished = await finishedCall(callId);
      expect(finished).to.include({ CALL_FAILED_CODE: '200', PORTAL_USER_ID: fake.shows[0].userIds[0] });
      expect(finished.CALL_DURATION).to.be.within(9, 11);
    });
    return;
  }

  it('queue call answered by one member: registered, one card to that member, finished 200 by them with the talk time', async () => {
    pbx.phone('PJSIP/101', { answerAfterMs: 4000 });
    const call = pbx.inbound({ did: QUEUE_DID, callerNum: '89161234567', hangupAfterTalkMs: 30_000 });
    await pbx.run();
    expectCleanAgis();

    const regs = fake.calls('telephony.externalcall.register');
    expect(regs).to.have.length(1);
    expect(regs[0].params).to.include({ PHONE_NUMBER: '+79161234567', LINE_NUMBER: QUEUE_DID, EXTERNAL_CALL_ID: call.channel.uniqueid });
    // '0' inside the incoming step's batch, 0 when a starved machine left the register to the hangup step.
    expect(Number(regs[0].params.SHOW), 'the register pops no card').to.equal(0);
    expect(call.channel.caller.name, 'CALLERID(name) from the CRM').to.equal('Иван Петров');
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows).to.deep.equal([{ callId, userIds: [12], result: true }]);
    const finished = await finishedCall(callId);
    expect(finished).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200' });
    expect(finished.CALL_DURATION, 'talk time in the PBX’s (virtual) seconds').to.be.within(29, 31);
  });

  it('queue call nobody answers, the caller gives up: finished 304 by the default user', async () => {
    const call = pbx.inbound({ did: QUEUE_DID, callerNum: '+79161234567', hangupAfterMs: 40_000 });
    await pbx.run();
    expectCleanAgis();
    expect(fake.shows).to.deep.equal([]);
    expect(await finishedCall(call.record()!.vars.BITRIX_CALL_ID)).to.include({ PORTAL_USER_ID: 1, CALL_FAILED_CODE: '304', CALL_DURATION: 0 });
  });

  it('direct extension answered: one card, finished 200 by the extension\'s user with the talk time (issue 10)', async () => {
    pbx.phone('PJSIP/101', { answerAfterMs: 3000 });
    const call = pbx.inbound({ did: DIRECT_DID, callerNum: '89161234567', hangupAfterTalkMs: 20_000 });
    await pbx.run();
    expectCleanAgis();
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows).to.deep.equal([{ callId, userIds: [12], result: true }]);
    const finished = await finishedCall(callId);
    expect(finished).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200' });
    expect(finished.CALL_DURATION).to.be.within(19, 21);
  });

  it('queue members pick up within the same millisecond: exactly one card, to the member the queue connected; finished by them (issue 16)', async () => {
    members().forEach((ext) => pbx.phone(`PJSIP/${ext}`, { answerAfterMs: 4000 }));
    const call = pbx.inbound({ did: QUEUE_DID, callerNum: '89161234567', hangupAfterTalkMs: 10_000 });
    await pbx.run();
    expectCleanAgis();
    const pickedUp = pbx.trace.filter((t) => t.context === 'macro-auto-blkvm' && t.priority === 1);
    expect(pickedUp.length, 'several phones picked up before the queue chose').to.be.at.least(2);
    const connected = connectedMember(call.channel.name);
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows).to.deep.equal([{ callId, userIds: [USER[connected]], result: true }]);
    const finished = await finishedCall(callId);
    expect(finished).to.include({ PORTAL_USER_ID: USER[connected], CALL_FAILED_CODE: '200' });
    expect(finished.CALL_DURATION).to.be.within(9, 11);
  });

  it('a burst of 5 queue calls whose members all pick up at once: one card per call, each to its connected member (issue 16)', async () => {
    members().forEach((ext) => pbx.phone(`PJSIP/${ext}`, { answerAfterMs: 4000 }));
    const calls = Array.from({ length: 5 }, (_, i) => pbx.inbound({ did: QUEUE_DID, callerNum: `8916123456${i}`, hangupAfterTalkMs: 10_000 }));
    await pbx.run();
    expectCleanAgis();
    for (const call of calls) {
      const connected = connectedMember(call.channel.name);
      const callId = call.record()!.vars.BITRIX_CALL_ID;
      expect(fake.shows.filter((x) => x.callId === callId), call.channel.name).to.deep.equal([{ callId, userIds: [USER[connected]], result: true }]);
      expect(await finishedCall(callId)).to.include({ PORTAL_USER_ID: USER[connected], CALL_FAILED_CODE: '200' });
    }
    expect(fake.shows, 'show requests per answered queue call: 1').to.have.length(calls.length);
  });

  it('ring-all group answered by the first member: the card and the finish go to that member, not to EXTTOCALL (issue 10)', async () => {
    pbx.phone('PJSIP/101', { answerAfterMs: 3000 });
    pbx.phone('PJSIP/102', {});
    const call = pbx.inbound({ did: RINGALL_DID, callerNum: '89161234567', hangupAfterTalkMs: 10_000 });
    await pbx.run();
    expectCleanAgis();
    expect(call.record()!.vars.EXTTOCALL, 'FreePBX leaves the last member there').to.not.equal('101');
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows).to.deep.equal([{ callId, userIds: [12], result: true }]);
    const finished = await finishedCall(callId);
    expect(finished).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200' });
    expect(finished.CALL_DURATION).to.be.within(9, 11);
  });

  it('hunt group: the first member busy, the second answers: card and finish by the second', async () => {
    pbx.phone('PJSIP/101', { busy: true });
    pbx.phone('PJSIP/102', { answerAfterMs: 2000 });
    const call = pbx.inbound({ did: fx.dids.hunt, callerNum: '89161234567', hangupAfterTalkMs: 8000 });
    await pbx.run();
    expectCleanAgis();
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows).to.deep.equal([{ callId, userIds: [15], result: true }]);
    const finished = await finishedCall(callId);
    expect(finished).to.include({ PORTAL_USER_ID: 15, CALL_FAILED_CODE: '200' });
    expect(finished.CALL_DURATION).to.be.within(7, 9);
  });

  if (fx.dids.followme)
    it('follow-me (ring-all 104-105): the primary answers; card and finish by 104, not EXTTOCALL 105', async () => {
      pbx.phone('PJSIP/104', { answerAfterMs: 2000 });
      const call = pbx.inbound({ did: fx.dids.followme!, callerNum: '89161234567', hangupAfterTalkMs: 6000 });
      await pbx.run();
      expectCleanAgis();
      const callId = call.record()!.vars.BITRIX_CALL_ID;
      expect(fake.shows).to.deep.equal([{ callId, userIds: [21], result: true }]);
      const finished = await finishedCall(callId);
      expect(finished).to.include({ PORTAL_USER_ID: 21, CALL_FAILED_CODE: '200' });
      expect(finished.CALL_DURATION).to.be.within(5, 7);
    });

  if (fx.dids.ivr)
    it('IVR → extension: card and finish by the extension, talk time without the IVR', async () => {
      pbx.phone('PJSIP/102', { answerAfterMs: 1000 });
      const call = pbx.inbound({ did: fx.dids.ivr!, callerNum: '89161234567', hangupAfterTalkMs: 5000, dtmf: [{ afterAnswerMs: 1000, digits: '2' }] });
      await pbx.run();
      expectCleanAgis();
      const callId = call.record()!.vars.BITRIX_CALL_ID;
      expect(fake.shows).to.deep.equal([{ callId, userIds: [15], result: true }]);
      const finished = await finishedCall(callId);
      expect(finished).to.include({ PORTAL_USER_ID: 15, CALL_FAILED_CODE: '200' });
      expect(finished.CALL_DURATION, 'Dial\'s ANSWEREDTIME would say 9').to.be.within(4, 6);
    });

  it('20 calls answered at once while both cores are busy: none reported missed, each by its own operator, none lost, none twice (issue 10)', async function () {
    this.timeout(300_000);
    // A portal on a large plan: this is about the call path on a starved PBX, not the bucket.
    fake.setRateLimit(false);
    t.write({ rateLimitPerSecond: 50, rateLimitBurst: 500 });
    const hogs = [0, 1].map(() => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
    try {
      pbx.phone('PJSIP/101', { answerAfterMs: 3000 });
      pbx.phone('PJSIP/102', { answerAfterMs: 3000 });
      pbx.phone('PJSIP/103', {});
      // Half straight to 101, half into the ring-all group where 102 and 101 answer together: Dial picks one.
      const calls = Array.from({ length: 20 }, (_, i) =>
        pbx.inbound({ did: i % 2 ? RINGALL_DID : DIRECT_DID, callerNum: `8916700${String(i).padStart(4, '0')}`, hangupAfterTalkMs: 10_000 }),
      );
      await pbx.run();
      expectCleanAgis();
      // What a starved step could not send (a hangup step out of budget leaves the finish to the
      // retry, due 90 s later), the scheduled retry does: run it as if that time had passed.
      for (let run = 0; run < 5; run++) {
        const db = await openCallDb(t.dbPath);
        await db.run('UPDATE outbox SET next_at = 0');
        const left = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM outbox');
        await db.close();
        if (!left?.n && run > 0) break;
        await runCli(t, ['retry']);
      }
      for (const call of calls) {
        const external = call.channel.uniqueid;
        const peer = call.record()!.vars.DIALEDPEERNAME;
        const ext = /^PJSIP\/(\d+)-/.exec(peer)![1];
        const finished = [...fake.finishedCalls.values()].filter((c) => c.EXTERNAL_CALL_ID === external);
        expect(finished, `${external}: finished once`).to.have.length(1);
        expect(finished[0], external).to.include({ CALL_FAILED_CODE: '200', PORTAL_USER_ID: USER[ext] });
        // Talk time: from the answer to the end the dialplan stamped (BITRIX_ENDED, the hangup
        // handler's first line), with the answer stamped by the answer hook between the operator
        // picking up and the bridge (a show step starting late on a starved PBX keeps the caller
        // waiting for the bridge while the operator is on the line). No process's clock in it.
        const pickedUp = pbx.ended.find((r) => r.name === peer)!.answeredAt!;
        const bridge = pbx.events.find((e) => e.type === 'bridge' && (e.channel === peer || e.channel === call.channel.name))!;
        const ended = Math.round(Number(call.record()!.vars.BITRIX_ENDED) * 1000);
        const talk = [Math.floor((ended - (pbx.startedAt + bridge.at)) / 1000) - 1, Math.ceil((ended - pickedUp) / 1000) + 1];
        expect(talk[0], `${external}: the caller talked 10 s after the bridge`).to.be.at.least(8);
        expect(finished[0].CALL_DURATION, external).to.be.within(talk[0], talk[1]);
        const callIds = new Set(fake.calls('telephony.externalcall.register').filter((r) => r.params.EXTERNAL_CALL_ID === external).map((r) => r.params.EXTERNAL_CALL_ID));
        expect(callIds.size, `${external}: one CRM call`).to.equal(1);
      }
      expect(new Set([...fake.activeCalls.values(), ...fake.finishedCalls.values()].map((c) => c.CALL_ID)).size, 'one CRM call per phone call').to.equal(20);
    } finally {
      for (const h of hogs) h.kill('SIGKILL');
    }
  });
}
