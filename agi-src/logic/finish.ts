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
