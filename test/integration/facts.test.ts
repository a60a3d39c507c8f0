// The facts the dialplan records (marker, start, answer: who and when, end) decide what Bitrix24
// hears; the AGI processes only deliver them. Built AGIs spoken to as Asterisk does, the fake
// Bitrix24, real SQLite; the channel variables are the ones the module's dialplan sets
// (test/helpers/facts.ts; the dialplan itself runs in the pbx tests and on the lab Asterisk).
import { expect } from 'chai';
import { FakeBitrix } from '../fake-bitrix/server';
import { openCallDb } from '../helpers/calls';
import { testSetup, TestSetup } from '../helpers/config';
import { cardProcesses, cardsDone, CallChannel, endFacts, inboundFacts, recordAnswer } from '../helpers/facts';
import { AgiRunResult, runAgiScript } from '../helpers/fake-asterisk';
import { isoWithOffset } from '../../agi-src/logic/time';

const DID = '74951234567';
const CALLER = '+79161234567';

describe('facts in the dialplan: late, killed or missing processes never change what Bitrix24 hears', function () {
  this.timeout(60_000);
  let fake: FakeBitrix;
  let t: TestSetup;

  beforeEach(async () => {
    fake = await FakeBitrix.start();
    fake.addUser({ ID: 1, NAME: 'Default', LAST_NAME: 'Owner', ACTIVE: true, UF_PHONE_INNER: null });
    fake.addUser({ ID: 12, NAME: 'Ivan', ACTIVE: true, UF_PHONE_INNER: '101' });
    fake.addUser({ ID: 15, NAME: 'Anna', ACTIVE: true, UF_PHONE_INNER: '102' });
    fake.addCrm({ type: 'CONTACT', name: 'Иван Петров', phones: [CALLER] });
    t = testSetup({ webhookUrl: fake.webhookUrl, dids: [DID], defaultUserId: 1 });
  });
  afterEach(async () => {
    await cardsDone();
    await fake.stop();
  });

  const incoming = (call: CallChannel, callerid = CALLER) =>
    runAgiScript({
      script: 'itd_bitrix_incoming.js',
      args: [DID],
      env: { agi_uniqueid: call.BITRIX_UNIQUEID, agi_callerid: callerid },
      vars: call,
      configPath: t.configPath,
    });
  const show = (call: CallChannel, ext: string) =>
    runAgiScript({
      script: 'itd_bitrix_show.js',
      args: [ext],
      env: { agi_uniqueid: `${call.BITRIX_UNIQUEID}9`, agi_channel: `PJSIP/${ext}-0000000a` },
      vars: call,
      configPath: t.configPath,
    });
  const hangup = (call: CallChannel, endedAt: number, callerid = CALLER, did = DID) =>
    runAgiScript({
      script: 'itd_bitrix_hangup.js',
      env: { agi_uniqueid: call.BITRIX_UNIQUEID, agi_callerid: callerid, agi_context: 'itd-bitrix-hangup', agi_extension: 's' },
      vars: endFacts({ ...call, FROM_DID: did }, endedAt),
      dead: true,
      configPath: t.configPath,
    });
  const clean = (r: AgiRunResult) => {
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(r.rejected).to.deep.equal([]);
  };
  const registers = () => fake.calls('telephony.externalcall.register');
  const finished = () => [...fake.finishedCalls.values()];

  it('an incoming step that never ran: the hangup registers the call late, with its real start, and finishes it answered by the recorded operator', async () => {
    const now = Date.now();
    const call = inboundFacts('1700030000.1', now - 20_000);
    recordAnswer(call, '101', now - 15_000);
    const h = await hangup(call, now - 5_000);
    clean(h);
    expect(registers()).to.have.length(1);
    expect(registers()[0].params).to.include({ PHONE_NUMBER: CALLER, LINE_NUMBER: DID, EXTERNAL_CALL_ID: '1700030000.1' });
    expect(registers()[0].params.CALL_START_DATE).to.equal(isoWithOffset(now - 20_000));
    expect(finished()).to.have.length(1);
    expect(finished()[0]).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200', CALL_DURATION: 10 });
    expect(t.log()).to.match(/hangup 1700030000\.1: the call had no local record; rebuilt from the channel, registered late/);
  });

  it('the show step never ran (killed, starved): answered stays answered, right operator and talk time', async () => {
    const now = Date.now();
    const call = inboundFacts('1700030001.1', now - 40_000);
    const inc = await incoming(call);
    clean(inc);
    call.BITRIX_CALL_ID = inc.vars.__BITRIX_CALL_ID;
    recordAnswer(call, '102', now - 30_000);
    clean(await hangup(call, now - 7_000));
    expect(fake.shows).to.deep.equal([]);
    expect(finished()).to.have.length(1);
    expect(finished()[0]).to.include({ PORTAL_USER_ID: 15, CALL_FAILED_CODE: '200', CALL_DURATION: 23 });
  });

  it('show and hangup that start late change nothing: the times are the dialplan\'s', async () => {
    const now = Date.now();
    const call = inboundFacts('1700030002.1', now - 60_000);
    const inc = await incoming(call);
    call.BITRIX_CALL_ID = inc.vars.__BITRIX_CALL_ID;
    recordAnswer(call, '101', now - 50_000);
    clean(await show(call, '101'));
    await cardsDone(call.BITRIX_UNIQUEID);
    clean(await hangup(call, now - 38_000));
    expect(finished()[0]).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200', CALL_DURATION: 12 });
    const db = await openCallDb(t.dbPath);
    expect(await db.get("SELECT answered_at, operator_ext, hungup_at FROM calls WHERE uniqueid = '1700030002.1'")).to.deep.equal({
      answered_at: now - 50_000,
      operator_ext: '101',
      hungup_at: now - 38_000,
    });
    await db.close();
  });

  it('the show step returns before the card request is answered; the card follows', async () => {
    const call = inboundFacts('1700030003.1');
    const inc = await incoming(call);
    call.BITRIX_CALL_ID = inc.vars.__BITRIX_CALL_ID;
    fake.setLatency(3000);
    recordAnswer(call, '101');
    const sh = await show(call, '101');
    clean(sh);
    expect(cardProcesses(call.BITRIX_UNIQUEID), 'the card is still on its way when the bridge goes on').to.have.length(1);
    expect(fake.shows).to.deep.equal([]);
    await cardsDone(call.BITRIX_UNIQUEID);
    expect(fake.shows).to.deep.equal([{ callId: call.BITRIX_CALL_ID, userIds: [12], result: true }]);
  });

  it('no answer hook ran but the inbound Dial was answered: the operator from the dial result, ANSWEREDTIME_MS of talk', async () => {
    const now = Date.now();
    const call = inboundFacts('1700030004.1', now - 20_000);
    const inc = await incoming(call);
    call.BITRIX_CALL_ID = inc.vars.__BITRIX_CALL_ID;
    Object.assign(call, { DIALSTATUS: 'ANSWER', BITRIX_OPERATOR: '102', ANSWEREDTIME_MS: '7000', DIALEDPEERNAME: 'PJSIP/102-0000000b' });
    clean(await hangup(call, now));
    expect(finished()[0]).to.include({ PORTAL_USER_ID: 15, CALL_FAILED_CODE: '200', CALL_DURATION: 7 });
    expect(t.log()).to.contain('hangup 1700030004.1: answered by 102 (from the dial result)');
  });

  it('a call nobody answered: 304 by the default user, whatever Dial left that is not an answer', async () => {
    const call = inboundFacts('1700030005.1');
    const inc = await incoming(call);
    call.BITRIX_CALL_ID = inc.vars.__BITRIX_CALL_ID;
    Object.assign(call, { DIALSTATUS: 'NOANSWER', ANSWEREDTIME_MS: '' });
    clean(await hangup(call, Date.now()));
    expect(finished()[0]).to.include({ PORTAL_USER_ID: 1, CALL_FAILED_CODE: '304', CALL_DURATION: 0 });
  });

  it('an anonymous caller carries the marker too: incoming does not register it, hangup skips it cleanly', async () => {
    const call = inboundFacts('1700030006.1');
    clean(await incoming(call, 'unknown'));
    recordAnswer(call, '101');
    const h = await hangup(call, Date.now(), 'unknown');
    clean(h);
    expect(fake.httpRequestCount()).to.equal(0);
    expect(t.log()).to.match(/hangup 1700030006\.1: anonymous caller \("unknown"\); not reported/);
    expect(t.log()).not.to.match(/ (ERROR|WARN) /);
  });

  it('a DID a pattern route let in but the settings do not list: hangup leaves it alone', async () => {
    const call = inboundFacts('1700030007.1');
    clean(await hangup(call, Date.now(), CALLER, '74950000000'));
    expect(fake.httpRequestCount()).to.equal(0);
  });

  it('20 calls answered at once with every show step gone: each finished once, answered, by its own operator', async () => {
    t.write({ hangupTimeoutMs: 10_000, rateLimitPerSecond: 50, rateLimitBurst: 500 });
    fake.setRateLimit(false);
    const now = Date.now();
    const calls = Array.from({ length: 20 }, (_, i) => {
      const call = inboundFacts(`1700030100.${i}`, now - 30_000);
      recordAnswer(call, i % 2 ? '102' : '101', now - 20_000);
      return call;
    });
    // Neither incoming nor show ran for any of them (a starved PBX): only the hangup handlers.
    const hs = await Promise.all(calls.map((c, i) => hangup(c, now - 10_000, `+7916700${String(i).padStart(4, '0')}`)));
    hs.forEach(clean);
    expect(registers()).to.have.length(20);
    expect(new Set(registers().map((r) => r.params.EXTERNAL_CALL_ID)).size).to.equal(20);
    const byExternal = new Map(finished().map((c) => [c.EXTERNAL_CALL_ID, c]));
    expect(finished()).to.have.length(20);
    calls.forEach((c, i) =>
      expect(byExternal.get(c.BITRIX_UNIQUEID), c.BITRIX_UNIQUEID).to.include({ PORTAL_USER_ID: i % 2 ? 15 : 12, CALL_FAILED_CODE: '200', CALL_DURATION: 10 }),
    );
  });
});
