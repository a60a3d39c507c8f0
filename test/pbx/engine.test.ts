// The test PBX's core semantics: inheritance, the Gosub stack, Dial and Local channels, Queue,
// the order of hangup work, SHARED/MASTER_CHANNEL, and its refusal to guess. Small dialplans,
// virtual time, no processes (AGIs here are built-in stand-ins).
import { expect } from 'chai';
import { statSync } from 'fs';
import { tempDir } from '../helpers/tmp';
import { join } from 'path';
import { Pbx, PbxOptions } from '../helpers/pbx';

const dir = tempDir('pbx-engine-');

function pbxOf(lines: string[], more: Partial<PbxOptions> = {}): Pbx {
  return new Pbx({ dialplan: { file: 'test.conf', text: lines.join('\n') }, agiDir: dir, spoolDir: dir, ...more });
}

const varsOf = (pbx: Pbx, namePrefix: string) => {
  const rec = pbx.ended.find((r) => r.name.startsWith(namePrefix));
  if (!rec) throw new Error(`no channel ${namePrefix} among ${pbx.ended.map((r) => r.name).join(', ')}`);
  return rec.vars;
};

describe('test PBX: engine', function () {
  this.timeout(10_000);

  it('_X reaches the next channel (and, copied as X, the ;2 half of a Local); __X every channel after', async () => {
    const pbx = pbxOf([
      '[in]',
      'exten => s,1,Set(_ONE=1)',
      ' same => n,Set(__ALL=2)',
      ' same => n,Set(PLAIN=3)',
      ' same => n,Dial(Local/100@agents/n,,)',
      '[agents]',
      'exten => 100,1,Dial(PJSIP/201,,)',
    ]);
    pbx.phone('PJSIP/201', { answerAfterMs: 1000, hangupAfterMs: 2000 });
    pbx.inbound({ did: 's', context: 'in' });
    await pbx.run();
    expect(varsOf(pbx, 'Local/100@agents-')).to.include({ ONE: '1', ALL: '2' }).and.not.have.property('PLAIN');
    const one = pbx.ended.find((r) => r.name.endsWith(';1'))!.vars;
    const two = pbx.ended.find((r) => r.name.endsWith(';2'))!.vars;
    expect(one).to.include({ ONE: '1', ALL: '2' });
    expect(two).to.include({ ONE: '1', ALL: '2' });
    expect(varsOf(pbx, 'PJSIP/201-')).to.include({ ALL: '2' }).and.not.have.any.keys('ONE', 'PLAIN');
    expect(pbx.problems()).to.deep.equal([]);
  });

  it('Gosub pushes ARGn/ARGC as locals (masking the caller’s), Return restores them and sets GOSUB_RETVAL', async () => {
    const pbx = pbxOf([
      '[main]',
      'exten => s,1,Gosub(sub1,s,1(a,b,c))',
      ' same => n,Set(R1=${GOSUB_RETVAL}|${ARG1}|${ARGC})',
      ' same => n,Gosub(sub2,s,1(only))',
      ' same => n,Set(R3=${GOSUB_RETVAL})',
      ' same => n,StackPop()',
      ' same => n,Return()',
      '[sub1]',
      'exten => s,1,Set(IN1=${ARG1}|${ARG2}|${ARG3}|${ARGC})',
      ' same => n,Gosub(sub2,s,1(x))',
      ' same => n,Set(AFTER=${ARG1}|${ARG2})',
      ' same => n,Return(r1)',
      '[sub2]',
      'exten => s,1,Set(IN2_${ARGC}_${ARG1}=${ARG1}|${ARG2}|${ARG3})',
      ' same => n,Return(r2)',
    ]);
    pbx.inbound({ did: 's', context: 'main' });
    await pbx.run();
    expect(varsOf(pbx, 'PJSIP/trunk-')).to.include({ IN1: 'a|b|c|3', IN2_1_x: 'x||', AFTER: 'a|b', R1: 'r1||', R3: 'r2', IN2_1_only: 'only||' });
    expect(pbx.errors.map((e) => e.message)).to.deep.equal([`Return without Gosub: stack is empty on ${pbx.ended[0].name}`]);
    expect(pbx.warnings.join()).to.match(/StackPop: stack is empty/);
  });

  it('Dial: the first to answer wins, the others are hung up at once, U() runs on the winner only, then the caller is answered', async () => {
    const pbx = pbxOf([
      '[in]',
      'exten => s,1,Dial(PJSIP/201&PJSIP/202&PJSIP/203,30,U(sub^A1^A2))',
      ' same => n,Set(NEVER=1)',
      'exten => h,1,Set(H=${DIALSTATUS}|${CUT(DIALEDPEERNAME,-,1)}|${DIALEDPEERNUMBER}|${ANSWEREDTIME}|${DIALEDTIME}|${UANS})',
      '[sub]',
      'exten => s,1,Set(RAN=${CHANNEL(endpoint)}|${ARG1}|${ARG2}|${CHANNEL(state)})',
      ' same => n,Set(MASTER_CHANNEL(UANS)=${CHANNEL(endpoint)})',
      ' same => n,Set(MASTER_STATE=${MASTER_CHANNEL(CHANNEL(state))})',
      ' same => n,Return()',
    ]);
    pbx.phone('PJSIP/201', { answerAfterMs: 1000 });
    pbx.phone('PJSIP/202', { answerAfterMs: 1001 });
    pbx.phone('PJSIP/203', {});
    const call = pbx.inbound({ did: 's', context: 'in', hangupAfterTalkMs: 5000 });
    const t0 = Date.now();
    await pbx.run();
    expect(Date.now() - t0, 'virtual time: 6 s of call in far less real time').to.be.below(5000);
    const gosubs = pbx.events.filter((e) => e.type === 'gosub' && String(e.spec).startsWith('sub,'));
    expect(gosubs.map((e) => e.channel)).to.have.length(1);
    expect(gosubs[0].channel).to.match(/^PJSIP\/201-/);
    expect(gosubs[0].spec).to.equal('sub,s,1(A1,A2)');
    expect(varsOf(pbx, 'PJSIP/201-')).to.include({ RAN: '201|A1|A2|Up', MASTER_STATE: 'Ring' });
    const r202 = pbx.ended.find((r) => r.name.startsWith('PJSIP/202-'))!;
    expect(r202.cause, 'answered elsewhere').to.equal(26);
    expect(r202.answeredAt, '202 was hung up before its answer').to.equal(undefined);
    const rec = call.record()!;
    expect(rec.vars).to.include({ H: 'ANSWER|PJSIP/201|201|5|6|201', UANS: '201' });
    expect(rec.vars).to.not.have.property('NEVER');
    expect(rec.answeredAt! - pbx.startedAt).to.equal(1000);
    expect(pbx.problems()).to.deep.equal([]);
  });

  const outcomes: Array<[string, Parameters<Pbx['phone']>[1], Parameters<Pbx['inbound']>[0]['hangupAfterMs'], string]> = [
    ['NOANSWER after the timeout', {}, undefined, 'NOANSWER'],
    ['BUSY', { busy: true }, undefined, 'BUSY'],
    ['CHANUNAVAIL for an unregistered phone', { unavailable: true }, undefined, 'CHANUNAVAIL'],
    ['CANCEL when the caller leaves while it rings', {}, 1000, 'CANCEL'],
  ];
  for (const [name, phone, callerLeavesMs, status] of outcomes) {
    it(`Dial: ${name}`, async () => {
      const pbx = pbxOf(['[in]', 'exten => s,1,Dial(PJSIP/201,3)', ' same => n,Set(AFTER=${DIALSTATUS})', 'exten => h,1,Set(H=${DIALSTATUS})']);
      pbx.phone('PJSIP/201', phone);
      const call = pbx.inbound({ did: 's', context: 'in', hangupAfterMs: callerLeavesMs });
      await pbx.run();
      expect(call.record()!.vars.H).to.equal(status);
      expect(call.record()!.vars.AFTER, 'the dialplan goes on unless the caller left').to.equal(status === 'CANCEL' ? undefined : status);
    });
  }

  it('Dial g: the caller goes on in the dialplan when the callee hangs up', async () => {
    const pbx = pbxOf(['[in]', 'exten => s,1,Dial(PJSIP/201,,g)', ' same => n,Set(AFTER=${DIALSTATUS})', ' same => n,Hangup()']);
    pbx.phone('PJSIP/201', { answerAfterMs: 100, hangupAfterMs: 1000 });
    const call = pbx.inbound({ did: 's', context: 'in' });
    await pbx.run();
    expect(call.record()!.vars.AFTER).to.equal('ANSWER');
  });

  it('Local: ;2 runs the dialplan with the caller’s ID, its answer answers ;1, names and linkedid as Asterisk gives them', async () => {
    const pbx = pbxOf([
      '[in]',
      'exten => s,1,Dial(Local/100@agents/n,,)',
      '[agents]',
      'exten => 100,1,Set(ME=${CHANNEL(name)}|${CALLERID(num)}|${CHANNEL(linkedid)})',
      ' same => n,Answer()',
      ' same => n,Wait(2)',
      ' same => n,Hangup()',
    ]);
    const call = pbx.inbound({ did: 's', context: 'in', callerNum: '79161234567' });
    await pbx.run();
    const two = pbx.ended.find((r) => r.name.endsWith(';2'))!;
    expect(two.name).to.match(/^Local\/100@agents-[0-9a-f]{8};2$/);
    expect(two.vars.ME).to.equal(`${two.name}|79161234567|${call.channel.uniqueid}`);
    expect(call.record()!.vars.DIALSTATUS).to.equal('ANSWER');
    expect(call.record()!.vars.ANSWEREDTIME).to.equal('2');
  });

  it('Queue: connects the first member to answer, hangs up the others, runs its gosub (7th argument) on that member only', async () => {
    const pbx = pbxOf(
      [
        '[in]',
        'exten => s,1,Answer()',
        ' same => n,Queue(q1,t,,,60,,qgosub\\,x)',
        ' same => n,Set(NEVER=1)',
        'exten => h,1,Set(H=${MEMBERINTERFACE}|${MEMBERNAME}|${QG}|${ANSWEREDTIME}|${QUEUESTATUS})',
        '[agents]',
        'exten => _X.,1,Dial(PJSIP/${EXTEN},,U(ans))',
        '[qgosub]',
        'exten => s,1,Set(MASTER_CHANNEL(QG)=${CUT(CHANNEL(name),-,1)}|${MEMBERINTERFACE}|${ARG1})',
        ' same => n,Return()',
        '[ans]',
        'exten => s,1,Set(MASTER_CHANNEL(ANS_${CHANNEL(endpoint)})=1)',
        ' same => n,Wait(0.05)',
        ' same => n,Return()',
      ],
      { queues: { q1: { strategy: 'ringall', setinterfacevar: true, members: ['Local/201@agents/n', { interface: 'Local/202@agents/n', name: 'Anna' }, 'Local/203@agents/n'] } } },
    );
    pbx.phone('PJSIP/201', { answerAfterMs: 1000 });
    pbx.phone('PJSIP/202', { answerAfterMs: 1000 });
    pbx.phone('PJSIP/203', {});
    const call = pbx.inbound({ did: 's', context: 'in', hangupAfterTalkMs: 3000 });
    await pbx.run();
    const connects = pbx.events.filter((e) => e.type === 'queue-connect');
    expect(connects.map((e) => e.member)).to.deep.equal(['Local/201@agents/n']);
    const vars = call.record()!.vars;
    // ANSWEREDTIME counts from the connect, as app_queue sets it since Asterisk 22.9; QUEUESTATUS stays unset.
    expect(vars.H).to.equal('Local/201@agents/n|Local/201@agents/n|Local/201@agents|Local/201@agents/n|x|3|');
    // Both phones answered in the same millisecond and U() takes 50 ms: it ran on each member's
    // phone before the queue chose one (as FreePBX's macro-auto-blkvm does on a real PBX).
    expect(vars).to.include({ ANS_201: '1', ANS_202: '1' });
    expect(vars).to.not.have.property('NEVER');
    const loser = pbx.ended.find((r) => r.name.startsWith('Local/202@agents-') && r.name.endsWith(';1'))!;
    expect(loser.hungupAt - pbx.startedAt).to.be.below(1100);
    expect(pbx.problems()).to.deep.equal([]);
  });

  it('Queue: linear rings one member at a time from the first; rrmemory starts after the last one who answered', async () => {
    const connected = async (strategy: 'linear' | 'rrmemory', calls: number) => {
      const pbx = pbxOf(['[in]', 'exten => s,1,Queue(q1,t,,,120)', '[agents]', 'exten => _X.,1,Dial(PJSIP/${EXTEN},,)'], {
        queues: { q1: { strategy, timeout: 10, retry: 2, members: ['Local/201@agents/n', 'Local/202@agents/n', 'Local/203@agents/n'] } },
      });
      pbx.phone('PJSIP/201', {});
      pbx.phone('PJSIP/202', { answerAfterMs: 1000, hangupAfterMs: 1000 });
      pbx.phone('PJSIP/203', { answerAfterMs: 1000, hangupAfterMs: 1000 });
      const out: string[] = [];
      for (let i = 0; i < calls; i++) {
        pbx.inbound({ did: 's', context: 'in' });
        await pbx.run();
        const c = pbx.events.filter((e) => e.type === 'queue-connect').pop()!;
        out.push(`${String(c.member).slice(6, 9)}@${c.at - pbx.events.filter((e) => e.type === 'queue-join').pop()!.at}`);
      }
      return out;
    };
    // 201 rings 10 s, 2 s pause, then 202 answers after 1 s.
    expect(await connected('linear', 2)).to.deep.equal(['202@13000', '202@13000']);
    expect(await connected('rrmemory', 2)).to.deep.equal(['202@13000', '203@1000']);
  });

  it('Queue: MEMBER*/QUEUE* variables only with setinterfacevar/setqueuevar (FreePBX sets neither)', async () => {
    const pbx = pbxOf(['[in]', 'exten => s,1,Queue(q1,t,,,60)', 'exten => h,1,Set(H=${MEMBERINTERFACE}|${QUEUENAME}|${ANSWEREDTIME})', '[agents]', 'exten => _X.,1,Dial(PJSIP/${EXTEN},,)'], {
      queues: { q1: { members: ['Local/201@agents/n'] } },
    });
    pbx.phone('PJSIP/201', { answerAfterMs: 500, hangupAfterMs: 2000 });
    const call = pbx.inbound({ did: 's', context: 'in' });
    await pbx.run();
    expect(call.record()!.vars.H).to.equal('||2');
  });

  it('Queue: the pre-Asterisk-21 argument order puts the gosub in the rule slot, and no gosub runs', async () => {
    const pbx = pbxOf(['[in]', 'exten => s,1,Queue(q1,t,,,60,,,qgosub)', '[agents]', 'exten => _X.,1,Dial(PJSIP/${EXTEN},,)', '[qgosub]', 'exten => s,1,Set(MASTER_CHANNEL(QG)=ran)', ' same => n,Return()'], {
      queues: { q1: { members: ['Local/201@agents/n'] } },
    });
    pbx.phone('PJSIP/201', { answerAfterMs: 500, hangupAfterMs: 500 });
    const call = pbx.inbound({ did: 's', context: 'in' });
    await pbx.run();
    expect(call.record()!.vars).to.not.have.property('QG');
    expect(pbx.problems(), 'Asterisk says nothing about it either (lab §3d)').to.deep.equal([]);
  });

  it('at hangup: the h extension, then the hangup handlers (last pushed first), then MixMonitor closes the file', async () => {
    const seen: Array<[string, number, boolean]> = [];
    const pbx = pbxOf(
      [
        '[in]',
        'exten => s,1,MixMonitor(rec-${UNIQUEID}.wav,b)',
        ' same => n,Set(CHANNEL(hangup_handler_push)=hh,s,1(first))',
        ' same => n,Set(CHANNEL(hangup_handler_push)=hh,s,1(second))',
        ' same => n,Dial(PJSIP/201,,)',
        'exten => h,1,AGI(probe,h)',
        '[hh]',
        'exten => s,1,AGI(probe,${ARG1})',
        ' same => n,Return()',
      ],
      { builtinAgi: { probe: ({ chan, args, get }) => void seen.push([args[0], statSync(get('MIXMONITOR_FILENAME')).size, chan.dead]) } },
    );
    pbx.phone('PJSIP/201', { answerAfterMs: 500, hangupAfterMs: 2000 });
    const call = pbx.inbound({ did: 's', context: 'in' });
    await pbx.run();
    expect(seen).to.deep.equal([
      ['h', 44, true],
      ['second', 44, true],
      ['first', 44, true],
    ]);
    const path = call.record()!.vars.MIXMONITOR_FILENAME;
    expect(path).to.equal(join(dir, 'monitor', `rec-${call.channel.uniqueid}.wav`));
    expect(statSync(path).size, '2 s of 8 kHz 16-bit audio after close').to.equal(44 + 32_000);
    const order = pbx.events.filter((e) => e.channel === call.channel.name && ['gosub', 'mixmonitor-closed', 'destroyed'].includes(e.type)).map((e) => e.type);
    expect(order).to.deep.equal(['gosub', 'gosub', 'mixmonitor-closed', 'destroyed']);
  });

  it('MASTER_CHANNEL is the linkedid owner: the trunk channel on a PBX, the caller ;1 in the lab’s Local topology', async () => {
    const lines = [
      '[from-pstn]',
      'exten => _X.,1,Set(__INBOUND=${CHANNEL(name)})',
      ' same => n,Dial(PJSIP/201,,U(ans))',
      'exten => h,1,Set(H=${FROM_MASTER}|${SHARED(FROM_SHARED)})',
      '[ans]',
      'exten => s,1,Set(MASTER_CHANNEL(FROM_MASTER)=yes)',
      ' same => n,Set(SHARED(FROM_SHARED,${INBOUND})=yes)',
      ' same => n,Return()',
    ];
    for (const viaLocal of [false, true]) {
      const pbx = pbxOf(lines);
      pbx.phone('PJSIP/201', { answerAfterMs: 100, hangupAfterMs: 100 });
      const call = pbx.inbound({ did: '74951234567', viaLocal });
      await pbx.run();
      expect(call.record()!.vars.H, viaLocal ? 'lab topology' : 'PBX topology').to.equal(viaLocal ? '|yes' : 'yes|yes');
      if (viaLocal) {
        expect(call.channel.name).to.match(/^Local\/74951234567@from-pstn-[0-9a-f]{8};2$/);
        expect(pbx.ended.find((r) => r.name.endsWith(';1'))!.vars.FROM_MASTER).to.equal('yes');
      }
      expect(pbx.problems()).to.deep.equal([]);
    }
  });

  it('WaitExten: the caller’s keys pick the extension (waiting TIMEOUT(digit) while a longer one could match), t on silence, i on a wrong key', async () => {
    const lines = [
      '[ivr]',
      'exten => s,1,Answer()',
      ' same => n,Set(TIMEOUT(digit)=2)',
      ' same => n(wait),WaitExten(5)',
      'exten => 2,1,Set(MASTER_CHANNEL(CHOSE)=2@${EPOCH})',
      ' same => n,Hangup()',
      'exten => 2#,1,Goto(2,1)',
      'exten => 31,1,Set(MASTER_CHANNEL(CHOSE)=31)',
      ' same => n,Hangup()',
      'exten => t,1,Set(MASTER_CHANNEL(CHOSE)=timeout)',
      ' same => n,Hangup()',
      'exten => i,1,Set(MASTER_CHANNEL(CHOSE)=invalid:${INVALID_EXTEN})',
      ' same => n,Hangup()',
    ];
    const cases: Array<[string | undefined, string]> = [['2', '2@+3'], ['31', '31'], ['9', 'invalid:9'], [undefined, 'timeout']];
    for (const [digits, want] of cases) {
      const pbx = pbxOf(lines);
      const call = pbx.inbound({ did: 's', context: 'ivr', dtmf: digits ? [{ afterAnswerMs: 1000, digits }] : [] });
      const epoch0 = Math.floor(pbx.clock.now() / 1000);
      await pbx.run();
      const chose = call.record()!.vars.CHOSE.replace(/@(\d+)$/, (_m, e) => `@+${Number(e) - epoch0}`);
      expect(chose, digits).to.equal(want);
    }
  });

  it('SHARED: another channel reads and writes a channel’s shared variables by name', async () => {
    const pbx = pbxOf([
      '[in]',
      'exten => s,1,Set(SHARED(K)=from-in)',
      ' same => n,Dial(PJSIP/201,,U(sh^${CHANNEL}))',
      'exten => h,1,Set(SEEN=${SHARED(BACK)}|${SHARED(MINE)}|${SHARED(K)})',
      '[sh]',
      'exten => s,1,Set(GOT=${SHARED(K,${ARG1})})',
      ' same => n,Set(SHARED(BACK,${ARG1})=from-peer)',
      ' same => n,Set(SHARED(MINE)=peer-own)',
      ' same => n,Return()',
    ]);
    pbx.phone('PJSIP/201', { answerAfterMs: 100, hangupAfterMs: 100 });
    const call = pbx.inbound({ did: 's', context: 'in' });
    await pbx.run();
    expect(varsOf(pbx, 'PJSIP/201-')).to.include({ GOT: 'from-in' });
    expect(call.record()!.vars.SEEN).to.equal('from-peer||from-in');
  });

  describe('refuses to guess', () => {
    it('an application it does not know fails the run, naming it and its line', async () => {
      const pbx = pbxOf(['[in]', 'exten => s,1,NoOp(ok)', ' same => n,VoiceMail(101@default)']);
      pbx.inbound({ did: 's', context: 'in' });
      let err: Error | undefined;
      await pbx.run().catch((e) => (err = e));
      expect(err?.message).to.match(/application VoiceMail\(\) is not supported by the test PBX at test\.conf:3/);
    });

    it('a function it does not know fails the run, naming it', async () => {
      const pbx = pbxOf(['[in]', 'exten => s,1,Set(X=${SPRINTF(%d,1)})']);
      pbx.inbound({ did: 's', context: 'in' });
      await pbx.run().then(
        () => expect.fail('should fail'),
        (e: Error) => expect(e.message).to.match(/dialplan function SPRINTF\(\) is not supported/),
      );
    });

    it('a Dial to a phone the test did not script fails the run', async () => {
      const pbx = pbxOf(['[in]', 'exten => s,1,Dial(PJSIP/999,,)']);
      pbx.inbound({ did: 's', context: 'in' });
      await pbx.run().then(
        () => expect.fail('should fail'),
        (e: Error) => expect(e.message).to.match(/no phone scripted for it/),
      );
    });

    it('a dialplan loop fails the run', async () => {
      const pbx = pbxOf(['[in]', 'exten => s,1,Goto(s,1)'], { maxSteps: 100 });
      pbx.inbound({ did: 's', context: 'in' });
      await pbx.run().then(
        () => expect.fail('should fail'),
        (e: Error) => expect(e.message).to.match(/ran 100 dialplan steps: a loop/),
      );
    });

    it('a call nothing can end is a deadlock, not a hung test', async () => {
      const pbx = pbxOf(['[in]', 'exten => s,1,Dial(PJSIP/201,,)']);
      pbx.phone('PJSIP/201', {});
      pbx.inbound({ did: 's', context: 'in' });
      await pbx.run().then(
        () => expect.fail('should fail'),
        (e: Error) => expect(e.message).to.match(/deadlock: .*PJSIP\/trunk-[0-9a-f]{8} \(Ring\)/),
      );
    });
  });

  it('a Goto to nowhere is an Asterisk error (recorded, the call ends), not a crash', async () => {
    const pbx = pbxOf(['[in]', 'exten => s,1,Goto(nowhere,s,1)']);
    pbx.inbound({ did: 's', context: 'in' });
    await pbx.run();
    expect(pbx.errors.map((e) => e.message).join()).to.match(/sent to invalid extension s@nowhere/);
  });
});
