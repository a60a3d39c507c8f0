// Asterisk Manager Interface messages: "Key: Value" lines ended by CRLF, a blank line ends the
// message. Responses carry Response (and the ActionID we sent), events carry Event.

export type AmiMessage = Record<string, string>;

/** Splits what arrived into whole messages; returns them and what is left for the next chunk. */
export function splitMessages(buffer: string): { messages: AmiMessage[]; rest: string } {
  const messages: AmiMessage[] = [];
  let rest = buffer;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const block = rest.slice(0, end);
    rest = rest.slice(end + 4);
    const msg = parseMessage(block);
    if (Object.keys(msg).length) messages.push(msg);
  }
  return { messages, rest };
}

/** One message block; the first line with a key wins, a line without ": " is kept under its own text. */
export function parseMessage(block: string): AmiMessage {
  const msg: AmiMessage = {};
  for (const line of block.split('\r\n')) {
    if (!line) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).replace(/^ /, '');
    if (!(key in msg)) msg[key] = value;
  }
  return msg;
}

/**
 * An action as Asterisk reads it. Values must not break the message: CR and LF are refused here,
 * so a number or a name from outside can never add a header of its own. `Variable` may repeat.
 */
export function formatAction(fields: Array<[string, string]>): string {
  let out = '';
  for (const [key, value] of fields) {
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(key)) throw new Error(`AMI header name ${JSON.stringify(key)} is not allowed`);
    if (/[\r\n]/.test(value)) throw new Error(`AMI header ${key}: value contains a line break`);
    out += `${key}: ${value}\r\n`;
  }
  return `${out}\r\n`;
}

/** The banner Asterisk sends first: "Asterisk Call Manager/11.0.0". */
export function isBanner(line: string): boolean {
  return /^Asterisk Call Manager\/\d+(\.\d+)*\s*$/.test(line);
}
