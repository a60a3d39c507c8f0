// Queue() with the Asterisk ≥ 21 argument order
// Queue(queuename,options,URL,announceoverride,timeout,AGI,gosub,rule,position), as app_queue.c
// connects a caller: members rung per strategy (ringall, linear, rrmemory) for `timeout` seconds
// per attempt with `retry` seconds between attempts; the first member to answer is connected and
// the others are hung up at once; MEMBER*/QUEUE* variables go on both channels; the gosub runs on
// the connected member's channel, then the AGI on the caller's, then the bridge.
import { leadingInt, standardArgs } from './args';
import type { Channel } from './channel';
import { App, PbxError, registerApps } from './registry';
import { callChannel, hangupAll, parseOptions, requestChannel, ringUntilAnswer } from './dial';

const QUEUE_OPTIONS: Record<string, boolean> = {
  b: true, B: true, C: false, c: false, d: false, F: true, h: false, H: false, i: false, I: false,
  k: false, K: false, L: false, m: true, n: false, r: false, R: false, t: false, T: false, w: false,
  W: false, x: false, X: false,
};

const queue: App = async ({ pbx, chan: caller, data }) => {
  const [name, optionsArg, url, announce, timeoutArg, agi, gosub, rule, position] = standardArgs(data, 9);
  if (!name) throw new PbxError('Queue requires an argument: queuename[,options[,URL[,announceoverride[,timeout[,AGI[,gosub[,rule[,position]]]]]]]]');
  const q = pbx.queues.get(name);
  if (!q) throw new PbxError(`Queue ${name}: not configured in the test PBX (PbxOptions.queues)`);
  // No audio here: an announcement override changes nothing; neither does a URL.
  if (url) pbx.warn(`Queue ${name}: URL ${url} ignored`);
  if ((leadingInt(position) ?? 0) > 0) throw new PbxError(`Queue ${name}: a join position (${position}) is not supported by the test PBX`);
  // A rule that names no queuerules.conf section is ignored without a word (lab §3d: the pre-21
  // argument order lands the gosub here); the test PBX has no queue rules at all.
  void rule;
  void announce;
  const opts = parseOptions(optionsArg ?? '', QUEUE_OPTIONS, 'Queue');
  if (opts.has('b') || opts.has('B') || opts.has('F')) throw new PbxError('Queue options b/B/F are not supported by the test PBX yet');
  const start = pbx.clock.now();
  const overall = timeoutArg && Number(timeoutArg) > 0 ? start + Number(timeoutArg) * 1000 : undefined;
  const members = q.members.map((m) => (typeof m === 'string' ? { interface: m, name: m } : { name: m.interface, ...m }));
  const strategy = q.strategy ?? 'ringall';
  for (const v of ['ANSWEREDTIME', 'ANSWEREDTIME_MS', 'DIALEDTIME', 'DIALEDTIME_MS', 'QUEUEWAIT', 'QUEUEWAIT_MS']) caller.setVar(v, '');
  // setinterfacevar, setqueuevar, setqueueentryvar default to no, and FreePBX writes none of them.
  const queueVars = (c: Channel) => {
    if (!q.setqueuevar) return;
    c.setVar('QUEUENAME', name);
    c.setVar('QUEUEMAX', '0');
    c.setVar('QUEUESTRATEGY', strategy);
    c.setVar('QUEUECALLS', '1');
    c.setVar('QUEUEHOLDTIME', String(Math.round((pbx.clock.now() - start) / 1000)));
  };
  queueVars(caller);
  if (opts.has('r')) pbx.indicate(caller, 'ringing');
  pbx.event('queue-join', caller, { queue: name });

  for (let round = 0; ; round++) {
    if (overall !== undefined && pbx.clock.now() >= overall) {
      caller.setVar('QUEUESTATUS', 'TIMEOUT');
      return 0;
    }
    // linear starts at the first member on every call; rrmemory after the last member who took one.
    const pick = strategy === 'ringall' ? members : [members[((strategy === 'rrmemory' ? q.lastIndex + 1 : 0) + round) % members.length]];
    const outgoing: Array<{ chan: Channel; member: (typeof members)[number] }> = [];
    for (const member of pick) {
      const slash = member.interface.indexOf('/');
      const c = requestChannel(pbx, member.interface.slice(0, slash), member.interface.slice(slash + 1), caller);
      if (!c) continue;
      if (callChannel(pbx, c)) outgoing.push({ chan: c, member });
      else await hangupAll(pbx, [c], 20);
    }
    const attemptEnd = pbx.clock.now() + (q.timeout ?? 15) * 1000;
    const deadline = overall === undefined ? attemptEnd : Math.min(attemptEnd, overall);
    const result = outgoing.length
      ? await ringUntilAnswer(pbx, caller, outgoing.map((o) => o.chan), deadline, { indicateRinging: false })
      : { status: 'CHANUNAVAIL' as const, rest: new Set<Channel>() };
    await hangupAll(pbx, result.rest, result.answered && opts.has('C') ? 26 : 16);
    if (result.answered) {
      const peer = result.answered;
      const member = outgoing.find((o) => o.chan === peer)!.member;
      q.lastIndex = members.indexOf(member);
      if (q.setinterfacevar)
        for (const c of [caller, peer]) {
          c.setVar('MEMBERINTERFACE', member.interface);
          c.setVar('MEMBERNAME', member.name ?? member.interface);
          c.setVar('MEMBERCALLS', '0');
          c.setVar('MEMBERPENALTY', String((member as { penalty?: number }).penalty ?? 0));
          c.setVar('MEMBERDYNAMIC', '0');
        }
      if (q.setqueueentryvar)
        for (const c of [caller, peer]) {
          c.setVar('QEHOLDTIME', String(Math.round((pbx.clock.now() - start) / 1000)));
          c.setVar('QEORIGINALPOS', '1');
        }
      queueVars(caller);
      queueVars(peer);
      pbx.event('queue-connect', caller, { queue: name, member: member.interface, peer: peer.name });
      if (gosub) {
        const comma = gosub.indexOf(',');
        await pbx.runSub(peer, comma < 0 ? `${gosub},s,1` : `${gosub.slice(0, comma)},s,1(${gosub.slice(comma + 1)})`);
      }
      if (agi) await pbx.execApp(caller, 'AGI', agi);
      if (caller.hungUp || peer.hungUp) {
        await hangupAll(pbx, [peer], 16);
        if (caller.hungUp) return -1;
        continue;
      }
      pbx.answer(caller);
      setDuration(caller, 'QUEUEWAIT', pbx.clock.now() - start);
      const bridgedAt = pbx.clock.now();
      const leaver = await pbx.bridge(caller, peer);
      if (caller.pendingGoto) throw new PbxError(`${caller.name}: a blind transfer of the Queue caller is not supported by the test PBX`);
      // Asterisk ≥ 20.19 / 22.9: Queue sets Dial's timing variables when the bridge ends.
      queueVars(caller);
      setDuration(caller, 'ANSWEREDTIME', pbx.clock.now() - bridgedAt);
      setDuration(caller, 'DIALEDTIME', pbx.clock.now() - caller.createdAt);
      await hangupAll(pbx, [peer], 16);
      if (leaver === peer && !caller.hungUp && opts.has('c')) {
        caller.setVar('QUEUESTATUS', 'CONTINUE');
        return 0;
      }
      return -1;
    }
    if (result.status === 'CANCEL' || caller.hungUp) return -1;
    if (opts.has('n')) {
      caller.setVar('QUEUESTATUS', 'TIMEOUT');
      return 0;
    }
    const retryEnd = pbx.clock.now() + (q.retry ?? 5) * 1000;
    const wait = (overall === undefined ? retryEnd : Math.min(retryEnd, overall)) - pbx.clock.now();
    if (!(await pbx.sleep(caller, wait))) return -1;
  }
};

function setDuration(chan: Channel, base: string, ms: number): void {
  chan.setVar(base, String(Math.floor(ms / 1000)));
  chan.setVar(`${base}_MS`, String(ms));
}

registerApps({ Queue: queue });
