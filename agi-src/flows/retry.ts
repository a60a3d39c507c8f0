// `itd_bitrix.js retry`: drains the outbox. Safe to run twice at once (leases), scheduled every minute.
import { credentialsFingerprint } from '../config/config';
import { journalDone, takeJournal } from '../store/journal';
import { completeCall } from './complete';
import { applyHangup } from './hangup';
import type { Services } from './services';

export interface RetryReport {
  calls: number;
  done: number;
  failed: number;
  gaveUp: number;
  unblocked: number;
  /** Hangups taken from the journal that the database did not have yet. */
  replayed: number;
}

const LEASE_MS = 60_000;
const PER_CALL_MS = 15_000;

export async function retry(s: Services, untilMs: number): Promise<RetryReport> {
  const report: RetryReport = { calls: 0, done: 0, failed: 0, gaveUp: 0, unblocked: 0, replayed: 0 };
  const { outbox, health } = await s.stores();
  const now = s.now();
  report.gaveUp = await outbox.giveUp(now - s.config.retryGiveUpHours * 3600_000);
  if (report.gaveUp) s.log.error(`retry: gave up on ${report.gaveUp} step(s) older than ${s.config.retryGiveUpHours} h`);
  // Steps blocked by refused credentials wait until the admin changes them.
  const blockedFor = (await health.read()).auth_blocked_fingerprint;
  if (blockedFor && blockedFor !== credentialsFingerprint(s.config)) {
    report.unblocked = await outbox.unblock(now);
    await health.setAuthBlocked(null);
    s.log.info(`retry: credentials changed; ${report.unblocked} waiting step(s) are due again`);
  }
  await s.renewTokensIfDue();
  report.replayed = await replayJournal(s);
  const seen = new Set<string>();
  while (s.now() < untilMs) {
    const due = await outbox.leaseDueCalls(s.now(), LEASE_MS, 20, [...seen]);
    if (!due.length) break;
    for (const uniqueid of due) {
      seen.add(uniqueid);
      if (s.now() >= untilMs) {
        await outbox.release(uniqueid);
        continue;
      }
      report.calls++;
      try {
        const out = await completeCall(s, uniqueid, Math.min(untilMs, s.now() + PER_CALL_MS));
        report.done += out.done.length;
        report.failed += out.failed.length;
      } finally {
        await outbox.release(uniqueid);
      }
    }
  }
  return report;
}

/** Hangups whose handler could not write the database (locked, broken, out of time). */
async function replayJournal(s: Services): Promise<number> {
  let replayed = 0;
  for (const { file, entries } of takeJournal(s.config.databasePath)) {
    for (const facts of entries) {
      if ((await applyHangup(s, facts)) !== null) replayed++;
    }
    journalDone(file);
  }
  if (replayed) s.log.warn(`retry: ${replayed} hangup(s) recorded from the journal`);
  return replayed;
}
