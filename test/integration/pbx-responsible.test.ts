// The responsible-manager destination on the test PBX: the generated dialplan (FreePBX 17 fixture
// + the module's hook, utests/fixtures/dump-dialplan.php; DID 74951234573 → destination 1: ring
// 15 s, skip DND and busy, fallback queue 400 with members 101–103), the built AGIs, the fake
// Bitrix24. Outcomes: who rang, who got the card, who finished the call, how often.
import { expect } from 'chai';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { FakeBitrix } from '../fake-bitrix/server';
import { testSetup, TestSetup } from '../helpers/config';
import { waitFor } from '../helpers/calls';
import { AGI_BIN } from '../helpers/fake-asterisk';
import { Pbx } from '../helpers/pbx';
import { dumpedFixture, FreepbxFixture, freepbxPbx } from '../helpers/pbx/freepbx';
import type { InboundCall } from '../helpers/pbx/phones';

const REPO = join(__dirname, '..', '..');
const DID = '74951234573';
const IVAN = '+79161234567'; // contact owned by Ivan (user 12, extension 101), workday open
const OLGA = '+79035550000'; // contact owned by Olga (user 15, extension 102), workday closed
const NOBODY = '+79990000000'; // not in the CRM

describe('responsible-manager destination on the test PBX (generated dialplan, built AGIs, fake Bitrix24)', function () {
  this.timeout(60_000);
  let fake: FakeBitrix;
  let t: TestSetup;
  let pbx: Pbx;
  const fixtures = new Map<string, FreepbxFixture | undefined>();

  /** The generated dialplan; destination 1's fields overridden as its form would save them. */
  function fixture(responsible: Record<string, unknown> = {}): FreepbxFixture | undefined {
    const key = JSON.stringify(responsible);
    if (!fixtures.has(key)) {
      const file = join(t.dir, 'responsible.json');
      writeFileSync(file, key);
      fixtures.set(key, dumpedFixture(REPO, ['--responsible', file]));
    }
    return fixtures.get(key);
  }

  function start(responsible: Record<string, unknown> = {}): Pbx {
    const fx = fixture(responsible);
    if (!fx) throw new Error('no php: the generated fixture is not available');
    pbx = freepbxPbx({ fixture: fx, agiDir: AGI_BIN, spoolDir: t.dir, agiEnv: { ITD_BITRIX_CONFIG: t.configPath } });
    for (const u of fx.users) pbx.phone(`PJSIP/${u.ext}`, {});
    return pbx;
  }

  before(function () {
    if (!dumpedFixture(REPO)) this.skip();
  });

  beforeEach(async () => {
    fake = await FakeBitrix.start();
    fake.addUser({ ID: 1, NAME: 'Default', LAST_NAME: 'Owner', ACTIVE: true, UF_PHONE_INNER: null });
    fake.addUser({ ID: 12, NAME: 'Ivan', LAST_NAME: 'Petrov', ACTIVE: true, UF_PHONE_INNER: '101', TIMEMAN: 'OPENED' });
    fake.addUser({ ID: 15, NAME: 'Olga', LAST_NAME: 'Smirnova', ACTIVE: true, UF_PHONE_INNER: '102', TIMEMAN: 'CLOSED' });
    fake.addUser({ ID: 17, NAME: 'Oleg', LAST_NAME: 'Sidorov', ACTIVE: true, UF_PHONE_INNER: '103' });
    fake.addCrm({ type: 'CONTACT', name: 'Иван Клиент', phones: [IVAN], assignedById: 12 });
    fake.addCrm({ type: 'CONTACT', name: 'Ольга Клиент', phones: [OLGA], assignedById: 15 });
    const dids = ['74951234567', '74951234568', '74951234569', '74951234570', '74951234571', '74951234572', DID];
    t = testSetup({ webhookUrl: fake.webhookUrl, dids, defaultUserId: 1, responsibleRouting: true });
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && pbx) {
      console.log(`--- PBX trace ---\n${pbx.traceText(120)}\n--- AGI ---\n${pbx.agiRuns.map((r) => `${r.channel} ${r.script} ${r.status}\n  ${r.lines.join('\n  ')}\n${r.stderr}`).join('\n')}`);
    }
    await fake.stop();
  });

  async function finishedOnce(callId: string) {
    await waitFor(() => fake.finishedCalls.has(callId), 15_000);
    expect(fake.calls('telephony.externalcall.finish').filter((r) => r.params.CALL_ID === callId), 'finished exactly once').to.have.length(1);
    return fake.finishedCalls.get(callId)!;
  }

  function expectClean() {
    for (const r of pbx.agiRuns) {
      expect(r.exitCode, `${r.script} on ${r.channel}: ${r.stderr}`).to.equal(0);
      expect(r.lines.filter((l) => /^<< 5[12]0/.test(l)), `${r.script}: commands Asterisk refused`).to.deep.equal([]);
    }
    expect(pbx.problems()).to.deep.equal([]);
  }

  /** What the inbound channel dialled itself (our destination's Dial), and whether it joined the queue. */
  function inboundActs(channel: string) {
    const dialled = pbx.events.filter((e) => e.channel === channel && e.type === 'dial').flatMap((e) => e.peers as string[]);
    const ends = pbx.events.filter((e) => e.channel === channel && e.type === 'dial-end').map((e) => e.status);
    const queued = pbx.events.some((e) => e.channel === channel && e.type === 'queue-join');
    return { dialled: dialled.map((p) => p.replace(/-[0-9a-f]+;\d$/, '')), ends, queued };
  }

  it('the manager answers: only their phone rings, they get the card, the call is finished by them with the talk time', async () => {
    start();
    pbx.phone('PJSIP/101', { answerAfterMs: 3000 });
    const call = pbx.inbound({ did: DID, callerNum: '89161234567', hangupAfterTalkMs: 20_000 });
    await pbx.run();
    expectClean();

    expect(inboundActs(call.channel.name)).to.deep.equal({ dialled: ['Local/101@from-internal'], ends: ['ANSWER'], queued: false });
    expect(call.channel.caller.name).to.equal('Иван Клиент');
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows).to.deep.equal([{ callId, userIds: [12], result: true }]);
    const finished = await finishedOnce(callId);
    expect(finished).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200' });
    expect(finished.CALL_DURATION).to.be.within(19, 21);
    expect(fake.calls('telephony.externalCall.searchCrmEntities'), 'the manager came from the incoming lookup').to.have.length(1);
  });

  it('the manager does not answer: after the ring time the queue takes the call, finished once by the member who answers', async () => {
    start();
    pbx.phone('PJSIP/102', { answerAfterMs: 2000 });
    const call = pbx.inbound({ did: DID, callerNum: IVAN, hangupAfterTalkMs: 10_000 });
    await pbx.run();
    expectClean();

    const acts = inboundActs(call.channel.name);
    expect(acts).to.deep.include({ dialled: ['Local/101@from-internal'], queued: true });
    expect(acts.ends[0]).to.equal('NOANSWER');
    const dialEnd = pbx.events.find((e) => e.channel === call.channel.name && e.type === 'dial-end')!;
    const queueJoin = pbx.events.find((e) => e.channel === call.channel.name && e.type === 'queue-join')!;
    expect(queueJoin.at - dialEnd.at, 'straight on to the queue').to.be.below(1000);
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    const finished = await finishedOnce(callId);
    expect(finished).to.include({ PORTAL_USER_ID: 15, CALL_FAILED_CODE: '200' });
    expect(finished.CALL_DURATION).to.be.within(9, 11);
    expect(fake.shows.map((s) => s.userIds), 'no card for the manager who did not answer').to.deep.equal([[15]]);
  });

  it('the manager’s phone is busy: the queue at once, finished by the member who answers', async () => {
    start();
    pbx.phone('PJSIP/101', { busy: true });
    pbx.phone('PJSIP/103', { answerAfterMs: 1000 });
    const call = pbx.inbound({ did: DID, callerNum: IVAN, hangupAfterTalkMs: 5_000 });
    await pbx.run();
    expectClean();
    const acts = inboundActs(call.channel.name);
    expect(acts).to.deep.include({ dialled: ['Local/101@from-internal'], queued: true });
    expect(acts.ends[0]).to.equal('BUSY');
    expect(await finishedOnce(call.record()!.vars.BITRIX_CALL_ID)).to.include({ PORTAL_USER_ID: 17, CALL_FAILED_CODE: '200' });
  });

  it('the manager is ringing for another call, or on Do Not Disturb: not rung at all, the queue at once', async () => {
    start();
    // A call straight to 101 that rings on; the customer calls 4 s later (after the other call's
    // lookup, whose budget is 2 s): 101 is RINGING when the customer's call reaches the destination.
    const other = pbx.inbound({ did: '74951234567', callerNum: NOBODY, hangupAfterMs: 12_000 });
    pbx.phone('PJSIP/102', { answerAfterMs: 1000 });
    let call: InboundCall | undefined;
    pbx.clock.timer(4000, () => {
      call = pbx.inbound({ did: DID, callerNum: IVAN, hangupAfterTalkMs: 3_000 });
    });
    await pbx.run();
    expectClean();
    const ringing = pbx.events.find((e) => e.channel === other.channel.name && e.type === 'dial')!;
    const arrived = pbx.events.find((e) => e.channel === call!.channel.name && e.type === 'newchannel')!;
    expect(ringing.at, '101 rang for the other call first').to.be.below(arrived.at);
    expect(inboundActs(call!.channel.name)).to.deep.equal({ dialled: [], ends: [], queued: true });
    expect(await finishedOnce(call!.record()!.vars.BITRIX_CALL_ID)).to.include({ PORTAL_USER_ID: 15, CALL_FAILED_CODE: '200' });

    start();
    pbx.astdb.set('DND/101', 'YES');
    pbx.phone('PJSIP/102', { answerAfterMs: 1000 });
    const dnd = pbx.inbound({ did: DID, callerNum: IVAN, hangupAfterTalkMs: 3_000 });
    await pbx.run();
    expectClean();
    expect(inboundActs(dnd.channel.name)).to.deep.equal({ dialled: [], ends: [], queued: true });
  });

  it('unknown number: the queue at once, nothing rings first, the call is reported all the same', async () => {
    start();
    pbx.phone('PJSIP/101', { answerAfterMs: 1000 });
    const call = pbx.inbound({ did: DID, callerNum: NOBODY, hangupAfterTalkMs: 5_000 });
    await pbx.run();
    expectClean();
    expect(inboundActs(call.channel.name)).to.deep.equal({ dialled: [], ends: [], queued: true });
    const finished = await finishedOnce(call.record()!.vars.BITRIX_CALL_ID);
    expect(finished).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200' });
  });

  it('the manager’s Bitrix24 workday is closed: with the setting on, the queue at once; with it off, the manager rings', async () => {
    start({ workdayOnly: true });
    pbx.phone('PJSIP/101', { answerAfterMs: 1000 });
    const closed = pbx.inbound({ did: DID, callerNum: OLGA, hangupAfterTalkMs: 5_000 });
    await pbx.run();
    expectClean();
    expect(inboundActs(closed.channel.name)).to.deep.equal({ dialled: [], ends: [], queued: true });
    expect(await finishedOnce(closed.record()!.vars.BITRIX_CALL_ID)).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200' });

    start({ workdayOnly: true });
    pbx.phone('PJSIP/101', { answerAfterMs: 1000 });
    const open = pbx.inbound({ did: DID, callerNum: IVAN, hangupAfterTalkMs: 5_000 });
    await pbx.run();
    expect(inboundActs(open.channel.name)).to.deep.include({ dialled: ['Local/101@from-internal'], queued: false });

    start({ workdayOnly: false });
    pbx.phone('PJSIP/102', { answerAfterMs: 1000 });
    const off = pbx.inbound({ did: DID, callerNum: OLGA, hangupAfterTalkMs: 5_000 });
    await pbx.run();
    expectClean();
    expect(inboundActs(off.channel.name)).to.deep.include({ dialled: ['Local/102@from-internal'], queued: false });
    expect(await finishedOnce(off.record()!.vars.BITRIX_CALL_ID)).to.include({ PORTAL_USER_ID: 15, CALL_FAILED_CODE: '200' });
  });
});
