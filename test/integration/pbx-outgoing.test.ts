// Outgoing calls through the dialplan FreePBX 17 generates (utests/fixtures/dump-dialplan.php:
// core's outbound route over trunks lab-a then lab-b, macro-dialout-trunk as a Gosub,
// trunk-dial-with-exten, callrecording, queues-first macro-auto-blkvm) with the module's hook
// spliced in, on the test PBX: the built AGIs, the strict fake Bitrix24, real SQLite.
import { expect } from 'chai';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { FakeBitrix } from '../fake-bitrix/server';
import { testSetup, TestSetup } from '../helpers/config';
import { waitFor } from '../helpers/calls';
import { AGI_BIN } from '../helpers/fake-asterisk';
import { Pbx } from '../helpers/pbx';
import { dumpedFixture, FreepbxFixture, freepbxPbx } from '../helpers/pbx/freepbx';
import { tempDir } from '../helpers/tmp';

function fixture(settings: Record<string, unknown>): FreepbxFixture | undefined {
  const file = join(tempDir('itd-bitrix-outgoing-settings-'), 's.json');
  writeFileSync(file, JSON.stringify(settings));
  return dumpedFixture(undefined, ['--settings', file]);
}

const ALL_ROUTES = fixture({ outgoingEnabled: true });
const OTHER_ROUTE_ONLY = fixture({ outgoingEnabled: true, outgoingRoutes: ['7'] });

(ALL_ROUTES ? describe : describe.skip)('outgoing calls on the test PBX (generated FreePBX 17 dialplan, built AGIs, fake Bitrix24)', function () {
  this.timeout(60_000);
  let fake: FakeBitrix;
  let t: TestSetup;
  let pbx: Pbx;

  function start(fx: FreepbxFixture, config: Record<string, unknown> = {}) {
    t = testSetup({ webhookUrl: fake.webhookUrl, dids: Object.values(fx.dids) as string[], outgoingEnabled: true, attachRecordings: false, ...config });
    pbx = freepbxPbx({ fixture: fx, agiDir: AGI_BIN, spoolDir: t.dir, agiEnv: { ITD_BITRIX_CONFIG: t.configPath } });
    for (const u of fx.users) pbx.phone(`PJSIP/${u.ext}`, {});
  }

  beforeEach(async () => {
    fake = await FakeBitrix.start();
    fake.addUser({ ID: 1, NAME: 'Default', LAST_NAME: 'Owner', ACTIVE: true, UF_PHONE_INNER: null });
    fake.addUser({ ID: 12, NAME: 'Ivan', LAST_NAME: 'Petrov', ACTIVE: true, UF_PHONE_INNER: '101' });
    fake.addUser({ ID: 15, NAME: 'Anna', LAST_NAME: 'Smirnova', ACTIVE: true, UF_PHONE_INNER: '102' });
    fake.addCrm({ type: 'CONTACT', name: 'Иван Петров', phones: ['+79161234567'] });
    start(ALL_ROUTES as FreepbxFixture);
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') console.log(`--- PBX trace ---\n${pbx.traceText(80)}\n--- AGI ---\n${pbx.agiRuns.map((r) => `${r.channel} ${r.script} ${r.status}\n  ${r.lines.join('\n  ')}\n${r.stderr}`).join('\n')}`);
    await fake.stop();
  });

  /** Every AGI exited 0, Asterisk understood every command, and logged nothing but `expected`. */
  function expectCleanAgis(expected: string[] = []) {
    for (const r of pbx.agiRuns) {
      expect(r.exitCode, `${r.script} on ${r.channel}: ${r.stderr}`).to.equal(0);
      expect(r.lines.filter((l) => /^<< 5[12]0/.test(l)), `${r.script}: commands Asterisk refused`).to.deep.equal([]);
    }
    expect(pbx.problems()).to.deep.equal(expected);
  }

  async function theFinish(): Promise<Record<string, unknown>> {
    await waitFor(() => fake.finishedCalls.size > 0, 15_000);
    expect(fake.finishedCalls.size, 'one call finished').to.equal(1);
    return [...fake.finishedCalls.values()][0] as unknown as Record<string, unknown>;
  }

  it('answered: one register by the caller (TYPE 1, card, route as the line), finished 200 with the talk time only', async () => {
    pbx.trunk('lab-a', { answerAfterMs: 6000 });
    const call = pbx.outbound({ from: 'PJSIP/101', number: '89161234567', hangupAfterTalkMs: 42_000 });
    await pbx.run();
    expectCleanAgis();
    expect(pbx.trunkCalls.map((c) => `${c.endpoint} ${c.number}`)).to.deep.equal(['lab-a 89161234567']);
    const trunkLeg = pbx.ended.find((r) => r.name.startsWith('PJSIP/lab-a-'))!;
    expect(trunkLeg.vars, 'the trunk sees the outbound caller ID, not the extension').to.not.have.property('CALLERID(num)');
    const regs = fake.calls('telephony.externalcall.register');
    expect(regs).to.have.length(1);
    expect(regs[0].params).to.include({ USER_ID: 12, TYPE: 1, PHONE_NUMBER: '+79161234567', SHOW: 1, LINE_NUMBER: 'Main', EXTERNAL_CALL_ID: call.channel.linkedid });
    expect(fake.shows.map((s) => s.userIds)).to.deep.equal([[12]]);
    const f = await theFinish();
    expect(f).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200' });
    expect(f.CALL_DURATION, '42 s of talk; the 6 s of ringing are not counted').to.be.within(41, 43);
  });

  it('recorded by the extension\'s outbound policy: the recording is attached once the file is closed', async () => {
    start(ALL_ROUTES as FreepbxFixture, { attachRecordings: true });
    pbx.astdb.set('AMPUSER/101/recording/out/external', 'force');
    pbx.trunk('lab-a', { answerAfterMs: 2000 });
    pbx.outbound({ from: 'PJSIP/101', number: '89161234567', hangupAfterTalkMs: 12_000 });
    await pbx.run();
    expectCleanAgis();
    const f = await theFinish();
    expect(f).to.include({ CALL_FAILED_CODE: '200' });
    await waitFor(() => fake.attachedFiles.length > 0, 15_000);
    expect(fake.attachedFiles).to.have.length(1);
    expect(fake.attachedFiles[0].callId).to.equal(f.CALL_ID);
    expect(fake.attachedFiles[0].filename).to.match(/^out-89161234567-101-.*\.wav$/);
  });

  const failures: Array<[string, Parameters<Pbx['trunk']>[1], string]> = [
    ['busy', { busy: true }, '486'],
    ['no answer (the far end gives up ringing: cause 19)', { failAfterMs: 30_000, cause: 19 }, '304'],
    ['the number does not exist (cause 1)', { failAfterMs: 500, cause: 1 }, '404'],
    ['invalid number format (cause 28)', { failAfterMs: 500, cause: 28 }, '484'],
  ];
  for (const [name, farEnd, status] of failures) {
    it(`${name}: ${status} by the caller, no talk time, the trunk's own cause kept`, async () => {
      pbx.trunk('lab-a', farEnd);
      pbx.trunk('lab-b', { answerAfterMs: 1000 });
      const call = pbx.outbound({ from: 'PJSIP/101', number: '89161234567', hangupAfterMs: 60_000 });
      await pbx.run();
      expectCleanAgis();
      expect(pbx.trunkCalls.map((c) => c.endpoint), 'FreePBX gives up after this answer: no failover').to.deep.equal(['lab-a']);
      expect(await theFinish()).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: status, CALL_DURATION: 0 });
      expect(fake.calls('telephony.externalcall.register')).to.have.length(1);
      void call;
    });
  }

  it('the caller hangs up while it rings: 603-S', async () => {
    pbx.trunk('lab-a', { answerAfterMs: 60_000 });
    pbx.outbound({ from: 'PJSIP/101', number: '89161234567', hangupAfterMs: 8000 });
    await pbx.run();
    expectCleanAgis();
    expect(await theFinish()).to.include({ CALL_FAILED_CODE: '603-S', CALL_DURATION: 0 });
  });

  it('failover: trunk 1 has no circuit, trunk 2 answers: one call, registered once, finished 200 with trunk 2’s talk time', async () => {
    pbx.trunk('lab-a', { failAfterMs: 200, cause: 34 });
    pbx.trunk('lab-b', { answerAfterMs: 3000 });
    pbx.outbound({ from: 'PJSIP/101', number: '89161234567', hangupAfterTalkMs: 20_000 });
    await pbx.run();
    expectCleanAgis();
    expect(pbx.trunkCalls.map((c) => c.endpoint)).to.deep.equal(['lab-a', 'lab-b']);
    const outgoingRuns = pbx.agiRuns.filter((r) => r.script.includes('itd_bitrix_outgoing'));
    expect(outgoingRuns, 'the outgoing step runs at the first trunk only').to.have.length(1);
    expect(fake.calls('telephony.externalcall.register')).to.have.length(1);
    const f = await theFinish();
    expect(f).to.include({ CALL_FAILED_CODE: '200' });
    expect(f.CALL_DURATION).to.be.within(19, 21);
  });

  it('both trunks unavailable: 503', async () => {
    pbx.trunk('lab-a', { unavailable: true });
    pbx.trunk('lab-b', { failAfterMs: 100, cause: 34 });
    pbx.outbound({ from: 'PJSIP/101', number: '89161234567', hangupAfterMs: 30_000 });
    await pbx.run();
    expectCleanAgis(["WARNING Unable to create channel of type 'PJSIP' (cause 20 - Subscriber absent) for lab-a"]);
    expect(pbx.trunkCalls.map((c) => c.endpoint)).to.deep.equal(['lab-b']);
    expect(await theFinish()).to.include({ CALL_FAILED_CODE: '503', CALL_DURATION: 0 });
  });

  it('an inbound call forwarded to a mobile (call forward) leaves through the trunk as part of the inbound call: no outgoing call', async () => {
    pbx.astdb.set('CF/101', '89161234567');
    pbx.trunk('lab-a', { answerAfterMs: 2000 });
    const call = pbx.inbound({ did: (ALL_ROUTES as FreepbxFixture).dids.direct, callerNum: '+79031112233', hangupAfterTalkMs: 10_000 });
    await pbx.run();
    expectCleanAgis();
    expect(pbx.trunkCalls.map((c) => `${c.endpoint} ${c.number}`)).to.deep.equal(['lab-a 89161234567']);
    const regs = fake.calls('telephony.externalcall.register');
    expect(regs.map((r) => r.params.TYPE), 'the inbound call only').to.deep.equal(['2']);
    expect(pbx.agiRuns.filter((r) => r.script.includes('itd_bitrix_outgoing'))).to.have.length(0);
    expect(pbx.trace.some((s) => s.context === 'itd-bitrix-outbound'), 'the hook ran and let it pass').to.equal(true);
    void call;
  });

  it('an internal call between extensions never reaches the hook', async () => {
    pbx.phone('PJSIP/102', { answerAfterMs: 1000 });
    pbx.outbound({ from: 'PJSIP/101', number: '102', hangupAfterTalkMs: 5000 });
    await pbx.run();
    expectCleanAgis();
    expect(fake.requests).to.have.length(0);
  });

  it('outgoing calls off: the trunk hook is not there, nothing is sent', async () => {
    start(fixture({ outgoingEnabled: false }) as FreepbxFixture, { outgoingEnabled: false });
    pbx.trunk('lab-a', { answerAfterMs: 1000 });
    pbx.outbound({ from: 'PJSIP/101', number: '89161234567', hangupAfterTalkMs: 5000 });
    await pbx.run();
    expectCleanAgis();
    expect(fake.requests).to.have.length(0);
  });

  it('a route not chosen on the page is not reported', async () => {
    start(OTHER_ROUTE_ONLY as FreepbxFixture);
    pbx.trunk('lab-a', { answerAfterMs: 1000 });
    pbx.outbound({ from: 'PJSIP/101', number: '89161234567', hangupAfterTalkMs: 5000 });
    await pbx.run();
    expectCleanAgis();
    expect(fake.requests).to.have.length(0);
  });

  it('a clicked call (the originated channel carries the CALL_ID) is finished, never registered, even on a route not chosen', async () => {
    start(OTHER_ROUTE_ONLY as FreepbxFixture);
    const callId = 'externalCall.0123456789abcdef0123456789abcdef.1767096000';
    fake.activeCalls.set(callId, {
      CALL_ID: callId, USER_ID: 12, PHONE_NUMBER: '+79161234567', TYPE: 1, LINE_NUMBER: '', EXTERNAL_CALL_ID: '', CALL_START_DATE: '',
      CRM_ENTITY_TYPE: '', CRM_ENTITY_ID: null, createdAt: Date.now(), appKey: 'local.app1',
    });
    pbx.trunk('lab-a', { answerAfterMs: 4000 });
    pbx.outbound({ from: 'PJSIP/101', number: '89161234567', hangupAfterTalkMs: 15_000, vars: { __BITRIX_CLICK_CALL_ID: callId } });
    await pbx.run();
    expectCleanAgis();
    expect(fake.calls('telephony.externalcall.register')).to.have.length(0);
    const f = await theFinish();
    expect(f).to.include({ CALL_ID: callId, PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200' });
    expect(f.CALL_DURATION).to.be.within(14, 16);
  });
});
