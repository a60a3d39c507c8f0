// Click-to-call decisions (README "Click-to-call"): what a click from Bitrix24 asks for, whether
// it is still worth a call, which number the PBX dials, how a click that never became a call ends.
import type { RewriteRule } from '../config/config';

/** A user clicked a number in Bitrix24 (OnExternalCallStart); Bitrix24 has registered the call. */
export interface ClickRequest {
  callId: string;
  userId: number;
  /** As clicked, and as the portal's phone parser wrote it in E.164 (may be empty). */
  phone: string;
  phoneInternational: string;
  /** The external line the portal chose ('' when the line is the application itself). */
  line: string;
  /** When the portal queued the event (epoch ms), if it said. */
  queuedAt: number | null;
}

/** Older than this, a click is not dialled: the user has given up, or would be surprised by a call now. */
export const STALE_CLICK_MS = 60_000;

const CALL_ID = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * An event of event.offline.get, or null when it is not a usable OnExternalCallStart (no CALL_ID,
 * no user). Values arrive as strings; EVENT_DATA is the event's `data`, sometimes wrapped in `data`.
 */
export function parseClickEvent(e: unknown): ClickRequest | null {
  const ev = (e ?? {}) as Record<string, unknown>;
  if (String(ev.EVENT_NAME ?? '').toUpperCase() !== 'ONEXTERNALCALLSTART') return null;
  let data = ev.EVENT_DATA as Record<string, unknown> | undefined;
  if (data && typeof data === 'object' && !('CALL_ID' in data) && data.data && typeof data.data === 'object') data = data.data as Record<string, unknown>;
  if (!data || typeof data !== 'object') return null;
  const callId = String(data.CALL_ID ?? '');
  const userId = Number(data.USER_ID);
  if (!CALL_ID.test(callId) || !Number.isInteger(userId) || userId <= 0) return null;
  const queued = Date.parse(String(ev.TIMESTAMP_X ?? ''));
  return {
    callId,
    userId,
    phone: String(data.PHONE_NUMBER ?? '').trim(),
    phoneInternational: String(data.PHONE_NUMBER_INTERNATIONAL ?? '').trim(),
    line: String(data.LINE_NUMBER ?? '').trim(),
    queuedAt: Number.isFinite(queued) ? queued : null,
  };
}

export function isStale(click: ClickRequest, now: number): boolean {
  return click.queuedAt !== null && now - click.queuedAt > STALE_CLICK_MS;
}

/**
 * The number the PBX dials: the portal's E.164 form when it has one, else the number as clicked,
 * reduced to what a dial string may hold, then the admin's first matching rewrite rule. Null when
 * nothing dialable is left (it never reaches the AMI action, so it cannot add a header of its own).
 */
export function dialNumber(click: Pick<ClickRequest, 'phone' | 'phoneInternational'>, rules: readonly RewriteRule[]): string | null {
  const raw = click.phoneInternational || click.phone;
  const plus = raw.trim().startsWith('+') ? '+' : '';
  const digits = raw.replace(/[^0-9*#]/g, '');
  if (!digits) return null;
  let number = plus + digits;
  const rule = rules.find((r) => r.prefix !== '' && number.startsWith(r.prefix));
  if (rule) number = rule.replace + number.slice(rule.prefix.length);
  return /^\+?[0-9*#]{1,32}$/.test(number) ? number : null;
}

/** A FreePBX extension: digits only (it becomes part of the Local channel's name). */
export function validExtension(ext: unknown): string | null {
  const e = String(ext ?? '').trim();
  return /^[0-9]{1,20}$/.test(e) ? e : null;
}

/**
 * The uniqueid the originated channel gets (Originate's ChannelId): the click's own, so the
 * outgoing step and the hangup of that channel find the click's row. "<epoch s>.c2c<hex>": sorts
 * with Asterisk's own "<epoch s>.<n>", never equal to one (a letter), fits CDR's 32 characters.
 */
export function clickChannelId(nowMs: number, random: string): string {
  return `${Math.floor(nowMs / 1000)}.c2c${random.replace(/[^0-9a-f]/gi, '').slice(0, 12)}`;
}

/** The name on the agent's phone while it rings for the click: the number to be called. */
export function agentCallerName(number: string): string {
  return `Bitrix24 ${number}`.replace(/["<>\\\r\n]/g, '').slice(0, 40);
}

/** How a click that never became a call through a trunk is finished. */
export type ClickEnd =
  /** The agent's phone rang and nobody picked up, or it was busy or unreachable. */
  | 'agent-no-answer'
  /** The PBX could not place it: no such user or extension, no dialable number, AMI down, originate refused, stale. */
  | 'not-placed'
  /** The agent answered but the number never left through a trunk (an internal number, no route). */
  | 'not-dialled';

export function clickEndStatus(end: ClickEnd): string {
  return end === 'agent-no-answer' ? '304' : '603-S';
}
