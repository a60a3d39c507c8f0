// The AMI client against the strict fake AMI (what Asterisk 20–22 sends), and its message format.
import { expect } from 'chai';
import { readFileSync } from 'fs';
import { join } from 'path';
import { AmiClient, AmiError, amiOptionsFromEnv } from '../../agi-src/ami/client';
import { formatAction, isBanner, splitMessages } from '../../agi-src/ami/message';
import { Logger } from '../../agi-src/log/logger';
import { rejects } from '../helpers/assert';
import { FakeAmi } from '../helpers/fake-ami';
import { waitFor } from '../helpers/calls';
import { tempDir } from '../helpers/tmp';

describe('AMI messages', () => {
  it('splits whole messages and keeps the rest for the next chunk', () => {
    const { messages, rest } = splitMessages('Response: Success\r\nActionID: a1\r\nMessage: Authentication accepted\r\n\r\nEvent: FullyBooted\r\nPrivi');
    expect(messages).to.deep.equal([{ Response: 'Success', ActionID: 'a1', Message: 'Authentication accepted' }]);
    expect(rest).to.equal('Event: FullyBooted\r\nPrivi');
  });
  it('keeps values with colons and empty values', () => {
    const { messages } = splitMessages('Event: Hangup\r\nChannel: PJSIP/101-0000000a\r\nAccountCode: \r\nEventTV: 2026-12-02T11:28:00.608+0000\r\n\r\n');
    expect(messages[0]).to.deep.equal({ Event: 'Hangup', Channel: 'PJSIP/101-0000000a', AccountCode: '', EventTV: '2026-12-02T11:28:00.608+0000' });
  });
  it('writes actions, repeated Variable headers included, and refuses line breaks in any value', () => {
    expect(formatAction([['Action', 'Originate'], ['Variable', 'A=1'], ['Variable', 'B=2']])).to.equal('Action: Originate\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n');
    expect(() => formatAction([['Exten', '89161234567\r\nAction: Command']])).to.throw(/line break/);
    expect(() => formatAction([['Bad Header', 'x']])).to.throw(/not allowed/);
  });
  it('knows the banner', () => {
    expect(isBanner('Asterisk Call Manager/11.0.0')).to.equal(true);
    expect(isBanner('Asterisk Call Manager/9.0.0')).to.equal(true);
    expect(isBanner('SSH-2.0-OpenSSH_9.2')).to.equal(false);
  });
  it('takes the manager user from the environment the module gives the service, or nothing', () => {
    expect(amiOptionsFromEnv({ ITD_BITRIX_AMI_USER: 'admin', ITD_BITRIX_AMI_SECRET: 's', ITD_BITRIX_AMI_PORT: '5039' })).to.deep.equal({ port: 5039, username: 'admin', secret: 's' });
    expect(amiOptionsFromEnv({ ITD_BITRIX_AMI_USER: 'admin', ITD_BITRIX_AMI_SECRET: 's' })?.port).to.equal(5038);
    expect(amiOptionsFromEnv({ ITD_BITRIX_AMI_USER: 'admin' })).to.equal(null);
    expect(amiOptionsFromEnv({ ITD_BITRIX_AMI_USER: 'admin', ITD_BITRIX_AMI_SECRET: 's', ITD_BITRIX_AMI_PORT: '99999' })).to.equal(null);
  });
});

describe('AMI client (strict fake AMI)', function () {
  this.timeout(15_000);
  let fake: FakeAmi;
  let client: AmiClient | undefined;
  let logPath: string;
  let log: Logger;

  beforeEach(async () => {
    fake = await FakeAmi.start({ username: 'admin', secret: 'S3cr3tAmiPass' });
    logPath = join(tempDir('itd-bitrix-ami-'), 'itd_bitrix.log');
    log = new Logger('service', logPath, 'debug');
  });
  afterEach(async () => {
    client?.close();
    client = undefined;
    await fake.stop();
  });
  const logText = () => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  const start = (over: Partial<ConstructorParameters<typeof AmiClient>[0]> = {}) => {
    client = new AmiClient({ port: fake.port, username: 'admin', secret: 'S3cr3tAmiPass', minRetryMs: 50, maxRetryMs: 400, ...over }, log);
    client.start();
    return client;
  };

  it('logs in with call events only, answers actions by ActionID and hands events on', async () => {
    const c = start();
    await waitFor(() => c.connected, 3000);
    expect(fake.actions[0]).to.include({ Action: 'Login', Username: 'admin', Events: 'call' });
    const pong = await c.action([['Action', 'Ping']]);
    expect(pong).to.include({ Response: 'Success', Ping: 'Pong' });
    fake.astdb.set('AMPUSER/101/device', '101');
    const db = await c.listAction([['Action', 'DBGet'], ['Family', 'AMPUSER'], ['Key', '101/device']]);
    expect(db.response).to.include({ Response: 'Success', EventList: 'start' });
    expect(db.events).to.have.length(1);
    expect(db.events[0]).to.include({ Event: 'DBGetResponse', Val: '101' });
    const missing = await c.listAction([['Action', 'DBGet'], ['Family', 'AMPUSER'], ['Key', '999/device']]);
    expect(missing.response).to.include({ Response: 'Error', Message: 'Database entry not found' });
    const events: string[] = [];
    c.on('event', (m) => events.push(`${m.Event} ${m.Uniqueid ?? ''}`));
    await c.action([['Action', 'Originate'], ['Channel', 'Local/101@originate-skipvm/n'], ['Context', 'from-internal'], ['Exten', '89161234567'], ['Priority', '1'], ['Async', 'true'], ['ChannelId', '1796210900.c2c01']]);
    await waitFor(() => events.some((e) => e.startsWith('OriginateResponse')), 3000);
    expect(events).to.include('Newchannel 1796210900.c2c01');
    expect(events).to.not.include('FullyBooted ', 'a system-class event: not asked for');
  });

  it('a refused login: Asterisk closes the connection; one error line, tried again, never the secret', async () => {
    const c = start({ secret: 'WrongS3cretValue' });
    await waitFor(() => fake.actions.filter((a) => a.Action === 'Login').length >= 4, 10_000);
    expect(c.connected).to.equal(false);
    expect(logText().match(/refused the login/g)).to.have.length(1);
    expect(logText()).to.not.include('WrongS3cret');
    expect(logText()).to.not.include('S3cr3tAmiPass');
    expect((await rejects(c.action([['Action', 'Ping']]), AmiError)).message).to.match(/not connected/);
  });

  it('comes back after Asterisk restarts; actions in flight fail instead of hanging', async () => {
    const c = start();
    let ups = 0;
    let downs = 0;
    c.on('connected', () => ups++);
    c.on('disconnected', () => downs++);
    await waitFor(() => c.connected, 3000);
    fake.goDown();
    await waitFor(() => !c.connected, 3000);
    expect(downs).to.equal(1);
    await new Promise((r) => setTimeout(r, 300));
    fake.up();
    await waitFor(() => c.connected, 3000);
    expect(ups).to.equal(2);
    expect(fake.logins).to.equal(2);
    expect(logText()).to.match(/connection to Asterisk lost/);
    expect(logText()).to.not.include('S3cr3tAmiPass');
  });

  it('an unknown action is answered with an error; Pings keep the connection', async () => {
    const c = start({ pingMs: 100, actionTimeoutMs: 500 });
    await waitFor(() => c.connected, 3000);
    expect(await c.action([['Action', 'NoSuchThing']])).to.include({ Response: 'Error', Message: 'Invalid/unknown command' });
    await new Promise((r) => setTimeout(r, 350));
    expect(fake.actions.filter((a) => a.Action === 'Ping').length).to.be.at.least(2);
    expect(c.connected).to.equal(true);
    expect(fake.logins).to.equal(1);
  });

  it('a hung connection (no answer to Ping) is dropped and made again', async () => {
    const c = start({ pingMs: 100, actionTimeoutMs: 150 });
    await waitFor(() => c.connected, 3000);
    fake.stalled = true;
    await waitFor(() => !c.connected, 3000);
    fake.stalled = false;
    await waitFor(() => c.connected, 3000);
    expect(fake.logins).to.equal(2);
    expect(logText()).to.match(/no answer to Ping/);
  });

  it('refuses to send a value with a line break (a number from outside cannot add a header)', async () => {
    const c = start();
    await waitFor(() => c.connected, 3000);
    expect((await rejects(c.action([['Action', 'Originate'], ['Exten', '1\r\nAction: Command']]), AmiError)).message).to.match(/line break/);
    expect(fake.actions.filter((a) => a.Action === 'Command')).to.have.length(0);
  });
});
