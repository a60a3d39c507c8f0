// `npm run bench` (bench/run.mjs → tsx bench/bench.ts): issue 6's targets, measured in one run
// against the built agi-bin/ and the loopback fake Bitrix24. Builds nothing.
// Prints one line per target (`name: measured … target … PASS|FAIL`), `#` lines for context,
// then one JSON summary line. Exits 0 even when a target fails; non-zero only if the bench broke.
//
// Options: --runs N (interleaved rounds for the medians, default 25), --concurrent N (default 50),
//          --rss-runs N (default 5), --keep (keep the temp config/database/log folders),
//          --concurrent-only (only the N-concurrent-calls part).
import { execFileSync } from 'child_process';
import { readFileSync, rmSync } from 'fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'os';
import { join } from 'path';
import { FakeBitrix, seedDemo } from '../test/fake-bitrix/server';
import { testSetup, TestSetup } from '../test/helpers/config';
import { cardsDone, endFacts, inboundFacts, recordAnswer } from '../test/helpers/facts';
import { dumpedFixture, freepbxPbx } from '../test/helpers/pbx/freepbx';
import type { AgiRunOptions, AgiRunResult } from '../test/helpers/fake-asterisk';
import { serviceTargets } from './service-bench';
import {
  AGI_BIN,
  agiPeakRss,
  cleanupTmp,
  drainOutbox,
  fileSize,
  gnuTimeAvailable,
  median,
  nextUniqueid,
  percentile,
  prng,
  r1,
  r2,
  randomCaller,
  requireBuilt,
  ROOT,
  rssWrapper,
  sleep,
  sqliteBinding,
  timedAgi,
  timedNodeFloor,
} from './lib';

const DID = '74951234567';
const UNLISTED_DID = '74950000000';
const BENCH_DIR = join(ROOT, 'bench');
const PHP = 'php';

function opt(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}
const RUNS = opt('runs', 25);
const CONCURRENT = opt('concurrent', 50);
const RSS_RUNS = opt('rss-runs', 5);
const QUEUE_CALLS = opt('queue-calls', 10);
const KEEP = process.argv.includes('--keep');
const CONCURRENT_ONLY = process.argv.includes('--concurrent-only'); // skip A–C (debugging part E)
const SERVICE_RUNS = opt('service-runs', 200);
const CARDS_ONLY = process.argv.includes('--cards-only'); // only S5, card requests per ringing call
const SERVICE_ONLY = CARDS_ONLY || process.argv.includes('--service-only'); // only the resident service's part S
const NO_SERVICE = process.argv.includes('--no-service');

interface Target {
  name: string;
  measured: string;
  target: string;
  pass: boolean;
  value: number;
}
const targets: Target[] = [];
const info: Record<string, unknown> = {};
const anomalies: string[] = [];

function target(name: string, value: number, measured: string, targetText: string, pass: boolean): void {
  targets.push({ name, measured, target: targetText, pass, value });
  process.stdout.write(`${name}: measured ${measured} target ${targetText} ${pass ? 'PASS' : 'FAIL'}\n`);
}
function note(line: string): void {
  process.stdout.write(`# ${line}\n`);
}
function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

function checkSession(label: string, r: AgiRunResult, opts: { commands?: boolean } = {}): void {
  if (r.exitCode !== 0) anomalies.push(`${label}: exit ${r.exitCode} ${r.signal ?? ''}`);
  if (r.stderr) anomalies.push(`${label}: stderr ${r.stderr.trim().slice(0, 200)}`);
  if (r.rejected.length) anomalies.push(`${label}: rejected ${r.rejected.join(' | ')}`);
  if (opts.commands === false && r.commands.length) anomalies.push(`${label}: sent ${r.commands.length} AGI command(s) on the no-op path`);
}

function machine(): Record<string, unknown> {
  let php = '';
  try {
    php = execFileSync(PHP, ['-r', 'echo PHP_VERSION;'], { encoding: 'utf8' });
  } catch {
    php = 'missing';
  }
  return {
    cpu: cpus()[0]?.model ?? '?',
    cores: cpus().length,
    memGB: r1(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    php,
  };
}

async function main(): Promise<void> {
  requireBuilt();
  const m = machine();
  info.machine = m;
  note(`machine: ${m.cpu}, ${m.cores} cores, ${m.memGB} GB, Linux ${m.kernel}, node ${m.node}, php ${m.php}; load average ${loadavg().map(r1).join(' ')}`);
  note(`runs per median: ${RUNS} (interleaved), rss runs: ${RSS_RUNS}, concurrent calls: ${CONCURRENT}`);
  const setups: TestSetup[] = [];
  const rand = prng(6);

  // ================================================================ bundle sizes
  const sizes: Record<string, number> = {};
  for (const f of ['itd_bitrix_incoming.js', 'itd_bitrix_show.js', 'itd_bitrix_hangup.js', 'itd_bitrix.js', sqliteBinding()]) {
    sizes[f] = fileSize(join(AGI_BIN, f));
  }
  info.bundleBytes = sizes;
  note(`bundle sizes: ${Object.entries(sizes).map(([k, v]) => `${k} ${r1(v / 1024)} KiB`).join(', ')}`);

  const incomingListed = (t: TestSetup, caller = randomCaller(rand)): AgiRunOptions => ({
    script: 'itd_bitrix_incoming.js',
    args: [DID],
    env: { agi_uniqueid: nextUniqueid(), agi_callerid: caller },
    configPath: t.configPath,
  });
  if (!CONCURRENT_ONLY && !SERVICE_ONLY) {
    // ================================================================ A: start-up floor and call-path wall time
    // One fake without its own rate limit and a local limiter opened wide, so ≥ 100 incoming runs in
    // a row measure the path, not the 2 req/s budget (that is part E's job).
    const fake = await FakeBitrix.start({ rateLimit: false });
    seedDemo(fake);
    const common = { webhookUrl: fake.webhookUrl, dids: [DID], logLevel: 'info', attachRecordings: false, rateLimitPerSecond: 100, rateLimitBurst: 1000 };
    const tA = testSetup(common);
    const tNoCall = testSetup(common); // show/hangup "not our call": a database without that call
    setups.push(tA, tNoCall);

    const phpIncoming = (t: TestSetup, did: string): AgiRunOptions => ({
      script: 'php-agi-baseline.php' as AgiRunOptions['script'],
      node: PHP,
      agiBin: BENCH_DIR,
      args: [did],
      env: { agi_uniqueid: nextUniqueid(), agi_callerid: randomCaller(rand) },
      configPath: t.configPath,
    });

    let incRequestsMax = 0;
    const samples: Record<string, number[]> = {};
    const items: Array<[string, () => Promise<number>]> = [
      ['floor', () => timedNodeFloor()],
      [
        'startup.incoming',
        async () => {
          const { ms, result } = await timedAgi({ script: 'itd_bitrix_incoming.js', args: [UNLISTED_DID], configPath: tA.configPath });
          checkSession('incoming unlisted', result, { commands: false });
          return ms;
        },
      ],
      [
        'startup.show',
        async () => {
          // member channel whose call is not ours: no BITRIX_UNIQUEID, linkedid unknown to the database
          const uid = nextUniqueid();
          const { ms, result } = await timedAgi({ script: 'itd_bitrix_show.js', args: ['101'], env: { agi_uniqueid: uid }, vars: {}, configPath: tNoCall.configPath });
          checkSession('show no call', result);
          return ms;
        },
      ],
      [
        'startup.hangup',
        async () => {
          // hangup handler of a channel that is not ours: no BITRIX_UNIQUEID, no row in the database
          const { ms, result } = await timedAgi({
            script: 'itd_bitrix_hangup.js',
            env: { agi_uniqueid: nextUniqueid(), agi_context: 'itd-bitrix-hangup' },
            vars: {},
            dead: true,
            configPath: tNoCall.configPath,
          });
          checkSession('hangup no call', result);
          return ms;
        },
      ],
      ...([0, 100] as const).map(
        (lat): [string, () => Promise<number>] => [
          `incoming.lat${lat}`,
          async () => {
            fake.setLatency(lat);
            const before = fake.httpRequestCount();
            const { ms, result } = await timedAgi(incomingListed(tA));
            fake.setLatency(0);
            incRequestsMax = Math.max(incRequestsMax, fake.httpRequestCount() - before);
            checkSession(`incoming lat ${lat}`, result);
            if (!/^externalCall\./.test(result.vars.__BITRIX_CALL_ID ?? '')) anomalies.push(`incoming lat ${lat}: not registered in the AGI`);
            return ms;
          },
        ],
      ),
      [
        'php.startup',
        async () => {
          const { ms, result } = await timedAgi(phpIncoming(tA, UNLISTED_DID));
          checkSession('php unlisted', result, { commands: false });
          return ms;
        },
      ],
      ...([0, 100] as const).map(
        (lat): [string, () => Promise<number>] => [
          `php.incoming.lat${lat}`,
          async () => {
            fake.setLatency(lat);
            const { ms, result } = await timedAgi(phpIncoming(tA, DID));
            fake.setLatency(0);
            checkSession(`php incoming lat ${lat}`, result);
            if (!/^externalCall\./.test(result.vars.__BITRIX_CALL_ID ?? '')) anomalies.push(`php incoming lat ${lat}: not registered`);
            return ms;
          },
        ],
      ),
    ];
    progress(`A: ${items.length} commands × (2 warm-up + ${RUNS}) interleaved rounds`);
    for (let round = -2; round < RUNS; round++) {
      const shift = ((round % items.length) + items.length) % items.length;
      const order = [...items.slice(shift), ...items.slice(0, shift)];
      for (const [name, run] of order) {
        const ms = await run();
        if (round >= 0) (samples[name] ??= []).push(ms);
      }
    }
    const med: Record<string, number> = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
    info.medianMs = Object.fromEntries(Object.entries(med).map(([k, v]) => [k, r1(v)]));
    info.p90Ms = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, r1(percentile(v, 90))]));
    const floor = med.floor;
    note(`floor: node -e 0 median ${r1(floor)} ms (p90 ${r1(percentile(samples.floor, 90))} ms, min ${r1(Math.min(...samples.floor))} ms)`);
    for (const exe of ['incoming', 'show', 'hangup']) {
      const v = med[`startup.${exe}`];
      const ratio = v / floor;
      target(`startup.${exe}`, ratio, `${r2(ratio)}x (${r1(v)} ms vs node -e 0 ${r1(floor)} ms)`, '<= 1.3x', ratio <= 1.3);
    }
    {
      const v = med['incoming.lat0'];
      const ratio = v / floor;
      target('incoming.wall.latency0', ratio, `${r2(ratio)}x (${r1(v)} ms vs floor ${r1(floor)} ms)`, '<= 1.5x floor', ratio <= 1.5);
      const v100 = med['incoming.lat100'];
      const limit = floor + 130;
      target('incoming.wall.latency100', v100, `${r1(v100)} ms`, `<= floor + 100 + 30 = ${r1(limit)} ms`, v100 <= limit);
    }
    note(
      `php baseline (php-cli ${m.php}, bench/php-agi-baseline.php, no database): start-up ${r1(med['php.startup'])} ms (${r2(med['php.startup'] / floor)}x node -e 0), ` +
        `incoming ${r1(med['php.incoming.lat0'])} ms at 0 ms latency, ${r1(med['php.incoming.lat100'])} ms at 100 ms`,
    );
    note(
      `ours vs php: start-up ${r1(med['startup.incoming'])} vs ${r1(med['php.startup'])} ms, incoming ${r1(med['incoming.lat0'])} vs ${r1(med['php.incoming.lat0'])} ms, ` +
        `at 100 ms latency ${r1(med['incoming.lat100'])} vs ${r1(med['php.incoming.lat100'])} ms`,
    );

    // ================================================================ B: round trips and requests per call
    progress('B: round trips (fresh database: user map cold, then warm)');
    const tB = testSetup(common);
    setups.push(tB);
    fake.setLatency(0);
    const requestsOf = async (fn: () => Promise<AgiRunResult>, label: string) => {
      const before = fake.requests.length;
      const beforeCount = fake.httpRequestCount();
      const r = await fn();
      checkSession(label, r);
      const reqs = fake.requests.slice(before).filter((q) => q.method !== 'oauth.token');
      return {
        r,
        n: fake.httpRequestCount() - beforeCount,
        methods: reqs.map((q) => (q.subcalls?.length ? `batch(${q.subcalls.map((s) => s.method).join('+')})` : q.method)),
      };
    };
    const oneCall = async () => {
      const uid = nextUniqueid();
      const call = inboundFacts(uid);
      const inc = await requestsOf(
        async () => (await timedAgi({ ...incomingListed(tB), env: { agi_uniqueid: uid, agi_callerid: randomCaller(rand) }, vars: call })).result,
        'B incoming',
      );
      const inherited = { ...call, BITRIX_CALL_ID: inc.r.vars.__BITRIX_CALL_ID ?? '' };
      recordAnswer(inherited, '101');
      const sh = await requestsOf(async () => {
        const r = await timedAgi({
          script: 'itd_bitrix_show.js',
          args: ['101'],
          env: { agi_uniqueid: `${uid}1`, agi_channel: 'PJSIP/101-00000002' },
          vars: inherited,
          configPath: tB.configPath,
        });
        await cardsDone(uid); // the card goes out from its own process
        return r.result;
      }, 'B show');
      await sleep(1100); // a second of talk: an answered call with DURATION ≥ 1
      const hup = await requestsOf(
        async () =>
          (
            await timedAgi({
              script: 'itd_bitrix_hangup.js',
              env: { agi_uniqueid: uid, agi_context: 'itd-bitrix-hangup' },
              vars: endFacts(inherited),
              dead: true,
              configPath: tB.configPath,
            })
          ).result,
        'B hangup',
      );
      const finished = fake.finishedCalls.get(inherited.BITRIX_CALL_ID);
      if (!finished) anomalies.push(`B: call ${uid} not finished at the fake`);
      else if (finished.CALL_FAILED_CODE !== '200') anomalies.push(`B: call ${uid} finished with ${finished.CALL_FAILED_CODE}, expected 200`);
      return { inc, sh, hup };
    };
    const cold = await oneCall();
    const warm = await oneCall();
    info.requests = {
      cold: { incoming: cold.inc.methods, show: cold.sh.methods, hangup: cold.hup.methods },
      warm: { incoming: warm.inc.methods, show: warm.sh.methods, hangup: warm.hup.methods },
    };
    note(`requests, first call (cold caches): incoming ${cold.inc.methods.join(', ')}; show ${cold.sh.methods.join(', ')}; hangup ${cold.hup.methods.join(', ')}`);
    note(`requests, next call (warm): incoming ${warm.inc.methods.join(', ')}; show ${warm.sh.methods.join(', ')}; hangup ${warm.hup.methods.join(', ')}`);
    target('roundtrips.incoming', Math.max(incRequestsMax, warm.inc.n), `${Math.max(incRequestsMax, warm.inc.n)} request(s) (max over ${2 * RUNS + 2} calls)`, '1', Math.max(incRequestsMax, warm.inc.n) === 1);
    target('roundtrips.show.warm', warm.sh.n, `${warm.sh.n}`, '1', warm.sh.n === 1);
    target('roundtrips.show.cold', cold.sh.n, `${cold.sh.n}`, '<= 2', cold.sh.n <= 2);
    target('roundtrips.hangup', warm.hup.n, `${warm.hup.n} (${warm.hup.methods.join(', ')})`, '1 batch', warm.hup.n === 1);
    const perCall = warm.inc.n + warm.sh.n + warm.hup.n;
    target('requests.per.answered.call', perCall, `${perCall}`, '<= 3', perCall <= 3);

    // ================================================================ C: peak RSS
    if (gnuTimeAvailable()) {
      progress(`C: peak RSS under /usr/bin/time -f %M, ${RSS_RUNS} full call-path runs per executable`);
      const peak: Record<string, number[]> = { incoming: [], show: [], hangup: [], 'incoming.unlisted': [], 'node -e 0': [], 'php.incoming': [] };
      for (let i = 0; i < RSS_RUNS; i++) {
        const uid = nextUniqueid();
        const call = inboundFacts(uid);
        const inc = await agiPeakRss({ ...incomingListed(tB), env: { agi_uniqueid: uid, agi_callerid: randomCaller(rand) }, vars: call });
        checkSession('C incoming', inc.result);
        peak.incoming.push(inc.mb);
        const inherited = { ...call, BITRIX_CALL_ID: inc.result.vars.__BITRIX_CALL_ID ?? '' };
        recordAnswer(inherited, '102');
        // The show step itself; the card process it starts is the operator CLI (not measured here).
        const sh = await agiPeakRss({ script: 'itd_bitrix_show.js', args: ['102'], env: { agi_uniqueid: `${uid}1` }, vars: inherited, configPath: tB.configPath });
        checkSession('C show', sh.result);
        peak.show.push(sh.mb);
        await cardsDone(uid);
        const hup = await agiPeakRss({ script: 'itd_bitrix_hangup.js', env: { agi_uniqueid: uid }, vars: endFacts(inherited), dead: true, configPath: tB.configPath });
        checkSession('C hangup', hup.result);
        peak.hangup.push(hup.mb);
        peak['incoming.unlisted'].push((await agiPeakRss({ script: 'itd_bitrix_incoming.js', args: [UNLISTED_DID], configPath: tB.configPath })).mb);
        peak['php.incoming'].push((await agiPeakRss(phpIncoming(tB, DID), '/usr/bin/php')).mb);
      }
      // node -e 0 under the same wrapper, for reference
      for (let i = 0; i < RSS_RUNS; i++) {
        const out = join(tmpdir(), `itd-bench-floor-rss-${process.pid}-${i}.txt`);
        execFileSync(rssWrapper(), ['-e', '0'], { env: { ...process.env, BENCH_RSS_OUT: out } });
        peak['node -e 0'].push(Number(readFileSync(out, 'utf8').trim().split('\n').pop()) / 1024);
        rmSync(out, { force: true });
      }
      info.peakRssMB = Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, r1(Math.max(...v))]));
      for (const exe of ['incoming', 'show', 'hangup']) {
        const v = Math.max(...peak[exe]);
        target(`rss.${exe}`, v, `${r1(v)} MB (max of ${RSS_RUNS}, full call path)`, '<= 60 MB', v <= 60);
      }
      note(`peak RSS for reference: node -e 0 ${r1(Math.max(...peak['node -e 0']))} MB, incoming unlisted ${r1(Math.max(...peak['incoming.unlisted']))} MB, php incoming ${r1(Math.max(...peak['php.incoming']))} MB`);
    } else {
      anomalies.push('C: /usr/bin/time missing; peak RSS not measured');
      for (const exe of ['incoming', 'show', 'hangup']) target(`rss.${exe}`, NaN, 'n/a (no /usr/bin/time)', '<= 60 MB', false);
    }
    await fake.stop();
  }

  // ================================================================ E: N concurrent calls at the portal's default limits
  if (!SERVICE_ONLY) {
    progress(`E: ${CONCURRENT} concurrent calls, fake at default limits (burst 50, 2/s), config at defaults`);
    const fakeE = await FakeBitrix.start();
    seedDemo(fakeE);
    const tE = testSetup({ webhookUrl: fakeE.webhookUrl, dids: [DID], logLevel: 'info', attachRecordings: false });
    setups.push(tE);
    const calls = Array.from({ length: CONCURRENT }, (_, i) => ({ uid: nextUniqueid(), caller: randomCaller(rand), ext: i % 2 ? '102' : '101' }));
    const t0 = Date.now();
    const channels = calls.map((c) => inboundFacts(c.uid));
    const incs = await Promise.all(calls.map((c, i) => timedAgi({ ...incomingListed(tE), env: { agi_uniqueid: c.uid, agi_callerid: c.caller }, vars: channels[i] })));
    const tInc = Date.now();
    const inherited = incs.map((r, i) => ({ ...channels[i], BITRIX_CALL_ID: r.result.vars.__BITRIX_CALL_ID ?? '' }));
    calls.forEach((c, i) => recordAnswer(inherited[i], c.ext));
    const shows = await Promise.all(
      calls.map((c, i) =>
        timedAgi({ script: 'itd_bitrix_show.js', args: [c.ext], env: { agi_uniqueid: `${c.uid}1` }, vars: { ...inherited[i], 'CHANNEL(linkedid)': c.uid }, configPath: tE.configPath }),
      ),
    );
    await cardsDone(); // the cards go out from their own processes
    const tShow = Date.now();
    const hups = await Promise.all(
      // the hangup handler runs on the inbound channel: same caller id, FROM_DID set by FreePBX
      calls.map((c, i) =>
        timedAgi({
          script: 'itd_bitrix_hangup.js',
          env: { agi_uniqueid: c.uid, agi_callerid: c.caller, agi_context: 'itd-bitrix-hangup' },
          vars: endFacts({ ...inherited[i], FROM_DID: DID }),
          dead: true,
          configPath: tE.configPath,
        }),
      ),
    );
    const tHup = Date.now();
    [...incs, ...shows, ...hups].forEach((r, i) => checkSession(`E ${i < CONCURRENT ? 'incoming' : i < 2 * CONCURRENT ? 'show' : 'hangup'}`, r.result));
    const drained = await drainOutbox(tE.dbPath, tE.configPath, 30);
    const tEnd = Date.now();
    const linkedids = new Set(calls.map((c) => c.uid));
    const regByLinked = new Map<string, Set<string>>();
    for (const c of [...fakeE.activeCalls.values(), ...fakeE.finishedCalls.values()]) {
      if (!linkedids.has(c.EXTERNAL_CALL_ID)) continue;
      if (!regByLinked.has(c.EXTERNAL_CALL_ID)) regByLinked.set(c.EXTERNAL_CALL_ID, new Set());
      regByLinked.get(c.EXTERNAL_CALL_ID)!.add(c.CALL_ID);
    }
    const finishedRecords = [...fakeE.finishedCalls.values()].filter((c) => linkedids.has(c.EXTERNAL_CALL_ID));
    const finishedE = [...new Set(finishedRecords.map((c) => c.EXTERNAL_CALL_ID))];
    const finishedTwice = finishedRecords.length - finishedE.length;
    const registered = regByLinked.size;
    const dupRegs = [...regByLinked.values()].filter((s) => s.size > 1).length + finishedTwice;
    const r503 = fakeE.rateLimit503Count();
    const registeredInAgi = inherited.filter((v) => v.BITRIX_CALL_ID).length;
    const cards = fakeE.shows.filter((s) => s.userIds.some((u) => u !== 1)).length;
    const incMax = Math.max(...incs.map((r) => r.ms));
    const showMax = Math.max(...shows.map((r) => r.ms));
    const e = {
      calls: CONCURRENT,
      registered,
      registeredInIncomingAgi: registeredInAgi,
      finished: finishedE.length,
      duplicateRegistrations: dupRegs,
      rateLimit503: r503,
      cardsShown: cards,
      httpRequests: fakeE.httpRequestCount(),
      retryRuns: drained.runs.length,
      outboxLeft: drained.left,
      wallMs: { incomingBurst: tInc - t0, showBurst: tShow - tInc, hangupBurst: tHup - tShow, retryDrain: tEnd - tHup, total: tEnd - t0 },
      incomingMaxMs: Math.round(incMax),
      incomingMedianMs: Math.round(median(incs.map((r) => r.ms))),
      showMaxMs: Math.round(showMax),
    };
    info.concurrent = e;
    await fakeE.stop();
    const okE = registered === CONCURRENT && finishedE.length === CONCURRENT && r503 === 0 && dupRegs === 0;
    target(
      `concurrent.${CONCURRENT}`,
      e.wallMs.total,
      `registered ${registered}/${CONCURRENT}, finished ${finishedE.length}/${CONCURRENT}, 503s ${r503}, duplicates ${dupRegs}, drained in ${r1(e.wallMs.total / 1000)} s`,
      `all registered and finished, 0 503s`,
      okE,
    );
    note(
      `concurrent detail: registered by the incoming AGI ${registeredInAgi}/${CONCURRENT} (the rest back-filled by retry), cards shown ${cards}/${CONCURRENT}, ` +
        `${e.httpRequests} HTTP requests, ${drained.runs.length} retry run(s); walls: incoming burst ${r1(e.wallMs.incomingBurst / 1000)} s ` +
        `(slowest AGI ${e.incomingMaxMs} ms, median ${e.incomingMedianMs} ms, budget 2000 ms), shows ${r1(e.wallMs.showBurst / 1000)} s (slowest ${e.showMaxMs} ms, budget 1500 ms), ` +
        `hangups ${r1(e.wallMs.hangupBurst / 1000)} s, retry drain ${r1(e.wallMs.retryDrain / 1000)} s`,
    );
  }

  // ================================================================ F: show requests per answered queue call
  if (!SERVICE_ONLY) {
    const fx = dumpedFixture();
    if (!fx) anomalies.push('F: utests/fixtures/dump-dialplan.php or php missing; show requests per queue call not measured');
    else {
      progress(`F: ${QUEUE_CALLS} queue calls on the test PBX (generated dialplan), every member picking up in the same millisecond`);
      const fakeF = await FakeBitrix.start({ rateLimit: false });
      seedDemo(fakeF);
      fakeF.addUser({ ID: 17, NAME: 'Oleg', LAST_NAME: 'Sidorov', ACTIVE: true, UF_PHONE_INNER: '103' });
      const tF = testSetup({ webhookUrl: fakeF.webhookUrl, dids: Object.values(fx.dids) as string[], logLevel: 'info' });
      setups.push(tF);
      const pbx = freepbxPbx({ fixture: fx, agiDir: AGI_BIN, spoolDir: tF.dir, agiEnv: { ITD_BITRIX_CONFIG: tF.configPath } });
      for (const u of fx.users) pbx.phone(`PJSIP/${u.ext}`, { answerAfterMs: 3000 });
      const qcalls = Array.from({ length: QUEUE_CALLS }, (_, i) => pbx.inbound({ did: fx.dids.queue, callerNum: `8916800${String(i).padStart(4, '0')}`, hangupAfterTalkMs: 8000 }));
      await pbx.run();
      const answered = qcalls.filter((c) => pbx.events.some((e) => e.type === 'queue-connect' && e.channel === c.channel.name)).length;
      const pickedUp = pbx.trace.filter((x) => x.context === 'macro-auto-blkvm' && x.priority === 1).length;
      const perCall = answered ? fakeF.shows.length / answered : NaN;
      info.queueShows = { calls: QUEUE_CALLS, answered, phonesPickedUp: pickedUp, showRequests: fakeF.shows.length };
      target('queue.shows.per.answered.call', perCall, `${r2(perCall)} (${fakeF.shows.length} show requests for ${answered} answered calls; ${pickedUp} phones picked up)`, '1', perCall === 1);
      await fakeF.stop();
    }
  }

  // ================================================================ S: the resident service (FastAGI), same run
  if (!NO_SERVICE) {
    await serviceTargets({ target, note, progress, anomalies, info, setups, rand, runs: RUNS, serviceRuns: SERVICE_RUNS }, CARDS_ONLY ? 'cards' : undefined);
  }

  // ================================================================ summary
  if (KEEP) note(`kept: ${setups.map((t) => t.dir).join(' ')}`);
  else for (const t of setups) rmSync(t.dir, { recursive: true, force: true });
  cleanupTmp();
  if (anomalies.length) {
    note(`anomalies (${anomalies.length}): ${[...new Set(anomalies)].slice(0, 12).join(' || ')}`);
  }
  const failed = targets.filter((t) => !t.pass).map((t) => t.name);
  note(`load average at the end: ${loadavg().map(r1).join(' ')} (${cpus().length} cores; other processes share them)`);
  note(`${targets.length - failed.length}/${targets.length} targets pass${failed.length ? `; FAIL: ${failed.join(', ')}` : ''}`);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'itd-bitrix',
      at: new Date().toISOString(),
      targets: targets.map((t) => ({ name: t.name, value: Number.isFinite(t.value) ? r2(t.value) : null, measured: t.measured, target: t.target, pass: t.pass })),
      failed,
      anomalies: [...new Set(anomalies)],
      ...info,
    })}\n`,
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench broke: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
