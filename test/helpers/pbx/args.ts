// Argument splitting as main/app.c's __ast_app_separate_args does it: the delimiter splits only
// outside ( ), [ ] and "…"; with `remove` (AST_STANDARD_APP_ARGS) quotes are dropped and a
// backslash makes the next character literal; without it (the RAW/NONSTANDARD variants) both stay.
// With `max` arguments the last one takes the rest of the text unprocessed, as in Asterisk.

export function separateArgs(buf: string, delim = ',', remove = true, max = 1000): string[] {
  const out: string[] = [];
  if (!buf) return out;
  let i = 0;
  let paren = 0;
  let bracket = 0;
  let quote = false;
  let endedOnDelim = false;
  while (i < buf.length && out.length < max - 1) {
    let cur = '';
    endedOnDelim = false;
    for (; i < buf.length; i++) {
      const c = buf[i];
      if (c === '(') paren++;
      else if (c === ')') {
        if (paren) paren--;
      } else if (c === '[') bracket++;
      else if (c === ']') {
        if (bracket) bracket--;
      } else if (c === '"' && delim !== '"') {
        quote = !quote;
        if (remove) continue;
      } else if (c === '\\') {
        if (remove) {
          i++;
          if (i < buf.length) cur += buf[i];
          continue;
        }
        cur += c;
        i++;
        if (i < buf.length) cur += buf[i];
        continue;
      } else if (c === delim && !paren && !quote && !bracket) {
        i++;
        endedOnDelim = true;
        break;
      }
      cur += c;
    }
    out.push(cur);
  }
  if (i < buf.length || endedOnDelim) out.push(buf.slice(i));
  return out;
}

/** AST_STANDARD_APP_ARGS with a fixed argument list: missing ones come back undefined. */
export function standardArgs(data: string, count: number): Array<string | undefined> {
  const a = separateArgs(data, ',', true, count);
  return Array.from({ length: count }, (_, i) => a[i]);
}

/** AST_NONSTANDARD_APP_ARGS(args, data, delim) with two slots (IF, ExecIf, GosubIf). */
export function splitOnce(data: string, delim: string): [string, string | undefined] {
  const a = separateArgs(data, delim, false, 2);
  return [a[0] ?? '', a[1]];
}

/** sscanf("%d") as pbx_checkcondition uses it: leading number, else non-empty text is true. */
export function checkCondition(condition: string | undefined): boolean {
  if (!condition) return false;
  const m = /^\s*([+-]?\d+)/.exec(condition);
  if (m) return Number(m[1]) !== 0;
  return true;
}

/** sscanf("%30d") leniency: the leading integer of a string, or undefined. */
export function leadingInt(s: string | undefined): number | undefined {
  const m = /^\s*([+-]?\d+)/.exec(s ?? '');
  return m ? Number(m[1]) : undefined;
}
