// What Bitrix24 is told when a call ends (README "Call semantics").
import { talkSeconds } from './time';

export interface CallFacts {
  answeredAt: number | null;
  hungUpAt: number | null;
  /** Bitrix24 user of the operator who answered, when the extension maps to an active user. */
  operatorUserId: number | null;
}

export interface FinishDecision {
  userId: number;
  duration: number;
  statusCode: string;
}

export function decideFinish(call: CallFacts, defaultUserId: number): FinishDecision {
  if (call.answeredAt) {
    const duration = talkSeconds(call.answeredAt, call.hungUpAt);
    return {
      userId: call.operatorUserId ?? defaultUserId,
      duration,
      statusCode: '200',
    };
  }
  // Every unanswered incoming call is "missed" (304): Bitrix24 then creates its missed-call entry,
  // which is what the sales team works from, whether the queue was busy or nobody picked up.
  return { userId: defaultUserId, duration: 0, statusCode: '304' };
}

/** Users who saw the card and must have it hidden before finish: everyone but the finisher. */
export function usersToHide(shownTo: readonly number[], finishingUserId: number): number[] {
  return [...new Set(shownTo)].filter((u) => u !== finishingUserId);
}

/**
 * The end of a call the PBX lost (no hangup ever came: Asterisk crashed or was restarted), as far
 * as anything on the PBX knows it: for an answered call the last write to its recording, else
 * the answer itself (talk time unknown, so none is claimed); for an unanswered one, its start.
 */
export function lostCallEnd(call: { startedAt: number; answeredAt: number | null; recordingWrittenAt: number | null }, now: number): number {
  if (!call.answeredAt) return call.startedAt;
  const last = call.recordingWrittenAt !== null && call.recordingWrittenAt > call.answeredAt ? call.recordingWrittenAt : call.answeredAt;
  return Math.min(last, now);
}
