// Click-to-call end to end: the fake Bitrix24 queues OnExternalCallStart for the application (as
// the portal does when a user clicks a number), the poller takes it from event.offline.get, the
// click handler originates through the strict fake AMI, the built outgoing AGIs play the
// dialplan's part for the answered call, and every click ends in exactly one finish.
import { expect } from 'chai';
import { AmiClient } from '../../agi-src/ami/client';
import { ClickToCall, startClickToCall } from '../../agi-src/click/click-to-call';
import { loadConfig } from '../../agi-src/config/load';
import { Services } from '../../agi-src/flows/services';
import { Logger } from '../../agi-src/log/logger';
import { DbTokenStore } from '../../agi-src/store/tokens';
import { FakeBitrix } from '../fake-bitrix/server';
import { FakeAmi } from '../helpers/fake-ami';
import { testSetup, TestSetup } from '../helpers/config';
import { runAgiScript } from '../helpers/fake-asterisk';
import { waitFor } from '../helpers/calls';

describe('click-to-call (offline events, fake AMI, built AGIs)', function () {
  this.timeout(40_000);
  let fake: FakeBitrix;
  let ami: FakeAmi;
  let t: TestSetup;
  let services: Services;
  let client: AmiClient;
  let c2c: ClickToCall | undefined;

  async function setup(config: Record<string, unknown> = {}, opts: { amiUp?: boolean } = {}) {
    t = testSetup({
      webhookUrl: '',
      app: { portalUrl: fake.portalUrl, clientId: 'local.app1', clientSecret: 'app-s3cr3t-value' },
      oauthUrl: fake.oauthUrl,
      dids: [],
      outgoingEnabled: false,
      clickToCall: true,
      clickToCallRewrite: [{ prefix: '+7', replace: '8' }],
      rateLimitPerSecond: 50,
      rateLimitBurst: 500,
      ...config,
    });
    const log = new Logger('service', t.logPath, 'debug');
    services = new Services(loadConfig(t.configPath), log, Date.now, 2000, 'background');
    const tokens = fake.issueTokens();
    await new DbTokenStore((await services.stores()).db).save({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: Date.now() + 3600_000 });
    client = new AmiClient({ port: ami.port, username: 'admin', secret: 'amp111', minRetryMs: 50, maxRetryMs: 200 }, log);
    if (opts.amiUp !== false) {
      client.start();
      await waitFor(() => client.connected, 5000);
    }
    c2c = startClickToCall(services, client, { poller: { intervalMs: 100, refusedPauseMs: 60_000 }, handoverGraceMs: 300 });
  }

  beforeEach(async () => {
    fake = await FakeBitrix.start({ rateLimit: false });
    fake.addUser({ ID: 1, NAME: 'Default', LAST_NAME: 'Owner', ACTIVE: true, UF_PHONE_INNER: null });
    fake.addUser({ ID: 12, NAME: 'Ivan', LAST_NAME: 'Petrov', ACTIVE: true, UF_PHONE_INNER: '101' });
    fake.addUser({ ID: 15, NAME: 'Anna', ACTIVE: true, UF_PHONE_INNER: null });
    fake.addUser({ ID: 17, NAME: 'Oleg', ACTIVE: false, UF_PHONE_INNER: '103' });
    fake.addUser({ ID: 19, NAME: 'Remote', ACTIVE: true, UF_PHONE_INNER: '777' });
    ami = await FakeAmi.start({ username: 'admin', secret: 'amp111' });
    ami.astdb.set('AMPUSER/101/device', '101');
  });
  afterEach(async () => {
    await c2c?.stop();
    c2c = undefined;
    client?.close();
    await services?.close();
    await ami.stop();
    await fake.stop();
  });

  const subscribed = () => waitFor(() => fake.eventBindings.some((b) => b.event === 'ONEXTERNALCALLSTART' && b.offline), 5000);
  const finishes = () => fake.calls('telephony.externalcall.finish');
  async function finishedWith(callId: string): Promise<Record<string, unknown>> {
    await waitFor(() => fake.finishedCalls.has(callId), 8000);
    return fake.finishedCalls.get(callId) as unknown as Record<string, unknown>;
  }

  /** The dialplan's part once the agent answered: the outgoing hook on the originated channel, then its hangup. */
  async function dialplanTakesTheCall(uniqueid: string, callId: string, talk: { answerAt: number; endAt: number } | null, dialStatus: string) {
    const vars: Record<string, string> = {
      __BITRIX_OUT_UNIQUEID: uniqueid,
      __BITRIX_OUT_CHANNEL: 'Local/101@originate-skipvm-00000058;1',
      __BITRIX_CLICK_CALL_ID: callId,
      BITRIX_OUT_STARTED: `${Math.floor(Date.now() / 1000)}.100`,
      BITRIX_OUT_EXTEN: '101',
      BITRIX_OUT_NUMBER: '89161234567',
      BITRIX_OUT_LINE: 'Main',
      'CHANNEL(linkedid)': uniqueid,
    };
    const env = { agi_uniqueid: uniqueid, agi_channel: 'Local/101@originate-skipvm-00000058;1', agi_callerid: '74951234567' };
    const out = await runAgiScript({ script: 'itd_bitrix_outgoing.js', env, vars, configPath: t.configPath });
    expect(out.exitCode, out.stderr).to.equal(0);
    const end: Record<string, string> = { DIALSTATUS: dialStatus, BITRIX_OUT_ENDED: `${talk ? talk.endAt : Math.floor(Date.now() / 1000)}.000` };
    if (talk) end['SHARED(BITRIX_OUT_ANSWER)'] = `${talk.answerAt}.000`;
    const hup = await runAgiScript({ script: 'itd_bitrix_hangup.js', args: ['out'], env, vars: { ...vars, ...end }, dead: true, configPath: t.configPath });
    expect(hup.exitCode, hup.stderr).to.equal(0);
  }

  it('one click: the application is a line, the extension rings first, the call is finished once with talk time', async () => {
    await setup();
    await subscribed();
    expect(fake.outgoingLineChoices(), 'Bitrix24 offers the application as the default outgoing number').to.deep.equal(['REST_APP:1']);
    const callId = fake.clickToCall({ userId: 12, phone: '+79161234567' });
    await waitFor(() => ami.originates.length === 1, 5000);
    const o = ami.originates[0];
    expect(o).to.include({ channel: 'Local/101@originate-skipvm/n', context: 'from-internal', exten: '89161234567', priority: '1', callerId: '"Bitrix24 89161234567" <101>' });
    expect(o.variables).to.deep.equal([`__BITRIX_CLICK_CALL_ID=${callId}`]);
    expect(o.channelId).to.match(/^\d{10}\.c2c[0-9a-f]{12}$/);
    // The agent answered: FreePBX dials the number; the far end answers 4 s later, talk 37 s.
    const t0 = Math.floor(Date.now() / 1000);
    await dialplanTakesTheCall(o.channelId, callId, { answerAt: t0 + 4, endAt: t0 + 41 }, 'ANSWER');
    ami.hangup(o.channelId);
    expect(await finishedWith(callId)).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200', CALL_DURATION: 37 });
    await new Promise((r) => setTimeout(r, 700));
    expect(finishes(), 'finished once').to.have.length(1);
    expect(fake.calls('telephony.externalcall.register'), 'the PBX never registers a clicked call').to.have.length(0);
  });

  const endings: Array<[string, () => void, number, string]> = [
    ['the extension does not answer', () => (ami.onOriginate = () => ({ answer: false, reason: 3 })), 12, '304'],
    ['the extension is busy', () => (ami.onOriginate = () => ({ answer: false, reason: 5 })), 12, '304'],
    ['Asterisk refuses the originate', () => (ami.refuseOriginate = 'Permission denied'), 12, '603-S'],
    ['the user has no extension in Bitrix24', () => undefined, 15, '603-S'],
    ['the extension is not on this PBX', () => undefined, 19, '603-S'],
  ];
  for (const [name, arrange, userId, status] of endings) {
    it(`${name}: the click's call is finished with ${status}, no talk time`, async () => {
      arrange();
      await setup();
      await subscribed();
      const callId = fake.clickToCall({ userId, phone: '+79161234567' });
      expect(await finishedWith(callId)).to.include({ PORTAL_USER_ID: userId, CALL_FAILED_CODE: status, CALL_DURATION: 0 });
      expect(finishes()).to.have.length(1);
      if (status === '603-S' && name !== 'Asterisk refuses the originate') expect(ami.originates).to.have.length(0);
    });
  }

  it('an inactive user: finished by the default user', async () => {
    await setup();
    await subscribed();
    // Clicked while still active, deactivated before the PBX took the click.
    const callId = fake.clickToCall({ userId: 12, phone: '+79161234567' });
    fake.addUser({ ID: 12, NAME: 'Ivan', LAST_NAME: 'Petrov', ACTIVE: false, UF_PHONE_INNER: '101' });
    expect(await finishedWith(callId)).to.include({ PORTAL_USER_ID: 1, CALL_FAILED_CODE: '603-S' });
    expect(ami.originates).to.have.length(0);
  });

  it('no connection to Asterisk: finished with 603-S at once', async () => {
    await setup({}, { amiUp: false });
    await subscribed();
    const callId = fake.clickToCall({ userId: 12, phone: '+79161234567' });
    expect(await finishedWith(callId)).to.include({ CALL_FAILED_CODE: '603-S' });
  });

  it('the agent answers but the number never goes out through a trunk: 603-S after the channel is gone', async () => {
    await setup();
    await subscribed();
    const callId = fake.clickToCall({ userId: 12, phone: '101' });
    await waitFor(() => ami.originates.length === 1, 5000);
    await new Promise((r) => setTimeout(r, 200)); // OriginateResponse: answered
    ami.hangup(ami.originates[0].channelId);
    expect(await finishedWith(callId)).to.include({ CALL_FAILED_CODE: '603-S', CALL_DURATION: 0 });
    expect(finishes()).to.have.length(1);
  });

  it('the service restarts while a clicked call is on: the new run watches it; finished once, by the call', async () => {
    await setup();
    await subscribed();
    const callId = fake.clickToCall({ userId: 12, phone: '+79161234567' });
    await waitFor(() => ami.originates.length === 1, 5000);
    await new Promise((r) => setTimeout(r, 200));
    await c2c?.stop();
    c2c = startClickToCall(services, client, { poller: { intervalMs: 100 }, handoverGraceMs: 300 });
    await waitFor(() => /left open by an earlier run/.test(t.log()), 5000);
    const o = ami.originates[0];
    const t0 = Math.floor(Date.now() / 1000);
    await dialplanTakesTheCall(o.channelId, callId, { answerAt: t0 + 2, endAt: t0 + 12 }, 'ANSWER');
    ami.hangup(o.channelId);
    expect(await finishedWith(callId)).to.include({ CALL_FAILED_CODE: '200', CALL_DURATION: 10 });
    await new Promise((r) => setTimeout(r, 700));
    expect(finishes()).to.have.length(1);
  });

  it('a click left open by a run that died, its channel gone: finished by the next run', async () => {
    await setup();
    await subscribed();
    const callId = fake.clickToCall({ userId: 12, phone: '+79161234567' });
    await waitFor(() => ami.originates.length === 1, 5000);
    await c2c?.stop();
    ami.hangup(ami.originates[0].channelId);
    c2c = startClickToCall(services, client, { poller: { intervalMs: 100 }, handoverGraceMs: 300 });
    expect(await finishedWith(callId)).to.include({ CALL_FAILED_CODE: '304', CALL_DURATION: 0 });
    expect(finishes()).to.have.length(1);
  });

  it('a stale click (queued two minutes ago) is not dialled, only finished', async () => {
    await setup();
    await subscribed();
    const callId = fake.clickToCall({ userId: 12, phone: '+79161234567', at: Date.now() - 120_000 });
    expect(await finishedWith(callId)).to.include({ CALL_FAILED_CODE: '603-S' });
    expect(ami.originates).to.have.length(0);
    expect(t.log()).to.match(/too late to ring now/);
  });

  it('the same CALL_ID delivered twice rings once', async () => {
    ami.onOriginate = () => ({ answer: false, reason: 3, afterMs: 300 });
    await setup();
    await subscribed();
    const callId = fake.clickToCall({ userId: 12, phone: '+79161234567' });
    const first = fake.offlineQueue[0];
    fake.queueOfflineEvent('ONEXTERNALCALLSTART', { ...first.EVENT_DATA, IS_MOBILE: '1' });
    await finishedWith(callId);
    await new Promise((r) => setTimeout(r, 600));
    expect(ami.originates).to.have.length(1);
    expect(finishes()).to.have.length(1);
    expect(t.log()).to.match(/delivered again/);
  });

  it('"too many requests": the poller backs off and still takes the click', async () => {
    await setup();
    await subscribed();
    fake.failNext(6, 'query_limit', 'event.offline.get');
    const callId = fake.clickToCall({ userId: 12, phone: '+79161234567' });
    await waitFor(() => c2c?.poller.status === 'backing-off', 15_000);
    ami.onOriginate = () => ({ answer: false, reason: 3 });
    expect(await finishedWith(callId)).to.include({ CALL_FAILED_CODE: '304' });
    expect(fake.rateLimit503Count()).to.equal(6);
    const at = fake.requests.filter((r) => r.method === 'event.offline.get' && r.status === 503).map((r) => r.at);
    expect(at[5] - at[0], 'six refusals spread over seconds, not hammered').to.be.greaterThan(2500);
  });

  it('the application is not a portal administrator: offline binding refused, said once, no polling', async () => {
    fake.appUserIsAdmin = false;
    await setup();
    await waitFor(() => c2c?.poller.status === 'refused', 5000);
    expect(t.log()).to.match(/refused event\.bind \(ACCESS_DENIED\).*portal administrator/);
    expect(fake.calls('event.offline.get')).to.have.length(0);
  });
});

describe('click-to-call with a webhook only', function () {
  this.timeout(20_000);
  it('does not poll: says plainly that it needs the local application; the portal refuses event methods to a webhook', async () => {
    const fake = await FakeBitrix.start({ rateLimit: false });
    const t = testSetup({ webhookUrl: fake.webhookUrl, dids: [], clickToCall: true });
    const services = new Services(loadConfig(t.configPath), new Logger('service', t.logPath, 'debug'), Date.now, 2000, 'background');
    const ami = await FakeAmi.start();
    const client = new AmiClient({ port: ami.port, username: 'admin', secret: 'amp111' }, new Logger('service', t.logPath));
    const c2c = startClickToCall(services, client, { poller: { intervalMs: 100 } });
    try {
      await waitFor(() => c2c.poller.status === 'needs-application', 3000);
      expect(t.log()).to.match(/click-to-call: needs the local application \(Connect on the settings page\)/);
      expect(fake.requests).to.have.length(0);
      const hook = await services.client();
      for (const method of ['event.bind', 'event.get', 'event.offline.get']) {
        const err = await hook.call(method, { event: 'ONEXTERNALCALLSTART', event_type: 'offline' }, Date.now() + 5000).then(
          () => null,
          (e: Error & { code?: string; httpStatus?: number }) => e,
        );
        expect(err, method).to.include({ code: 'WRONG_AUTH_TYPE', httpStatus: 403 });
      }
    } finally {
      await c2c.stop();
      client.close();
      await services.close();
      await ami.stop();
      await fake.stop();
    }
  });
});
