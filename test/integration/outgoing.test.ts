// Outgoing calls end to end through the built steps: the outgoing AGI at the first trunk attempt,
// the hangup AGI (`out`) in the calling channel's hangup handler, spoken to as Asterisk does, with
// the facts the generated dialplan leaves on the channel (Dialplan/OutboundSubroutine.php,
// OutboundAnswer.php, OutboundHangupHandler.php); strict fake Bitrix24, real SQLite.
import { expect } from 'chai';
import { FakeBitrix } from '../fake-bitrix/server';
import { testSetup, TestSetup } from '../helpers/config';
import { AgiRunResult, runAgiScript } from '../helpers/fake-asterisk';
import { openCallDb } from '../helpers/calls';

const T0 = 1767096000; // epoch seconds of the first trunk attempt

describe('outgoing calls (built AGIs, fake Bitrix24, real SQLite)', function () {
  this.timeout(30_000);
  let fake: FakeBitrix;
  let t: TestSetup;

  beforeEach(async () => {
    fake = await FakeBitrix.start();
    fake.addUser({ ID: 1, NAME: 'Default', LAST_NAME: 'Owner', ACTIVE: true, UF_PHONE_INNER: null });
    fake.addUser({ ID: 12, NAME: 'Ivan', LAST_NAME: 'Petrov', ACTIVE: true, UF_PHONE_INNER: '101' });
    fake.addCrm({ type: 'CONTACT', name: 'Иван Петров', phones: ['+79161234567'] });
    t = testSetup({ webhookUrl: fake.webhookUrl, dids: [], outgoingEnabled: true, attachRecordings: false });
  });
  afterEach(() => fake.stop());

  /** What [itd-bitrix-outbound] sets on the calling channel before the outgoing step runs. */
  function channelFacts(uniqueid: string, over: Record<string, string> = {}): Record<string, string> {
    return {
      __BITRIX_OUT_UNIQUEID: uniqueid,
      __BITRIX_OUT_CHANNEL: 'PJSIP/101-00000001',
      BITRIX_OUT_STARTED: `${T0}.250`,
      BITRIX_OUT_EXTEN: '101',
      BITRIX_OUT_NUMBER: '89161234567',
      BITRIX_OUT_LINE: 'Main',
      'CHANNEL(linkedid)': uniqueid,
      // FreePBX has put the outbound caller ID in place by now: never the caller.
      'CALLERID(num)': '74951234567',
      ...over,
    };
  }

  const outgoing = (uniqueid: string, vars: Record<string, string>) =>
    runAgiScript({
      script: 'itd_bitrix_outgoing.js',
      env: { agi_uniqueid: uniqueid, agi_channel: 'PJSIP/101-00000001', agi_callerid: '74951234567', agi_context: 'itd-bitrix-outbound' },
      vars,
      configPath: t.configPath,
    });
  /** The hangup handler after the trunk Dial; `end` adds what the dialplan stamped by then. */
  const hangup = (uniqueid: string, vars: Record<string, string>, end: Record<string, string>) =>
    runAgiScript({
      script: 'itd_bitrix_hangup.js',
      args: ['out'],
      env: { agi_uniqueid: uniqueid, agi_channel: 'PJSIP/101-00000001', agi_callerid: '74951234567', agi_context: 'itd-bitrix-out-hangup' },
      vars: { ...vars, ...end },
      dead: true,
      configPath: t.configPath,
    });

  function expectClean(r: AgiRunResult) {
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(r.rejected, 'commands Asterisk would refuse').to.deep.equal([]);
    expect(r.stderr).to.equal('');
  }

  async function row(uniqueid: string): Promise<Record<string, unknown>> {
    const db = await openCallDb(t.dbPath);
    try {
      return (await db.get('SELECT * FROM calls WHERE uniqueid = ?', [uniqueid])) as Record<string, unknown>;
    } finally {
      await db.close();
    }
  }

  it('answered: registered by the caller with the card, finished with talk time only', async () => {
    const vars = channelFacts('1767096000.11');
    const out = await outgoing('1767096000.11', vars);
    expectClean(out);
    const regs = fake.calls('telephony.externalcall.register');
    expect(regs).to.have.length(1);
    expect(regs[0].params).to.include({ USER_ID: 12, PHONE_NUMBER: '+79161234567', TYPE: 1, SHOW: 1, LINE_NUMBER: 'Main', EXTERNAL_CALL_ID: '1767096000.11', CRM_CREATE: 0 });
    const callId = [...fake.activeCalls.keys()][0];
    expect(fake.shows, 'the card pops for the caller while it rings').to.deep.equal([{ callId, userIds: [12], result: true }]);

    // Ringing 4.5 s (not counted), the far end answers, 62.4 s of talk.
    const hup = await hangup('1767096000.11', vars, {
      'SHARED(BITRIX_OUT_ANSWER)': `${T0 + 4}.750`,
      BITRIX_OUT_ENDED: `${T0 + 67}.150`,
      DIALSTATUS: 'ANSWER',
      BITRIX_OUT_CAUSE: '16',
      HANGUPCAUSE: '16',
      ANSWEREDTIME_MS: '66900',
    });
    expectClean(hup);
    expect(fake.finishedCalls.get(callId)).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200', CALL_DURATION: 62, CALL_STATUS: 1 });
    expect(await row('1767096000.11')).to.include({ type: 'out', state: 'finished', operator_ext: '101', operator_user_id: 12, finish_status: '200', caller_number: '+79161234567', did: 'Main' });
  });

  const failures: Array<[string, Record<string, string>, string]> = [
    ['busy', { DIALSTATUS: 'BUSY', BITRIX_OUT_CAUSE: '17', HANGUPCAUSE: '17' }, '486'],
    ['no answer', { DIALSTATUS: 'NOANSWER', BITRIX_OUT_CAUSE: '19', HANGUPCAUSE: '34' }, '304'],
    ['cancelled by the caller', { DIALSTATUS: 'CANCEL', BITRIX_OUT_CAUSE: '', HANGUPCAUSE: '16' }, '603-S'],
    ['number does not exist', { DIALSTATUS: 'CHANUNAVAIL', BITRIX_OUT_CAUSE: '1', HANGUPCAUSE: '17' }, '404'],
    ['trunks congested', { DIALSTATUS: 'CONGESTION', BITRIX_OUT_CAUSE: '34', HANGUPCAUSE: '34' }, '503'],
  ];
  for (const [name, end, status] of failures) {
    it(`${name}: ${status}, no talk time, by the caller`, async () => {
      const uid = `1767096001.${status}`;
      const vars = channelFacts(uid);
      expectClean(await outgoing(uid, vars));
      const callId = [...fake.activeCalls.keys()][0];
      expectClean(await hangup(uid, vars, { BITRIX_OUT_ENDED: `${T0 + 20}.000`, ANSWEREDTIME_MS: '', ...end }));
      expect(fake.finishedCalls.get(callId)).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: status, CALL_DURATION: 0, CALL_STATUS: 0 });
    });
  }

  it('failover to the second trunk: one call, finished with the last trunk\'s answer', async () => {
    // Trunk 1 was unavailable; FreePBX went on to trunk 2, which answered. The outgoing step ran
    // at the first attempt only (the second finds its facts on the channel); the cause and
    // DIALSTATUS are the last trunk's.
    const vars = channelFacts('1767096002.5');
    expectClean(await outgoing('1767096002.5', vars));
    expectClean(
      await hangup('1767096002.5', vars, {
        'SHARED(BITRIX_OUT_ANSWER)': `${T0 + 9}.000`,
        BITRIX_OUT_ENDED: `${T0 + 39}.400`,
        DIALSTATUS: 'ANSWER',
        BITRIX_OUT_CAUSE: '16',
        HANGUPCAUSE: '16',
      }),
    );
    expect(fake.calls('telephony.externalcall.register')).to.have.length(1);
    expect(fake.calls('telephony.externalcall.finish')).to.have.length(1);
    expect([...fake.finishedCalls.values()][0]).to.include({ CALL_FAILED_CODE: '200', CALL_DURATION: 30 });
  });

  it('a leg without our marker (an inbound call forwarded out): the hangup step touches nothing', async () => {
    const r = await hangup('1767096003.1', { __FROM_DID: '74951234567', __BITRIX_UNIQUEID: '1767096003.0' }, { DIALSTATUS: 'ANSWER' });
    expectClean(r);
    expect(fake.requests).to.have.length(0);
  });

  it('extension without a Bitrix24 user: registered and finished by the default user, no card', async () => {
    const vars = channelFacts('1767096004.1', { BITRIX_OUT_EXTEN: '105' });
    expectClean(await outgoing('1767096004.1', vars));
    expectClean(await hangup('1767096004.1', vars, { DIALSTATUS: 'NOANSWER', BITRIX_OUT_ENDED: `${T0 + 30}.000` }));
    // By the outgoing step, or by the hangup step when a starved machine ran the first out of its budget.
    const regs = fake.calls('telephony.externalcall.register');
    expect(regs).to.have.length(1);
    expect(regs[0].params).to.include({ USER_ID: 1 });
    expect(Number(regs[0].params.SHOW)).to.equal(0);
    expect(fake.shows).to.deep.equal([]);
    expect([...fake.finishedCalls.values()][0]).to.include({ PORTAL_USER_ID: 1, CALL_FAILED_CODE: '304' });
  });

  it('card off: registered with SHOW 0', async () => {
    t.write({ outgoingShowCard: false });
    expectClean(await outgoing('1767096005.1', channelFacts('1767096005.1')));
    expect(fake.calls('telephony.externalcall.register')[0].params).to.include({ USER_ID: 12, SHOW: 0 });
    expect(fake.shows).to.deep.equal([]);
  });

  it('the outgoing step never ran (service and AGI both failed): the hangup rebuilds the call from the channel', async () => {
    const vars = channelFacts('1767096006.1');
    expectClean(
      await hangup('1767096006.1', vars, {
        'SHARED(BITRIX_OUT_ANSWER)': `${T0 + 5}.000`,
        BITRIX_OUT_ENDED: `${T0 + 15}.000`,
        DIALSTATUS: 'ANSWER',
      }),
    );
    const reg = fake.calls('telephony.externalcall.register');
    expect(reg).to.have.length(1);
    expect(reg[0].params, 'no card for a call that is over').to.include({ USER_ID: 12, TYPE: 1, SHOW: 0 });
    expect([...fake.finishedCalls.values()][0]).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200', CALL_DURATION: 10 });
  });

  it('Bitrix24 down at the start: the call goes on; the hangup step registers and finishes it once', async () => {
    fake.setDown(true);
    const vars = channelFacts('1767096007.1');
    const out = await outgoing('1767096007.1', vars);
    expectClean(out);
    fake.setDown(false);
    expectClean(await hangup('1767096007.1', vars, { DIALSTATUS: 'BUSY', BITRIX_OUT_ENDED: `${T0 + 3}.000` }));
    // The hangup step sends what the call still owes: the register, then the finish.
    const db = await openCallDb(t.dbPath);
    const steps = await db.all('SELECT step FROM outbox WHERE uniqueid = ?', ['1767096007.1']);
    await db.close();
    expect(steps).to.deep.equal([]);
    expect(fake.activeCalls.size).to.equal(0);
    expect([...fake.finishedCalls.values()]).to.have.length(1);
    expect([...fake.finishedCalls.values()][0]).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '486', TYPE: 1 });
  });

  it('a click-to-call: the CALL_ID Bitrix24 registered is finished, no second register', async () => {
    const callId = 'externalCall.0123456789abcdef0123456789abcdef.1767096000';
    fake.activeCalls.set(callId, {
      CALL_ID: callId,
      USER_ID: 12,
      PHONE_NUMBER: '+79161234567',
      TYPE: 1,
      LINE_NUMBER: '',
      EXTERNAL_CALL_ID: '',
      CALL_START_DATE: '',
      CRM_ENTITY_TYPE: '',
      CRM_ENTITY_ID: null,
      createdAt: Date.now(),
      appKey: 'webhook',
    });
    const vars = channelFacts('1767096008.c1', { BITRIX_CLICK_CALL_ID: callId });
    expectClean(await outgoing('1767096008.c1', vars));
    expectClean(
      await hangup('1767096008.c1', vars, { 'SHARED(BITRIX_OUT_ANSWER)': `${T0 + 20}.000`, BITRIX_OUT_ENDED: `${T0 + 50}.000`, DIALSTATUS: 'ANSWER' }),
    );
    expect(fake.calls('telephony.externalcall.register')).to.have.length(0);
    expect(fake.finishedCalls.get(callId)).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200', CALL_DURATION: 30 });
  });
});
