// What a hangup handler knew, appended to a plain file before it touches the database. If the
// database is locked, broken or the handler runs out of time, `retry` replays the lines: the end
// of a call is never lost because SQLite was busy.
import { appendFileSync, existsSync, readdirSync, readFileSync, renameSync, unlinkSync } from 'fs';
import { basename, dirname, join } from 'path';

export interface HangupFacts {
  uniqueid: string;
  hungupAt: number;
  callId: string;
  recording: string;
  linkedid: string;
  did: string;
  callerid: string;
}

export function journalPath(databasePath: string): string {
  return `${databasePath}.hangups`;
}

/**
 * One line, appended at once: an AGI process may be ended by its budget any moment after, so the
 * write is synchronous (one small append, also in the service).
 */
export function appendHangup(databasePath: string, facts: HangupFacts): void {
  appendFileSync(journalPath(databasePath), `${JSON.stringify(facts)}\n`, { mode: 0o640 });
}

/**
 * Takes the journal over (an atomic rename, so handlers keep appending to a new file) and returns
 * every taken file's entries; `done(file)` deletes a file once its entries are applied.
 * Files taken by a run that died are picked up again.
 */
let taken = 0;

export function takeJournal(databasePath: string): Array<{ file: string; entries: HangupFacts[] }> {
  const live = journalPath(databasePath);
  // Time first, so the names sort in the order the files were taken; pid and a counter keep them apart.
  if (existsSync(live)) renameSync(live, `${live}.${String(Date.now()).padStart(15, '0')}.${process.pid}.${++taken}`);
  const prefix = `${basename(live)}.`;
  const dir = dirname(live);
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix))
    .sort()
    .map((f) => {
      const file = join(dir, f);
      const entries = readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .flatMap((line) => {
          try {
            const e = JSON.parse(line) as HangupFacts;
            return typeof e.uniqueid === 'string' && Number.isFinite(e.hungupAt) ? [e] : [];
          } catch {
            return []; // a line cut short by a crash
          }
        });
      return { file, entries };
    });
}

export function journalDone(file: string): void {
  unlinkSync(file);
}
