// The resident service: the BUILT itd_bitrix.js serve, spoken to over FastAGI as Asterisk does,
// against the strict fake Bitrix24 and a real SQLite file. Outcomes only (exactly once, right
// operator, right status); wall times are the bench's business.
import { expect } from 'chai';
import { renameSync, writeFileSync } from 'fs';
import { FakeBitrix } from '../fake-bitrix/server';
import { join } from 'path';
import { openCallDb, waitFor, wavFile } from '../helpers/calls';
import { runCli } from '../helpers/cli';
import { testSetup, TestSetup } from '../helpers/config';
import { runAgiScript, FakeChannelOptions } from '../helpers/fake-asterisk';
import { startConnectProxy } from '../helpers/connect-proxy';
import { FakeAmi } from '../helpers/fake-ami';
import { CallChannel, cardsDone, endFacts, inboundFacts, recordAnswer } from '../helpers/facts';
import { runFastAgi } from '../helpers/fastagi-client';
import { RunningService, startService } from '../helpers/service';

const DID = '74951234567';
const CLI = { incoming: 'itd_bitrix_incoming.js', show: 'itd_bitrix_show.js', outgoing: 'itd_bitrix_outgoing.js', hangup: 'itd_bitrix_hangup.js' } as const;
type StepName = keyof typeof CLI;

interface StepResult {
  via: 'service' | 'cli';
  vars: Record<string, string>;
  commands: string[];
  rejected: string[];
}

/**
 * What the generated dialplan does: AGI(agi://127.0.0.1:<port>/<step>,…), and when AGISTATUS is
 * FAILURE (nothing accepts the connection) the AGI executable with the same arguments.
 */
async function step(t: TestSetup, port: number, script: StepName, opts: FakeChannelOptions & { hangupAfterCommand?: number }): Promise<StepResult> {
  const fast = await runFastAgi({ port, script, ...opts });
  if (fast.status === 'SUCCESS') return { via: 'service', vars: fast.vars, commands: fast.commands, rejected: fast.rejected };
  const r = await runAgiScript({ script: CLI[script], configPath: t.configPath, ...opts });
  expect(r.exitCode, r.stderr).to.equal(0);
  // The executable hands the card to a detached `itd_bitrix.js card` process: wait for it as the call would.
  if (script === 'show') await cardsDone(opts.vars?.BITRIX_UNIQUEID);
  return { via: 'cli', vars: r.vars, commands: r.commands, rejected: r.rejected };
}

/** The channel after the incoming step: the dialplan's marker and what the step set. */
const afterIncoming = (channel: CallChannel, inc: StepResult): CallChannel => ({ ...channel, BITRIX_CALL_ID: inc.vars.__BITRIX_CALL_ID ?? '' });

/**
 * One call as the generated dialplan runs it: the marker before incoming; if an operator answers,
 * the answer fact, show and a second of talk; the end stamp, then the hangup handler.
 */
async function call(t: TestSetup, port: () => number, uid: string, caller: string, operator?: string, atHangup: Record<string, string> = {}) {
  const channel = inboundFacts(uid);
  const inc = await step(t, port(), 'incoming', { args: [DID], env: { agi_uniqueid: uid, agi_callerid: caller }, vars: channel });
  const vars = afterIncoming(channel, inc);
  let sh: StepResult | undefined;
  if (operator) {
    recordAnswer(vars, operator);
    sh = await step(t, port(), 'show', { args: [operator], env: { agi_uniqueid: `${uid}1`, agi_channel: `PJSIP/${operator}-1` }, vars });
    await new Promise((r) => setTimeout(r, 1100));
  }
  const hup = await step(t, port(), 'hangup', {
    env: { agi_uniqueid: uid, agi_callerid: caller, agi_context: 'itd-bitrix-hangup' },
    vars: endFacts({ ...vars, FROM_DID: DID, ...atHangup }),
    dead: true,
  });
  return { inc, sh, hup };
}

/**
 * What the scheduled retry does (every minute, whatever the outbox holds: it also replays the
 * hangup journal), until nothing is due (back-offs fast-forwarded).
 */
async function drain(t: TestSetup): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const db = await openCallDb(t.dbPath);
    await db.run(`UPDATE outbox SET next_at = 0, lease_until = NULL WHERE state = 'pending'`);
    await db.close();
    const r = await runCli(t, ['retry', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const check = await openCallDb(t.dbPath);
    const left = (await check.get<{ n: number }>(`SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'`))?.n ?? 0;
    await check.close();
    if (!left) return;
  }
  throw new Error('the outbox did not drain');
}

/** Per linkedid at the fake: the CALL_IDs it got and how often it was finished. */
function ledger(fake: FakeBitrix) {
  const regs = new Map<string, Set<string>>();
  for (const c of [...fake.activeCalls.values(), ...fake.finishedCalls.values()]) {
    if (!regs.has(c.EXTERNAL_CALL_ID)) regs.set(c.EXTERNAL_CALL_ID, new Set());
    regs.get(c.EXTERNAL_CALL_ID)!.add(c.CALL_ID);
  }
  const finishes = new Map<string, number>();
  for (const r of fake.calls('telephony.externalcall.finish')) {
    if (r.status !== 200) continue;
    const callId = String(r.params.CALL_ID);
    const c = fake.finishedCalls.get(callId);
    if (c) finishes.set(c.EXTERNAL_CALL_ID, (finishes.get(c.EXTERNAL_CALL_ID) ?? 0) + 1);
  }
  return { regs, finishes };
}

describe('resident service (built itd_bitrix.js serve, FastAGI, fake Bitrix24, real SQLite)', function () {
  this.timeout(120_000);
  let fake: FakeBitrix;
  let t: TestSetup;
  let svc: RunningService | undefined;

  beforeEach(async () => {
    fake = await FakeBitrix.start();
    fake.addUser({ ID: 1, NAME: 'Default', LAST_NAME: 'Owner', ACTIVE: true, UF_PHONE_INNER: null });
    fake.addUser({ ID: 12, NAME: 'Ivan', LAST_NAME: 'Petrov', ACTIVE: true, UF_PHONE_INNER: '101' });
    fake.addUser({ ID: 15, NAME: 'Anna', LAST_NAME: 'Smirnova', ACTIVE: true, UF_PHONE_INNER: '102' });
    fake.addCrm({ type: 'CONTACT', name: 'Иван Петров', phones: ['+79161234567'] });
    t = testSetup({ webhookUrl: fake.webhookUrl, dids: [DID], defaultUserId: 1, attachRecordings: false });
    svc = undefined;
  });
  afterEach(async () => {
    await svc?.stop('SIGKILL');
    await fake.stop();
  });

  it('serves a whole answered call: name, register, card, finish by the operator, as the AGI executables do', async () => {
    svc = await startService(t);
    const { inc, sh, hup } = await call(t, () => svc!.port, '1700000000.1', '89161234567', '101');
    for (const r of [inc, sh!, hup]) {
      expect(r.via).to.equal('service');
      expect(r.rejected, 'commands Asterisk would refuse').to.deep.equal([]);
    }
    expect(inc.vars['CALLERID(name)']).to.equal('Иван Петров');
    const callId = inc.vars.__BITRIX_CALL_ID;
    expect(callId).to.match(/^externalCall\./);
    expect(fake.calls('telephony.externalcall.register')[0].params).to.include({ PHONE_NUMBER: '+79161234567', LINE_NUMBER: DID, SHOW: '0' });
    expect(fake.shows).to.deep.equal([{ callId, userIds: [12], result: true }]);
    await waitFor(() => fake.finishedCalls.has(callId), 10_000);
    expect(fake.finishedCalls.get(callId)).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200', CALL_STATUS: 1 });

    const st = await runCli(t, ['status', '--json']);
    const service = JSON.parse(st.stdout).service;
    expect(service).to.include({ online: true, pid: svc.pid, port: svc.port, state: 'online' });
    await waitFor(() => (svc!.status()?.served.total ?? 0) >= 3, 15_000);
    expect(svc.status()!.served).to.include({ incoming: 1, show: 1, hangup: 1 });
    expect(t.log()).not.to.contain(fake.webhookUrl.split('/')[5]);
  });

  it('a recorded call: the service itself attaches the recording once Asterisk has closed the file, after the finish', async () => {
    t.write({ attachRecordings: true });
    svc = await startService(t);
    const wav = join(t.dir, 'svc-1700000009.1.wav');
    const bytes = wavFile(16_000);
    writeFileSync(wav, bytes.subarray(0, 8000)); // still being written: the header is not final yet
    const { inc } = await call(t, () => svc!.port, '1700000009.1', '+79161234567', '101', { MIXMONITOR_FILENAME: wav });
    const callId = inc.vars.__BITRIX_CALL_ID;
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.attachedFiles, 'nothing uploaded while the file may still grow').to.have.length(0);
    writeFileSync(wav, bytes); // MixMonitor closes it after the hangup handler
    await waitFor(() => fake.attachedFiles.length > 0, 20_000);
    expect(fake.finishedCalls.get(callId)).to.include({ CALL_FAILED_CODE: '200', PORTAL_USER_ID: 12 });
    expect(fake.attachedFiles).to.have.length(1);
    expect(fake.attachedFiles[0].data.equals(bytes)).to.equal(true);
  });

  it('a caller who hangs up during the lookup (HANGUP line mid-step) is still reported once, as missed', async () => {
    svc = await startService(t);
    fake.setLatency(300);
    const channel = inboundFacts('1700000001.1');
    const inc = await step(t, svc.port, 'incoming', { args: [DID], env: { agi_uniqueid: '1700000001.1', agi_callerid: '+79161234567' }, vars: channel, hangupAfterCommand: 1 });
    expect(inc.via).to.equal('service');
    fake.setLatency(0);
    await step(t, svc.port, 'hangup', {
      env: { agi_uniqueid: '1700000001.1', agi_callerid: '+79161234567' },
      vars: endFacts({ ...afterIncoming(channel, inc), FROM_DID: DID }),
      dead: true,
    });
    await waitFor(() => fake.finishedCalls.size === 1, 10_000);
    const [finished] = [...fake.finishedCalls.values()];
    expect(finished).to.include({ EXTERNAL_CALL_ID: '1700000001.1', PORTAL_USER_ID: 1, CALL_FAILED_CODE: '304' });
    expect(ledger(fake).regs.get('1700000001.1')?.size).to.equal(1);
  });

  it('killed mid-call: the AGI executables take over, the retry finishes the call once, by the operator', async () => {
    svc = await startService(t);
    fake.setLatency(1500);
    const channel = inboundFacts('1700000002.1');
    const pending = step(t, svc.port, 'incoming', { args: [DID], env: { agi_uniqueid: '1700000002.1', agi_callerid: '+79161234567' }, vars: channel });
    await waitFor(() => fake.requests.length > 0 || fake.calls('batch').length > 0, 10_000).catch(() => undefined);
    svc.child.kill('SIGKILL');
    await svc.exited;
    const inc = await pending;
    expect(inc.via, 'the session was cut, not refused: the dialplan goes on').to.equal('service');
    fake.setLatency(0);
    const port = svc.port;
    const vars = afterIncoming(channel, inc);
    recordAnswer(vars, '101');
    const sh = await step(t, port, 'show', { args: ['101'], env: { agi_uniqueid: '1700000002.11' }, vars });
    expect(sh.via, 'connection refused: the AGI executable ran').to.equal('cli');
    await new Promise((r) => setTimeout(r, 1100));
    const hup = await step(t, port, 'hangup', { env: { agi_uniqueid: '1700000002.1', agi_callerid: '+79161234567' }, vars: endFacts({ ...vars, FROM_DID: DID }), dead: true });
    expect(hup.via).to.equal('cli');
    await drain(t);
    const { regs, finishes } = ledger(fake);
    expect(regs.get('1700000002.1')?.size, 'one CALL_ID').to.equal(1);
    expect(finishes.get('1700000002.1'), 'finished once').to.equal(1);
    const [finished] = [...fake.finishedCalls.values()];
    expect(finished).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200' });
  });

  it('graceful stop: the step in flight finishes, new connections are refused and fall back', async () => {
    svc = await startService(t);
    fake.setLatency(800);
    const first = step(t, svc.port, 'incoming', { args: [DID], env: { agi_uniqueid: '1700000003.1', agi_callerid: '+79161234567' }, vars: inboundFacts('1700000003.1') });
    await waitFor(() => fake.requests.length > 0, 10_000).catch(() => undefined);
    svc.child.kill('SIGTERM');
    await waitFor(() => svc!.status()?.state !== 'online', 10_000);
    const second = await step(t, svc.port, 'incoming', { args: [DID], env: { agi_uniqueid: '1700000003.2', agi_callerid: '+79161230000' }, vars: inboundFacts('1700000003.2') });
    expect(second.via).to.equal('cli');
    expect(second.vars.__BITRIX_CALL_ID).to.match(/^externalCall\./);
    const r1 = await first;
    expect(r1.via).to.equal('service');
    expect(r1.vars.__BITRIX_CALL_ID, 'the step in flight registered the call').to.match(/^externalCall\./);
    expect(await svc.exited).to.equal(0);
    expect(svc.status()).to.include({ state: 'stopped' });
  });

  it('restarted twice under load: every call registered and finished exactly once', async () => {
    svc = await startService(t);
    let port = svc.port;
    const calls = Array.from({ length: 24 }, (_, i) => ({ uid: `1700000100.${i + 1}`, caller: `+7916000${String(i).padStart(4, '0')}`, op: i % 3 ? (i % 2 ? '101' : '102') : undefined }));
    const running = (async () => {
      const out = [];
      for (let i = 0; i < calls.length; i += 4) {
        out.push(...(await Promise.all(calls.slice(i, i + 4).map((c) => call(t, () => port, c.uid, c.caller, c.op)))));
      }
      return out;
    })();
    for (let r = 0; r < 2; r++) {
      await new Promise((res) => setTimeout(res, 1500));
      const old = svc;
      await old.stop('SIGTERM');
      svc = await startService(t);
      port = svc.port;
    }
    const results = await running;
    expect(results.flatMap((r) => [r.inc, r.sh, r.hup]).filter(Boolean).flatMap((r) => r!.rejected)).to.deep.equal([]);
    await drain(t);
    const { regs, finishes } = ledger(fake);
    for (const c of calls) {
      expect(regs.get(c.uid)?.size, `${c.uid} registered once`).to.equal(1);
      expect(finishes.get(c.uid), `${c.uid} finished once`).to.equal(1);
      const finished = [...fake.finishedCalls.values()].find((f) => f.EXTERNAL_CALL_ID === c.uid)!;
      if (c.op) expect(finished, c.uid).to.include({ CALL_FAILED_CODE: '200', PORTAL_USER_ID: c.op === '101' ? 12 : 15 });
      else expect(finished, c.uid).to.include({ CALL_FAILED_CODE: '304', PORTAL_USER_ID: 1 });
    }
    expect(svc.status()!.starts, 'the status file counts the starts').to.equal(3);
  });

  it('reloads the config the module writes (temp file + rename); a broken file keeps the old config, logged once', async () => {
    svc = await startService(t);
    const write = (text: string) => {
      writeFileSync(`${t.configPath}.tmp`, text, { mode: 0o640 });
      renameSync(`${t.configPath}.tmp`, t.configPath);
    };
    write(JSON.stringify({ ...t.config, dids: ['74950000001'] }));
    await waitFor(() => /config .* reloaded/.test(t.log()), 10_000);
    const r1 = await step(t, svc.port, 'incoming', { args: ['74950000001'], env: { agi_uniqueid: '1700000200.1', agi_callerid: '+79161234567' }, vars: inboundFacts('1700000200.1') });
    expect(r1.vars.__BITRIX_CALL_ID, 'the new DID is reported').to.match(/^externalCall\./);
    write('{"version": 1, "enabled": tr');
    await waitFor(() => /not valid JSON.*keeping the config loaded before/.test(t.log()), 10_000);
    const r2 = await step(t, svc.port, 'incoming', { args: ['74950000001'], env: { agi_uniqueid: '1700000200.2', agi_callerid: '+79161234568' }, vars: inboundFacts('1700000200.2') });
    expect(r2.vars.__BITRIX_CALL_ID, 'still served with the old config').to.match(/^externalCall\./);
    await new Promise((r) => setTimeout(r, 2500)); // a poll of the file in between
    expect(t.log().split('\n').filter((l) => /not valid JSON/.test(l))).to.have.length(1);
  });

  it('local application: the service refreshes the access token ahead of its expiry, once, and calls never wait for it', async () => {
    await fake.stop();
    fake = await FakeBitrix.start({ app: { clientId: 'local.app1', clientSecret: 'app-s3cr3t-value', accessTokenTtlSec: 300 } });
    fake.addUser({ ID: 1, NAME: 'Default', ACTIVE: true, UF_PHONE_INNER: null });
    t.write({ webhookUrl: '', app: { portalUrl: fake.portalUrl, clientId: 'local.app1', clientSecret: 'app-s3cr3t-value' }, oauthUrl: fake.oauthUrl });
    const ex = await runCli(t, ['oauth-exchange', '--json'], `${fake.grantAuthorizationCode()}\n`);
    expect(JSON.parse(ex.stdout)).to.include({ ok: true });
    svc = await startService(t);
    // Five minutes left: inside the service's ten-minute window, outside the call steps' one minute.
    await waitFor(() => fake.issuedTokens().refreshGrants === 1, 20_000);
    const r = await step(t, svc.port, 'incoming', { args: [DID], env: { agi_uniqueid: '1700000400.1', agi_callerid: '+79161234567' }, vars: inboundFacts('1700000400.1') });
    expect(r.vars.__BITRIX_CALL_ID).to.match(/^externalCall\./);
    await new Promise((res) => setTimeout(res, 2500)); // more drains of the outbox: no second refresh
    expect(fake.issuedTokens().refreshGrants).to.equal(1);
    expect(t.log()).not.to.contain('app-s3cr3t-value');
  });

  it('many calls at once against a tight portal bucket: coalesced, zero 503s, each call registered and finished once', async () => {
    fake.setRateLimit({ burst: 8, drainPerSec: 2 });
    t.write({ rateLimitPerSecond: 2, rateLimitBurst: 8 });
    svc = await startService(t);
    const calls = Array.from({ length: 20 }, (_, i) => ({ uid: `1700000300.${i + 1}`, caller: `+7916111${String(i).padStart(4, '0')}` }));
    await Promise.all(calls.map((c, i) => call(t, () => svc!.port, c.uid, c.caller, i % 2 ? '101' : undefined)));
    await drain(t);
    expect(fake.rateLimit503Count()).to.equal(0);
    const { regs, finishes } = ledger(fake);
    for (const c of calls) {
      expect(regs.get(c.uid)?.size, `${c.uid} registered once`).to.equal(1);
      expect(finishes.get(c.uid), `${c.uid} finished once`).to.equal(1);
    }
  });

  it('an outgoing call: the outgoing step and `hangup out` over FastAGI, registered by the caller, finished once', async () => {
    t.write({ outgoingEnabled: true });
    svc = await startService(t);
    const t0 = Math.floor(Date.now() / 1000);
    // What [itd-bitrix-outbound] leaves on the calling channel (Dialplan/OutboundSubroutine.php).
    const vars = {
      __BITRIX_OUT_UNIQUEID: '1700000500.1',
      BITRIX_OUT_STARTED: `${t0}.250`,
      BITRIX_OUT_EXTEN: '101',
      BITRIX_OUT_NUMBER: '89161234567',
      BITRIX_OUT_LINE: 'Main',
      'CHANNEL(linkedid)': '1700000500.1',
      'CALLERID(num)': '74951234567',
    };
    const env = { agi_uniqueid: '1700000500.1', agi_channel: 'PJSIP/101-00000001', agi_callerid: '74951234567' };
    const out = await step(t, svc.port, 'outgoing', { env, vars });
    expect(out.via).to.equal('service');
    expect(out.rejected).to.deep.equal([]);
    await waitFor(() => fake.calls('telephony.externalcall.register').length === 1, 10_000);
    expect(fake.calls('telephony.externalcall.register')[0].params).to.include({ USER_ID: 12, PHONE_NUMBER: '+79161234567', TYPE: 1, EXTERNAL_CALL_ID: '1700000500.1' });
    const callId = [...fake.activeCalls.keys()][0];
    const hup = await step(t, svc.port, 'hangup', {
      args: ['out'],
      env,
      vars: { ...vars, 'SHARED(BITRIX_OUT_ANSWER)': `${t0 + 4}.750`, BITRIX_OUT_ENDED: `${t0 + 34}.750`, DIALSTATUS: 'ANSWER', BITRIX_OUT_CAUSE: '16', HANGUPCAUSE: '16' },
      dead: true,
    });
    expect(hup.via).to.equal('service');
    await waitFor(() => fake.finishedCalls.has(callId), 10_000);
    expect(fake.finishedCalls.get(callId)).to.include({ PORTAL_USER_ID: 12, CALL_FAILED_CODE: '200', CALL_DURATION: 30 });
    await waitFor(() => (svc!.status()?.served.hangup ?? 0) >= 1, 15_000);
    expect(svc.status()!.served).to.include({ outgoing: 1, hangup: 1 });
    await new Promise((r) => setTimeout(r, 2500)); // drains of the outbox: nothing is sent twice
    expect(fake.calls('telephony.externalcall.finish').filter((r) => r.status === 200)).to.have.length(1);
  });

  it('behind an HTTPS proxy: the service keeps its CONNECT tunnels open across calls', async () => {
    const proxy = await startConnectProxy();
    try {
      t.write({ httpsProxy: proxy.url });
      svc = await startService(t);
      for (let i = 1; i <= 3; i++) {
        const r = await step(t, svc.port, 'incoming', { args: [DID], env: { agi_uniqueid: `1700000600.${i}`, agi_callerid: `+7916123000${i}` }, vars: inboundFacts(`1700000600.${i}`) });
        expect(r.via).to.equal('service');
        expect(r.vars.__BITRIX_CALL_ID, 'registered through the proxy').to.match(/^externalCall\./);
      }
      const portal = new URL(fake.webhookUrl).host;
      expect(proxy.tunnels.length, 'at least one tunnel').to.be.greaterThan(0);
      expect(new Set(proxy.tunnels)).to.deep.equal(new Set([portal]));
      expect(proxy.tunnels.length, 'tunnels are kept, not one per request').to.be.lessThan(fake.requests.length);
    } finally {
      await svc?.stop('SIGKILL');
      svc = undefined;
      await proxy.close();
    }
  });

  describe('click-to-call inside the service', () => {
    let ami: FakeAmi;
    const AMI_SECRET = 'amp-s3cret-value';
    beforeEach(async () => {
      await fake.stop();
      fake = await FakeBitrix.start({ rateLimit: false, app: { clientId: 'local.app1', clientSecret: 'app-s3cr3t-value' } });
      fake.addUser({ ID: 1, NAME: 'Default', ACTIVE: true, UF_PHONE_INNER: null });
      fake.addUser({ ID: 12, NAME: 'Ivan', LAST_NAME: 'Petrov', ACTIVE: true, UF_PHONE_INNER: '101' });
      ami = await FakeAmi.start({ username: 'admin', secret: AMI_SECRET });
      ami.astdb.set('AMPUSER/101/device', '101');
      t.write({ webhookUrl: '', app: { portalUrl: fake.portalUrl, clientId: 'local.app1', clientSecret: 'app-s3cr3t-value' }, oauthUrl: fake.oauthUrl, clickToCall: true, clickToCallRewrite: [{ prefix: '+7', replace: '8' }] });
      const ex = await runCli(t, ['oauth-exchange', '--json'], `${fake.grantAuthorizationCode()}\n`);
      expect(JSON.parse(ex.stdout)).to.include({ ok: true });
    });
    afterEach(async () => {
      await svc?.stop('SIGKILL');
      svc = undefined;
      await ami.stop();
    });
    const managerEnv = () => ({ ITD_BITRIX_AMI_USER: 'admin', ITD_BITRIX_AMI_SECRET: AMI_SECRET, ITD_BITRIX_AMI_PORT: String(ami.port) });

    it('takes a click from the portal, rings the extension through the manager, finishes the call once; the manager secret is never logged', async () => {
      svc = await startService(t, managerEnv());
      await waitFor(() => svc!.status()?.clickToCall?.state === 'polling' && svc!.status()!.clickToCall.amiConnected, 20_000);
      ami.onOriginate = () => ({ answer: false, reason: 3 }); // the user does not pick up
      const callId = fake.clickToCall({ userId: 12, phone: '+79161234567' });
      await waitFor(() => ami.originates.length === 1, 10_000);
      expect(ami.originates[0]).to.include({ channel: 'Local/101@originate-skipvm/n', exten: '89161234567' });
      await waitFor(() => fake.finishedCalls.has(callId), 10_000);
      expect(fake.finishedCalls.get(callId)).to.include({ CALL_FAILED_CODE: '304', CALL_DURATION: 0 });
      await new Promise((r) => setTimeout(r, 1000));
      expect(fake.calls('telephony.externalcall.finish').filter((r) => r.status === 200), 'finished once').to.have.length(1);
      expect(t.log()).not.to.contain(AMI_SECRET);
      expect(svc.stderr()).not.to.contain(AMI_SECRET);
    });

    it('follows the settings: turned off, it stops polling; the one manager connection stays while transfers of reported calls are followed, and goes with them; without manager credentials it says so', async () => {
      svc = await startService(t, managerEnv());
      await waitFor(() => svc!.status()?.clickToCall?.amiConnected === true, 20_000);
      expect(ami.connectedSessions(), 'one connection for click-to-call and transfers').to.equal(1);
      t.write({ clickToCall: false });
      await waitFor(() => svc!.status()?.clickToCall?.state === 'off', 20_000);
      const polls = fake.calls('event.offline.get').length;
      await new Promise((r) => setTimeout(r, 2500));
      expect(fake.calls('event.offline.get').length, 'no more polling').to.equal(polls);
      expect(ami.connectedSessions(), 'still there for the transfers of calls on the listed DIDs').to.equal(1);
      t.write({ dids: [] });
      await waitFor(() => ami.connectedSessions() === 0 && svc!.status()?.manager?.wanted === false, 20_000);
      await svc.stop('SIGTERM');

      t.write({ clickToCall: true });
      svc = await startService(t); // no ITD_BITRIX_AMI_* in its environment
      await waitFor(() => svc!.status()?.clickToCall?.state === 'no-manager-credentials', 20_000);
      expect(t.log()).to.match(/click-to-call is on, but the module gave the service no manager \(AMI\) credentials/);
    });
  });
});
