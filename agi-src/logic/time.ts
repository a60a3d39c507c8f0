// Dates as Bitrix24 wants them: ISO-8601 with the PBX's own offset.

export function isoWithOffset(epochMs: number): string {
  const d = new Date(epochMs);
  const offsetMin = -d.getTimezoneOffset();
  const local = new Date(epochMs + offsetMin * 60_000);
  const sign = offsetMin >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMin);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${local.toISOString().slice(0, 19)}${sign}${hh}:${mm}`;
}

/** Talk time in whole seconds; never negative, whatever the clock did in between. */
export function talkSeconds(answeredAtMs: number | null | undefined, hungUpAtMs: number | null | undefined): number {
  if (!answeredAtMs || !hungUpAtMs) return 0;
  return Math.max(0, Math.round((hungUpAtMs - answeredAtMs) / 1000));
}

/** "1796208763.918" (the dialplan's ${STRFTIME(,,%s.%3q)}) → epoch ms; null for anything else. */
export function epochMs(text: string | undefined): number | null {
  const t = (text ?? '').trim();
  if (!/^\d{9,11}(\.\d{1,6})?$/.test(t)) return null;
  return Math.round(Number(t) * 1000);
}
