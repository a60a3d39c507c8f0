// `itd_bitrix.js retry`: drains the outbox, scheduled every minute. One run at a time (a lease in
// the database): a run that finds another one working leaves at once.
import { credentialsFingerprint } from '../config/config';
import { lostCallEnd } from '../logic/finish';
import { journalDone, takeJournal } from '../store/journal';
import { noCounts, StateCounts } from '../store/outbox';
import { completeCall } from './complete';
import { applyHangup } from './hangup';
import { probe } from './recording';
import type { Services } from './services';

/** What one run did, in the words `status` uses (see store/outbox.ts). */
export interface RetryReport {
  /** false: another run held the lock until `lockedUntil`; this one did nothing. */
  ran: boolean;
  lockedUntil: number | null;
  /** Calls this run worked on, by what is left of them afterwards (done: nothing). */
  calls: { tried: number; done: number; waiting: number; held: number };
  /** Steps this run tried: sent, waiting for their next attempt, held for credentials. */
  steps: { sent: number; waiting: number; held: number };
  /** Given up at the start of this run (older than retryGiveUpHours). */
  givenUp: { calls: number; steps: number };
  /** The earliest next attempt of a waiting step, after this run. */
  nextAttemptAt: number | null;
  /** Hangups taken from the journal that the database did not have yet. */
  replayed: number;
  /** Calls whose hangup never came, finished with what is known (staleCallHours). */
  lost: number;
  /** Steps held for credentials that became due again because the credentials changed. */
  unblocked: number;
  /** Outbox after the run. */
  outbox: { steps: StateCounts; calls: StateCounts };
}

/** How long a call may take before the run moves on (its requests end by then). */
const PER_CALL_MS = 15_000;
/** The lock outlives the planned end by this much: the last call's requests, the database. */
const LOCK_SLACK_MS = 30_000;
const LOST_CALLS_PER_RUN = 200;

export function emptyReport(): RetryReport {
  return {
    ran: false,
    lockedUntil: null,
    calls: { tried: 0, done: 0, waiting: 0, held: 0 },
    steps: { sent: 0, waiting: 0, held: 0 },
    givenUp: { calls: 0, steps: 0 },
    nextAttemptAt: null,
    replayed: 0,
    lost: 0,
    unblocked: 0,
    outbox: { steps: noCounts(), calls: noCounts() },
  };
}

export async function retry(s: Services, untilMs: number): Promise<RetryReport> {
  const report = emptyReport();
  const { outbox, health, leases } = await s.stores();
  const holder = `${process.pid}.${s.now()}`;
  const lease = await leases.take('retry', holder, s.now(), Math.max(0, untilMs - s.now()) + LOCK_SLACK_MS);
  if (!lease.ok) {
    report.lockedUntil = lease.until;
    s.log.info(`retry: another run is at work (lock held until ${new Date(lease.until).toISOString()}); leaving it to that one`);
    return report;
  }
  report.ran = true;
  try {
    const now = s.now();
    report.givenUp = await outbox.giveUp(now - s.config.retryGiveUpHours * 3600_000);
    if (report.givenUp.steps) {
      s.log.error(`retry: gave up on ${report.givenUp.steps} step(s) of ${report.givenUp.calls} call(s) older than ${s.config.retryGiveUpHours} h`);
    }
    // Steps held for refused credentials wait until the admin changes them.
    const blockedFor = (await health.read()).auth_blocked_fingerprint;
    if (blockedFor && blockedFor !== credentialsFingerprint(s.config)) {
      report.unblocked = await outbox.unblock(now);
      await health.setAuthBlocked(null);
      s.log.info(`retry: credentials changed; ${report.unblocked} held step(s) are due again`);
    }
    // Tokens are renewed here only (never on a call's budget), also when no calls come for days.
    await s.renewTokensIfDue();
    report.replayed = await replayJournal(s);
    report.lost = await finishLostCalls(s);
    await drain(s, untilMs, report);
    const after = await outbox.summary(s.now(), 0);
    report.nextAttemptAt = after.nextAttemptAt;
    report.outbox = { steps: after.steps, calls: after.calls };
  } finally {
    await leases.release('retry', holder);
  }
  return report;
}

async function drain(s: Services, untilMs: number, report: RetryReport): Promise<void> {
  const { outbox } = await s.stores();
  const seen = new Set<string>();
  while (s.now() < untilMs) {
    const due = await outbox.leaseDueCalls(s.now(), untilMs - s.now() + LOCK_SLACK_MS, 20, [...seen]);
    if (!due.length) break;
    for (const uniqueid of due) {
      seen.add(uniqueid);
      if (s.now() >= untilMs) {
        await outbox.release(uniqueid);
        continue;
      }
      report.calls.tried++;
      try {
        const out = await completeCall(s, uniqueid, Math.min(untilMs, s.now() + PER_CALL_MS));
        report.steps.sent += out.done.length;
        for (const f of out.failed) report.steps[f.error.kind === 'auth' ? 'held' : 'waiting']++;
      } finally {
        await outbox.release(uniqueid);
      }
      const left = await outbox.itemsFor(uniqueid);
      if (!left.length) report.calls.done++;
      else if (left.some((i) => i.state === 'blocked')) report.calls.held++;
      else report.calls.waiting++;
    }
  }
}

/**
 * Hangups whose handler could not write the database (locked, broken, out of time). A line older
 * than the retention only completes a call the database still holds: had its call been finished
 * and purged, recreating it would register and finish it in Bitrix24 a second time.
 */
async function replayJournal(s: Services): Promise<number> {
  let replayed = 0;
  const oldest = s.now() - s.config.retentionHours * 3600_000;
  for (const { file, entries } of takeJournal(s.config.databasePath)) {
    for (const facts of entries) {
      if ((await applyHangup(s, facts, { rebuild: facts.hungupAt >= oldest })) !== null) replayed++;
    }
    journalDone(file);
  }
  if (replayed) s.log.warn(`retry: ${replayed} hangup(s) recorded from the journal`);
  return replayed;
}

/**
 * Calls still open after staleCallHours: their hangup handler never ran (Asterisk crashed or was
 * restarted). They are finished with what is known (README, "Call semantics").
 */
async function finishLostCalls(s: Services): Promise<number> {
  const { calls } = await s.stores();
  const lost = await calls.lost(s.now() - s.config.staleCallHours * 3600_000, LOST_CALLS_PER_RUN);
  for (const call of lost) {
    const recording = call.recording_path ? probe(call.recording_path) : null;
    const end = lostCallEnd({ startedAt: call.started_at, answeredAt: call.answered_at, recordingWrittenAt: recording?.mtimeMs ?? null }, s.now());
    const hours = Math.floor((s.now() - call.started_at) / 3600_000);
    s.log.warn(`call ${call.uniqueid}: no hangup for ${hours} h (Asterisk crashed or was restarted?); finishing it with what is known`);
    await applyHangup(s, { uniqueid: call.uniqueid, hungupAt: Math.round(end), callId: '', recording: '', linkedid: call.linkedid, did: call.did, callerid: '' });
  }
  return lost.length;
}
