// Cards while the phones ring (cardMode "ringing", the default) through the module's generated
// dialplan with the resident service on (utests/fixtures/dump-dialplan.php --service-port), on the
// test PBX, against the built `itd_bitrix.js serve`, the strict fake Bitrix24 and a real SQLite file.
// The channel topologies are FreePBX's: queue members as Local legs through from-queue, a ring-all
// group dialling every phone in one Dial, a hunt group one after another, a direct extension,
// follow-me. Outcomes: who got the card, who had it hidden and when (before or after the answer),
// how many card requests the call cost, and the call finished once for the right operator.
import { expect } from 'chai';
import { FakeBitrix } from '../fake-bitrix/server';
import { openCallDb, waitFor } from '../helpers/calls';
import { testSetup, TestSetup } from '../helpers/config';
import { AGI_BIN } from '../helpers/fake-asterisk';
import { Pbx } from '../helpers/pbx';
import { dumpedFixture, FreepbxFixture, freepbxPbx } from '../helpers/pbx/freepbx';
import { RunningService, startService } from '../helpers/service';

const USERS: Record<string, number> = { '101': 12, '102': 15, '103': 17, '104': 20, '105': 21 };

describe('cards while the phones ring (generated dialplan, test PBX, built serve, fake Bitrix24)', function () {
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
    for (const [ext, id] of Object.entries(USERS)) fake.addUser({ ID: id, NAME: `User${ext}`, LAST_NAME: 'Test', ACTIVE: true, UF_PHONE_INNER: ext });
    fake.addCrm({ type: 'CONTACT', name: 'Иван Петров', phones: ['+79161234567'] });
    const base = dumpedFixture() as FreepbxFixture;
    t = testSetup({ webhookUrl: fake.webhookUrl, dids: Object.values(base.dids) as string[], defaultUserId: 1, attachRecordings: false });
    svc = await startService(t);
    fx = dumpedFixture(undefined, ['--service-port', String(svc.port)]) as FreepbxFixture;
    pbx = freepbxPbx({ fixture: fx, agiDir: AGI_BIN, spoolDir: t.dir, agiEnv: { ITD_BITRIX_CONFIG: t.configPath }, shiftAgiClocks: false });
    for (const u of fx.users) pbx.phone(`PJSIP/${u.ext}`, {});
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      console.log(`--- PBX trace ---\n${pbx.traceText(120)}\n--- AGI ---\n${pbx.agiRuns.map((r) => `${r.channel} ${r.script} ${r.args.join(',')} ${r.status}`).join('\n')}`);
      console.log(`--- shows ---\n${JSON.stringify(fake.shows)}\n--- hides ---\n${JSON.stringify(fake.hides)}\n--- log ---\n${t.log()}`);
    }
    await svc?.stop('SIGKILL');
    svc = undefined;
    await fake.stop();
  });

  /**
   * The service's cards are real work the PBX cannot see: virtual time follows the wall clock from
   * the call's start until the fake has `n` card requests (or the call is over), so phones ring
   * for as long on the service's clock as on the PBX's; then it may jump again.
   */
  function realUntilCardRequests(n: number) {
    let over = false;
    // (and a moment more: the service records what it sent before the call moves on)
    const settled = waitFor(() => over || cardRequests().length >= n, 30_000).then(() => new Promise<void>((r) => setTimeout(r, 500)));
    pbx.track(pbx.clock.real(settled.catch(() => undefined)));
    return () => (over = true);
  }

  const CARD = /^telephony\.externalcall\.(show|hide)$/;
  /** HTTP requests that carried only shows and hides (a batch counts once; the finish's batch is not one). */
  function cardRequests() {
    return fake.requests.filter((r) => CARD.test(r.method) || (r.method === 'batch' && (r.subcalls ?? []).length > 0 && r.subcalls!.every((c) => CARD.test(c.method))));
  }

  const idsOf = (v: unknown) => (Array.isArray(v) ? v : typeof v === 'object' && v ? Object.values(v) : [v]).map(Number).sort((a, b) => a - b);
  /** The hide requests the module sent (not the finisher's own card, which the finish closes), USER_IDs sorted. */
  function hides() {
    return fake.calls('telephony.externalcall.hide').map((r) => idsOf(r.params.USER_ID));
  }
  /** Whether every hide request reached the fake before the finish (at the answer, not at the end). */
  function hidesBeforeFinish() {
    const seq = fake.requests.flatMap((r) => [r, ...(r.subcalls ?? [])]).map((r) => r.method);
    const fin = seq.indexOf('telephony.externalcall.finish');
    return seq.every((m, i) => m !== 'telephony.externalcall.hide' || fin < 0 || i < fin);
  }

  async function callWritten(uniqueid: string) {
    const db = await openCallDb(t.dbPath);
    try {
      for (let i = 0; i < 200; i++) {
        if (await db.get('SELECT 1 FROM calls WHERE uniqueid = ? AND bitrix_call_id IS NOT NULL', [uniqueid])) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await db.close();
    }
  }

  const users = (...exts: string[]) => exts.map((e) => USERS[e]).sort((a, b) => a - b);
  const sorted = (ids: number[]) => [...ids].sort((a, b) => a - b);

  /** Registered once, finished once as answered by `ext`'s user. */
  async function expectFinishedOnceBy(ext: string, callId: string) {
    expect(fake.calls('telephony.externalcall.register'), 'registered once').to.have.length(1);
    expect(Number(fake.calls('telephony.externalcall.register')[0].params.SHOW), 'the register pops no card').to.equal(0);
    await waitFor(() => fake.finishedCalls.has(callId), 20_000);
    expect(fake.finishedCalls.get(callId)).to.include({ PORTAL_USER_ID: USERS[ext], CALL_FAILED_CODE: '200' });
    await new Promise((r) => setTimeout(r, 2500)); // the service's drains of the outbox: nothing more is sent
    expect(fake.calls('telephony.externalcall.finish').filter((r) => r.status === 200), 'finished once').to.have.length(1);
  }

  /** When (PBX clock) the answer was recorded on the inbound channel. */
  function answeredAt(call: { record(): { vars: Record<string, string> } | undefined }) {
    return Number(call.record()!.vars.BITRIX_ANSWER?.split('@')[1] ?? NaN);
  }

  it('ring-all group: every member gets the card in one request, the others have it hidden in one request at the answer', async () => {
    const done = realUntilCardRequests(2);
    pbx.phone('PJSIP/102', { answerAfterMs: 4000 });
    const call = pbx.inbound({ did: fx.dids.ringall, callerNum: '89161234567', hangupAfterTalkMs: 5000 });
    await pbx.run();
    done();
    expect(pbx.problems()).to.deep.equal([]);
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows.map((s) => ({ ...s, userIds: sorted(s.userIds) })), 'one show to every ringing member, none again on answer').to.deep.equal([
      { callId, userIds: users('101', '102', '103'), result: true },
    ]);
    expect(hides(), 'hidden for the two others, in one request').to.deep.equal([users('101', '103')]);
    await expectFinishedOnceBy('102', callId);
    expect(hidesBeforeFinish(), 'hidden at the answer, not at the end').to.equal(true);
    expect(hides(), 'the finish hides nothing again').to.have.length(1);
    expect(cardRequests(), 'card requests of the call: show + hide').to.have.length(2);
    const served = pbx.agiRuns.filter((r) => /\/ring(end)?$/.test(r.script)).map((r) => `${r.script.replace(/^agi:\/\/[^/]+\//, '')} ${r.args[0]}`);
    expect(served.filter((s) => s.startsWith('ring ')).sort()).to.deep.equal(['ring 101', 'ring 102', 'ring 103']);
    expect(served.filter((s) => s.startsWith('ringend ')).sort(), 'each leg told the service it went away').to.deep.equal(['ringend 101', 'ringend 102', 'ringend 103']);
    expect(answeredAt(call)).to.be.a('number');
  });

  it('ring-all group with a member on DND: FreePBX does not dial it, so it gets no card', async () => {
    const done = realUntilCardRequests(2);
    pbx.astdb.set('DND/103', 'YES');
    pbx.phone('PJSIP/101', { answerAfterMs: 4000 });
    const call = pbx.inbound({ did: fx.dids.ringall, callerNum: '89161234567', hangupAfterTalkMs: 5000 });
    await pbx.run();
    done();
    expect(pbx.errors).to.deep.equal([]);
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows.map((s) => sorted(s.userIds))).to.deep.equal([users('101', '102')]);
    expect(hides()).to.deep.equal([users('102')]);
    await expectFinishedOnceBy('101', callId);
  });

  it('queue with Local members: the ringing members get the card, unavailable ones do not, the rest is hidden at the answer', async () => {
    const done = realUntilCardRequests(2);
    pbx.phone('PJSIP/101', { answerAfterMs: 4000 });
    pbx.phone('PJSIP/104', { unavailable: true });
    pbx.phone('PJSIP/105', { unavailable: true });
    const call = pbx.inbound({ did: fx.dids.queue, callerNum: '89161234567', hangupAfterTalkMs: 5000 });
    await pbx.run();
    done();
    expect(pbx.errors).to.deep.equal([]);
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows.flatMap((s) => s.userIds).sort((a, b) => a - b), 'the three members that rang, once each').to.deep.equal(users('101', '102', '103'));
    expect(fake.shows.every((s) => s.callId === callId)).to.equal(true);
    expect(hides().flat().sort((a, b) => a - b), 'hidden for the others, never for the answerer').to.deep.equal(users('102', '103'));
    await expectFinishedOnceBy('101', callId);
    expect(hidesBeforeFinish()).to.equal(true);
  });

  it('hunt group: the first member that rings briefly costs nothing, the next gets the card and answers', async () => {
    const done = realUntilCardRequests(1);
    pbx.phone('PJSIP/101', { rejectAfterMs: 100 });
    pbx.phone('PJSIP/102', { answerAfterMs: 3000 });
    const call = pbx.inbound({ did: fx.dids.hunt, callerNum: '89161234567', hangupAfterTalkMs: 5000 });
    await pbx.run();
    done();
    expect(pbx.errors).to.deep.equal([]);
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows, 'only the member that rang for a while; not again on answer').to.deep.equal([{ callId, userIds: [USERS['102']], result: true }]);
    expect(hides()).to.deep.equal([]);
    expect(cardRequests(), '101 rang 100 ms: no request for it').to.have.length(1);
    await expectFinishedOnceBy('102', callId);
  });

  it('hunt group: the first member rings out, the next rings; the first one is hidden and the next shown, then the answer', async () => {
    const done = realUntilCardRequests(2);
    pbx.phone('PJSIP/102', { answerAfterMs: 2000 });
    const call = pbx.inbound({ did: fx.dids.hunt, callerNum: '89161234567', hangupAfterTalkMs: 5000 });
    await pbx.run();
    done();
    expect(pbx.errors).to.deep.equal([]);
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows.map((s) => s.userIds)).to.deep.equal([[USERS['101']], [USERS['102']]]);
    expect(hides(), '101 hidden when the hunt moved on').to.deep.equal([[USERS['101']]]);
    await expectFinishedOnceBy('102', callId);
    expect(hidesBeforeFinish()).to.equal(true);
  });

  it('direct extension: the card while it rings, no second one on answer', async () => {
    const done = realUntilCardRequests(1);
    pbx.phone('PJSIP/101', { answerAfterMs: 3000 });
    const call = pbx.inbound({ did: fx.dids.direct, callerNum: '89161234567', hangupAfterTalkMs: 5000 });
    await pbx.run();
    done();
    expect(pbx.errors).to.deep.equal([]);
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows).to.deep.equal([{ callId, userIds: [USERS['101']], result: true }]);
    expect(hides()).to.deep.equal([]);
    await expectFinishedOnceBy('101', callId);
  });

  it('follow-me: both phones of the list get the card, the one that did not answer has it hidden', async () => {
    const done = realUntilCardRequests(2);
    pbx.phone('PJSIP/105', { answerAfterMs: 3000 });
    const call = pbx.inbound({ did: fx.dids.followme!, callerNum: '89161234567', hangupAfterTalkMs: 5000 });
    await pbx.run();
    done();
    expect(pbx.errors).to.deep.equal([]);
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows.map((s) => sorted(s.userIds))).to.deep.equal([users('104', '105')]);
    expect(hides()).to.deep.equal([[USERS['104']]]);
    await expectFinishedOnceBy('105', callId);
    expect(hidesBeforeFinish()).to.equal(true);
  });

  it('the caller hangs up while the group rings: every card is hidden, the call is missed', async () => {
    const done = realUntilCardRequests(1);
    const call = pbx.inbound({ did: fx.dids.ringall, callerNum: '89161234567', hangupAfterMs: 3000 });
    await pbx.run();
    done();
    expect(pbx.errors).to.deep.equal([]);
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows.map((s) => sorted(s.userIds))).to.deep.equal([users('101', '102', '103')]);
    await waitFor(() => fake.finishedCalls.has(callId), 20_000);
    expect(fake.finishedCalls.get(callId)).to.include({ PORTAL_USER_ID: 1, CALL_FAILED_CODE: '304' });
    // Normally the hides ride with the finish (the hangup step arrives within the legs' window);
    // on a machine that stalls longer than the window they go alone just before it.
    expect([...new Set(hides().flat())].sort((a, b) => a - b), 'every member').to.deep.equal(users('101', '102', '103'));
    expect(hidesBeforeFinish(), 'no hide after the finish').to.equal(true);
  });

  it('the service killed after it took the call: the ringing legs find it gone, the card goes to the answerer on answer, exactly once', async () => {
    const port = svc!.port;
    const runSub = pbx.runSub.bind(pbx);
    let killed = false;
    pbx.runSub = async (chan, spec, opts) => {
      if (!killed && spec.startsWith('func-apply-sipheaders')) {
        killed = true;
        // Once the service has written the call down (its incoming step lets the call go first).
        await pbx.clock.real(callWritten(chan.getVar('BITRIX_UNIQUEID') ?? '').then(() => svc!.stop('SIGKILL')));
      }
      return runSub(chan, spec, opts);
    };
    pbx.phone('PJSIP/102', { answerAfterMs: 4000 });
    const call = pbx.inbound({ did: fx.dids.ringall, callerNum: '89161234567', hangupAfterTalkMs: 5000 });
    await pbx.run();
    expect(pbx.errors).to.deep.equal([]);
    const refused = pbx.warnings.filter((w) => w.startsWith(`Connecting to '127.0.0.1:${port}' failed`));
    expect(refused, 'three ringing legs (no ring-end handler pushed), then show and hangup').to.have.length(5);
    expect(pbx.agiRuns.filter((r) => /\/ringend$/.test(r.script)), 'no ring-end without a ring').to.deep.equal([]);
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows).to.deep.equal([{ callId, userIds: [USERS['102']], result: true }]);
    expect(hides()).to.deep.equal([]);
    await expectFinishedOnceBy('102', callId);
  });

  it('the service down: no ringing leg tries it, the card goes to the answerer on answer, exactly once', async () => {
    const port = svc!.port;
    await svc!.stop('SIGKILL');
    pbx.phone('PJSIP/102', { answerAfterMs: 4000 });
    const call = pbx.inbound({ did: fx.dids.ringall, callerNum: '89161234567', hangupAfterTalkMs: 5000 });
    await pbx.run();
    expect(pbx.errors).to.deep.equal([]);
    const refused = pbx.warnings.filter((w) => w.startsWith(`Connecting to '127.0.0.1:${port}' failed`));
    expect(refused.map((w) => /\/([a-z]+)'?$/.exec(w)?.[1] ?? w).sort(), 'only the three call steps tried it, not the ringing legs').to.have.length(3);
    expect(pbx.agiRuns.filter((r) => /\/ring(end)?$/.test(r.script))).to.deep.equal([]);
    const callId = call.record()!.vars.BITRIX_CALL_ID;
    expect(fake.shows).to.deep.equal([{ callId, userIds: [USERS['102']], result: true }]);
    expect(hides()).to.deep.equal([]);
    await expectFinishedOnceBy('102', callId);
  });
});
