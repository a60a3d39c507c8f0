// AGI() in the test PBX against a real process and a real socket: the environment Asterisk 22
// sends (reference/asterisk-agi-observed.md §3), replies and channel state, SIGHUP and dead
// mode when the caller hangs up, hangup handlers, AGISTATUS, FastAGI and its fallback (§10).
import { expect } from 'chai';
import { copyFileSync, readFileSync, existsSync } from 'fs';
import { tempDir } from '../helpers/tmp';
import { createServer, Server, Socket } from 'net';
import { join } from 'path';
import { Pbx } from '../helpers/pbx';

interface Seen {
  argv: string[];
  envKeys: string[];
  env: Record<string, string>;
  replies: Array<[string, string]>;
  sighup: boolean;
}

describe('test PBX: AGI', function () {
  this.timeout(20_000);
  let dir: string;
  let out: string;

  beforeEach(() => {
    dir = tempDir('pbx-agi-');
    out = join(dir, 'probe.jsonl');
    copyFileSync(join(__dirname, 'fixtures', 'agi-probe.js'), join(dir, 'agi-probe.js'));
  });

  const pbxOf = (lines: string[]) =>
    new Pbx({ dialplan: { file: 'agi.conf', text: lines.join('\n') }, agiDir: dir, spoolDir: dir, agiEnv: { PROBE_OUT: out } });
  const probes = (): Seen[] => (existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : []);

  it('sends the environment as Asterisk 22 does, arguments unquoted by the dialplan', async () => {
    const pbx = pbxOf(['[from-pstn]', 'exten => _X.,1,NoOp()', ' same => n,AGI(agi-probe.js,env,${EXTEN},,"quoted, with comma",a\\,b,last)']);
    const call = pbx.inbound({ did: '74951234568', callerNum: '79161234567', callerName: 'Ivan Petrov' });
    pbx.inbound({ did: '74951234569' });
    await pbx.run();
    const [withCid, withoutCid] = probes().sort((a, b) => a.env.agi_extension.localeCompare(b.env.agi_extension));
    expect(withCid.envKeys).to.deep.equal([
      'agi_request', 'agi_channel', 'agi_language', 'agi_type', 'agi_uniqueid', 'agi_version', 'agi_callerid',
      'agi_calleridname', 'agi_callingpres', 'agi_callingani2', 'agi_callington', 'agi_callingtns', 'agi_dnid',
      'agi_rdnis', 'agi_context', 'agi_extension', 'agi_priority', 'agi_enhanced', 'agi_accountcode', 'agi_threadid',
      'agi_arg_1', 'agi_arg_2', 'agi_arg_3', 'agi_arg_4', 'agi_arg_5', 'agi_arg_6',
    ]);
    expect(withCid.env).to.include({
      agi_request: 'agi-probe.js',
      agi_channel: call.channel.name,
      agi_language: 'en',
      agi_type: 'PJSIP',
      agi_uniqueid: call.channel.uniqueid,
      agi_version: '22.10.1',
      agi_callerid: '79161234567',
      agi_calleridname: 'Ivan Petrov',
      agi_callingpres: '0',
      agi_dnid: '74951234568',
      agi_rdnis: 'unknown',
      agi_context: 'from-pstn',
      agi_extension: '74951234568',
      agi_priority: '2',
      agi_enhanced: '0.0',
      agi_accountcode: '',
      agi_arg_1: 'env',
      agi_arg_2: '74951234568',
      agi_arg_3: '',
      agi_arg_4: 'quoted, with comma',
      agi_arg_5: 'a,b',
      agi_arg_6: 'last',
    });
    expect(withCid.argv).to.deep.equal(['env', '74951234568', '', 'quoted, with comma', 'a,b', 'last']);
    expect(withoutCid.env).to.include({ agi_callerid: 'unknown', agi_calleridname: 'unknown', agi_callingpres: '67' });
  });

  it('answers commands from the channel: variables both ways, EXEC, DATABASE, state before and after ANSWER', async () => {
    const pbx = pbxOf(['[in]', 'exten => s,1,AGI(agi-probe.js,set)', ' same => n,Set(SEEN=${FROM_AGI}|${FROM_EXEC}|${AGISTATUS})']);
    const call = pbx.inbound({ did: 's', context: 'in', callerNum: '79161234567' });
    await pbx.run();
    const [p] = probes();
    expect(p.replies).to.deep.equal([
      ['CHANNEL STATUS', '200 result=4'],
      ['SET VARIABLE FROM_AGI "a b"', '200 result=1'],
      ['GET FULL VARIABLE "${CALLERID(num)}|${FROM_AGI}|${NO_SUCH}"', '200 result=1 (79161234567|a b|)'],
      ['GET VARIABLE NO_SUCH', '200 result=0'],
      ['EXEC Set FROM_EXEC=2', '200 result=0'],
      ['DATABASE PUT probe key "v 1"', '200 result=1'],
      ['ANSWER', '200 result=0'],
      ['CHANNEL STATUS', '200 result=6'],
      ['FOOBAR', '510 Invalid or unknown command'],
    ]);
    expect(call.record()!.vars.SEEN).to.equal('a b|2|SUCCESS');
    expect(pbx.astdb.get('probe/key')).to.equal('v 1');
  });

  it('caller hangs up during the AGI: SIGHUP, dead-mode replies, AGISTATUS=HANGUP, the rest of the extension skipped, then h', async () => {
    const pbx = pbxOf(['[in]', 'exten => s,1,Answer()', ' same => n,AGI(agi-probe.js,sleep,300)', ' same => n,Set(NOT_RUN=1)', 'exten => h,1,Set(H=${AGISTATUS}|${AFTER_SLEEP})']);
    const call = pbx.inbound({ did: 's', context: 'in' });
    pbx.onAgiCommand = (chan, command) => command.includes('"ready"') && pbx.hangup(chan);
    await pbx.run();
    const [p] = probes();
    expect(p.sighup).to.equal(true);
    expect(p.replies).to.deep.equal([
      ['VERBOSE "ready" 1', '200 result=1'],
      ['VERBOSE "after the sleep" 1', '200 result=1'],
      ['CHANNEL STATUS', '511 Command Not Permitted on a dead channel or intercept routine'],
      ['SET VARIABLE AFTER_SLEEP 1', '200 result=1'],
    ]);
    expect(call.record()!.vars).to.include({ H: 'HANGUP|1' }).and.not.have.property('NOT_RUN');
  });

  it('AGISIGHUP=no: no SIGHUP, the same dead-mode replies', async () => {
    const pbx = pbxOf(['[in]', 'exten => s,1,Set(AGISIGHUP=no)', ' same => n,AGI(agi-probe.js,sleep,300)']);
    pbx.inbound({ did: 's', context: 'in' });
    pbx.onAgiCommand = (chan, command) => command.includes('"ready"') && pbx.hangup(chan);
    await pbx.run();
    const [p] = probes();
    expect(p.sighup).to.equal(false);
    expect(p.replies[2][1]).to.match(/^511 /);
  });

  it('in a hangup handler the AGI is dead from the start: 511 for CHANNEL STATUS, variables still work', async () => {
    const pbx = pbxOf(['[in]', 'exten => s,1,Set(CHANNEL(hangup_handler_push)=hh,s,1)', ' same => n,Hangup()', '[hh]', 'exten => s,1,AGI(agi-probe.js,dead)', ' same => n,Return()']);
    const call = pbx.inbound({ did: 's', context: 'in' });
    await pbx.run();
    const [p] = probes();
    expect(p.sighup).to.equal(false);
    expect(p.replies).to.deep.equal([
      ['CHANNEL STATUS', '511 Command Not Permitted on a dead channel or intercept routine'],
      ['GET VARIABLE UNIQUEID', `200 result=1 (${call.channel.uniqueid})`],
      ['SET VARIABLE IN_HANDLER yes', '200 result=1'],
    ]);
    expect(p.env).to.include({ agi_context: 'hh', agi_extension: 's', agi_priority: '1' });
    expect(call.record()!.vars.IN_HANDLER).to.equal('yes');
  });

  it('AGISTATUS: NOTFOUND for a missing script, FAILURE for a non-zero exit; the call goes on', async () => {
    const pbx = pbxOf(['[in]', 'exten => s,1,AGI(no-such-script.sh)', ' same => n,Set(A=${AGISTATUS})', ' same => n,AGI(agi-probe.js,exit1)', ' same => n,Set(B=${AGISTATUS})']);
    const call = pbx.inbound({ did: 's', context: 'in' });
    await pbx.run();
    expect(call.record()!.vars).to.include({ A: 'NOTFOUND', B: 'FAILURE' });
    expect(pbx.warnings.join()).to.match(/Failed to execute '.*no-such-script.sh': File does not exist/);
  });

  describe('FastAGI', () => {
    let server: Server;
    let port: number;
    let sessions: Array<{ lines: string[]; socket: Socket }>;

    beforeEach(async () => {
      sessions = [];
      server = createServer((socket) => {
        const s = { lines: [] as string[], socket };
        sessions.push(s);
        let buf = '';
        let env = true;
        socket.setEncoding('utf8');
        socket.on('data', (c: string) => {
          buf += c;
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            s.lines.push(line);
            if (env && line === '') {
              env = false;
              socket.write('SET VARIABLE FAST "from the service"\n');
            } else if (!env && line === '200 result=1') {
              if (s.lines.some((l) => l.startsWith('agi_arg_1: linger'))) setTimeout(() => socket.end(), 300);
              else socket.end();
            }
          }
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as { port: number }).port;
    });
    afterEach(() => new Promise<void>((r) => server.close(() => r())));

    it('speaks agi:// with agi_network lines; the service sets variables on the channel', async () => {
      const pbx = pbxOf(['[in]', `exten => s,1,AGI(agi://127.0.0.1:${port}/incoming,74951234567,x)`, ' same => n,Set(SEEN=${AGISTATUS}|${FAST})']);
      const call = pbx.inbound({ did: 's', context: 'in' });
      await pbx.run();
      const lines = sessions[0].lines;
      expect(lines.slice(0, 3)).to.deep.equal(['agi_network: yes', 'agi_network_script: incoming', `agi_request: agi://127.0.0.1:${port}/incoming`]);
      expect(lines).to.include.members(['agi_arg_1: 74951234567', 'agi_arg_2: x', '200 result=1']);
      expect(call.record()!.vars.SEEN).to.equal('SUCCESS|from the service');
    });

    it('sends an unsolicited HANGUP line when the caller leaves during the session', async () => {
      const pbx = pbxOf(['[in]', `exten => s,1,AGI(agi://127.0.0.1:${port}/show,linger)`, ' same => n,Set(NOT_RUN=1)', 'exten => h,1,Set(H=${AGISTATUS})']);
      const call = pbx.inbound({ did: 's', context: 'in' });
      pbx.onAgiCommand = (chan) => pbx.hangup(chan);
      await pbx.run();
      expect(sessions[0].lines).to.include('HANGUP');
      expect(call.record()!.vars).to.include({ H: 'HANGUP' }).and.not.have.property('NOT_RUN');
    });

    it('a refused connection gives AGISTATUS=FAILURE at once, and the dialplan falls back to the local AGI', async () => {
      await new Promise<void>((r) => server.close(() => r()));
      server = createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const pbx = pbxOf([
        '[in]',
        `exten => s,1,AGI(agi://127.0.0.1:${port}/incoming,74951234567)`,
        ' same => n,ExecIf($["${AGISTATUS}"="FAILURE"]?AGI(agi-probe.js,fallback,74951234567))',
        ' same => n,Set(SEEN=${AGISTATUS})',
      ]);
      const call = pbx.inbound({ did: 's', context: 'in' });
      await pbx.run();
      expect(pbx.warnings.join()).to.match(new RegExp(`Connecting to '127.0.0.1:${port}' failed`));
      expect(probes().map((p) => p.argv)).to.deep.equal([['fallback', '74951234567']]);
      expect(call.record()!.vars.SEEN).to.equal('SUCCESS');
      const [fast, fallback] = pbx.trace.filter((l) => l.app === 'AGI' || l.app === 'ExecIf');
      expect(fallback.at - fast.at, 'no waiting on the dead service').to.be.below(500);
    });
  });
});
