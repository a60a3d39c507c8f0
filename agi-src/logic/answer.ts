// Who answered a call and when, from what Asterisk recorded on the inbound channel before any of
// our processes ran (README "Dialplan contract"). Our clocks never decide it.
import { epochMs } from './time';

/** An operator extension as FreePBX writes one (what the dialplan may hand us). */
export const EXTENSION = /^[0-9A-Za-z*#+_-]{1,32}$/;

export interface Answer {
  extension: string;
  /** Epoch ms. */
  at: number;
  /** hook: an answer hook recorded it as it happened; dial: worked out from Dial's results at hangup. */
  source: 'hook' | 'dial';
}

/** SHARED(BITRIX_ANSWER) as the answer subroutine writes it: "<extension>@<epoch.ms>". */
export function parseAnswerFact(text: string | undefined): { extension: string; at: number } | null {
  const raw = (text ?? '').trim();
  const at = raw.lastIndexOf('@');
  if (at <= 0) return null;
  const extension = raw.slice(0, at);
  const ms = epochMs(raw.slice(at + 1));
  return EXTENSION.test(extension) && ms !== null ? { extension, at: ms } : null;
}

/** What the inbound channel holds when it hangs up. */
export interface InboundFacts {
  /** ${SHARED(BITRIX_ANSWER)}. */
  answerFact: string;
  /** ${SHARED(BITRIX_LAST_OPERATOR)}: who has the customer after a transfer (same form, last wins). */
  lastOperatorFact?: string;
  /** ${DIALSTATUS} of the inbound channel's last Dial. */
  dialStatus: string;
  /** ${BITRIX_OPERATOR}: the hangup handler's reading of DIALEDPEERNAME (device user or Local exten). */
  dialOperator: string;
  /** ${ANSWEREDTIME_MS}: how long the inbound channel was up after that Dial answered. */
  answeredTimeMs: string;
  /** When the call ended (BITRIX_ENDED), epoch ms. */
  endedAt: number;
}

/**
 * The answer hook's fact when there is one — the first answer's time (talk time starts there) and
 * the operator who had the customer last (a transfer's target, else whoever answered); else, when
 * the inbound channel's own Dial was answered (no hook could be placed on that path), the dialled
 * operator, answered ANSWEREDTIME_MS before the end — an approximation: Dial counts the inbound
 * channel's up time, which includes an IVR or announcement that answered it before the Dial.
 * Else not answered.
 */
export function decideAnswer(f: InboundFacts): Answer | null {
  const fact = parseAnswerFact(f.answerFact);
  if (fact) return { extension: currentOperator(fact, f.lastOperatorFact).extension, at: fact.at, source: 'hook' };
  const operator = f.dialOperator.trim();
  if (f.dialStatus.trim() !== 'ANSWER' || !EXTENSION.test(operator)) return null;
  const upMs = Number(f.answeredTimeMs);
  const talkMs = f.answeredTimeMs.trim() !== '' && Number.isFinite(upMs) && upMs >= 0 ? upMs : 0;
  return { extension: operator, at: f.endedAt - talkMs, source: 'dial' };
}

/** The operator who has the customer: the last transfer's target (SHARED BITRIX_LAST_OPERATOR), else the first answer's. */
export function currentOperator(first: { extension: string; at: number }, lastOperatorFact: string | undefined): { extension: string; at: number } {
  return parseAnswerFact(lastOperatorFact) ?? first;
}

export type ShowVerdict =
  | { verdict: 'deliver'; at: number; transferred: boolean }
  | { verdict: 'lost'; winner: string }
  | { verdict: 'no-fact' };

/**
 * The show step on an answering channel: the card is for the operator who has the customer now
 * (the last operator fact of a transfer, else the first answer's). `at` is always the first
 * answer: the call's talk time starts there. 'lost': another phone's answer was recorded first
 * (a racing queue member) or the call moved on; 'no-fact': nothing recorded (a call older than
 * the dialplan in place), the card goes out, nothing is recorded.
 */
export function showVerdict(answerFact: string, lastOperatorFact: string, extension: string): ShowVerdict {
  const fact = parseAnswerFact(answerFact);
  if (!fact) return { verdict: 'no-fact' };
  const current = currentOperator(fact, lastOperatorFact);
  if (current.extension !== extension) return { verdict: 'lost', winner: current.extension };
  return { verdict: 'deliver', at: fact.at, transferred: current !== fact };
}
