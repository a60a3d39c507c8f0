// The service's heartbeat: a small JSON file next to the database, rewritten every few seconds
// (temp file + rename), read by `itd_bitrix.js status` for the module's status panel.
import { readFileSync } from 'fs';
import { promises as fsp } from 'fs';
import type { ClickStatus } from './click-host';

export interface ServiceStatus {
  pid: number;
  port: number;
  state: 'online' | 'stopping' | 'stopped';
  version: string;
  node: string;
  startedAt: string;
  heartbeatAt: string;
  stoppedAt: string | null;
  uptimeSec: number;
  /** How often a service has started on this database, and how the one before this ended. */
  starts: number;
  previousStop: { at: string | null; clean: boolean } | null;
  served: { incoming: number; show: number; outgoing: number; hangup: number; unknown: number; total: number };
  inFlight: number;
  memory: { rssMB: number; heapUsedMB: number; heapTotalMB: number; externalMB: number };
  /** Event-loop delay beyond the timer's own interval, over the last heartbeat and since start. */
  eventLoopDelayMs: { p50: number; p99: number; max: number; maxSinceStart: number; gcPauseMax: number; gcPauseMaxSinceStart: number };
  /** Event-loop stalls over 50 ms since start, and how much CPU this process used during the worst. */
  stalls: { over50ms: number; worstMs: number; cpuDuringWorstMs: number };
  bitrix: { requests: number; commands: number; batched: number; queued: number };
  caches: { users: number; names: number };
  /** Off, why it does not run (needs-application, no-manager-credentials), or the poller's state; the manager link. */
  clickToCall: ClickStatus;
  /** The manager (AMI) connection: wanted (click-to-call, transfers), up; attended transfers followed. */
  manager?: { wanted: boolean; connected: boolean; transfers: boolean };
  config: { ok: boolean; error: string | null; loadedAt: string | null };
}

/** Beside the database, like the hangup journal. */
export function statusPath(databasePath: string): string {
  return `${databasePath}.service.json`;
}

export async function writeStatus(path: string, status: ServiceStatus): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, `${JSON.stringify(status)}\n`, { mode: 0o640 });
  await fsp.rename(tmp, path);
}

export function readStatus(path: string): ServiceStatus | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8'));
    return v && typeof v === 'object' && typeof v.pid === 'number' ? (v as ServiceStatus) : null;
  } catch {
    return null;
  }
}

/** Heartbeats older than this mean the service is gone (killed, crashed, machine stopped). */
export const HEARTBEAT_MS = 5000;
const STALE_MS = 3 * HEARTBEAT_MS;

export type ServiceView = ({ online: boolean; heartbeatAgeSec: number } & ServiceStatus) | { online: false; state: 'absent' };

/** What the status panel shows: the file plus whether the service is alive right now. */
export function describeService(status: ServiceStatus | null, now = Date.now()): ServiceView {
  if (!status) return { online: false, state: 'absent' };
  const age = now - Date.parse(status.heartbeatAt);
  const online = status.state === 'online' && age < STALE_MS && alive(status.pid);
  return { ...status, online, heartbeatAgeSec: Math.round(age / 1000) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
