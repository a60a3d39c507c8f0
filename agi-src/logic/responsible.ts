// The caller's responsible manager, read from the CRM search the incoming step already makes
// (telephony.externalCall.searchCrmEntities carries each entity's ASSIGNED_BY with the user's
// extension and workday status): no request of its own.
import { byCrmPreference, CrmEntity } from './name';
import { normaliseNumber } from './phone';

interface AssignedBy {
  ID?: unknown;
  TIMEMAN_STATUS?: unknown;
  USER_PHONE_INNER?: unknown;
  WORK_PHONE?: unknown;
  PERSONAL_PHONE?: unknown;
  PERSONAL_MOBILE?: unknown;
}

interface SearchEntity extends CrmEntity {
  CRM_ENTITY_ID?: unknown;
  ASSIGNED_BY_ID?: unknown;
  ASSIGNED_BY?: AssignedBy | null;
}

export interface Responsible {
  /** The manager's extension (their UF_PHONE_INNER): digits only, so it is safe in a Dial string. */
  extension: string;
  /** Their TIMEMAN_STATUS (OPENED, CLOSED, PAUSED, EXPIRED, UNAVAILABLE, NOT_INSTALLED), '' when missing or malformed. */
  workStatus: string;
  userId: number;
  /** The entity the manager owns, e.g. "CONTACT 651" (for the log). */
  entity: string;
}

export type ResponsibleChoice = { responsible: Responsible } | { none: string };

const EXTENSION = /^[0-9]{1,20}$/;
const WORK_STATUS = /^[A-Z_]{1,20}$/;
const PHONE_FIELDS = ['USER_PHONE_INNER', 'WORK_PHONE', 'PERSONAL_PHONE', 'PERSONAL_MOBILE'] as const;

function userIdOf(e: SearchEntity): number {
  const id = Number(e.ASSIGNED_BY?.ID ?? e.ASSIGNED_BY_ID);
  return Number.isInteger(id) && id > 0 ? id : 0;
}

/**
 * Who the call should ring first. The entities are read contact → company → lead (the order the
 * caller's name is taken in), and the first whose responsible can take a call wins: a real user
 * other than the default user, with an extension. A caller whose number is one of a responsible's
 * own phones (their extension, work, home or mobile number) is an employee: no routing.
 */
export function pickResponsible(entities: unknown, opts: { defaultUserId: number; callerDigits: string; countryCode: string }): ResponsibleChoice {
  const list = byCrmPreference<SearchEntity>(entities);
  if (list.length === 0) return { none: 'the number is not in the CRM' };
  for (const e of list) {
    for (const field of PHONE_FIELDS) {
      const raw = e.ASSIGNED_BY?.[field];
      const phone = typeof raw === 'string' || typeof raw === 'number' ? normaliseNumber(String(raw), opts.countryCode) : null;
      if (phone && phone.digits === opts.callerDigits) return { none: `the caller is an employee (user ${userIdOf(e) || '?'})` };
    }
  }
  for (const e of list) {
    const userId = userIdOf(e);
    const inner = e.ASSIGNED_BY?.USER_PHONE_INNER;
    const extension = typeof inner === 'string' || typeof inner === 'number' ? String(inner).trim() : '';
    if (!userId || userId === opts.defaultUserId || !EXTENSION.test(extension)) continue;
    const status = e.ASSIGNED_BY?.TIMEMAN_STATUS;
    const workStatus = typeof status === 'string' && WORK_STATUS.test(status) ? status : '';
    return { responsible: { extension, workStatus, userId, entity: `${e.CRM_ENTITY_TYPE} ${String(e.CRM_ENTITY_ID ?? '?')}` } };
  }
  return { none: 'no entity has a responsible with an extension other than the default user' };
}
