// Whole calls through the FreePBX-shaped dialplan (with today's module lines) on the test PBX:
// the built agi-bin executables run as Asterisk runs them, against the strict fake Bitrix24 and
// a real SQLite file. Outcomes are what Bitrix24 got; on failure the PBX trace tells the story.
import { expect } from 'chai';
import { FakeBitrix } from '../fake-bitrix/server';
import { testSetup, TestSetup } from '../helpers/config';
import { waitFor } from '../helpers/calls';
import { AGI_BIN } from '../helpers/fake-asterisk';
import { Pbx } from '../helpers/pbx';
import { freepbxFixtures, FreepbxFixture, freepbxPbx } from '../helpers/pbx/freepbx';

for (const fx of freepbxFixtures()) describe(`call flow on the test PBX (${fx.name}, built AGIs, fake Bitrix24)`, () => flows(fx));

function flows(fx: FreepbxFixture) {
  const { queue: QUEUE_DID, ringall: RINGALL_DID, direct: DIRECT_DID } = fx.dids;
  let fake: FakeBitrix;
  let t: TestSetup;
  let pbx: Pbx;

  beforeEach(async () => {
    fake = await FakeBitrix.start();
    fake.addUser({ ID: 1, NAME: 'Default', LAST_NAME: 'Owner', ACTIVE: true, UF_PHONE_INNER: null });
    fake.addUser({ ID: 12, NAME: 'Ivan', LAST_NAME: 'Petrov', ACTIVE: true, UF_PHONE_INNER: '101' });
    fake.addUser({ ID: 15, NAME: 'Anna', LAST_NAME: 'Smirnova', ACTIVE: true, UF_PHONE_INNER: '102' });
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

  it('queue call answered by one member: registered, one card to that member, finished 200 by them with the talk time', async () => {
    pbx.phone('PJSIP/101', { answerAfterMs: 4000 });
    const call = pbx.inbound({ did: QUEUE_DID, callerNum: '89161234567', hangupAfterTalkMs: 30_000 });
    await pbx.run();
    expectCleanAgis();

    const regs = fake.calls('telephony.externalcall.register');
    expect(regs).to.have.length(1);
    expect(regs[0].params).to.include({ PHONE_NUMBER: '+79161234567', LINE_NUMBER: QUEUE_DID, EXTERNAL_CALL_ID: call.channel.uniqueid, SHOW: '0' });
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

  // Issue 10: a DID routed straight to an extension runs no macro-auto-blkvm (U() is added only
  // with NODEST), so the show step never runs and today's module reports the answered call as
  // missed (304 by the default user). Turn this on when the answer is recorded from Dial()'s
  // results on the inbound channel.
  it.skip('direct extension answered: finished 200 by the extension’s user (issue 10)', async () => {
    pbx.phone('PJSIP/101', { answerAfterMs: 3000 });
    const call = pbx.inbound({ did: DIRECT_DID, callerNum: '89161234567', hangupAfterTalkMs: 20_000 });
    await pbx.run();
    expectCleanAgis();
    const finished = await finishedCall(call.record()!.vars.BITRIX_CALL_ID);
    expect(finished).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200' });
    expect(finished.CALL_DURATION).to.be.within(19, 21);
  });

  // The next issues (facts in the dialplan): two queue members answer within milliseconds; the
  // answer hook runs on both phones before Queue() connects one, so today both get a card.
  it.skip('two queue members answer within milliseconds: exactly one card, to the connected member (facts in the dialplan)', async () => {
    pbx.phone('PJSIP/101', { answerAfterMs: 4000 });
    pbx.phone('PJSIP/102', { answerAfterMs: 4001 });
    const call = pbx.inbound({ did: QUEUE_DID, callerNum: '89161234567', hangupAfterTalkMs: 10_000 });
    await pbx.run();
    expectCleanAgis();
    const connected = pbx.events.find((e) => e.type === 'queue-connect')!.member as string;
    const userId = connected.includes('/101@') ? 12 : 15;
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows).to.deep.equal([{ callId, userIds: [userId], result: true }]);
    expect(await finishedCall(callId)).to.include({ PORTAL_USER_ID: userId, CALL_FAILED_CODE: '200' });
  });

  // The next issues: in a ring-all group FreePBX sets __EXTTOCALL in a loop, so every member's
  // channel inherits the last member; today's answer hook shows the card to 102 when 101 answers.
  it.skip('ring-all group answered by the first member: the card and the finish go to that member (facts in the dialplan)', async () => {
    pbx.phone('PJSIP/101', { answerAfterMs: 3000 });
    pbx.phone('PJSIP/102', {});
    const call = pbx.inbound({ did: RINGALL_DID, callerNum: '89161234567', hangupAfterTalkMs: 10_000 });
    await pbx.run();
    expectCleanAgis();
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows).to.deep.equal([{ callId, userIds: [12], result: true }]);
    expect(await finishedCall(callId)).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200' });
  });
}
