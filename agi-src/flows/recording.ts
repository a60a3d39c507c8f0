// A MixMonitor file is final only after Asterisk closes it, which happens after the hangup
// handler returns. Never upload a file that may still grow.
import { closeSync, openSync, readSync, statSync } from 'fs';

export type RecordingState = 'missing' | 'empty' | 'growing' | 'ready';

export interface Probe {
  size: number;
  mtimeMs: number;
  /** For WAV: the RIFF header's sizes agree with the file size (Asterisk writes them on close). */
  headerFinal: boolean | null;
}

export function probe(path: string): Probe | null {
  try {
    const st = statSync(path);
    if (!st.isFile()) return null;
    return { size: st.size, mtimeMs: st.mtimeMs, headerFinal: /\.wav$/i.test(path) ? wavHeaderFinal(path, st.size) : null };
  } catch {
    return null;
  }
}

function wavHeaderFinal(path: string, size: number): boolean {
  if (size < 44) return false;
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(12);
    readSync(fd, head, 0, 12, 0);
    if (head.toString('latin1', 0, 4) !== 'RIFF' || head.toString('latin1', 8, 12) !== 'WAVE') return false;
    return head.readUInt32LE(4) === size - 8;
  } finally {
    closeSync(fd);
  }
}

/** A WAV whose header never got its sizes (Asterisk died mid-call) is as final as it gets by then. */
const ABANDONED_MS = 60_000;

/**
 * Pure decision: a file is final when it has not changed for `quietMs` and, for WAV, its header
 * carries the sizes Asterisk writes when it closes the file.
 */
export function judge(p: Probe | null, now: number, quietMs: number): RecordingState {
  if (!p) return 'missing';
  const quietFor = now - p.mtimeMs;
  if (quietFor < quietMs) return 'growing';
  if (p.headerFinal === false && p.size > 44 && quietFor < ABANDONED_MS) return 'growing';
  return p.size <= 44 ? 'empty' : 'ready';
}

/** Polls until the recording is final (or gone, or the time is up). */
export async function waitForRecording(path: string, untilMs: number, quietMs = 1000, stepMs = 200): Promise<RecordingState> {
  for (;;) {
    const state = judge(probe(path), Date.now(), quietMs);
    if (state !== 'growing' || Date.now() + stepMs >= untilMs) return state;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
