// What Bitrix24 is told when an outgoing call ends (README "Outgoing calls").
import type { FinishDecision } from './finish';
import { talkSeconds } from './time';

/** How an outgoing call ended, as the dialplan recorded it on the calling channel. */
export interface OutgoingEnd {
  /** When the far end answered (epoch ms), stamped by the trunk channel's U(); null if it never did. */
  answeredAt: number | null;
  hungUpAt: number;
  /** DIALSTATUS of the last trunk tried ('' when no trunk was dialled). */
  dialStatus: string;
  /** Q.850 cause the last trunk Dial left (kept before FreePBX's tones overwrite it), else the channel's. */
  cause: number | null;
  /** ANSWEREDTIME_MS: only used when the answer could not be stamped (another U() took Dial's slot). */
  answeredTimeMs: number | null;
}

/**
 * The finish status of an outgoing call that was not answered: busy 486, no answer 304, the
 * caller hung up first (or nothing was dialled) 603-S, the number does not exist 404 / is
 * incomplete 484, trunk unavailable or congested 503, anything else OTHER.
 */
export function outgoingStatus(dialStatus: string, cause: number | null): string {
  switch (dialStatus.trim().toUpperCase()) {
    case 'ANSWER':
      return '200';
    case 'BUSY':
      return '486';
    case 'NOANSWER':
      return '304';
    case 'CANCEL':
    case '':
      return '603-S';
    case 'CONGESTION':
    case 'CHANUNAVAIL':
      // Unallocated number (1), no route to it (3), invalid number format (28).
      if (cause === 1 || cause === 3) return '404';
      if (cause === 28) return '484';
      return '503';
    default:
      return 'OTHER';
  }
}

/** The outgoing call is always the caller's: answered or not, it is finished by their user. */
export function decideOutgoingFinish(end: OutgoingEnd, userId: number): FinishDecision {
  if (end.answeredAt) return { userId, duration: talkSeconds(end.answeredAt, end.hungUpAt), statusCode: '200' };
  if (end.dialStatus.trim().toUpperCase() === 'ANSWER') {
    // Answered, but our stamp could not run: Asterisk's up time of the calling channel, which
    // counts from the answer for a call made from a phone.
    const ms = end.answeredTimeMs ?? 0;
    return { userId, duration: Math.max(0, Math.round(ms / 1000)), statusCode: '200' };
  }
  return { userId, duration: 0, statusCode: outgoingStatus(end.dialStatus, end.cause) };
}

/** A Q.850 cause as the channel reports it ("16"), or null. */
export function causeCode(text: string | undefined): number | null {
  const t = (text ?? '').trim();
  return /^\d{1,3}$/.test(t) ? Number(t) : null;
}

/** LINE_NUMBER: the route name as FreePBX has it, printable, at most 50 characters (Bitrix24's limit). */
export function lineNumber(route: string | undefined): string {
  return Array.from((route ?? '').replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()).slice(0, 50).join('');
}
