// What a hangup handler knew, appended to a plain file before it touches the database. If the
// database is locked, broken or the handler runs out of time, `retry` replays the lines: the end
// of a call is never lost because SQLite was busy. Once the handler has written the database it
// appends an "applied" mark, so the retry never records that hangup a second time.
import { appendFileSync, existsSync, readdirSync, readFileSync, renameSync, unlinkSync } from 'fs';
import { basename, dirname, join } from 'path';
import type { Answer } from '../logic/answer';

export interface HangupFacts {
  uniqueid: string;
  hungupAt: number;
  callId: string;
  recording: string;
  linkedid: string;
  did: string;
  callerid: string;
  /** When the call reached the module (BITRIX_STARTED), epoch ms; null or absent: unknown. */
  startedAt?: number | null;
  /** Who answered and when, as the dialplan recorded it; null or absent: not answered (or an older line). */
  answer?: Answer | null;
  /** An outgoing call: what its hangup handler read on the calling channel. */
  out?: OutgoingHangupFacts;
}

/** The facts the dialplan left on the calling channel of an outgoing call. */
export interface OutgoingHangupFacts {
  startedAt: number | null;
  extension: string;
  /** The number dialled, as the route passed it to the trunk. */
  number: string;
  /** The outbound route's name (LINE_NUMBER). */
  line: string;
  /** The far end's answer, stamped by the trunk channel; null if it never answered. */
  answeredAt: number | null;
  dialStatus: string;
  cause: number | null;
  answeredTimeMs: number | null;
  /** The CALL_ID of a click-to-call (Bitrix24 registered the call). */
  clickCallId: string;
}

export function journalPath(databasePath: string): string {
  return `${databasePath}.hangups`;
}

export function appendHangup(databasePath: string, facts: HangupFacts): void {
  appendFileSync(journalPath(databasePath), `${JSON.stringify(facts)}\n`, { mode: 0o640 });
}

/** The hangup of `uniqueid` is in the database: the retry skips its line. */
export function markApplied(databasePath: string, uniqueid: string): void {
  appendFileSync(journalPath(databasePath), `${JSON.stringify({ applied: uniqueid })}\n`, { mode: 0o640 });
}

/**
 * Takes the journal over (an atomic rename, so handlers keep appending to a new file) and returns
 * every taken file's entries not marked applied; `done(file)` deletes a file once its entries are
 * applied. Files taken by a run that died are picked up again; a file that vanished meanwhile
 * (another run applied it) is skipped.
 */
let taken = 0;

export function takeJournal(databasePath: string): Array<{ file: string; entries: HangupFacts[] }> {
  const live = journalPath(databasePath);
  // Time first, so the names sort in the order the files were taken; pid and a counter keep them apart.
  if (existsSync(live)) ignoreVanished(() => renameSync(live, `${live}.${String(Date.now()).padStart(15, '0')}.${process.pid}.${++taken}`));
  const prefix = `${basename(live)}.`;
  const dir = dirname(live);
  const files = readdirSync(dir)
    .filter((f) => f.startsWith(prefix))
    .sort()
    .flatMap((f) => {
      const file = join(dir, f);
      const text = ignoreVanished(() => readFileSync(file, 'utf8'));
      return text === undefined ? [] : [{ file, lines: parseLines(text) }];
    });
  // A mark may land in a later file than its line (the journal was taken in between).
  const applied = new Set(files.flatMap((f) => f.lines.flatMap((l) => ('applied' in l ? [l.applied] : []))));
  return files.map(({ file, lines }) => ({
    file,
    entries: lines.flatMap((l) => ('uniqueid' in l && !applied.has(l.uniqueid) ? [l] : [])),
  }));
}

export function journalDone(file: string): void {
  ignoreVanished(() => unlinkSync(file));
}

type Line = HangupFacts | { applied: string };

function parseLines(text: string): Line[] {
  return text
    .split('\n')
    .filter(Boolean)
    .flatMap((line): Line[] => {
      try {
        const e = JSON.parse(line) as Partial<HangupFacts> & { applied?: unknown };
        if (typeof e.applied === 'string') return [{ applied: e.applied }];
        return typeof e.uniqueid === 'string' && Number.isFinite(e.hungupAt) ? [e as HangupFacts] : [];
      } catch {
        return []; // a line cut short by a crash
      }
    });
}

function ignoreVanished<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
