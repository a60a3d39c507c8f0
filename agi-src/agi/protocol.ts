// Pure parts of the AGI protocol: environment lines, argument quoting, reply lines.
// Behaviour follows the transcripts recorded on Asterisk 22 (see README, "AGI protocol").

export type AgiEnvironment = Record<string, string>;

/** Splits one `agi_name: value` line at the first ": "; returns null for anything else. */
export function parseEnvironmentLine(line: string): [string, string] | null {
  const at = line.indexOf(': ');
  if (at > 0) return [line.slice(0, at), line.slice(at + 2)];
  // An empty value keeps its trailing space ("agi_accountcode: "), but a peer may trim it.
  if (line.endsWith(':') && !line.includes(' ')) return [line.slice(0, -1), ''];
  return null;
}

/** Quotes one command argument the way res_agi's parse_args reads it back. */
export function quote(value: string): string {
  const flat = value.replace(/[\r\n]+/g, ' ');
  return '"' + flat.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

export interface AgiReply {
  code: number;
  /** The text after `result=` up to the first space, e.g. "1", "-1", "0". */
  result: string;
  /** The text in parentheses (up to the last ")"), undefined when there are none. */
  value?: string;
  /** key=value pairs after the value, e.g. endpos=1234. */
  extra: Record<string, string>;
  /** Every line of the reply as received. */
  lines: string[];
}

const REPLY_LINE = /^(\d{3})([ -])(.*)$/;

export function isReplyStart(line: string): boolean {
  return REPLY_LINE.test(line);
}

/**
 * Parses the first line of a reply. A `200` line whose value opens "(" without a
 * closing ")" continues on the next lines (a value with a newline in it); the caller
 * appends those with `continueValue` until it returns true.
 */
export function parseReplyLine(line: string): { reply: AgiReply; complete: boolean } {
  const m = REPLY_LINE.exec(line);
  if (!m) throw new Error(`not an AGI reply line: ${line.slice(0, 80)}`);
  const code = Number(m[1]);
  const reply: AgiReply = { code, result: '', extra: {}, lines: [line] };
  if (m[2] === '-') return { reply, complete: false }; // multi-line 520- usage block
  if (code !== 200) return { reply, complete: true };
  const rest = m[3];
  const r = /^result=(\S*)\s?(.*)$/.exec(rest);
  if (!r) return { reply, complete: true };
  reply.result = r[1];
  const tail = r[2];
  if (tail.startsWith('(')) {
    const close = tail.lastIndexOf(')');
    if (close < 0) {
      reply.value = tail.slice(1);
      return { reply, complete: false };
    }
    reply.value = tail.slice(1, close);
    parseExtra(tail.slice(close + 1), reply.extra);
  } else {
    parseExtra(tail, reply.extra);
  }
  return { reply, complete: true };
}

/** Feeds one more line into an incomplete reply; returns true when the reply is complete. */
export function continueReply(reply: AgiReply, line: string): boolean {
  reply.lines.push(line);
  if (reply.code === 520) return line.startsWith('520 ');
  const close = line.lastIndexOf(')');
  if (close < 0) {
    reply.value = `${reply.value ?? ''}\n${line}`;
    return false;
  }
  reply.value = `${reply.value ?? ''}\n${line.slice(0, close)}`;
  parseExtra(line.slice(close + 1), reply.extra);
  return true;
}

function parseExtra(text: string, into: Record<string, string>): void {
  for (const part of text.trim().split(/\s+/)) {
    const eq = part.indexOf('=');
    if (eq > 0) into[part.slice(0, eq)] = part.slice(eq + 1);
  }
}
