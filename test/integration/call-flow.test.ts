// The call flow end to end: the built AGI executables, spoken to as Asterisk does, against the
// strict fake Bitrix24 on loopback, with the real SQLite file.
import { expect } from 'chai';
import { chmodSync, copyFileSync, existsSync, readdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { FakeBitrix } from '../fake-bitrix/server';
import { testSetup, TestSetup } from '../helpers/config';
import { AGI_BIN, AgiRunResult, runAgiScript } from '../helpers/fake-asterisk';
import { openCallDb, waitFor, wavFile } from '../helpers/calls';
import { CallChannel, cardsDone, endFacts, inboundFacts, recordAnswer } from '../helpers/facts';
import { runCli } from '../helpers/cli';
import { tempDir } from '../helpers/tmp';
import { startConnectProxy } from '../helpers/connect-proxy';

const DID = '74951234567';

describe('call flow (built AGIs, fake Bitrix24, real SQLite)', function () {
  this.timeout(30_000);
  let fake: FakeBitrix;
  let t: TestSetup;

  beforeEach(async () => {
    fake = await FakeBitrix.start();
    fake.addUser({ ID: 1, NAME: 'Default', LAST_NAME: 'Owner', ACTIVE: true, UF_PHONE_INNER: null });
    fake.addUser({ ID: 12, NAME: 'Ivan', LAST_NAME: 'Petrov', ACTIVE: true, UF_PHONE_INNER: '101' });
    fake.addUser({ ID: 15, NAME: 'Anna', LAST_NAME: 'Smirnova', ACTIVE: true, UF_PHONE_INNER: '102' });
    fake.addUser({ ID: 20, NAME: 'Fired', ACTIVE: false, UF_PHONE_INNER: '103' });
    fake.addCrm({ type: 'CONTACT', name: 'Иван Петров', phones: ['+79161234567'] });
    t = testSetup({ webhookUrl: fake.webhookUrl, dids: [DID], defaultUserId: 1, attachRecordings: true });
  });
  afterEach(() => fake.stop());

  /** Each call's channel variables as the module's dialplan leaves them (helpers/facts.ts). */
  const channels = new Map<string, CallChannel>();
  const callChannel = (uniqueid: string): CallChannel => {
    if (!channels.has(uniqueid)) channels.set(uniqueid, inboundFacts(uniqueid));
    return channels.get(uniqueid)!;
  };
  beforeEach(() => channels.clear());

  const incoming = (uniqueid: string, callerid: string, more: Partial<Parameters<typeof runAgiScript>[0]> = {}) =>
    runAgiScript({
      script: 'itd_bitrix_incoming.js',
      args: [DID],
      env: { agi_uniqueid: uniqueid, agi_callerid: callerid },
      configPath: t.configPath,
      ...more,
      vars: { ...callChannel(uniqueid), ...(more.vars ?? {}) },
    });
  /** The operator at `ext` answers: the dialplan records it (the first answer wins), the show step runs, its card goes out. */
  const show = async (ext: string, call: CallChannel, more: Partial<Parameters<typeof runAgiScript>[0]> = {}) => {
    recordAnswer(call, ext);
    const r = await runAgiScript({
      script: 'itd_bitrix_show.js',
      args: [ext],
      env: { agi_uniqueid: `${call.BITRIX_UNIQUEID}.m`, agi_channel: `PJSIP/${ext}-00000002` },
      vars: { ...call },
      configPath: t.configPath,
      ...more,
    });
    await cardsDone(call.BITRIX_UNIQUEID);
    return r;
  };
  const hangup = (uniqueid: string, call: CallChannel, more: Partial<Parameters<typeof runAgiScript>[0]> = {}) =>
    runAgiScript({
      script: 'itd_bitrix_hangup.js',
      env: { agi_uniqueid: uniqueid, agi_context: 'itd-bitrix-hangup', agi_extension: 's' },
      vars: endFacts(call),
      dead: true,
      configPath: t.configPath,
      ...more,
    });
  const dueNowAll = async () => {
    const db = await openCallDb(t.dbPath);
    await db.run('UPDATE outbox SET next_at = 0, lease_until = NULL');
    await db.close();
  };
  /** The call's channel after incoming: what the dialplan set, and the CALL_ID incoming left for the later steps. */
  const inherited = (r: AgiRunResult): CallChannel => {
    const call = callChannel(r.vars.BITRIX_UNIQUEID);
    if (r.vars.__BITRIX_CALL_ID) call.BITRIX_CALL_ID = r.vars.__BITRIX_CALL_ID;
    return call;
  };

  function expectCleanSession(r: AgiRunResult) {
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(r.rejected, 'commands Asterisk would refuse').to.deep.equal([]);
    expect(r.stderr).to.equal('');
  }

  it('known contact answered by a queue operator: name, register, card, finish by the operator', async () => {
    const inc = await incoming('1700000000.1', '89161234567', { vars: { 'CHANNEL(linkedid)': '1700000000.0' } });
    expectCleanSession(inc);
    expect(inc.vars['CALLERID(name)']).to.equal('Иван Петров');
    expect(inc.vars.__BITRIX_UNIQUEID, 'the dialplan marks the call, not the AGI').to.equal(undefined);
    const callId = inc.vars.__BITRIX_CALL_ID;
    expect(callId).to.match(/^externalCall\.[0-9a-f]{32}\.\d+$/);
    expect(fake.httpRequestCount(), 'lookup + register in one round trip').to.equal(1);
    const reg = fake.calls('telephony.externalcall.register')[0].params;
    // Batch sub-requests travel as query strings: the portal sees strings.
    expect(reg).to.include({ USER_ID: '1', PHONE_NUMBER: '+79161234567', TYPE: '2', SHOW: '0', LINE_NUMBER: DID, EXTERNAL_CALL_ID: '1700000000.0' });
    expect(String(reg.CALL_START_DATE)).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    expect(fake.shows, 'no card for the default user at register').to.deep.equal([]);

    const sh = await show('101', inherited(inc));
    expectCleanSession(sh);
    expect(fake.shows).to.deep.equal([{ callId, userIds: [12], result: true }]);

    await new Promise((r) => setTimeout(r, 1100));
    const hup = await hangup('1700000000.1', inherited(inc));
    expectCleanSession(hup);
    const finished = fake.finishedCalls.get(callId);
    expect(finished, 'finished in Bitrix24').to.exist;
    expect(finished).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200', CALL_STATUS: 1 });
    expect(finished!.CALL_DURATION).to.be.within(1, 3);
    expect(fake.activeCalls.size).to.equal(0);

    const db = await openCallDb(t.dbPath);
    const row = await db.get('SELECT * FROM calls WHERE uniqueid = ?', ['1700000000.1']);
    expect(row).to.include({ state: 'finished', operator_ext: '101', operator_user_id: 12, bitrix_call_id: callId, finish_status: '200' });
    expect(await db.all('SELECT * FROM outbox')).to.deep.equal([]);
    await db.close();
  });

  it('missed call: finished by the default user with 304 and no talk time', async () => {
    const inc = await incoming('1700000001.1', '+79161234567');
    const callId = inc.vars.__BITRIX_CALL_ID;
    const hup = await hangup('1700000001.1', inherited(inc));
    expectCleanSession(hup);
    expect(fake.finishedCalls.get(callId)).to.include({ PORTAL_USER_ID: 1, CALL_FAILED_CODE: '304', CALL_DURATION: 0, CALL_STATUS: 0 });
  });

  it('unknown number without CRM_CREATE: registered, no lead, name untouched', async () => {
    const inc = await incoming('1700000002.1', '+79990000001');
    expectCleanSession(inc);
    expect(inc.vars['CALLERID(name)']).to.equal(undefined);
    expect(inc.vars.__BITRIX_CALL_ID).to.match(/^externalCall\./);
    expect(fake.createdLeads).to.have.length(0);
    expect(fake.calls('telephony.externalcall.register')[0].params.CRM_CREATE).to.equal('0');
  });

  it('unknown number with CRM_CREATE: Bitrix24 creates a lead', async () => {
    t.write({ createCrmEntity: true });
    const inc = await incoming('1700000003.1', '+79990000002');
    expectCleanSession(inc);
    expect(fake.createdLeads).to.have.length(1);
    expect(fake.calls('telephony.externalcall.register')[0].params.CRM_CREATE).to.equal('1');
  });

  it('DID not listed: exits at once, no request, no database', async () => {
    const r = await runAgiScript({ script: 'itd_bitrix_incoming.js', args: ['74950000000'], configPath: t.configPath });
    expectCleanSession(r);
    expect(r.commands).to.deep.equal([]);
    expect(fake.requests).to.have.length(0);
    expect(existsSync(t.dbPath)).to.equal(false);
  });

  it('module disabled: every AGI exits at once and touches nothing', async () => {
    t.write({ enabled: false });
    for (const script of ['itd_bitrix_incoming.js', 'itd_bitrix_show.js', 'itd_bitrix_hangup.js'] as const) {
      const r = await runAgiScript({ script, args: [DID], configPath: t.configPath });
      expectCleanSession(r);
      expect(r.commands).to.deep.equal([]);
    }
    expect(fake.requests).to.have.length(0);
    expect(existsSync(t.dbPath)).to.equal(false);
  });

  it('the DID matches whatever prefix the trunk delivers (+7…, 8…, 7…)', async () => {
    t.write({ dids: ['+74951234567'] });
    const r = await runAgiScript({ script: 'itd_bitrix_incoming.js', args: ['84951234567'], env: { agi_uniqueid: '1700000004.1' }, configPath: t.configPath });
    expectCleanSession(r);
    expect(fake.calls('telephony.externalcall.register')[0].params.LINE_NUMBER).to.equal('84951234567');
  });

  it('reads --config=<path> and --config <path> from the AGI arguments', async () => {
    for (const args of [[DID, `--config=${t.configPath}`], [DID, '--config', t.configPath]]) {
      const r = await runAgiScript({ script: 'itd_bitrix_incoming.js', args, env: { agi_uniqueid: `1700000005.${args.length}` } });
      expectCleanSession(r);
      expect(r.vars.__BITRIX_CALL_ID).to.match(/^externalCall\./);
    }
  });

  describe('odd caller IDs', () => {
    const cases: Array<[string, string | null]> = [
      ['unknown', null],
      ['', null],
      ['anonymous', null],
      ['+7 (495) 123-45-67', '+74951234567'],
      ['84951112233', '+74951112233'],
      ['1234567890123456789012345678901234567890', '12345678901234567890123456789012'],
      ['abc101', '101'],
    ];
    for (const [callerid, sent] of cases) {
      it(`${JSON.stringify(callerid)} → ${sent ?? 'not registered'}`, async () => {
        const r = await incoming(`1700000010.${cases.findIndex((c) => c[0] === callerid)}`, callerid);
        expectCleanSession(r);
        const regs = fake.calls('telephony.externalcall.register');
        if (sent === null) {
          expect(regs).to.have.length(0);
          expect(r.vars['CALLERID(name)']).to.equal(undefined);
        } else {
          expect(regs[0].params.PHONE_NUMBER).to.equal(sent);
        }
      });
    }
  });

  describe('CRM names that could break the AGI session', () => {
    const names: Array<[string, string]> = [
      ['Ivan "The Terrible" Petrov', 'Ivan The Terrible Petrov'],
      ['C:\\Users\\ivan', 'C: Users ivan'],
      ['${EVIL}$[1/0]|Gosub(x,s,1);', 'EVIL 1/0 Gosub(x s 1)'],
      ['Иван\nSET VARIABLE EVIL 1\nПетров', 'Иван SET VARIABLE EVIL 1 Петров'],
      ['Клиент 😀🚀', 'Клиент 😀🚀'],
      ['Я'.repeat(300), 'Я'.repeat(40)],
    ];
    names.forEach(([crmName, expected], i) => {
      it(`sets CALLERID(name) for ${JSON.stringify(crmName.slice(0, 30))} exactly, and sends nothing else`, async () => {
        fake.addCrm({ type: 'CONTACT', name: crmName, phones: [`+7916000000${i}`] });
        const r = await incoming(`1700000020.${i}`, `+7916000000${i}`);
        expectCleanSession(r);
        expect(r.vars['CALLERID(name)']).to.equal(expected);
        expect(r.vars.EVIL).to.equal(undefined);
        expect(r.commands.every((c) => /^(GET|SET) (FULL )?VARIABLE |^VERBOSE /.test(c))).to.equal(true);
      });
    });
  });

  it('a CALL_ID of another shape is a failed register: logged once, queued, never set on the channel', async () => {
    const evil = 'externalCall.1;Set(EVIL=1)';
    const body = JSON.stringify({ result: { result: { find: [], reg: { CALL_ID: evil } }, result_error: [] }, time: {} });
    fake.failNext(1, { status: 200, body }, 'batch');
    const inc = await incoming('1700000050.1', '+79169990000');
    expectCleanSession(inc);
    expect(inc.vars.__BITRIX_CALL_ID).to.equal(undefined);
    expect(Object.values(inc.vars)).not.to.include(evil);
    const lines = t.log().split('\n').filter((l) => /1700000050\.1: register not done/.test(l));
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/CALL_ID of unknown shape.*queued for retry/);
    // A later step that finds such a value on the channel does not use it either.
    const call = Object.assign(inherited(inc), { BITRIX_CALL_ID: evil });
    await show('101', call);
    await hangup('1700000050.1', call);
    const db = await openCallDb(t.dbPath);
    await db.run('UPDATE outbox SET next_at = 0');
    await db.close();
    await runCli(t, ['retry']);
    const [finished] = [...fake.finishedCalls.values()];
    expect(finished).to.include({ EXTERNAL_CALL_ID: '1700000050.1' });
    expect(finished.CALL_ID).to.match(/^externalCall\.[0-9a-f]{32}\.\d+$/);
    const sentIds = [...fake.calls('telephony.externalcall.show'), ...fake.calls('telephony.externalcall.finish')].map((r) => r.params.CALL_ID);
    expect(sentIds).not.to.include(evil);
  });

  it('caller hangs up during the lookup (SIGHUP): the AGI carries on, registers, exits 0', async () => {
    fake.setLatency(600);
    const r = await incoming('1700000030.1', '+79161234567', { hangupAfterCommand: 1 });
    expect(r.exitCode).to.equal(0);
    expect(r.signal).to.equal(null);
    expect(r.vars.__BITRIX_CALL_ID).to.match(/^externalCall\./);
    fake.setLatency(0);
    const hup = await hangup('1700000030.1', inherited(r));
    expectCleanSession(hup);
    expect(fake.finishedCalls.get(r.vars.__BITRIX_CALL_ID)).to.include({ CALL_FAILED_CODE: '304' });
  });

  it('Bitrix24 slow: the incoming AGI leaves within its budget and the call is registered by the retry', async () => {
    t.write({ incomingTimeoutMs: 800 });
    fake.setLatency(5000);
    const r = await incoming('1700000031.1', '+79161234567');
    expect(r.exitCode).to.equal(0);
    // The portal answers 5 s after the request: a CRM call id here would mean the caller waited for it.
    expect(r.vars.__BITRIX_CALL_ID).to.equal(undefined);
    const db = await openCallDb(t.dbPath);
    const pending = await db.all<{ step: string }>("SELECT step FROM outbox WHERE uniqueid = '1700000031.1'");
    expect(pending.map((p) => p.step)).to.deep.equal(['register']);
    await db.close();
    expect(t.log()).to.match(/register not done .* queued for retry/);
  });

  it('Bitrix24 down: the call goes on, nothing is lost, hangup and retry complete it later', async () => {
    fake.setDown(true);
    const inc = await incoming('1700000032.1', '+79161234567');
    expectCleanSession(inc);
    const hup = await hangup('1700000032.1', inherited(inc));
    expectCleanSession(hup);
    fake.setDown(false);
    const db = await openCallDb(t.dbPath);
    await db.run('UPDATE outbox SET next_at = 0');
    await db.close();
    await runCli(t, ['retry']);
    const [finished] = [...fake.finishedCalls.values()];
    expect(finished).to.include({ PHONE_NUMBER: '+79161234567', CALL_FAILED_CODE: '304', PORTAL_USER_ID: 1 });
    expect(fake.finishedCalls.size).to.equal(1);
  });

  it('through an HTTPS proxy (httpsProxy): registered and finished through CONNECT tunnels; the proxy password in no log line', async () => {
    const proxy = await startConnectProxy({ credentials: 'pbx:Pr0xyPa55' });
    try {
      t.write({ httpsProxy: `http://pbx:wr0ngPa55@127.0.0.1:${proxy.port}` });
      const refused = await incoming('1700000046.1', '+79161234567');
      expectCleanSession(refused);
      expect(refused.vars.__BITRIX_CALL_ID).to.equal(undefined);
      expect(t.log()).to.contain(`proxy 127.0.0.1:${proxy.port} refused the tunnel`);
      t.write({ httpsProxy: `http://pbx:Pr0xyPa55@127.0.0.1:${proxy.port}` });
      const inc = await incoming('1700000047.1', '+79161234567');
      expectCleanSession(inc);
      expect(inc.vars.__BITRIX_CALL_ID).to.match(/^externalCall\./);
      const hup = await hangup('1700000047.1', inherited(inc));
      expectCleanSession(hup);
      expect(fake.finishedCalls.get(inc.vars.__BITRIX_CALL_ID)).to.include({ CALL_FAILED_CODE: '304' });
      expect(proxy.tunnels.length, 'every request went through the proxy (one tunnel refused)').to.equal(fake.httpRequestCount() + 1);
      expect(t.log()).not.to.match(/Pr0xyPa55|wr0ngPa55/);
    } finally {
      await proxy.close();
    }
  });

  it('one 503 QUERY_LIMIT_EXCEEDED, then success: registered within the budget', async () => {
    fake.failNext(1, 'query_limit');
    const r = await incoming('1700000033.1', '+79161234567');
    expectCleanSession(r);
    expect(r.vars.__BITRIX_CALL_ID).to.match(/^externalCall\./);
    expect(fake.httpRequestCount()).to.equal(2);
  });

  it('WRONG_AUTH_TYPE: the call goes on, one clear log line, the outbox waits for new credentials', async () => {
    fake.setWebhooksAllowedForTelephony(false);
    const r = await incoming('1700000034.1', '+79161234567');
    expectCleanSession(r);
    expect(r.vars.__BITRIX_CALL_ID).to.equal(undefined);
    const errors = t.log().split('\n').filter((l) => / ERROR /.test(l));
    expect(errors).to.have.length(1);
    expect(errors[0]).to.match(/WRONG_AUTH_TYPE.*fix the credentials/);
    expect(errors[0]).not.to.contain(fake.webhookUrl.split('/')[5]);
    const db = await openCallDb(t.dbPath);
    expect(await db.get("SELECT state FROM outbox WHERE uniqueid = '1700000034.1'")).to.deep.equal({ state: 'blocked' });
    await db.close();
  });

  it('operator extension without an active Bitrix24 user: no card, real duration, default user finishes', async () => {
    const inc = await incoming('1700000035.1', '+79161234567');
    const sh = await show('103', inherited(inc));
    expectCleanSession(sh);
    expect(fake.shows).to.deep.equal([]);
    await new Promise((r) => setTimeout(r, 1100));
    await hangup('1700000035.1', inherited(inc));
    const f = fake.finishedCalls.get(inc.vars.__BITRIX_CALL_ID)!;
    expect(f).to.include({ PORTAL_USER_ID: 1, CALL_FAILED_CODE: '200' });
    expect(f.CALL_DURATION).to.be.at.least(1);
  });

  it('showCard off: operator and answer time recorded, no show request', async () => {
    t.write({ showCard: false });
    const inc = await incoming('1700000036.1', '+79161234567');
    await show('101', inherited(inc));
    expect(fake.calls('telephony.externalcall.show')).to.have.length(0);
    await hangup('1700000036.1', inherited(inc));
    expect(fake.finishedCalls.get(inc.vars.__BITRIX_CALL_ID)).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200' });
  });

  it('cardMode off: operator and answer time recorded, no show request (the register pops none either)', async () => {
    t.write({ cardMode: 'off' });
    const inc = await incoming('1700000036.2', '+79161234567');
    expect(Number(fake.calls('telephony.externalcall.register')[0].params.SHOW)).to.equal(0);
    await show('101', inherited(inc));
    expect(fake.calls('telephony.externalcall.show')).to.have.length(0);
    await hangup('1700000036.2', inherited(inc));
    expect(fake.finishedCalls.get(inc.vars.__BITRIX_CALL_ID)).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200' });
  });

  it('show uses the cached user map: one request warm, two cold', async () => {
    const a = await incoming('1700000037.1', '+79161234567');
    const before = fake.httpRequestCount();
    await show('101', inherited(a));
    expect(fake.httpRequestCount() - before).to.equal(2);
    const b = await incoming('1700000037.2', '+79161234568');
    const mid = fake.httpRequestCount();
    await show('101', inherited(b));
    expect(fake.httpRequestCount() - mid).to.equal(1);
  });

  it('a phone that answers after the recorded answer (a racing queue member) gets no card and does not finish the call', async () => {
    const inc = await incoming('1700000038.1', '+79161234567');
    await show('101', inherited(inc));
    const late = await show('102', inherited(inc));
    expectCleanSession(late);
    await hangup('1700000038.1', inherited(inc));
    const callId = inc.vars.__BITRIX_CALL_ID;
    expect(fake.shows).to.deep.equal([{ callId, userIds: [12], result: true }]);
    expect(fake.calls('telephony.externalcall.hide'), 'nobody else saw a card').to.have.length(0);
    expect(fake.finishedCalls.get(callId)).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200' });
    expect(t.log()).to.contain('show 1700000038.1: 101 answered first; no card for 102');
  });

  it('recording: attached after finish with the exact bytes, once Asterisk has closed the file', async () => {
    const wav = join(t.dir, 'in-74951234567-79161234567-20261126-120000-1700000040.1.wav');
    const bytes = wavFile(16_000);
    writeFileSync(wav, bytes);
    const inc = await incoming('1700000040.1', '+79161234567');
    await show('101', inherited(inc));
    await new Promise((r) => setTimeout(r, 1100));
    const hup = await hangup('1700000040.1', { ...inherited(inc), MIXMONITOR_FILENAME: wav });
    expectCleanSession(hup);
    const callId = inc.vars.__BITRIX_CALL_ID;
    await waitFor(() => fake.attachedFiles.length > 0, 10_000);
    expect(fake.finishedCalls.get(callId)).to.include({ CALL_FAILED_CODE: '200' });
    expect(fake.attachedFiles[0].callId).to.equal(callId);
    expect(fake.attachedFiles[0].data.equals(bytes)).to.equal(true);
    expect(fake.attachedFiles[0].filename).to.match(/\.wav$/);
  });

  it('recording larger than the inline limit goes through the upload URL', async () => {
    const wav = join(t.dir, 'big-1700000041.1.wav');
    const bytes = wavFile(700_000);
    writeFileSync(wav, bytes);
    const inc = await incoming('1700000041.1', '+79161234567');
    await show('101', inherited(inc));
    await new Promise((r) => setTimeout(r, 1100));
    await hangup('1700000041.1', { ...inherited(inc), MIXMONITOR_FILENAME: wav });
    await waitFor(() => fake.attachedFiles.length > 0, 10_000);
    expect(fake.attachedFiles[0]).to.include({ mode: 'upload', callId: inc.vars.__BITRIX_CALL_ID });
    expect(fake.attachedFiles[0].data.equals(bytes)).to.equal(true);
  });

  describe('a recording upload', function () {
    this.timeout(90_000);
    const recordedCall = async (uniqueid: string, bytes: Buffer) => {
      const wav = join(t.dir, `rec-${uniqueid}.wav`);
      writeFileSync(wav, bytes);
      const inc = await incoming(uniqueid, '+79161234567');
      await show('101', inherited(inc));
      await new Promise((r) => setTimeout(r, 1100));
      await hangup(uniqueid, { ...inherited(inc), MIXMONITOR_FILENAME: wav });
      return inc.vars.__BITRIX_CALL_ID;
    };
    const attachRow = async (uniqueid: string) => {
      const db = await openCallDb(t.dbPath);
      const row = await db.get<{ state: string; attempts: number }>("SELECT state, attempts FROM outbox WHERE uniqueid = ? AND step = 'attach'", [uniqueid]);
      await db.close();
      return row;
    };
    const waitForAttempts = async (uniqueid: string, n: number) => {
      for (let i = 0; i < 200 && ((await attachRow(uniqueid))?.attempts ?? 0) < n; i++) await new Promise((r) => setTimeout(r, 100));
      expect((await attachRow(uniqueid))?.attempts).to.equal(n);
    };

    it('gets time in proportion to its size, not the per-call budget of the retry', async () => {
      const bytes = wavFile(700_000);
      fake.failNext(1, 'reset', 'upload'); // the recording worker's attempt is lost
      const callId = await recordedCall('1700000042.1', bytes);
      await waitForAttempts('1700000042.1', 1);
      expect(fake.finishedCalls.get(callId), 'the finish went out first').to.exist;
      // Upload link slower than the 5 s the retry run has for everything.
      fake.failNext(1, { slowMs: 8000 }, 'upload');
      await dueNowAll();
      const out = await runCli(t, ['retry', '--json', '--max-seconds', '5']);
      expect(JSON.parse(out.stdout).steps, out.stdout).to.deep.equal({ sent: 1, waiting: 0, held: 0 });
      expect(fake.attachedFiles).to.have.length(1);
      expect(fake.attachedFiles[0]).to.include({ mode: 'upload', callId });
      expect(fake.attachedFiles[0].data.equals(bytes)).to.equal(true);
    });

    it('that keeps failing is given up after 6 attempts; the call stays finished, status counts it as failed', async () => {
      fake.failNext(100, 'reset', 'upload');
      const callId = await recordedCall('1700000043.1', wavFile(700_000));
      await waitForAttempts('1700000043.1', 1);
      for (let attempt = 2; attempt <= 6; attempt++) {
        await dueNowAll();
        await runCli(t, ['retry']);
        await waitForAttempts('1700000043.1', attempt);
      }
      expect(await attachRow('1700000043.1')).to.deep.equal({ state: 'failed', attempts: 6 });
      await dueNowAll();
      await runCli(t, ['retry']);
      expect(fake.calls('upload'), 'not tried again').to.have.length(6);
      const status = JSON.parse((await runCli(t, ['status', '--json'])).stdout);
      expect(status.outbox).to.include({ pending: 0, failed: 1 });
      const calls = JSON.parse((await runCli(t, ['calls', '--json'])).stdout).calls;
      expect(calls[0]).to.include({ uniqueid: '1700000043.1', state: 'finished' });
      expect(fake.finishedCalls.get(callId)).to.include({ CALL_FAILED_CODE: '200' });
      expect(t.log()).to.match(/ ERROR .*1700000043\.1: recording not attached after 6 attempts; given up/);
    });

    it('is not charged for a finish that could not be sent with it (Bitrix24 down for hours)', async () => {
      const bytes = wavFile(16_000); // small: inline, in one batch with the finish
      const wav = join(t.dir, 'rec-1700000044.1.wav');
      writeFileSync(wav, bytes);
      const inc = await incoming('1700000044.1', '+79161234567');
      await show('101', inherited(inc));
      await new Promise((r) => setTimeout(r, 1100));
      fake.setDown(true);
      await hangup('1700000044.1', { ...inherited(inc), MIXMONITOR_FILENAME: wav });
      const finishAttempts = async () => {
        const db = await openCallDb(t.dbPath);
        const row = await db.get<{ attempts: number }>("SELECT attempts FROM outbox WHERE uniqueid = '1700000044.1' AND step = 'finish'");
        await db.close();
        return row?.attempts ?? 0;
      };
      for (let i = 0; i < 300 && (await finishAttempts()) < 1; i++) await new Promise((r) => setTimeout(r, 100)); // the recording worker tried
      expect(await finishAttempts(), 'the recording worker tried').to.be.at.least(1);
      for (let i = 0; i < 7; i++) {
        await dueNowAll();
        await runCli(t, ['retry']);
      }
      expect(await finishAttempts()).to.be.at.least(8);
      expect(await attachRow('1700000044.1')).to.deep.equal({ state: 'pending', attempts: 0 });
      fake.setDown(false);
      await dueNowAll();
      await runCli(t, ['retry']);
      expect(fake.attachedFiles).to.have.length(1);
      expect(fake.attachedFiles[0].data.equals(bytes)).to.equal(true);
    });
  });

  it('agi-bin/ alone, copied into an empty folder, runs a whole recorded call (nothing from node_modules)', async () => {
    const alone = tempDir('agi-bin-alone-');
    for (const f of readdirSync(AGI_BIN)) copyFileSync(join(AGI_BIN, f), join(alone, f));
    for (const f of readdirSync(alone).filter((n) => n.endsWith('.js'))) chmodSync(join(alone, f), 0o755);
    const wav = join(t.dir, 'alone-1700000045.1.wav');
    const bytes = wavFile(8000);
    writeFileSync(wav, bytes);
    const inc = await incoming('1700000045.1', '+79161234567', { agiBin: alone });
    expectCleanSession(inc);
    expect(inc.vars['CALLERID(name)']).to.equal('Иван Петров');
    await show('101', inherited(inc), { agiBin: alone });
    await new Promise((r) => setTimeout(r, 1100));
    // Executed through its shebang, as Asterisk runs it.
    const hup = await hangup('1700000045.1', { ...inherited(inc), MIXMONITOR_FILENAME: wav }, { agiBin: alone, viaShebang: true });
    expectCleanSession(hup);
    await waitFor(() => fake.attachedFiles.length > 0, 10_000);
    expect(fake.finishedCalls.get(inc.vars.__BITRIX_CALL_ID)).to.include({ CALL_FAILED_CODE: '200', PORTAL_USER_ID: 12 });
    expect(fake.attachedFiles[0].data.equals(bytes)).to.equal(true);
  });

  it('purges finished calls older than the retention', async () => {
    const first = await incoming('1700000050.1', '+79161234567');
    await hangup('1700000050.1', inherited(first));
    const db = await openCallDb(t.dbPath);
    await db.run("UPDATE calls SET started_at = started_at - 49 * 3600000, hungup_at = hungup_at - 49 * 3600000 WHERE uniqueid = '1700000050.1'");
    await db.close();
    const second = await incoming('1700000050.2', '+79161234568');
    await hangup('1700000050.2', inherited(second));
    const db2 = await openCallDb(t.dbPath);
    const rows = await db2.all<{ uniqueid: string }>('SELECT uniqueid FROM calls ORDER BY uniqueid');
    expect(rows.map((r) => r.uniqueid)).to.deep.equal(['1700000050.2']);
    await db2.close();
  });

  it('20 calls at once: each registered once, shown, finished, no database errors', async () => {
    // 60 requests in a few seconds: a portal on a plan whose bucket holds them (Enterprise-like).
    fake.setRateLimit({ burst: 250, drainPerSec: 5 });
    // Budgets for a busy 2-core machine: this is about concurrent database use, not timing.
    t.write({ rateLimitPerSecond: 5, rateLimitBurst: 250, incomingTimeoutMs: 8000, showTimeoutMs: 8000, hangupTimeoutMs: 10000 });
    const ids = Array.from({ length: 20 }, (_, i) => `1700000060.${i}`);
    const incs = await Promise.all(ids.map((id, i) => incoming(id, `+7916100${String(i).padStart(4, '0')}`)));
    incs.forEach(expectCleanSession);
    await Promise.all(incs.map((r) => show('101', inherited(r))));
    const hups = await Promise.all(incs.map((r, i) => hangup(ids[i], inherited(r))));
    hups.forEach(expectCleanSession);
    expect(fake.calls('telephony.externalcall.register')).to.have.length(20);
    expect(fake.finishedCalls.size).to.equal(20);
    expect(fake.rateLimit503Count()).to.equal(0);
    expect(t.log()).not.to.match(/SQLITE_BUSY|ERROR/);
  });
});
