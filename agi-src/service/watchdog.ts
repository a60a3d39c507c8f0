// Asterisk waits on a FastAGI connection for as long as it stays open: a service whose event
// loop is stuck (a bug, a library gone into a loop) would hold every call that reaches it. A
// worker thread watches the main thread's heartbeat and kills the process when it has not beaten
// for `limitMs`: the connections drop, Asterisk goes on with the dialplan, pm2 starts a new
// service. A pause of the whole process (the machine stopped it) is not counted: the worker's own
// timer is late then too.
import { Worker } from 'worker_threads';

const WATCHER = `
const { workerData } = require('worker_threads');
const { appendFileSync } = require('fs');
const beat = new Float64Array(workerData.buffer);
let lastTick = Date.now();
setInterval(() => {
  const now = Date.now();
  const frozen = now - lastTick > 2000;
  lastTick = now;
  if (frozen || now - beat[0] <= workerData.limitMs) return;
  const line = new Date(now).toISOString() + ' ERROR [service ' + process.pid + '] service: event loop stuck for ' + (now - beat[0]) + ' ms; killing the service so that Asterisk releases the calls\\n';
  try { appendFileSync(workerData.logPath, line); } catch { process.stderr.write(line); }
  process.kill(process.pid, 'SIGKILL');
}, 1000);
`;

export function startWatchdog(limitMs: number, logPath: () => string): { stop(): void } {
  const buffer = new SharedArrayBuffer(8);
  const beat = new Float64Array(buffer);
  beat[0] = Date.now();
  const worker = new Worker(WATCHER, { eval: true, workerData: { buffer, limitMs, logPath: logPath() } });
  worker.unref();
  worker.on('error', () => undefined);
  const timer = setInterval(() => (beat[0] = Date.now()), 500);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      void worker.terminate();
    },
  };
}
