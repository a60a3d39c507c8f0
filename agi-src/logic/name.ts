// The caller name shown on the operator's phone, from a CRM display name.

export const MAX_NAME_CHARS = 40;

/**
 * FreePBX substitutes CALLERID(name) into $[…] expressions and application arguments, and CRM
 * names come from web forms: quotes, variable and expression syntax, argument separators and
 * the escape character go, with control and format characters.
 */
const DIALPLAN_SYNTAX = /["$\{\}\[\]|;,\\]+/g;

/** Dialplan syntax, control and format characters out, whitespace collapsed, at most 40 characters (not code units). */
export function sanitiseCallerName(raw: unknown): string {
  if (typeof raw !== 'string') return '';
  const cleaned = raw
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]+/gu, ' ')
    .replace(DIALPLAN_SYNTAX, ' ')
    .replace(/\s+/gu, ' ')
    .trim();
  const chars = Array.from(cleaned);
  if (chars.length <= MAX_NAME_CHARS) return cleaned;
  return chars.slice(0, MAX_NAME_CHARS).join('').trimEnd();
}

export interface CrmEntity {
  CRM_ENTITY_TYPE?: string;
  NAME?: unknown;
}

const PREFERENCE = ['CONTACT', 'COMPANY', 'LEAD'];

/**
 * A searchCrmEntities answer in the order the module reads it: contacts, then companies, then
 * leads (Bitrix24 sends contacts, leads, companies), each type in Bitrix24's order.
 */
export function byCrmPreference<T extends CrmEntity>(entities: unknown): T[] {
  if (!Array.isArray(entities)) return [];
  const out: T[] = [];
  for (const type of PREFERENCE) for (const e of entities as T[]) if (e && e.CRM_ENTITY_TYPE === type) out.push(e);
  return out;
}

/** Contact first, then company, then lead; the first one with a usable name. */
export function pickCrmName(entities: unknown): string {
  for (const e of byCrmPreference(entities)) {
    const name = sanitiseCallerName(e.NAME);
    if (name) return name;
  }
  return '';
}
