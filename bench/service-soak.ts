// `node bench/run.mjs service-soak [--calls 10000] [--concurrency 16] [--seed 1] [--keep]`:
// N calls through one resident service (the built `itd_bitrix.js serve`), as fast as the FastAGI
// client can send them, against the loopback fake Bitrix24 (no rate limit at the fake, the
// limiter opened wide: this measures the service, not the portal's 2 req/s). Built to run for
// months means: RSS after the last call within 10 % of RSS after the first 100, no file
// descriptor growth, no event-loop stall over 50 ms, every call finished once. Not in CI.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'fs';
import { FakeBitrix, seedDemo } from '../test/fake-bitrix/server';
import { testSetup } from '../test/helpers/config';
import { endFacts, inboundFacts, recordAnswer } from '../test/helpers/facts';
import { runFastAgi } from '../test/helpers/fastagi-client';
import { startService } from '../test/helpers/service';
import { prng, r1, requireBuilt, sleep } from './lib';

function opt(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}
const CALLS = opt('calls', 10_000);
const CONCURRENCY = opt('concurrency', 16);
const SEED = opt('seed', 1);
const KEEP = process.argv.includes('--keep');
const DID = '74951234567';
const FIRST = 100;

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
const sizeMB = (path: string) => (existsSync(path) ? statSync(path).size / 2 ** 20 : 0);
const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
/** Anonymous memory (heap, malloc) and file-backed pages (the node binary's code as it gets used). */
function rssParts(pid: number): { anonMB: number; fileMB: number } {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(st)?.[1] ?? NaN) / 1024;
  return { anonMB: r1(kb('RssAnon')), fileMB: r1(kb('RssFile')) };
}

async function main(): Promise<number> {
  requireBuilt();
  const rand = prng(SEED);
  const fake = await FakeBitrix.start({ rateLimit: false });
  seedDemo(fake);
  const t = testSetup({ webhookUrl: fake.webhookUrl, dids: [DID], logLevel: 'info', attachRecordings: false, rateLimitPerSecond: 100, rateLimitBurst: 1000 });
  const svc = await startService(t);
  const callers = Array.from({ length: 2000 }, (_, i) => `+7916${String(1_000_000 + i * 37).padStart(7, '0')}`);
  const base = Math.floor(Date.now() / 1000);
  let next = 0;
  let stopping = false;
  let signal: string | null = null;
  svc.child.on('exit', (_code, sig) => (signal = sig));
  void svc.exited.then((code) => {
    if (stopping) return;
    const log = t.log().split('\n').filter((l) => / (ERROR|WARN) /.test(l)).slice(-5).join('\n');
    process.stderr.write(`service soak broke: the service exited (${code ?? signal}) after ${next} calls; its stderr:\n${svc.stderr()}\nits last warnings and errors:\n${log}\n# kept: ${t.dir}\n`);
    process.env.ITD_KEEP_TMP = '1';
    process.exit(2);
  });
  let failures = 0;
  const answered = new Map<string, string>();
  const oneCall = async (i: number) => {
    const uid = `${base}.${i + 1}`;
    const caller = callers[Math.floor(rand() * callers.length)];
    const channel = inboundFacts(uid);
    const inc = await runFastAgi({ port: svc.port, script: 'incoming', args: [DID], env: { agi_uniqueid: uid, agi_callerid: caller }, vars: channel });
    if (inc.status !== 'SUCCESS' || inc.rejected.length || !inc.vars.__BITRIX_CALL_ID) failures++;
    const vars = { ...channel, BITRIX_CALL_ID: inc.vars.__BITRIX_CALL_ID ?? '' };
    if (rand() < 0.8) {
      const ext = rand() < 0.5 ? '101' : '102';
      answered.set(uid, ext);
      recordAnswer(vars, ext);
      const sh = await runFastAgi({ port: svc.port, script: 'show', args: [ext], env: { agi_uniqueid: `${uid}1` }, vars: { ...vars, 'CHANNEL(linkedid)': uid } });
      if (sh.status !== 'SUCCESS' || sh.rejected.length) failures++;
    }
    const hup = await runFastAgi({ port: svc.port, script: 'hangup', env: { agi_uniqueid: uid, agi_callerid: caller }, vars: endFacts({ ...vars, FROM_DID: DID }), dead: true });
    if (hup.status !== 'SUCCESS' || hup.rejected.length) failures++;
  };
  const run = async (upTo: number) => {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < upTo) await oneCall(next++);
      }),
    );
  };
  const waitFinished = async (n: number) => {
    const until = Date.now() + 120_000;
    while (fake.finishedCalls.size < n && Date.now() < until) await sleep(200);
  };
  const t0 = Date.now();
  process.stderr.write(`[soak] ${CALLS} calls through the service (pid ${svc.pid}), concurrency ${CONCURRENCY}\n`);
  // Samples at quiet moments: idle keep-alive connections to the portal have expired by then, and
  // the service has collected its heap on the first two heartbeats (5 s) without a call. Its
  // once-a-minute housekeeping may still come and leave garbage until the two heartbeats after it:
  // RSS is then read for 12 s and the lowest reading kept (the highest is printed beside it).
  const QUIET_MS = 17_000;
  const settled = async () => {
    await sleep(QUIET_MS);
    let low = { rss: rssMB(svc.pid), ...rssParts(svc.pid) };
    let high = low.rss;
    for (let i = 0; i < 24; i++) {
      await sleep(500);
      const now = { rss: rssMB(svc.pid), ...rssParts(svc.pid) };
      if (now.rss < low.rss) low = now;
      high = Math.max(high, now.rss);
    }
    return { ...low, highMB: r1(high), fds: fds(svc.pid), heap: svc.status()?.memory };
  };
  await run(FIRST);
  await waitFinished(FIRST);
  const first = await settled();
  const series: Array<[number, number]> = [];
  // A second quiet sample after 1000 calls: the caches have reached their working size by then.
  const WARM = Math.min(1000, CALLS);
  await run(WARM);
  await waitFinished(WARM);
  const warm = await settled();
  let lastReport = Date.now();
  const progress = setInterval(() => {
    if (Date.now() - lastReport < 10_000) return;
    lastReport = Date.now();
    series.push([next, r1(rssMB(svc.pid))]);
    process.stderr.write(`[soak] ${next}/${CALLS} calls, service RSS ${r1(rssMB(svc.pid))} MB, ${fds(svc.pid)} fds\n`);
  }, 1000);
  await run(CALLS);
  clearInterval(progress);
  await waitFinished(CALLS);
  const last = await settled();
  const files = { dbMB: r1(sizeMB(t.dbPath)), walMB: r1(sizeMB(`${t.dbPath}-wal`)) };
  const wall = Date.now() - t0;
  stopping = true;
  await svc.stop('SIGTERM');
  const status = svc.status();
  await fake.stop();

  const finished = [...fake.finishedCalls.values()];
  const byExt = new Set(finished.map((f) => f.EXTERNAL_CALL_ID));
  const lost = CALLS - byExt.size;
  const duplicates = finished.length - byExt.size;
  const wrong = finished.filter((f) => {
    const ext = answered.get(f.EXTERNAL_CALL_ID);
    return ext ? f.PORTAL_USER_ID !== (ext === '101' ? 12 : 15) : f.CALL_FAILED_CODE !== '304';
  }).length;
  const wrongOnes = finished.filter((f) => {
    const ext = answered.get(f.EXTERNAL_CALL_ID);
    return ext ? f.PORTAL_USER_ID !== (ext === '101' ? 12 : 15) : f.CALL_FAILED_CODE !== '304';
  });
  for (const f of wrongOnes.slice(0, 5)) {
    process.stdout.write(`# wrong: ${f.EXTERNAL_CALL_ID} answered by ${answered.get(f.EXTERNAL_CALL_ID) ?? 'nobody'}, finished by ${f.PORTAL_USER_ID} ${f.CALL_FAILED_CODE} ${f.CALL_DURATION} s\n`);
  }
  const growth = (last.rss - first.rss) / first.rss;
  const eld = status?.eventLoopDelayMs.maxSinceStart ?? NaN;
  const lines = [
    `calls: ${CALLS} in ${r1(wall / 1000)} s (${r1(CALLS / (wall / 1000))} calls/s, ${status?.served.total} steps served)`,
    `calls lost: ${lost}, duplicates: ${duplicates}, wrong operator or status: ${wrong}, failed sessions: ${failures}`,
    `RSS after ${FIRST} calls ${r1(first.rss)} MB (highest in its 12 s ${first.highMB}), after ${CALLS} ${r1(last.rss)} MB (highest ${last.highMB}) (${growth >= 0 ? '+' : ''}${r1(growth * 100)} %, target within 10 %) ${Math.abs(growth) <= 0.1 ? 'PASS' : 'FAIL'}`,
    `RSS after ${WARM} calls ${r1(warm.rss)} MB; after ${CALLS} vs after ${WARM}: ${((last.rss - warm.rss) / warm.rss) * 100 >= 0 ? '+' : ''}${r1(((last.rss - warm.rss) / warm.rss) * 100)} %`,
    `RSS anonymous / file-backed after ${FIRST}: ${first.anonMB} / ${first.fileMB} MB, after ${CALLS}: ${last.anonMB} / ${last.fileMB} MB`,
    `RSS along the way (calls, MB): ${series.map(([n, mb]) => `${n}: ${mb}`).join(', ')}`,
    `memory after ${FIRST}: ${JSON.stringify(first.heap)}; after ${CALLS}: ${JSON.stringify(last.heap)}`,
    `database ${files.dbMB} MB, its WAL ${files.walMB} MB (the file keeps its largest size)`,
    `file descriptors after ${FIRST} calls ${first.fds}, after ${CALLS} ${last.fds} ${last.fds <= first.fds ? 'PASS' : 'FAIL'}`,
    `event-loop delay, worst over the run: ${eld} ms (target < 50 ms) ${eld < 50 ? 'PASS' : 'FAIL'}; longest GC pause ${status?.eventLoopDelayMs.gcPauseMaxSinceStart} ms; stalls over 50 ms ${JSON.stringify(status?.stalls)}`,
    `service: ${status?.bitrix.requests} HTTP requests (${status?.bitrix.batched} coalesced) for ${status?.bitrix.commands} commands; caches ${status?.caches.users} users, ${status?.caches.names} names`,
  ];
  for (const l of lines) process.stdout.write(`${l}\n`);
  const pass = lost === 0 && duplicates === 0 && wrong === 0 && failures === 0 && Math.abs(growth) <= 0.1 && last.fds <= first.fds && eld < 50;
  process.stdout.write(`${JSON.stringify({ soak: 'service', calls: CALLS, concurrency: CONCURRENCY, lost, duplicates, wrong, failures, first, warm, last, files, eventLoopDelayMaxMs: eld, wallS: r1(wall / 1000), pass })}\n`);
  if (KEEP || !pass) {
    process.env.ITD_KEEP_TMP = '1'; // test/helpers/tmp.ts removes it at exit otherwise
    process.stdout.write(`# kept: ${t.dir}\n`);
  }
  else rmSync(t.dir, { recursive: true, force: true });
  return pass ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`service soak broke: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(2);
  },
);
