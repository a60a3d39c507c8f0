// ${…} and $[…] substitution as main/pbx_variables.c does it: the inside of a ${} or $[] is
// substituted first (so ${FUNC(${X})} and ${VAR:${N}} work), a name with "(" is a function,
// `name:offset:length` takes a substring (negative values count from the end), and unset
// variables become empty text.
import { evaluateExpression } from './expression';

export interface Resolver {
  /** Builtins, channel variables, globals; undefined when unset. */
  variable(name: string): string | undefined;
  /** `NAME(args)` with args already substituted; undefined when the function fails. */
  func(call: string): string | undefined;
  warn(message: string): void;
}

const MAX_DEPTH = 15;

export function substitute(template: string, r: Resolver, depth = 0): string {
  if (depth >= MAX_DEPTH) {
    r.warn(`exceeded maximum variable substitution recursion depth (${MAX_DEPTH})`);
    return '';
  }
  let out = '';
  let i = 0;
  while (i < template.length) {
    const dollar = template.indexOf('$', i);
    if (dollar < 0) {
      out += template.slice(i);
      break;
    }
    const kind = template[dollar + 1];
    if (kind !== '{' && kind !== '[') {
      out += template.slice(i, dollar + 1);
      i = dollar + 1;
      continue;
    }
    out += template.slice(i, dollar);
    const open = kind;
    const close = kind === '{' ? '}' : ']';
    let j = dollar + 2;
    let brackets = 1;
    let needsub = false;
    while (brackets && j < template.length) {
      const c = template[j];
      if (c === '$' && template[j + 1] === open) {
        needsub = true;
        brackets++;
        j++;
      } else if (c === open) brackets++;
      else if (c === close) brackets--;
      else if (c === '$' && (template[j + 1] === '{' || template[j + 1] === '[')) {
        needsub = true;
        j++;
      }
      j++;
    }
    let inner: string;
    if (brackets) {
      r.warn(`Error in extension logic (missing '${close}')`);
      inner = template.slice(dollar + 2);
    } else inner = template.slice(dollar + 2, j - 1);
    i = j;
    if (needsub) inner = substitute(inner, r, depth + 1);
    if (open === '[') {
      out += evaluateExpression(inner, r.warn);
      continue;
    }
    const { name, offset, length, isFunc } = parseVariableName(inner);
    const value = isFunc ? r.func(name) : r.variable(name);
    if (value !== undefined) out += substring(value, offset, length);
  }
  return out;
}

/** `name[:offset[:length]]` with the colon outside parentheses. */
export function parseVariableName(text: string): { name: string; offset: number; length: number; isFunc: boolean } {
  let parens = 0;
  let isFunc = false;
  for (let k = 0; k < text.length; k++) {
    const c = text[k];
    if (c === '(') {
      isFunc = true;
      parens++;
    } else if (c === ')') parens--;
    else if (c === ':' && parens === 0) {
      const m = /^\s*([+-]?\d+)(?::\s*([+-]?\d+))?/.exec(text.slice(k + 1));
      return {
        name: text.slice(0, k),
        offset: m ? Number(m[1]) : 0,
        length: m && m[2] !== undefined ? Number(m[2]) : Number.MAX_SAFE_INTEGER,
        isFunc,
      };
    }
  }
  return { name: text, offset: 0, length: Number.MAX_SAFE_INTEGER, isFunc };
}

export function substring(value: string, offset: number, length: number): string {
  const lr = value.length;
  if (offset === 0 && length >= lr) return value;
  if (offset < 0) offset = Math.max(0, lr + offset);
  if (offset >= lr) return '';
  if (length >= 0) return value.slice(offset, offset + length);
  return lr > offset - length ? value.slice(offset, lr + length) : '';
}
