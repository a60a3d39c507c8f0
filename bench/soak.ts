// Soak (issue 5; not in CI): N calls through the built AGIs while the fake Bitrix24 misbehaves at
// random, then `itd_bitrix.js retry` until the outbox is empty. Prints
//   calls lost: N          (must be 0: every call the PBX saw is finished exactly once at the fake)
//   duplicates: N          (must be 0: no phone call registered twice / finished twice)
//   worst incoming delay: X ms (budget …)   and the same for show and hangup
// then a JSON summary line. Exit 0 when lost = duplicates = 0 and no AGI overran its budget by
// more than 100 ms, 1 otherwise, 2 if the soak itself broke.
//
//   node bench/run.mjs soak [--calls 200] [--concurrency 8] [--seed 1] [--fault-rate 0.5]
//                           [--portal-rate 20] [--answer-rate 0.7] [--kill-rate 0]
//   (or: node_modules/.bin/tsx bench/soak.ts …)
//
// Faults, drawn from a seeded PRNG (mulberry32): latency spikes (300 ms … 3 s, for 0.5–3 s),
// down periods (connections reset, 0.3–4 s), 503 QUERY_LIMIT_EXCEEDED bursts, 502 HTML pages,
// 500 INTERNAL_SERVER_ERROR, connection resets, never-answered requests. Which faults come, their
// sizes and the gaps between them are reproducible from --seed; how they line up with the calls
// depends on timing, so two runs with one seed are alike, not identical.
// --kill-rate p: that share of incoming AGIs is SIGKILLed 150–600 ms after spawn (mid-flight).
//
// The fake's rate limit is burst 50 and --portal-rate per second (default 20, not the real
// portal's 2: at 2/s, 200 calls × 3 requests take ≥ 5 minutes of pure waiting); the config's
// limiter is set to the same numbers. The retry phase fast-forwards the outbox (next_at = 0,
// leases cleared) before each `retry` run instead of waiting out the 30 s … 30 min back-off and
// the 90 s finish grace; no AGI or retry is running when it does.
import { rmSync } from 'fs';
import { FakeBitrix, Fault, seedDemo } from '../test/fake-bitrix/server';
import { testSetup } from '../test/helpers/config';
import { endFacts, inboundFacts, recordAnswer } from '../test/helpers/facts';
import { drainOutbox, median, nextUniqueid, percentile, prng, r1, randomCaller, requireBuilt, sleep, timedAgi, withDb } from './lib';

const DID = '74951234567';

function opt(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  return Number.isFinite(v) && v >= 0 ? v : dflt;
}
const CALLS = Math.max(1, Math.floor(opt('calls', 200)));
const CONCURRENCY = Math.max(1, Math.floor(opt('concurrency', 8)));
const SEED = Math.floor(opt('seed', 1));
const FAULT_RATE = opt('fault-rate', 0.5); // fault events per second
const PORTAL_RATE = opt('portal-rate', 20);
const ANSWER_RATE = opt('answer-rate', 0.7);
const KILL_RATE = opt('kill-rate', 0);

// Operators: 101 → user 12, 102 → user 15 (seedDemo), 103 → inactive user, 555 → no user.
const OPERATOR_USER: Record<string, number | null> = { '101': 12, '102': 15, '103': null, '555': null };

interface Plan {
  uid: string;
  caller: string;
  anonymous: boolean;
  answered: boolean;
  ext: string;
  ringMs: number;
  talkMs: number;
  killAtMs: number | null;
}

interface Outcome {
  plan: Plan;
  incomingMs: number;
  showMs: number | null;
  hangupMs: number;
  killed: boolean;
  registeredInAgi: boolean;
  problems: string[];
}

function log(line: string): void {
  process.stderr.write(`[soak] ${line}\n`);
}

async function main(): Promise<number> {
  requireBuilt();
  const planRand = prng(SEED);
  const chaosRand = prng(SEED ^ 0x5eed);
  const plans: Plan[] = Array.from({ length: CALLS }, () => {
    const anonymous = planRand() < 0.03;
    const exts = Object.keys(OPERATOR_USER);
    return {
      uid: nextUniqueid(),
      caller: anonymous ? 'unknown' : randomCaller(planRand),
      anonymous,
      answered: planRand() < ANSWER_RATE,
      ext: exts[Math.floor(planRand() * exts.length)],
      ringMs: Math.floor(planRand() * 300),
      talkMs: Math.floor(planRand() * 1500),
      killAtMs: planRand() < KILL_RATE ? 150 + Math.floor(planRand() * 450) : null,
    };
  });

  const fake = await FakeBitrix.start({ rateLimit: { burst: 50, drainPerSec: PORTAL_RATE } });
  seedDemo(fake);
  const t = testSetup({
    webhookUrl: fake.webhookUrl,
    dids: [DID],
    logLevel: 'info',
    attachRecordings: false,
    rateLimitPerSecond: Math.min(100, PORTAL_RATE),
    rateLimitBurst: 50,
  });
  const budgets = { incoming: 2000, show: 1500, hangup: 4000 }; // the config defaults testSetup leaves alone
  log(`${CALLS} calls, concurrency ${CONCURRENCY}, seed ${SEED}, ${FAULT_RATE} fault events/s, portal ${PORTAL_RATE}/s burst 50, work dir ${t.dir}`);

  // ---------------------------------------------------------------- chaos
  const faultCounts: Record<string, number> = {};
  let chaosOn = true;
  let latencyUntil = 0;
  let downUntil = 0;
  const chaos = (async () => {
    while (chaosOn) {
      await sleep(-Math.log(1 - chaosRand()) * (1000 / Math.max(0.01, FAULT_RATE)));
      if (!chaosOn) break;
      const x = chaosRand();
      const now = Date.now();
      let kind: string;
      if (x < 0.2) {
        kind = 'latency';
        const ms = [300, 800, 1500, 3000][Math.floor(chaosRand() * 4)];
        const dur = 500 + chaosRand() * 2500;
        fake.setLatency(ms);
        latencyUntil = now + dur;
        setTimeout(() => Date.now() >= latencyUntil && fake.setLatency(0), dur + 5);
        kind = `latency${ms}`;
      } else if (x < 0.35) {
        kind = 'down';
        const dur = 300 + chaosRand() * 3700;
        fake.setDown(true);
        downUntil = now + dur;
        setTimeout(() => Date.now() >= downUntil && fake.setDown(false), dur + 5);
      } else {
        const faults: Array<[string, Fault, number]> = [
          ['query_limit', 'query_limit', 10],
          ['html502', 'html502', 5],
          ['internal500', 'internal', 3],
          ['reset', 'reset', 5],
          ['timeout', 'timeout', 2],
        ];
        const [name, fault, max] = faults[Math.floor(chaosRand() * faults.length)];
        fake.failNext(1 + Math.floor(chaosRand() * max), fault);
        kind = name;
      }
      faultCounts[kind] = (faultCounts[kind] ?? 0) + 1;
    }
  })();

  // ---------------------------------------------------------------- calls
  const outcomes: Outcome[] = [];
  let next = 0;
  const started = Date.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= plans.length) return;
      const p = plans[i];
      const o: Outcome = { plan: p, incomingMs: 0, showMs: null, hangupMs: 0, killed: false, registeredInAgi: false, problems: [] };
      // The channel variables the module's dialplan sets (test/helpers/facts.ts).
      const call = inboundFacts(p.uid);
      const inc = await timedAgi({
        script: 'itd_bitrix_incoming.js',
        args: [DID],
        env: { agi_uniqueid: p.uid, agi_callerid: p.caller },
        vars: call,
        configPath: t.configPath,
        ...(p.killAtMs !== null ? { killAfterMs: p.killAtMs } : {}),
      });
      o.incomingMs = inc.ms;
      o.killed = inc.result.signal === 'SIGKILL';
      if (!o.killed && inc.result.exitCode !== 0) o.problems.push(`incoming exit ${inc.result.exitCode} signal ${inc.result.signal} after ${Math.round(inc.ms)} ms`);
      if (inc.result.stderr) o.problems.push(`incoming stderr: ${inc.result.stderr.trim().slice(0, 160)}`);
      if (inc.result.rejected.length) o.problems.push(`incoming rejected: ${inc.result.rejected.join(' | ')}`);
      const vars: Record<string, string> = { ...call, BITRIX_CALL_ID: inc.result.vars.__BITRIX_CALL_ID ?? '' };
      o.registeredInAgi = !!vars.BITRIX_CALL_ID;
      if (p.answered) {
        await sleep(p.ringMs);
        recordAnswer(vars, p.ext);
        const sh = await timedAgi({
          script: 'itd_bitrix_show.js',
          args: [p.ext],
          env: { agi_uniqueid: `${p.uid}1`, agi_channel: `PJSIP/${p.ext}-0000000${i % 10}` },
          vars: { ...vars, 'CHANNEL(linkedid)': p.uid },
          configPath: t.configPath,
        });
        o.showMs = sh.ms;
        if (sh.result.exitCode !== 0) o.problems.push(`show exit ${sh.result.exitCode} signal ${sh.result.signal}`);
        if (sh.result.stderr) o.problems.push(`show stderr: ${sh.result.stderr.trim().slice(0, 160)}`);
        await sleep(p.talkMs);
      }
      const hup = await timedAgi({
        script: 'itd_bitrix_hangup.js',
        env: { agi_uniqueid: p.uid, agi_callerid: p.caller, agi_context: 'itd-bitrix-hangup' },
        vars: endFacts({ ...vars, FROM_DID: DID }),
        dead: true,
        configPath: t.configPath,
      });
      o.hangupMs = hup.ms;
      if (hup.result.exitCode !== 0) o.problems.push(`hangup exit ${hup.result.exitCode} signal ${hup.result.signal}`);
      if (hup.result.stderr) o.problems.push(`hangup stderr: ${hup.result.stderr.trim().slice(0, 160)}`);
      outcomes.push(o);
      if (outcomes.length % 25 === 0) log(`${outcomes.length}/${CALLS} calls done`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const callsWall = Date.now() - started;
  chaosOn = false;
  await chaos;
  fake.clearFaults();
  fake.setDown(false);
  fake.setLatency(0);
  latencyUntil = downUntil = 0;
  const httpDuringCalls = fake.httpRequestCount();
  const r503DuringCalls = fake.rateLimit503Count();

  // ---------------------------------------------------------------- retry until the outbox is empty
  const beforeRetry = await withDb(t.dbPath, (db) => db.all<{ step: string; n: number }>(`SELECT step, COUNT(*) AS n FROM outbox WHERE state = 'pending' GROUP BY step`));
  log(`calls done in ${r1(callsWall / 1000)} s; outbox before retry: ${beforeRetry.map((r) => `${r.step} ${r.n}`).join(', ') || 'empty'}`);
  const retryStarted = Date.now();
  const drained = await drainOutbox(t.dbPath, t.configPath, 40);
  const retryWall = Date.now() - retryStarted;
  const retryProblems = drained.runs.filter((r) => r.code !== 0 || r.stderr).map((r) => `retry exit ${r.code}: ${r.stderr.trim().slice(0, 160)}`);

  // ---------------------------------------------------------------- judge at the fake
  const byExternal = new Map<string, { ids: Set<string>; finished: number; finishedBy: number[] }>();
  const entry = (ext: string) => {
    let e = byExternal.get(ext);
    if (!e) byExternal.set(ext, (e = { ids: new Set(), finished: 0, finishedBy: [] }));
    return e;
  };
  for (const c of fake.activeCalls.values()) entry(c.EXTERNAL_CALL_ID).ids.add(c.CALL_ID);
  for (const c of fake.finishedCalls.values()) {
    const e = entry(c.EXTERNAL_CALL_ID);
    e.ids.add(c.CALL_ID);
    e.finished++;
    e.finishedBy.push(c.PORTAL_USER_ID);
  }
  const expected = plans.filter((p) => !p.anonymous);
  const lost = expected.filter((p) => (byExternal.get(p.uid)?.finished ?? 0) === 0);
  const duplicates = expected.filter((p) => {
    const e = byExternal.get(p.uid);
    return !!e && (e.ids.size > 1 || e.finished > 1);
  });
  const anonymousRegistered = plans.filter((p) => p.anonymous && byExternal.has(p.uid)).length;
  const killedLost = lost.filter((p) => outcomes.find((o) => o.plan === p)?.killed).length;
  // Data quality, not loss: answered by an operator with a Bitrix24 user but finished by someone else.
  const wrongFinisher = expected.filter((p) => {
    const want = p.answered ? OPERATOR_USER[p.ext] : null;
    const e = byExternal.get(p.uid);
    return want !== null && !!e && e.finished > 0 && !e.finishedBy.includes(want);
  }).length;

  const incMs = outcomes.map((o) => o.incomingMs).filter((_, i) => !outcomes[i].killed);
  const showMs = outcomes.map((o) => o.showMs).filter((x): x is number => x !== null);
  const hupMs = outcomes.map((o) => o.hangupMs);
  const worst = { incoming: Math.max(0, ...incMs), show: Math.max(0, ...showMs), hangup: Math.max(0, ...hupMs) };
  const overBudget = (Object.keys(worst) as Array<keyof typeof worst>).filter((k) => worst[k] > budgets[k] + 100);
  const problems = [...outcomes.flatMap((o) => o.problems.map((p) => `${o.plan.uid}: ${p}`)), ...retryProblems];
  const left = drained.left;

  process.stdout.write(`calls: ${CALLS} (${expected.length} reportable, ${CALLS - expected.length} anonymous), answered ${plans.filter((p) => p.answered).length}, killed ${outcomes.filter((o) => o.killed).length}\n`);
  process.stdout.write(`calls lost: ${lost.length}${killedLost ? ` (${killedLost} of them SIGKILLed in incoming)` : ''} (must be 0)\n`);
  process.stdout.write(`duplicates: ${duplicates.length} (must be 0)\n`);
  process.stdout.write(`worst incoming delay: ${Math.round(worst.incoming)} ms (budget ${budgets.incoming} ms; median ${Math.round(median(incMs))}, p99 ${Math.round(percentile(incMs, 99))})\n`);
  process.stdout.write(`worst show delay: ${Math.round(worst.show)} ms (budget ${budgets.show} ms; median ${Math.round(median(showMs))}, p99 ${Math.round(percentile(showMs, 99))})\n`);
  process.stdout.write(`worst hangup time: ${Math.round(worst.hangup)} ms (budget ${budgets.hangup} ms)\n`);
  process.stdout.write(
    `registered by the incoming AGI itself: ${outcomes.filter((o) => o.registeredInAgi).length}/${expected.length}; anonymous registered: ${anonymousRegistered}; ` +
      `answered but finished by another user: ${wrongFinisher}\n`,
  );
  process.stdout.write(
    `faults injected: ${Object.entries(faultCounts).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}; HTTP requests ${httpDuringCalls} during calls, ` +
      `${fake.httpRequestCount() - httpDuringCalls} in retry; fake 503s ${fake.rateLimit503Count()} (${r503DuringCalls} during calls)\n`,
  );
  process.stdout.write(
    `retry: ${drained.runs.length} run(s) in ${r1(retryWall / 1000)} s; outbox left: pending ${left.pending}, blocked ${left.blocked}, failed ${left.failed}; calls phase ${r1(callsWall / 1000)} s\n`,
  );
  if (problems.length) process.stdout.write(`problems (${problems.length}): ${problems.slice(0, 8).join(' || ')}\n`);
  const ok = lost.length === 0 && duplicates.length === 0 && overBudget.length === 0;
  process.stdout.write(
    `${JSON.stringify({
      soak: 'itd-bitrix',
      ok,
      seed: SEED,
      calls: CALLS,
      concurrency: CONCURRENCY,
      reportable: expected.length,
      lost: lost.length,
      lostUniqueids: lost.slice(0, 20).map((p) => p.uid),
      duplicates: duplicates.length,
      duplicateUniqueids: duplicates.slice(0, 20).map((p) => p.uid),
      worstMs: { incoming: Math.round(worst.incoming), show: Math.round(worst.show), hangup: Math.round(worst.hangup) },
      budgetsMs: budgets,
      overBudget,
      registeredInAgi: outcomes.filter((o) => o.registeredInAgi).length,
      anonymousRegistered,
      wrongFinisher,
      faults: faultCounts,
      retryRuns: drained.runs.length,
      outboxLeft: left,
      wallMs: { calls: callsWall, retry: retryWall },
      problems: problems.length,
      workDir: ok ? null : t.dir,
    })}\n`,
  );
  await fake.stop();
  if (ok) rmSync(t.dir, { recursive: true, force: true });
  else log(`kept ${t.dir} (config, database, log) for a look`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`soak broke: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(2);
  },
);
