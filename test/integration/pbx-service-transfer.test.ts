// Attended transfers followed by the resident service: the module's generated dialplan on the
// test PBX with the service on, the built `itd_bitrix.js serve` logged in to the strict fake AMI,
// the strict fake Bitrix24, a real SQLite file. A phone's own attended transfer (consult call +
// REFER/Replaces) runs no dialplan; Asterisk reports it only as AMI AttendedTransfer, which the
// fake emits exactly as Asterisk 22 writes it (DestType Bridge: the bridges merged; Link: linked
// by a Local pair). The fake AMI answers Getvar/Setvar on the PBX's live channels, so the fact
// the service writes lands on the inbound channel and the dialplan's hangup step reads it there.
// The test PBX does not move the bridges (the customer stays bridged where it was): what is
// asserted is what the facts make of it — who got the card when, who it was hidden for, who
// finished the call with which talk time.
import { expect } from 'chai';
import { FakeBitrix } from '../fake-bitrix/server';
import { waitFor } from '../helpers/calls';
import { testSetup, TestSetup } from '../helpers/config';
import { AGI_BIN } from '../helpers/fake-asterisk';
import { ChannelSnapshot, FakeAmi } from '../helpers/fake-ami';
import { Pbx } from '../helpers/pbx';
import type { Channel } from '../helpers/pbx/channel';
import { dumpedFixture, FreepbxFixture, freepbxPbx } from '../helpers/pbx/freepbx';
import { RunningService, startService } from '../helpers/service';

describe('attended transfers followed by the resident service over AMI (test PBX, built serve, fake AMI, fake Bitrix24)', function () {
  this.timeout(120_000);
  const AMI_SECRET = 'amp-s3cret-value';
  let fake: FakeBitrix;
  let ami: FakeAmi;
  let t: TestSetup;
  let svc: RunningService | undefined;
  let fx: FreepbxFixture;
  let pbx: Pbx;

  before(function () {
    if (!dumpedFixture()) this.skip(); // no PHP here
  });

  beforeEach(async () => {
    fake = await FakeBitrix.start();
    fake.addUser({ ID: 1, NAME: 'Default', LAST_NAME: 'Owner', ACTIVE: true, UF_PHONE_INNER: null });
    fake.addUser({ ID: 12, NAME: 'Ivan', LAST_NAME: 'Petrov', ACTIVE: true, UF_PHONE_INNER: '101' });
    fake.addUser({ ID: 15, NAME: 'Anna', LAST_NAME: 'Smirnova', ACTIVE: true, UF_PHONE_INNER: '102' });
    fake.addCrm({ type: 'CONTACT', name: 'Иван Петров', phones: ['+79161234567'] });
    ami = await FakeAmi.start({ username: 'admin', secret: AMI_SECRET });
    for (const ext of ['101', '102', '103']) ami.astdb.set(`DEVICE/${ext}/user`, ext);
    const base = dumpedFixture() as FreepbxFixture;
    // Recordings are another story (the service's worker and the PBX's virtual file times): the
    // inbound channel's file is attached after transfers in pbx-transfer.test.ts.
    t = testSetup({ webhookUrl: fake.webhookUrl, dids: Object.values(base.dids) as string[], defaultUserId: 1, attachRecordings: false });
    svc = await startService(t, { ITD_BITRIX_AMI_USER: 'admin', ITD_BITRIX_AMI_SECRET: AMI_SECRET, ITD_BITRIX_AMI_PORT: String(ami.port) });
    fx = dumpedFixture(undefined, ['--service-port', String(svc.port)]) as FreepbxFixture;
    pbx = freepbxPbx({ fixture: fx, agiDir: AGI_BIN, spoolDir: t.dir, agiEnv: { ITD_BITRIX_CONFIG: t.configPath }, shiftAgiClocks: false });
    for (const u of fx.users) pbx.phone(`PJSIP/${u.ext}`, {});
    // Getvar/Setvar reach the PBX's live channels (manager.c: a name ending in ")" is a function).
    ami.channelVariables = {
      get: (name, variable) => {
        const c = pbx.channelByName(name);
        return c && !c.hungUp ? pbx.substitute(c, `\${${variable}}`) : undefined;
      },
      set: (name, variable, value) => {
        const c = pbx.channelByName(name);
        if (!c || c.hungUp) return false;
        pbx.setVariable(c, variable, value);
        return true;
      },
    };
    await waitFor(() => ami.connectedSessions() === 1 && svc!.status()?.manager?.transfers === true, 20_000);
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      console.log(`--- PBX trace ---\n${pbx.traceText(80)}`);
      console.log(`--- log ---\n${t.log()}`);
      console.log(`--- AMI actions ---\n${ami.actions.filter((a) => a.Action !== 'Ping' && a.Action !== 'Login').map((a) => JSON.stringify(a)).join('\n')}`);
    }
    await svc?.stop('SIGKILL');
    svc = undefined;
    await ami.stop();
    await fake.stop();
  });

  const snap = (c: Channel, over: Partial<ChannelSnapshot> = {}): ChannelSnapshot => ({
    channel: c.name,
    callerIdNum: c.caller.num,
    callerIdName: c.caller.name,
    context: c.context,
    exten: c.exten,
    uniqueid: c.uniqueid,
    linkedid: c.linkedid,
    ...over,
  });
  /** A channel of a phone's own consultation call, which runs no dialplan of ours (not on the PBX). */
  const phoneLeg = (name: string, exten: string, linkedid: string): ChannelSnapshot => ({ channel: name, callerIdNum: exten, context: 'from-internal', exten, uniqueid: `${linkedid}1`, linkedid });

  /**
   * At `afterMs` of virtual time, once the first operator's card is out: `emit` (the transfer
   * completing), then wait until the service has written the fact and moved the card. Real work
   * for the PBX's clock meanwhile (the service's card task is invisible to it).
   */
  function completeAt(afterMs: number, emit: () => void, check: () => void = () => undefined) {
    let done = false;
    pbx.clock.timer(afterMs, () => {
      pbx.track(
        pbx.clock.real(
          (async () => {
            await waitFor(() => fake.shows.length === 1, 10_000);
            check();
            emit();
            await waitFor(() => fake.shows.length === 2 && fake.calls('telephony.externalcall.hide').length === 1, 10_000);
            done = true;
          })(),
        ),
      );
    });
    return () => done;
  }

  async function expectMovedTo102(call: { channel: Channel; record(): { vars: Record<string, string> } | undefined }, completed: () => boolean) {
    expect(pbx.errors).to.deep.equal([]);
    expect(completed(), 'the transfer was followed while the call was on').to.equal(true);
    const vars = call.record()!.vars;
    const callId = vars.BITRIX_CALL_ID;
    await waitFor(() => fake.finishedCalls.has(callId), 20_000);
    expect(fake.shows).to.deep.equal([
      { callId, userIds: [12], result: true },
      { callId, userIds: [15], result: true },
    ]);
    expect(fake.calls('telephony.externalcall.hide').map((c) => c.params), 'hidden for the transferring operator').to.deep.equal([{ CALL_ID: callId, USER_ID: [12] }]);
    expect(call.channel.shared.get('BITRIX_ANSWER'), 'the first answer stays the answer').to.match(/^101@/);
    expect(call.channel.shared.get('BITRIX_LAST_OPERATOR'), 'written by the service through AMI Setvar').to.match(/^102@\d+\.\d{3}$/);
    expect(fake.finishedCalls.get(callId)).to.include({ PORTAL_USER_ID: 15, CALL_FAILED_CODE: '200' });
    expect(fake.finishedCalls.get(callId)!.CALL_DURATION, "the customer's whole talk time").to.be.within(39, 42);
    await new Promise((r) => setTimeout(r, 2500));
    expect(fake.calls('telephony.externalcall.finish').filter((r) => r.status === 200), 'finished once').to.have.length(1);
  }

  it("a phone's own attended transfer of a direct-DID call (REFER/Replaces, DestType Bridge): the card moves to 102, who finishes with the whole talk time", async () => {
    pbx.phone('PJSIP/101', { answerAfterMs: 3000 });
    const call = pbx.inbound({ did: fx.dids.direct, callerNum: '89161234567', hangupAfterTalkMs: 40_000 });
    const completed = completeAt(15_000, () => {
      const op = call.channel.bridgedWith!;
      ami.emitAttendedTransfer({
        result: 'Success',
        origTransferer: snap(op),
        origBridge: { uniqueid: 'b1a2c3d4-0000-4000-8000-000000000001', numChannels: 2 },
        secondTransferer: phoneLeg('PJSIP/101-0000ff01', '102', '1796300000.90'),
        secondBridge: { uniqueid: 'b1a2c3d4-0000-4000-8000-000000000002', numChannels: 2 },
        transferee: snap(call.channel),
        transferTarget: phoneLeg('PJSIP/102-0000ff02', '102', '1796300000.90'),
        isExternal: true,
        dest: { type: 'Bridge', bridgeUniqueid: 'b1a2c3d4-0000-4000-8000-000000000001' },
      });
    });
    await pbx.run();
    await expectMovedTo102(call, completed);
  });

  it("a phone's own attended transfer of a queue call (its member's Local leg is the transferee; DestType Link): the card moves to 102", async () => {
    pbx.phone('PJSIP/101', { answerAfterMs: 3000 });
    const call = pbx.inbound({ did: fx.dids.queue, callerNum: '89161234567', hangupAfterTalkMs: 40_000 });
    const completed = completeAt(15_000, () => {
      const member = [...pbx.live].find((c) => /^Local\/101@from-queue-.*;2$/.test(c.name))!;
      const op = member.bridgedWith!;
      const local = (half: string): ChannelSnapshot => ({ channel: `Local/_attended@transfer-0000ff10;${half}`, context: 'transfer', exten: '_attended', uniqueid: `1796300000.9${half}`, linkedid: call.channel.linkedid });
      ami.emitAttendedTransfer({
        result: 'Success',
        origTransferer: snap(op),
        origBridge: { uniqueid: 'b1a2c3d4-0000-4000-8000-000000000011', numChannels: 2 },
        secondTransferer: phoneLeg('PJSIP/101-0000ff11', '102', '1796300000.95'),
        secondBridge: { uniqueid: 'b1a2c3d4-0000-4000-8000-000000000012', numChannels: 2 },
        transferee: snap(member),
        transferTarget: phoneLeg('PJSIP/102-0000ff12', '102', '1796300000.95'),
        isExternal: true,
        dest: { type: 'Link', localOne: local('1'), localTwo: local('2') },
      });
    });
    await pbx.run();
    await expectMovedTo102(call, completed);
  });

  it('an attended transfer by *2: the consultation answered by 102 changes nothing until the transfer completes (AttendedTransfer, DestType Bridge, the target the Local *2 dialled); then the card moves', async () => {
    let consult: Channel | undefined;
    pbx.phone('PJSIP/101', { answerAfterMs: 3000, consultTransfer: { afterTalkMs: 5000, to: '102', onConsult: (l) => (consult = l) } });
    pbx.phone('PJSIP/102', { answerAfterMs: 2000, hangupAfterMs: 30_000 });
    const call = pbx.inbound({ did: fx.dids.direct, callerNum: '89161234567', hangupAfterTalkMs: 40_000 });
    const completed = completeAt(
      15_000,
      () => {
        const op = call.channel.bridgedWith!;
        ami.emitAttendedTransfer({
          result: 'Success',
          origTransferer: snap(op),
          origBridge: { uniqueid: 'b1a2c3d4-0000-4000-8000-000000000021', numChannels: 2 },
          secondTransferer: snap(op),
          secondBridge: { uniqueid: 'b1a2c3d4-0000-4000-8000-000000000022', numChannels: 2 },
          transferee: snap(call.channel),
          transferTarget: snap(consult!),
          isExternal: false,
          dest: { type: 'Bridge', bridgeUniqueid: 'b1a2c3d4-0000-4000-8000-000000000021' },
        });
      },
      () => {
        expect(consult?.other?.state, 'the consultation was answered').to.equal('Up');
        expect(call.channel.shared.has('BITRIX_LAST_OPERATOR'), 'no operator change before the transfer completes').to.equal(false);
        expect(fake.shows.map((s) => s.userIds), 'no card for the consulted operator').to.deep.equal([[12]]);
      },
    );
    await pbx.run();
    await expectMovedTo102(call, completed);
  });
});
