// Processes an AGI script leaves running when it exits (a detached worker with its stdio closed,
// lab §5b): Asterisk does not wait for them and the dialplan goes on, but time passes while they
// work. Every AGI process the test PBX starts carries a mark in its environment, which its
// children inherit; they are found by it in /proc (Linux; elsewhere none are found).
import { readdirSync, readFileSync } from 'fs';

export const MARK_VAR = 'PBX_AGI_MARK';

/** Running processes whose environment carries `PBX_AGI_MARK=<mark>` (zombies have none left). */
export function markedProcesses(mark: string): number[] {
  const needle = `${MARK_VAR}=${mark}\0`;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const pid of pids) {
    try {
      if (`${readFileSync(`/proc/${pid}/environ`, 'latin1')}\0`.includes(needle)) out.push(Number(pid));
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return out;
}

/** Resolves once no process with the mark is left (polled), or after `maxMs`. */
export async function leftBehindGone(mark: string, pollMs = 20, maxMs = 60_000): Promise<void> {
  const until = Date.now() + maxMs;
  while (markedProcesses(mark).length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, pollMs));
}
