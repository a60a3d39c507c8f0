// The FreePBX fixtures on the test PBX behave as the Asterisk 22.10.1 lab saw FreePBX 17 behave
// (/work/lab/FINDINGS.md §1–§4), and the module's hooks run where they should: once per call, on
// the channel that answered, told the right extension. The module's AGIs are stood in for by
// built-in scripts here, so these runs are about the dialplan, not about Bitrix24
// (test/integration/pbx-call-flow.test.ts is).
import { expect } from 'chai';
import { tempDir } from '../helpers/tmp';
import { join } from 'path';
import type { BuiltinAgi } from '../helpers/pbx';
import { freepbxFixtures, FreepbxFixture, freepbxPbx } from '../helpers/pbx/freepbx';

for (const fx of freepbxFixtures()) describe(`test PBX: FreePBX call paths (${fx.name})`, () => paths(fx));

function paths(fx: FreepbxFixture) {
  const dir = tempDir('pbx-freepbx-');

  function pbxWithStandIns(showMs = 0) {
    const shows: Array<{ channel: string; ext: string }> = [];
    const incoming: BuiltinAgi = ({ chan, set }) => set('__BITRIX_UNIQUEID', chan.uniqueid);
    const show: BuiltinAgi = async ({ pbx, chan, args }) => {
      shows.push({ channel: chan.name, ext: args[0] });
      if (showMs) await pbx.sleep(chan, showMs);
    };
    const pbx = freepbxPbx({
      fixture: fx,
      agiDir: dir,
      spoolDir: dir,
      builtinAgi: { 'itd_bitrix_incoming.js': incoming, 'itd_bitrix_show.js': show, 'itd_bitrix_hangup.js': () => undefined },
    });
    for (const u of fx.users) pbx.phone(`PJSIP/${u.ext}`, {});
    return { pbx, shows };
  }

  it('direct extension: Dial runs from the inbound channel without macro-auto-blkvm; the module\'s U() runs on the phone that answered; the Dial results stay on the inbound channel (lab §1)', async () => {
    const { pbx, shows } = pbxWithStandIns();
    pbx.phone('PJSIP/101', { answerAfterMs: 1000 });
    const call = pbx.inbound({ did: fx.dids.direct, callerNum: '79161234567', hangupAfterTalkMs: 3000 });
    await pbx.run();
    expect(pbx.trace.filter((t) => t.context === 'macro-auto-blkvm'), 'FreePBX adds U(macro-auto-blkvm) only with NODEST').to.deep.equal([]);
    expect(shows).to.have.length(1);
    expect(shows[0].ext).to.equal('101');
    expect(shows[0].channel).to.match(/^PJSIP\/101-/);
    expect(call.record()!.vars).to.include({ DIALSTATUS: 'ANSWER', ANSWEREDTIME: '3', ANSWEREDTIME_MS: '3000', DIALEDPEERNUMBER: '101/sip:101@127.0.0.1:5062' });
    expect(call.record()!.vars.DIALEDPEERNAME).to.match(/^PJSIP\/101-[0-9a-f]{8}$/);
    expect(call.record()!.cause).to.equal(16);
    expect(pbx.problems()).to.deep.equal([]);
  });

  it('ring-all group: the first to answer wins, the others are hung up before they answer, one answer hook, told the member that answered although EXTTOCALL is the last member (lab §2)', async () => {
    const { pbx, shows } = pbxWithStandIns();
    pbx.phone('PJSIP/101', { answerAfterMs: 1000 });
    pbx.phone('PJSIP/102', { answerAfterMs: 1020 });
    const call = pbx.inbound({ did: fx.dids.ringall, callerNum: '79161234567', hangupAfterTalkMs: 3000 });
    await pbx.run();
    const members = pbx.events.find((e) => e.type === 'dial' && e.channel === call.channel.name)!.peers as string[];
    const last = members[members.length - 1].replace(/^PJSIP\/(\d+)-.*$/, '$1');
    expect(call.record()!.vars.EXTTOCALL, 'EXTTOCALL is the last member on every leg').to.equal(last).and.not.equal('101');
    expect(shows).to.have.length(1);
    expect(shows[0].channel).to.match(/^PJSIP\/101-/);
    expect(shows[0].ext).to.equal('101');
    expect(pbx.ended.find((r) => r.name.startsWith('PJSIP/102-'))!.answeredAt).to.equal(undefined);
    expect(call.record()!.vars.DIALEDPEERNAME).to.match(/^PJSIP\/101-/);
    expect(pbx.problems()).to.deep.equal([]);
  });

  it('hunt group: one member at a time, EXTTOCALL right, the answer hook on the one that answered (lab §4)', async () => {
    const { pbx, shows } = pbxWithStandIns();
    pbx.phone('PJSIP/101', { busy: true });
    pbx.phone('PJSIP/102', { answerAfterMs: 1000 });
    const call = pbx.inbound({ did: fx.dids.hunt, callerNum: '79161234567', hangupAfterTalkMs: 3000 });
    await pbx.run();
    expect(shows).to.have.length(1);
    expect(shows[0]).to.include({ ext: '102' });
    expect(shows[0].channel).to.match(/^PJSIP\/102-/);
    expect(call.record()!.vars).to.include({ DIALSTATUS: 'ANSWER' });
    expect(pbx.problems()).to.deep.equal([]);
  });

  it('queue: every member that picks up runs macro-auto-blkvm before the queue connects one (lab §3); the module\'s answer hook runs once, on the connected member', async () => {
    const { pbx, shows } = pbxWithStandIns(80);
    const members = Object.values(fx.queues['400'].members).map((m) => (typeof m === 'string' ? m : m.interface));
    const exts = members.map((m) => /Local\/(\d+)@/.exec(m)![1]);
    // All at the same instant (lab 3b): with nothing slow in their answer hooks, a member picking
    // up a few ms later is hung up before it answers (lab, module with the queue gosub).
    exts.forEach((ext) => pbx.phone(`PJSIP/${ext}`, { answerAfterMs: 1000 }));
    const call = pbx.inbound({ did: fx.dids.queue, callerNum: '79161234567', hangupAfterTalkMs: 3000 });
    await pbx.run();
    const pickedUp = pbx.trace.filter((t) => t.context === 'macro-auto-blkvm' && t.priority === 1).map((t) => t.channel.replace(/^PJSIP\/(\d+)-.*$/, '$1'));
    expect(pickedUp.sort()).to.deep.equal([...exts].sort());
    const connects = pbx.events.filter((e) => e.type === 'queue-connect');
    expect(connects).to.have.length(1);
    const connected = /Local\/(\d+)@/.exec(connects[0].member as string)![1];
    expect(shows).to.have.length(1);
    expect(shows[0].ext).to.equal(connected);
    expect(shows[0].channel).to.match(new RegExp(`^Local/${connected}@from-queue-[0-9a-f]{8};1$`));
    // No setinterfacevar in FreePBX's queues.conf: nothing names the member on the inbound channel.
    expect(call.record()!.vars).to.not.have.any.keys('MEMBERINTERFACE', 'QUEUESTATUS', 'DIALSTATUS');
    expect(call.record()!.vars.ANSWEREDTIME).to.equal('3');
    expect(pbx.problems()).to.deep.equal([]);
  });

  if (fx.dids.ivr)
    it('IVR → extension: the caller’s key picks the extension, the module\'s U() on the phone that answered, ANSWEREDTIME includes the IVR time (lab §4d)', async () => {
      const { pbx, shows } = pbxWithStandIns();
      pbx.phone('PJSIP/102', { answerAfterMs: 1000 });
      const call = pbx.inbound({ did: fx.dids.ivr!, callerNum: '79161234567', hangupAfterTalkMs: 2000, dtmf: [{ afterAnswerMs: 1000, digits: '2' }] });
      await pbx.run();
      expect(shows).to.have.length(1);
      expect(shows[0]).to.include({ ext: '102' });
      expect(call.record()!.vars.DIALEDPEERNAME).to.match(/^PJSIP\/102-/);
      // 1 s to press 2, 3 s of TIMEOUT(digit) because "2#" could still follow, 1 s ringing, 2 s talk.
      expect(call.record()!.vars.ANSWEREDTIME_MS).to.equal('7000');
      expect(pbx.problems()).to.deep.equal([]);
    });

  if (fx.dids.followme)
    it('follow-me (ring-all): the primary answers; EXTTOCALL is the last member, the answer hook is told the primary (lab §4b/4c)', async () => {
      const { pbx, shows } = pbxWithStandIns();
      pbx.phone('PJSIP/104', { answerAfterMs: 1000 });
      const call = pbx.inbound({ did: fx.dids.followme!, callerNum: '79161234567', hangupAfterTalkMs: 2000 });
      await pbx.run();
      expect(call.record()!.vars.EXTTOCALL).to.equal('105');
      expect(shows).to.have.length(1);
      expect(shows[0].channel).to.match(/^PJSIP\/104-/);
      expect(shows[0].ext).to.equal('104');
      expect(pbx.problems()).to.deep.equal([]);
    });
}
