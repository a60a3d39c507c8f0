// `node bench/run.mjs http`: what one Bitrix24 request costs a fresh process, by HTTP stack.
// Each variant is a tiny esbuild bundle (as in agi-bin/) that makes one POST to a loopback
// server and exits; wall time spawn → exit, interleaved rounds, medians, minus `node -e 0`.
// Variants: our client (agi-src/bitrix/http.ts: node:http / node:https), node's global fetch,
// and with `--compare <file.ts>` any other module exporting the same `request()` (e.g. the
// hand-written client from git history: `git show 264fbe6:agi-src/bitrix/http.ts > /tmp/old.ts`).
import { build } from 'esbuild';
import { execFileSync, spawn } from 'child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import * as http from 'http';
import * as https from 'https';
import type { AddressInfo } from 'net';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { performance } from 'perf_hooks';
import { median, r1, ROOT } from './lib';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const RUNS = Number(opt('runs', '30'));
const compare = opt('compare', '');

async function bundle(dir: string, name: string, entry: string): Promise<string> {
  const out = join(dir, `${name}.js`);
  await build({ entryPoints: [entry], outfile: out, bundle: true, platform: 'node', target: 'node18', format: 'cjs', logLevel: 'error' });
  return out;
}

function timed(file: string, url: string, env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, file ? [file, url] : ['-e', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  child.stdout.resume();
  return new Promise((res, rej) =>
    child.on('exit', (code) => (code === 0 ? res(performance.now() - t0) : rej(new Error(`${file}: exit ${code} ${err}`)))),
  );
}

async function main(): Promise<void> {
  delete process.env.NODE_OPTIONS;
  const dir = mkdtempSync(join(tmpdir(), 'itd-http-bench-'));
  const call = (mod: string) =>
    `const {request}=require(${JSON.stringify(mod)});request({method:'POST',url:process.argv[2],headers:{'content-type':'application/json'},body:'{"a":1}',timeoutMs:5000})` +
    `.then((r)=>{if(r.status!==200)process.exit(3)},(e)=>{console.error(e.message);process.exit(2)})`;
  const variants: Array<[string, string]> = [['node -e 0', '']];
  writeFileSync(join(dir, 'ours.ts'), call(join(ROOT, 'agi-src/bitrix/http.ts')));
  variants.push(['ours (node:http/https)', await bundle(dir, 'ours', join(dir, 'ours.ts'))]);
  if (compare) {
    writeFileSync(join(dir, 'compare.ts'), call(resolve(compare)));
    variants.push([`compare (${compare})`, await bundle(dir, 'compare', join(dir, 'compare.ts'))]);
  }
  writeFileSync(
    join(dir, 'fetch.js'),
    `fetch(process.argv[2],{method:'POST',headers:{'content-type':'application/json'},body:'{"a":1}'}).then((r)=>r.text().then(()=>{if(r.status!==200)process.exit(3)}),(e)=>{console.error(e.message);process.exit(2)})`,
  );
  variants.push(['global fetch', join(dir, 'fetch.js')]);

  // A loopback portal over plain HTTP (as the fake Bitrix24) and over TLS with a private CA.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const answer = (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"result":true}'));
  };
  const plain = http.createServer(answer);
  const tls = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, answer);
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', () => r()));
  const targets: Array<[string, string, NodeJS.ProcessEnv]> = [
    ['http', `http://127.0.0.1:${(plain.address() as AddressInfo).port}/rest/1/c0de/x.json`, process.env],
    ['https', `https://localhost:${(tls.address() as AddressInfo).port}/rest/1/c0de/x.json`, { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') }],
  ];
  const summary: Record<string, Record<string, number>> = {};
  for (const [tname, url, env] of targets) {
    const times = new Map<string, number[]>(variants.map(([n]) => [n, []]));
    for (let round = 0; round < RUNS + 2; round++) {
      const order = variants.map((_, i) => variants[(i + round) % variants.length]);
      for (const [name, file] of order) {
        const ms = await timed(file, url, env);
        if (round >= 2) times.get(name)!.push(ms);
      }
    }
    const floor = median(times.get('node -e 0')!);
    summary[tname] = {};
    for (const [name] of variants) {
      const m = median(times.get(name)!);
      summary[tname][name] = r1(m);
      process.stdout.write(`${tname.padEnd(5)} ${name.padEnd(40)} median ${r1(m).toFixed(1).padStart(6)} ms  floor + ${r1(m - floor).toFixed(1)} ms\n`);
    }
  }
  process.stdout.write(`${JSON.stringify({ runs: RUNS, node: process.version, medians: summary })}\n`);
  plain.close();
  tls.close();
}

main().catch((err) => {
  process.stderr.write(`bench http: ${(err as Error).stack}\n`);
  process.exit(1);
});
