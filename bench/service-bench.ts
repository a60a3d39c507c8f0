// The resident service's targets (issue 11), measured in the same run as the AGI executables:
// the built `itd_bitrix.js serve` spoken to over FastAGI by the test suite's client
// (test/helpers/fastagi-client.ts), against the loopback fake Bitrix24.
import type { ServiceStatus } from '../agi-src/service/status';
import { FakeBitrix, seedDemo } from '../test/fake-bitrix/server';
import { testSetup, TestSetup } from '../test/helpers/config';
import { CallChannel, cardsDone, endFacts, inboundFacts, recordAnswer } from '../test/helpers/facts';
import { FastAgiResult, runFastAgi } from '../test/helpers/fastagi-client';
import { RunningService, startService } from '../test/helpers/service';
import { median, nextUniqueid, percentile, r1, randomCaller, sleep, timedAgi } from './lib';
import { delayProxy, localhostCertificate, tlsFront } from './net';

const DID = '74951234567';

export interface BenchContext {
  target(name: string, value: number, measured: string, targetText: string, pass: boolean): void;
  note(line: string): void;
  progress(line: string): void;
  anomalies: string[];
  info: Record<string, unknown>;
  setups: TestSetup[];
  rand: () => number;
  /** Interleaved rounds of the CLI path (the service gets `serviceRuns`). */
  runs: number;
  serviceRuns: number;
}

const OPERATORS: Record<string, number> = { '101': 12, '102': 15 };
/**
 * S1's shortest ring: nobody answers within 50 ms of the incoming step (by then that step's own
 * database write, done after it let the call go, is behind it too).
 */
const RING_MS = 50;

function checkFast(ctx: BenchContext, label: string, r: FastAgiResult): void {
  if (r.status !== 'SUCCESS') ctx.anomalies.push(`${label}: AGISTATUS ${r.status}`);
  if (r.reset || r.timedOut) ctx.anomalies.push(`${label}: session ${r.reset ? 'reset' : 'never closed'}`);
  if (r.rejected.length) ctx.anomalies.push(`${label}: rejected ${r.rejected.join(' | ')}`);
}

const ms = (xs: number[], p: number) => r1(percentile(xs, p));

async function stopped(svc: RunningService): Promise<ServiceStatus | null> {
  await svc.stop('SIGTERM');
  return svc.status();
}

export async function serviceTargets(ctx: BenchContext, only?: 'cards'): Promise<void> {
  if (only === 'cards') return ringingCards(ctx);
  await portalAtOnce(ctx);
  await portalFarAway(ctx);
  await burst(ctx, 50, 0);
  await burst(ctx, 200, 60_000);
  await ringingCards(ctx);
}

/**
 * S5: card requests per ringing call (cardMode "ringing"): the legs the dialplan reports to the
 * service (`ring` / `ringend` with the leg's channel, as RingingHook writes them), the answer's
 * show step, the hangup; counted at the fake: HTTP requests that carry only shows and hides (the
 * finish's batch is the finish's). Warm user map, as on a PBX after its first calls.
 */
async function ringingCards(ctx: BenchContext): Promise<void> {
  ctx.progress('S5: card requests per ringing call (ring-all, queue, hunt, a member ringing 100 ms)');
  const fake = await FakeBitrix.start({ rateLimit: false });
  seedDemo(fake);
  const users: Record<string, number> = { '101': 12, '102': 15, '103': 17 };
  fake.addUser({ ID: 17, NAME: 'Third', LAST_NAME: 'Member', ACTIVE: true, UF_PHONE_INNER: '103' });
  const t = testSetup({ webhookUrl: fake.webhookUrl, dids: [DID], logLevel: 'info', attachRecordings: false });
  ctx.setups.push(t);
  const svc = await startService(t);
  const WINDOW = 300;
  const CARD = /^telephony\.externalcall\.(show|hide)$/;
  const cardRequests = () =>
    fake.requests.filter((r) => CARD.test(r.method) || (r.method === 'batch' && (r.subcalls ?? []).length > 0 && r.subcalls!.every((c) => CARD.test(c.method)))).length;
  /** In order: legs gone, legs ringing, the answer's show, legs gone after it; then a pause. */
  type Step = { end?: string[]; ring?: string[]; answer?: string; endAfter?: string[]; waitMs?: number };
  const scenarios: Array<{ name: string; steps: Step[]; target: number }> = [
    // Asterisk hangs up the other legs, then runs U() on the answerer.
    { name: 'ringall3', steps: [{ ring: ['101', '102', '103'], waitMs: 1500 }, { end: ['101', '103'], answer: '102' }], target: 2 },
    // The queue connects the member first, then hangs up the other members' legs.
    { name: 'queue3', steps: [{ ring: ['101', '102', '103'], waitMs: 1500 }, { answer: '101', endAfter: ['102', '103'] }], target: 2 },
    { name: 'hunt3', steps: [{ ring: ['101'], waitMs: 1500 }, { end: ['101'], ring: ['102'], waitMs: 1500 }, { end: ['102'], ring: ['103'], waitMs: 1500 }, { answer: '103' }], target: 3 },
    { name: 'brief', steps: [{ ring: ['101'], waitMs: 100 }, { end: ['101'], ring: ['102'], waitMs: 1500 }, { answer: '102' }], target: 1 },
  ];
  const measured: Record<string, number> = {};
  try {
    for (const [n, sc] of scenarios.entries()) {
      const uid = nextUniqueid();
      const channel = inboundFacts(uid);
      const r = await runFastAgi({ port: svc.port, script: 'incoming', args: [DID], env: { agi_uniqueid: uid, agi_callerid: randomCaller(ctx.rand) }, vars: channel });
      checkFast(ctx, `S5 ${sc.name} incoming`, r);
      const callId = r.vars.__BITRIX_CALL_ID ?? '';
      const vars = { ...channel, BITRIX_CALL_ID: callId };
      const leg = (ext: string) => `PJSIP/${ext}-${String(n).padStart(4, '0')}${ext}`;
      const before = cardRequests();
      for (const step of sc.steps) {
        const ringEnd = (ext: string) => runFastAgi({ port: svc.port, script: 'ringend', args: [ext, uid], env: { agi_channel: leg(ext) }, dead: true });
        for (const ext of step.end ?? []) await ringEnd(ext);
        for (const ext of step.ring ?? []) await runFastAgi({ port: svc.port, script: 'ring', args: [ext, uid, callId], env: { agi_channel: leg(ext) } });
        if (step.answer) {
          recordAnswer(vars, step.answer);
          await runFastAgi({ port: svc.port, script: 'show', args: [step.answer], env: { agi_uniqueid: `${uid}1`, agi_channel: leg(step.answer) }, vars });
        }
        for (const ext of step.endAfter ?? []) await ringEnd(ext);
        await sleep(step.waitMs ?? WINDOW * 3);
      }
      measured[sc.name] = cardRequests() - before;
      await runFastAgi({ port: svc.port, script: 'hangup', env: { agi_uniqueid: uid }, vars: endFacts({ ...vars, FROM_DID: DID }), dead: true });
      await sleep(WINDOW * 2);
      const answerer = sc.steps.find((s) => s.answer)?.answer as string;
      const shownTo = new Set(fake.shows.filter((x) => x.callId === callId).flatMap((x) => x.userIds));
      if (!shownTo.has(users[answerer])) ctx.anomalies.push(`S5 ${sc.name}: the answerer ${answerer} has no card`);
    }
  } finally {
    await stopped(svc);
    await fake.stop();
  }
  ctx.info.ringingCards = measured;
  for (const sc of scenarios) {
    const v = measured[sc.name];
    ctx.target(`service.cards.${sc.name}`, v, `${v} request(s) for the call's cards`, `${sc.target}`, v === sc.target);
  }
}

/** S1: FastAGI incoming and show against a portal answering at once, the CLI path beside it. */
async function portalAtOnce(ctx: BenchContext): Promise<void> {
  ctx.progress(`S1: service vs CLI, portal answering at once (${ctx.serviceRuns} service calls, ${ctx.runs} CLI calls, interleaved)`);
  const fake = await FakeBitrix.start({ rateLimit: false });
  seedDemo(fake);
  const t = testSetup({ webhookUrl: fake.webhookUrl, dids: [DID], logLevel: 'info', attachRecordings: false, rateLimitPerSecond: 100, rateLimitBurst: 1000 });
  ctx.setups.push(t);
  const svc = await startService(t);
  const inc: number[] = [];
  const shows: number[] = [];
  const floor: number[] = [];
  const cliInc: number[] = [];
  const cliShow: number[] = [];
  const every = Math.max(1, Math.floor(ctx.serviceRuns / ctx.runs));
  try {
    for (let i = -5; i < ctx.serviceRuns; i++) {
      const uid = nextUniqueid();
      const channel = inboundFacts(uid);
      const r = await runFastAgi({ port: svc.port, script: 'incoming', args: [DID], env: { agi_uniqueid: uid, agi_callerid: randomCaller(ctx.rand) }, vars: channel });
      checkFast(ctx, 'S1 incoming', r);
      if (!r.vars.__BITRIX_CALL_ID) ctx.anomalies.push('S1 incoming: not registered');
      const vars = { ...channel, BITRIX_CALL_ID: r.vars.__BITRIX_CALL_ID ?? '' };
      await sleep(RING_MS);
      recordAnswer(vars, '101');
      const s = await runFastAgi({ port: svc.port, script: 'show', args: ['101'], env: { agi_uniqueid: `${uid}1` }, vars });
      checkFast(ctx, 'S1 show', s);
      // The floor beside it: a show on a channel that is not ours (one AGI round trip, no database).
      const f = await runFastAgi({ port: svc.port, script: 'show', args: ['101'], env: { agi_uniqueid: `${uid}9` }, vars: {} });
      if (i < 0) continue;
      inc.push(r.durationMs);
      shows.push(s.durationMs);
      floor.push(f.durationMs);
      if (i % every === 0) {
        const uid2 = nextUniqueid();
        const ch2 = inboundFacts(uid2);
        const c = await timedAgi({ script: 'itd_bitrix_incoming.js', args: [DID], env: { agi_uniqueid: uid2, agi_callerid: randomCaller(ctx.rand) }, vars: ch2, configPath: t.configPath });
        cliInc.push(c.ms);
        const v2 = { ...ch2, BITRIX_CALL_ID: c.result.vars.__BITRIX_CALL_ID ?? '' };
        recordAnswer(v2, '101');
        cliShow.push((await timedAgi({ script: 'itd_bitrix_show.js', args: ['101'], env: { agi_uniqueid: `${uid2}1` }, vars: v2, configPath: t.configPath })).ms);
        await cardsDone(uid2); // its card goes out from a process of its own, not timed
      }
    }
    // every show after the first found the card shown (the service sends them as tasks: give the last one time)
    const shown = () => fake.shows.filter((x) => x.userIds.includes(12) && x.result).length;
    for (let i = 0; i < 50 && shown() < inc.length; i++) await sleep(100);
    const cards = shown();
    if (cards < inc.length) ctx.anomalies.push(`S1: ${cards} cards for ${inc.length} shows`);
  } finally {
    const st = await stopped(svc);
    ctx.info.serviceS1 = { status: st };
    await fake.stop();
  }
  ctx.info.serviceLatency0 = { incoming: { p50: ms(inc, 50), p99: ms(inc, 99) }, show: { p50: ms(shows, 50), p99: ms(shows, 99) }, showNotOurs: { p50: ms(floor, 50), p99: ms(floor, 99) }, cli: { incomingP50: ms(cliInc, 50), incomingP99: ms(cliInc, 99), showP50: ms(cliShow, 50) } };
  const p50 = percentile(inc, 50);
  const p99 = percentile(inc, 99);
  ctx.target(
    'service.incoming.latency0',
    p50,
    `p50 ${r1(p50)} ms, p99 ${r1(p99)} ms over ${inc.length} calls (CLI beside it: p50 ${ms(cliInc, 50)} ms, p99 ${ms(cliInc, 99)} ms over ${cliInc.length})`,
    'p50 <= 10 ms, p99 <= 30 ms',
    p50 <= 10 && p99 <= 30,
  );
  const s99 = percentile(shows, 99);
  ctx.target(
    'service.show.bridge',
    s99,
    `p99 ${r1(s99)} ms, p50 ${ms(shows, 50)} ms over ${shows.length} shows (floor, a show of a call not ours: p50 ${ms(floor, 50)} ms, p99 ${ms(floor, 99)} ms; CLI beside it: p50 ${ms(cliShow, 50)} ms, p99 ${ms(cliShow, 99)} ms)`,
    'p99 <= 10 ms',
    s99 <= 10,
  );
}

/** S2: a portal 50 ms away over TLS, every packet delayed; warm service vs the CLI's fresh connection. */
async function portalFarAway(ctx: BenchContext): Promise<void> {
  const RTT = 50;
  const cert = localhostCertificate();
  if (!cert) {
    ctx.anomalies.push('S2: openssl missing; the far-away portal was not measured');
    ctx.target('service.incoming.rtt50', NaN, 'n/a (no openssl)', `<= 1 RTT + 15 = ${RTT + 15} ms`, false);
    return;
  }
  ctx.progress(`S2: portal at ${RTT} ms RTT over TLS (delay proxy), ${ctx.runs} interleaved rounds`);
  const fake = await FakeBitrix.start({ rateLimit: false });
  seedDemo(fake);
  const front = await tlsFront(Number(new URL(fake.url).port), cert.key, cert.cert);
  const far = await delayProxy(front.port, RTT / 2);
  const code = fake.webhookUrl.split('/')[5];
  const t = testSetup({
    webhookUrl: `https://localhost:${far.port}/rest/1/${code}/`,
    dids: [DID],
    logLevel: 'info',
    attachRecordings: false,
    rateLimitPerSecond: 100,
    rateLimitBurst: 1000,
  });
  ctx.setups.push(t);
  const trust = { NODE_EXTRA_CA_CERTS: cert.certPath };
  const svc = await startService(t, trust);
  const service: number[] = [];
  const cli: number[] = [];
  try {
    for (let round = -2; round < ctx.runs; round++) {
      const uid = nextUniqueid();
      const r = await runFastAgi({ port: svc.port, script: 'incoming', args: [DID], env: { agi_uniqueid: uid, agi_callerid: randomCaller(ctx.rand) }, vars: inboundFacts(uid) });
      checkFast(ctx, 'S2 incoming', r);
      if (!r.vars.__BITRIX_CALL_ID) ctx.anomalies.push('S2 service incoming: not registered');
      const uid2 = nextUniqueid();
      const c = await timedAgi({
        script: 'itd_bitrix_incoming.js',
        args: [DID],
        env: { agi_uniqueid: uid2, agi_callerid: randomCaller(ctx.rand) },
        vars: inboundFacts(uid2),
        configPath: t.configPath,
        processEnv: trust,
      });
      if (!c.result.vars.__BITRIX_CALL_ID) ctx.anomalies.push('S2 CLI incoming: not registered');
      if (round < 0) continue;
      service.push(r.durationMs);
      cli.push(c.ms);
    }
  } finally {
    await stopped(svc);
    await far.close();
    await front.close();
    await fake.stop();
  }
  const v = median(service);
  ctx.info.serviceRtt50 = { service: { p50: r1(v), p90: ms(service, 90) }, cli: { p50: ms(cli, 50), p90: ms(cli, 90) } };
  ctx.target(
    'service.incoming.rtt50',
    v,
    `median ${r1(v)} ms (p90 ${ms(service, 90)} ms) warm over TLS; CLI beside it ${ms(cli, 50)} ms (p90 ${ms(cli, 90)} ms): start-up + TCP + TLS + request`,
    `<= 1 RTT + 15 = ${RTT + 15} ms`,
    v <= RTT + 15,
  );
}

/**
 * S3/S4: `n` calls through the service, all arriving within `spreadMs` (0: the same instant), at
 * the portal's standard plan (2 req/s, burst 50) and a config at defaults. Each call: incoming,
 * ring, an operator answers (show), talk, hangup.
 */
async function burst(ctx: BenchContext, n: number, spreadMs: number): Promise<void> {
  const name = spreadMs ? `service.calls${n}.over${spreadMs / 1000}s` : `service.concurrent${n}`;
  ctx.progress(`${spreadMs ? 'S4' : 'S3'}: ${n} calls ${spreadMs ? `over ${spreadMs / 1000} s` : 'in the same instant'} through the service, standard plan (2/s, burst 50)`);
  const fake = await FakeBitrix.start();
  seedDemo(fake);
  const t = testSetup({ webhookUrl: fake.webhookUrl, dids: [DID], logLevel: 'info', attachRecordings: false });
  ctx.setups.push(t);
  const budget = { incoming: 2000, show: 1500 };
  const svc = await startService(t);
  const calls = Array.from({ length: n }, (_, i) => ({
    uid: nextUniqueid(),
    caller: randomCaller(ctx.rand),
    ext: i % 2 ? '102' : '101',
    at: spreadMs ? ctx.rand() * spreadMs : 0,
    ring: spreadMs ? 1000 + ctx.rand() * 3000 : 0,
    talk: spreadMs ? 2000 + ctx.rand() * 3000 : 1100,
  }));
  const results: Array<{ inc: FastAgiResult; show: FastAgiResult; hup: FastAgiResult }> = [];
  const t0 = Date.now();
  const one = async (c: (typeof calls)[number]) => {
    await sleep(c.at);
    const channel = inboundFacts(c.uid);
    const inc = await runFastAgi({ port: svc.port, script: 'incoming', args: [DID], env: { agi_uniqueid: c.uid, agi_callerid: c.caller }, vars: channel });
    const vars: CallChannel = { ...channel, BITRIX_CALL_ID: inc.vars.__BITRIX_CALL_ID ?? '' };
    return { c, inc, vars };
  };
  let status;
  try {
    let phase1;
    if (spreadMs) {
      // each call on its own clock
      const all = await Promise.all(
        calls.map(async (c) => {
          const { inc, vars } = await one(c);
          await sleep(c.ring);
          recordAnswer(vars, c.ext);
          const show = await runFastAgi({ port: svc.port, script: 'show', args: [c.ext], env: { agi_uniqueid: `${c.uid}1` }, vars: { ...vars, 'CHANNEL(linkedid)': c.uid } });
          await sleep(c.talk);
          const hup = await runFastAgi({ port: svc.port, script: 'hangup', env: { agi_uniqueid: c.uid, agi_callerid: c.caller }, vars: endFacts({ ...vars, FROM_DID: DID }), dead: true });
          return { inc, show, hup };
        }),
      );
      results.push(...all);
    } else {
      // all ring at once, all answered at once, all hang up at once
      phase1 = await Promise.all(calls.map(one));
      phase1.forEach(({ c, vars }) => recordAnswer(vars, c.ext));
      const shows = await Promise.all(
        phase1.map(({ c, vars }) => runFastAgi({ port: svc.port, script: 'show', args: [c.ext], env: { agi_uniqueid: `${c.uid}1` }, vars: { ...vars, 'CHANNEL(linkedid)': c.uid } })),
      );
      await sleep(1100);
      const hups = await Promise.all(
        phase1.map(({ c, vars }) => runFastAgi({ port: svc.port, script: 'hangup', env: { agi_uniqueid: c.uid, agi_callerid: c.caller }, vars: endFacts({ ...vars, FROM_DID: DID }), dead: true })),
      );
      phase1.forEach((p, i) => results.push({ inc: p.inc, show: shows[i], hup: hups[i] }));
    }
    // the service finishes the calls itself (hangup flow, then its outbox drain)
    const until = Date.now() + 60_000;
    const ids = new Set(calls.map((c) => c.uid));
    while (Date.now() < until && [...fake.finishedCalls.values()].filter((f) => ids.has(f.EXTERNAL_CALL_ID)).length < n) await sleep(200);
  } finally {
    status = await stopped(svc);
    await fake.stop();
  }
  const wall = Date.now() - t0;
  results.forEach((r, i) => {
    checkFast(ctx, `${name} incoming`, r.inc);
    checkFast(ctx, `${name} show`, r.show);
    checkFast(ctx, `${name} hangup`, r.hup);
    void i;
  });
  const ids = new Set(calls.map((c) => c.uid));
  const registeredInStep = results.filter((r) => r.inc.vars.__BITRIX_CALL_ID && r.inc.durationMs <= budget.incoming).length;
  const cards = fake.shows.filter((s) => s.result && s.userIds.some((u) => u === 12 || u === 15)).length;
  const finished = [...fake.finishedCalls.values()].filter((f) => ids.has(f.EXTERNAL_CALL_ID));
  const finishedIds = new Set(finished.map((f) => f.EXTERNAL_CALL_ID));
  const regs = new Map<string, Set<string>>();
  for (const c of [...fake.activeCalls.values(), ...fake.finishedCalls.values()]) {
    if (!ids.has(c.EXTERNAL_CALL_ID)) continue;
    if (!regs.has(c.EXTERNAL_CALL_ID)) regs.set(c.EXTERNAL_CALL_ID, new Set());
    regs.get(c.EXTERNAL_CALL_ID)!.add(c.CALL_ID);
  }
  const duplicates = [...regs.values()].filter((s) => s.size > 1).length + (finished.length - finishedIds.size);
  const byUid = new Map(calls.map((c) => [c.uid, c]));
  const missed = finished.filter((f) => f.CALL_FAILED_CODE !== '200' || f.PORTAL_USER_ID !== OPERATORS[byUid.get(f.EXTERNAL_CALL_ID)!.ext]).length;
  const r503 = fake.rateLimit503Count();
  const incMs = results.map((r) => r.inc.durationMs);
  const showMs = results.map((r) => r.show.durationMs);
  const hupMs = results.map((r) => r.hup.durationMs);
  const eld = status?.eventLoopDelayMs.maxSinceStart ?? NaN;
  const detail = {
    calls: n,
    registeredByIncoming: registeredInStep,
    cardsShown: cards,
    finished: finishedIds.size,
    answeredReportedMissed: missed,
    duplicates,
    rateLimit503: r503,
    httpRequests: fake.httpRequestCount(),
    incomingMs: { p50: ms(incMs, 50), p99: ms(incMs, 99), max: r1(Math.max(...incMs)) },
    showMs: { p50: ms(showMs, 50), p99: ms(showMs, 99), max: r1(Math.max(...showMs)) },
    hangupMs: { p50: ms(hupMs, 50), max: r1(Math.max(...hupMs)) },
    eventLoopDelayMaxMs: eld,
    serviceRssMB: status?.memory.rssMB,
    bitrix: status?.bitrix,
    wallS: r1(wall / 1000),
  };
  ctx.info[name] = detail;
  const pass = registeredInStep === n && cards === n && finishedIds.size === n && missed === 0 && r503 === 0 && duplicates === 0;
  ctx.target(
    name,
    registeredInStep,
    `registered by the incoming step ${registeredInStep}/${n}, cards ${cards}/${n}, finished ${finishedIds.size}/${n}, answered reported missed ${missed}, 503s ${r503}, duplicates ${duplicates}`,
    `${n}/${n} registered in budget, ${n}/${n} cards, 0 missed, 0 503s`,
    pass,
  );
  ctx.note(
    `${name} detail: ${fake.httpRequestCount()} HTTP requests for ${n} calls (${status?.bitrix.batched ?? '?'} coalesced batches), incoming p50 ${detail.incomingMs.p50} / p99 ${detail.incomingMs.p99} / max ${detail.incomingMs.max} ms, ` +
      `show p50 ${detail.showMs.p50} / p99 ${detail.showMs.p99} ms, hangup p50 ${detail.hangupMs.p50} ms; service event-loop delay max ${eld} ms, RSS ${status?.memory.rssMB} MB; ${detail.wallS} s`,
  );
  if (!(eld <= 50)) ctx.anomalies.push(`${name}: event-loop stall of ${eld} ms`);
}
