// What this host is: the facts the binding choice and the self-test read. Only this file asks
// the process and the system.
import { execFileSync } from 'child_process';

/**
 * The glibc version the process runs on ("2.36"), or null when it is not glibc (musl) or cannot
 * be told. Node's report knows it (a few milliseconds); `getconf` is the fallback for Node
 * versions without process.report.
 */
export function detectGlibc(): string | null {
  const report = (process as { report?: { getReport?: () => { header?: { glibcVersionRuntime?: string } } } }).report;
  if (report && typeof report.getReport === 'function') {
    try {
      const v = report.getReport().header?.glibcVersionRuntime;
      return typeof v === 'string' && /^\d+\.\d+/.test(v) ? v : null;
    } catch {
      // fall through to getconf
    }
  }
  try {
    const out = execFileSync('getconf', ['GNU_LIBC_VERSION'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
    const m = /glibc\s+(\d+\.\d+)/.exec(out);
    return m ? m[1] : null;
  } catch {
    return null;
  }
}
