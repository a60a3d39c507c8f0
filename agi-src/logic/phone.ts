// Caller-number and DID normalisation (README "Call semantics").

export interface NormalisedNumber {
  /** Digits only, national prefixes rewritten, "00" dropped. */
  digits: string;
  /** What Bitrix24 is sent: "+<digits>" for a full international number, else the digits. */
  forBitrix: string;
}

const MAX_DIGITS = 32;

/**
 * Returns null for an anonymous caller: empty, "unknown", "anonymous", or no digit at all.
 * Letters and punctuation are dropped; a leading "+" or "00" marks an international number.
 */
export function normaliseNumber(raw: string | undefined, countryCode: string): NormalisedNumber | null {
  if (!raw) return null;
  const trimmed = raw.trim();
  let digits = trimmed.replace(/\D+/g, '');
  if (!digits) return null;
  let international = trimmed.startsWith('+');
  if (!international && digits.startsWith('00') && digits.length > 4) {
    digits = digits.slice(2);
    international = true;
  }
  if (!international && countryCode === '7') {
    if (digits.length === 11 && digits.startsWith('8')) digits = `7${digits.slice(1)}`;
    else if (digits.length === 10) digits = `7${digits}`;
  }
  if (digits.length > MAX_DIGITS) digits = digits.slice(0, MAX_DIGITS);
  if (!international && countryCode && digits.startsWith(countryCode) && digits.length >= 11 && digits.length <= 15) {
    international = true;
  }
  return { digits, forBitrix: international ? `+${digits}` : digits };
}

/** The key two DIDs are compared by: `+7495…`, `8495…` and `7495…` give the same key. */
export function didKey(did: string | undefined, countryCode: string): string {
  return normaliseNumber(did, countryCode)?.digits ?? '';
}

export function isListedDid(did: string | undefined, dids: readonly string[], countryCode: string): boolean {
  const key = didKey(did, countryCode);
  if (!key) return false;
  return dids.some((d) => didKey(d, countryCode) === key);
}
