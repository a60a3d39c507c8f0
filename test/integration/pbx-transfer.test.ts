// Transfers through the dialplan the module generates (the FreePBX 17 core fixture, which has
// from-internal-xfer and TRANSFER_CONTEXT), on the test PBX with the built AGIs, the strict fake
// Bitrix24 and a real SQLite file: who got the card when, who it was hidden for, who finished
// the call with which talk time, and the one recording. Blind transfers are seen by the dialplan
// alone (no resident service here); of an attended transfer by `*2` only the consultation runs
// dialplan, and its answer must change nothing (completion: pbx-service-transfer.test.ts).
import { expect } from 'chai';
import { basename } from 'path';
import { FakeBitrix } from '../fake-bitrix/server';
import { testSetup, TestSetup } from '../helpers/config';
import { waitFor } from '../helpers/calls';
import { AGI_BIN } from '../helpers/fake-asterisk';
import { Pbx } from '../helpers/pbx';
import { dumpedFixture, freepbxPbx } from '../helpers/pbx/freepbx';

const fx = dumpedFixture();
if (fx) {
  describe('transfers on the test PBX (FreePBX 17 core fixture, built AGIs, fake Bitrix24)', function () {
    this.timeout(60_000);
    let fake: FakeBitrix;
    let t: TestSetup;
    let pbx: Pbx;
    const USER: Record<string, number> = { '101': 12, '102': 15, '103': 17, '104': 21 };

    beforeEach(async () => {
      fake = await FakeBitrix.start();
      fake.addUser({ ID: 1, NAME: 'Default', LAST_NAME: 'Owner', ACTIVE: true, UF_PHONE_INNER: null });
      fake.addUser({ ID: 12, NAME: 'Ivan', LAST_NAME: 'Petrov', ACTIVE: true, UF_PHONE_INNER: '101' });
      fake.addUser({ ID: 15, NAME: 'Anna', LAST_NAME: 'Smirnova', ACTIVE: true, UF_PHONE_INNER: '102' });
      fake.addUser({ ID: 17, NAME: 'Oleg', LAST_NAME: 'Sidorov', ACTIVE: true, UF_PHONE_INNER: '103' });
      fake.addUser({ ID: 21, NAME: 'Pavel', LAST_NAME: 'Orlov', ACTIVE: true, UF_PHONE_INNER: '104' });
      fake.addCrm({ type: 'CONTACT', name: 'Иван Петров', phones: ['+79161234567'] });
      t = testSetup({ webhookUrl: fake.webhookUrl, dids: Object.values(fx.dids) as string[], defaultUserId: 1 });
      pbx = freepbxPbx({ fixture: fx, agiDir: AGI_BIN, spoolDir: t.dir, agiEnv: { ITD_BITRIX_CONFIG: t.configPath } });
      for (const u of fx.users) pbx.phone(`PJSIP/${u.ext}`, {});
    });
    afterEach(async function () {
      if (this.currentTest?.state === 'failed') console.log(`--- PBX trace ---\n${pbx.traceText(120)}\n--- AGI ---\n${pbx.agiRuns.map((r) => `${r.channel} ${r.script} ${r.status}\n  ${r.lines.join('\n  ')}\n${r.stderr}`).join('\n')}`);
      await fake.stop();
    });

    function expectCleanAgis() {
      for (const r of pbx.agiRuns) {
        expect(r.exitCode, `${r.script} on ${r.channel}: ${r.stderr}`).to.equal(0);
        expect(r.lines.filter((l) => /^<< 5[12]0/.test(l)), `${r.script}: commands Asterisk refused`).to.deep.equal([]);
      }
      expect(pbx.problems()).to.deep.equal([]);
    }

    /** Operator `from` answers, talks 10 s, blind-transfers to `to`, who answers after 4 s; the customer leaves 40 s after the first answer. */
    async function transferredCall(did: string, from: string, to: string) {
      pbx.phone(`PJSIP/${from}`, { answerAfterMs: 3000, blindTransfer: { afterTalkMs: 10_000, to } });
      pbx.phone(`PJSIP/${to}`, { answerAfterMs: 4000 });
      const call = pbx.inbound({ did, callerNum: '89161234567', hangupAfterTalkMs: 40_000 });
      await pbx.run();
      expectCleanAgis();
      const vars = call.record()!.vars;
      const callId = vars.BITRIX_CALL_ID;
      await waitFor(() => fake.finishedCalls.has(callId) && fake.attachedFiles.length > 0, 20_000);
      expect(pbx.events.filter((e) => e.type === 'blind-transfer'), 'the PBX did transfer').to.have.length(1);
      return { callId, vars, shared: call.channel.shared, finished: fake.finishedCalls.get(callId)! };
    }

    function expectMoved(r: Awaited<ReturnType<typeof transferredCall>>, from: string, to: string) {
      expect(fake.shows, 'a card for the first operator, then for the transfer target').to.deep.equal([
        { callId: r.callId, userIds: [USER[from]], result: true },
        { callId: r.callId, userIds: [USER[to]], result: true },
      ]);
      expect(fake.hides, 'hidden for the transferring operator while the call goes on, then (by finish) for the finisher').to.deep.equal([
        { callId: r.callId, userIds: [USER[from]], result: true },
        { callId: r.callId, userIds: [USER[to]], result: true },
      ]);
      const finishes = fake.calls('telephony.externalcall.finish');
      expect(finishes, 'finished once').to.have.length(1);
      expect(fake.calls('telephony.externalcall.hide').map((c) => c.at), 'the hide came before the finish').to.satisfy((at: number[]) => at.every((x) => x <= finishes[0].at));
      expect(r.finished).to.include({ PORTAL_USER_ID: USER[to], CALL_FAILED_CODE: '200' });
      expect(r.finished.CALL_DURATION, "the customer's whole talk time, from the first answer").to.be.within(39, 41);
      expect(r.shared.get('BITRIX_ANSWER'), 'the first answer stays the answer').to.match(new RegExp(`^${from}@`));
      expect(r.shared.get('BITRIX_LAST_OPERATOR'), 'the last operator').to.match(new RegExp(`^${to}@`));
      expect(fake.attachedFiles.map((f) => [f.callId, f.filename]), 'one recording: the inbound channel\'s file').to.deep.equal([[r.callId, basename(r.vars.MIXMONITOR_FILENAME)]]);
    }

    it('direct-DID call: 101 answers and blind-transfers to 102; the card moves, 102 finishes it with the whole talk time', async () => {
      const r = await transferredCall(fx.dids.direct, '101', '102');
      expectMoved(r, '101', '102');
    });

    it('queue call: member 101 blind-transfers (its Local leg is the transferee) to 103; the card moves, 103 finishes it', async () => {
      const r = await transferredCall(fx.dids.queue, '101', '103');
      expectMoved(r, '101', '103');
    });

    it('ring-all group call: 101 wins the ring and blind-transfers to 104 (outside the group); the card moves, 104 finishes it', async () => {
      const r = await transferredCall(fx.dids.ringall, '101', '104');
      expectMoved(r, '101', '104');
    });

    it('a second blind transfer moves the card again: the last target finishes the call', async () => {
      pbx.phone('PJSIP/101', { answerAfterMs: 3000, blindTransfer: { afterTalkMs: 5000, to: '102' } });
      pbx.phone('PJSIP/102', { answerAfterMs: 2000, blindTransfer: { afterTalkMs: 5000, to: '103' } });
      pbx.phone('PJSIP/103', { answerAfterMs: 2000 });
      const call = pbx.inbound({ did: fx.dids.direct, callerNum: '89161234567', hangupAfterTalkMs: 30_000 });
      await pbx.run();
      expectCleanAgis();
      const callId = call.record()!.vars.BITRIX_CALL_ID;
      await waitFor(() => fake.finishedCalls.has(callId), 20_000);
      expect(fake.shows.map((x) => x.userIds[0])).to.deep.equal([12, 15, 17]);
      expect(fake.calls('telephony.externalcall.hide').map((c) => c.params.USER_ID)).to.deep.equal([[12], [15]]);
      expect(fake.finishedCalls.get(callId)).to.include({ PORTAL_USER_ID: 17, CALL_FAILED_CODE: '200' });
      expect(fake.finishedCalls.get(callId)!.CALL_DURATION).to.be.within(29, 31);
    });

    // 104 is outside ring group 600 (101-102-103); on this fixture it is a follow-me (macro-dial).
    for (const [name, did, to] of [['direct-DID', 'direct', '102'], ['ring-all group', 'ringall', '104']] as const) {
      it(`${name} call: 101 consults ${to} by *2, ${to} answers, the transfer is abandoned; the consultation is not the customer's answer: no card for ${to}, 101 finishes with the whole talk time`, async () => {
        pbx.phone('PJSIP/101', { answerAfterMs: 3000, consultTransfer: { afterTalkMs: 10_000, to } });
        pbx.phone(`PJSIP/${to}`, { answerAfterMs: 3000, hangupAfterMs: 5000 });
        const call = pbx.inbound({ did: fx.dids[did], callerNum: '89161234567', hangupAfterTalkMs: 40_000 });
        await pbx.run();
        expectCleanAgis();
        const hook = pbx.trace.filter((l) => l.channel.startsWith(`PJSIP/${to}-`) && l.context === 'itd-bitrix-answered');
        expect(hook.map((l) => `${l.priority} ${l.app}(${l.data})`), "the consultation's answer hook ran and left at once").to.deep.equal(['1 GotoIf(1?done)', '9 Return()']);
        const callId = call.record()!.vars.BITRIX_CALL_ID;
        await waitFor(() => fake.finishedCalls.has(callId), 20_000);
        expect(call.channel.shared.get('BITRIX_ANSWER')).to.match(/^101@/);
        expect(call.channel.shared.has('BITRIX_LAST_OPERATOR'), 'the operator did not change').to.equal(false);
        expect(fake.shows.map((x) => x.userIds)).to.deep.equal([[12]]);
        expect(fake.calls('telephony.externalcall.hide'), 'nobody else had a card').to.deep.equal([]);
        expect(fake.finishedCalls.get(callId)).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200' });
        expect(fake.finishedCalls.get(callId)!.CALL_DURATION).to.be.within(39, 41);
      });
    }

    it('a consultation from an operator the call was blind-transferred to changes nothing either: the blind target finishes', async () => {
      pbx.phone('PJSIP/101', { answerAfterMs: 3000, blindTransfer: { afterTalkMs: 5000, to: '102' } });
      pbx.phone('PJSIP/102', { answerAfterMs: 2000, consultTransfer: { afterTalkMs: 5000, to: '103' } });
      pbx.phone('PJSIP/103', { answerAfterMs: 2000, hangupAfterMs: 3000 });
      const call = pbx.inbound({ did: fx.dids.direct, callerNum: '89161234567', hangupAfterTalkMs: 30_000 });
      await pbx.run();
      expectCleanAgis();
      const callId = call.record()!.vars.BITRIX_CALL_ID;
      await waitFor(() => fake.finishedCalls.has(callId), 20_000);
      expect(fake.shows.map((x) => x.userIds[0])).to.deep.equal([12, 15]);
      expect(call.channel.shared.get('BITRIX_LAST_OPERATOR')).to.match(/^102@/);
      expect(fake.finishedCalls.get(callId)).to.include({ PORTAL_USER_ID: 15, CALL_FAILED_CODE: '200' });
      expect(fake.finishedCalls.get(callId)!.CALL_DURATION).to.be.within(29, 31);
    });
  });
}
