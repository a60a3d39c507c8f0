// Whole calls through the module's generated dialplan with the resident service on
// (utests/fixtures/dump-dialplan.php --service-port: every step is `AGI(agi://127.0.0.1:<port>/…)`
// with the per-call AGI after it when AGISTATUS is FAILURE), on the test PBX, against the built
// `itd_bitrix.js serve` and executables, the strict fake Bitrix24 and a real SQLite file. Outcomes
// only: who served the steps, and what Bitrix24 got, exactly once. Every time Bitrix24 is told
// comes from the dialplan's facts (the PBX's virtual clock), so the service's own real clock does
// not matter and the executables' clocks are not shifted either.
import { expect } from 'chai';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { FakeBitrix } from '../fake-bitrix/server';
import { waitFor } from '../helpers/calls';
import { testSetup, TestSetup } from '../helpers/config';
import { AGI_BIN } from '../helpers/fake-asterisk';
import { Pbx } from '../helpers/pbx';
import { dumpedFixture, FreepbxFixture, freepbxPbx } from '../helpers/pbx/freepbx';
import { RunningService, startService } from '../helpers/service';

describe('calls through the generated dialplan with the resident service (test PBX, built serve and AGIs, fake Bitrix24)', function () {
  this.timeout(120_000);
  let fake: FakeBitrix;
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
    const base = dumpedFixture() as FreepbxFixture;
    // Recordings are another story (pbx-call-flow.test.ts): here the finish goes out at the hangup.
    // The card on answer: cards while the phones ring are pbx-ringing.test.ts's.
    t = testSetup({ webhookUrl: fake.webhookUrl, dids: Object.values(base.dids) as string[], defaultUserId: 1, attachRecordings: false, cardMode: 'answer' });
    svc = await startService(t);
    const settings = join(t.dir, 'settings.json');
    writeFileSync(settings, JSON.stringify({ cardMode: 'answer' }));
    fx = dumpedFixture(undefined, ['--service-port', String(svc.port), '--settings', settings]) as FreepbxFixture;
    pbx = freepbxPbx({ fixture: fx, agiDir: AGI_BIN, spoolDir: t.dir, agiEnv: { ITD_BITRIX_CONFIG: t.configPath }, shiftAgiClocks: false });
    for (const u of fx.users) pbx.phone(`PJSIP/${u.ext}`, {});
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      console.log(`--- PBX trace ---\n${pbx.traceText(80)}\n--- AGI ---\n${pbx.agiRuns.map((r) => `${r.channel} ${r.script} ${r.status}\n  ${r.lines.join('\n  ')}\n${r.stderr}`).join('\n')}`);
      console.log(`--- log ---\n${t.log()}`);
    }
    await svc?.stop('SIGKILL');
    svc = undefined;
    await fake.stop();
  });

  /** The steps by who ran them: the service (agi://…/<step>) or an executable (itd_bitrix_<step>.js). */
  function steps() {
    const service = pbx.agiRuns.filter((r) => r.script.startsWith('agi://')).map((r) => `${r.script.replace(/^agi:\/\/[^/]+\//, '')} ${r.status}`);
    const local = pbx.agiRuns.filter((r) => r.script.startsWith('itd_bitrix')).map((r) => `${r.script} ${r.status}`);
    return { service: service.sort(), local: local.sort() };
  }

  /** The call in Bitrix24: registered once, its card to user 12, finished once by user 12 as answered. */
  async function expectOnceAnsweredBy101(callId: string) {
    expect(fake.calls('telephony.externalcall.register'), 'registered once').to.have.length(1);
    expect(fake.shows, 'one card, to the member who answered').to.deep.equal([{ callId, userIds: [12], result: true }]);
    await waitFor(() => fake.finishedCalls.has(callId), 20_000);
    expect(fake.finishedCalls.get(callId)).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200' });
    expect(fake.finishedCalls.get(callId)!.CALL_DURATION, 'the talk time the dialplan recorded').to.be.within(19, 21);
    await new Promise((r) => setTimeout(r, 2500)); // the service's drains of the outbox: nothing more is sent
    expect(fake.calls('telephony.externalcall.finish').filter((r) => r.status === 200), 'finished once').to.have.length(1);
  }

  /**
   * The service sends the card as a task of its own after the show step: real work the test PBX
   * cannot see (it sees the processes an executable leaves behind). Virtual time follows the wall
   * clock until the card is at the fake, as the call's talk time would on a real PBX.
   */
  function cardIsRealWork() {
    let watching = false;
    pbx.onAgiCommand = (chan) => {
      if (watching || chan.dead || !chan.getVar('BITRIX_OPERATOR')) return;
      watching = true;
      pbx.track(pbx.clock.real(waitFor(() => fake.shows.length > 0, 10_000).catch(() => undefined)));
    };
  }

  it('a queue call answered by a member: every step served by the service, none by an executable', async () => {
    cardIsRealWork();
    pbx.phone('PJSIP/101', { answerAfterMs: 4000 });
    const call = pbx.inbound({ did: fx.dids.queue, callerNum: '89161234567', hangupAfterTalkMs: 20_000 });
    await pbx.run();
    expect(pbx.errors).to.deep.equal([]);
    const { service, local } = steps();
    expect(service).to.deep.equal(['hangup SUCCESS', 'incoming SUCCESS', 'show SUCCESS']);
    expect(local, 'no fallback while the service answers').to.deep.equal([]);
    expect(call.channel.caller.name, 'CALLERID(name) from the CRM').to.equal('Иван Петров');
    await expectOnceAnsweredBy101(call.record()!.vars.BITRIX_CALL_ID);
    await waitFor(() => (svc!.status()?.served.total ?? 0) >= 3, 15_000);
    expect(svc!.status()!.served).to.include({ incoming: 1, show: 1, hangup: 1 });
  });

  it('the service killed: the same call is handled by the executables through the FAILURE fallback, exactly once', async () => {
    const port = svc!.port;
    await svc!.stop('SIGKILL');
    pbx.phone('PJSIP/101', { answerAfterMs: 4000 });
    const call = pbx.inbound({ did: fx.dids.queue, callerNum: '89161234567', hangupAfterTalkMs: 20_000 });
    await pbx.run();
    expect(pbx.errors).to.deep.equal([]);
    const { service, local } = steps();
    expect(service, 'no step got through to the service').to.deep.equal([]);
    expect(local).to.deep.equal(['itd_bitrix_hangup.js SUCCESS', 'itd_bitrix_incoming.js SUCCESS', 'itd_bitrix_show.js SUCCESS']);
    const refused = pbx.warnings.filter((w) => w.startsWith(`Connecting to '127.0.0.1:${port}' failed`));
    expect(refused, 'each step tried the service first').to.have.length(3);
    expect(call.channel.caller.name).to.equal('Иван Петров');
    await expectOnceAnsweredBy101(call.record()!.vars.BITRIX_CALL_ID);
  });
});
