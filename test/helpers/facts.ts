// What the module's dialplan records on a reported call's channels before any AGI runs (README
// "Dialplan contract"), for tests that play Asterisk's side of single AGI sessions. The dialplan
// itself runs in test/helpers/pbx and on the lab Asterisk.
import { readdirSync, readFileSync } from 'fs';

export const INBOUND_CHANNEL = 'PJSIP/trunk-00000001';

/** ${STRFTIME(,,%s.%3q)} of an epoch-ms time. */
export function stamp(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** The call's channel variables, shared by its steps: the test adds the answer and the end as the dialplan would. */
export type CallChannel = Record<string, string>;

/** Set by the inbound subroutine before the incoming step. */
export function inboundFacts(uniqueid: string, startedAt = Date.now(), channel = INBOUND_CHANNEL): CallChannel {
  return { BITRIX_UNIQUEID: uniqueid, BITRIX_CHANNEL: channel, BITRIX_STARTED: stamp(startedAt) };
}

/** The answer subroutine: the first answer of the call wins. Readable from the answering channel and from the inbound one. */
export function recordAnswer(call: CallChannel, extension: string, at = Date.now()): void {
  const onCall = `SHARED(BITRIX_ANSWER,${call.BITRIX_CHANNEL})`;
  if (call[onCall]) return;
  call[onCall] = `${extension}@${stamp(at)}`;
  call['SHARED(BITRIX_ANSWER)'] = call[onCall];
}

/** The hangup handler's first line. */
export function endFacts(call: CallChannel, endedAt = Date.now()): CallChannel {
  return { ...call, BITRIX_ENDED: stamp(endedAt) };
}

/**
 * The card processes (`itd_bitrix.js card <uniqueid> …`, started detached by show steps) still
 * running, of one call or of all. Read from /proc: spawn() returns once the child has exec'd, and
 * a zombie nobody reaped has an empty command line.
 */
export function cardProcesses(uniqueid?: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const at = argv.findIndex((a) => a.endsWith('itd_bitrix.js'));
    if (at >= 0 && argv[at + 1] === 'card' && (uniqueid === undefined || argv[at + 2] === uniqueid)) out.push(Number(pid));
  }
  return out;
}

/** Waits until the card processes of a call (or of every call) are done. */
export async function cardsDone(uniqueid?: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (cardProcesses(uniqueid).length > 0) {
    if (Date.now() > until) throw new Error(`card process(es) of ${uniqueid ?? 'the calls'} still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
