// $[ … ] as main/ast_expr2.y/.fl evaluate it (after ${} substitution): tokens split on
// operators even without spaces, a "quoted" token keeps its quotes (so "a" = "a" is 1 and
// "a" = a is 0), digits are numbers, `a | b` / `a & b` return an operand, `?` `::` is the
// conditional, `:` and `=~` are regex matches, and a syntax error yields "0" with a warning.

type Val = { t: 'num'; n: number } | { t: 'str'; s: string } | { t: 'numstr'; s: string };

const OPERATORS = ['||', '&&', '==', '=~', '~~', '>=', '<=', '!=', '::', '|', '&', '=', '>', '<', '+', ',', '-', '*', '/', '%', '?', '!', ':', '(', ')'];

interface Tok {
  op?: string;
  val?: Val;
}

export class ExpressionError extends Error {}

function lex(src: string, warn: (m: string) => void): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const isWord = (c: string, next: string | undefined) =>
    /[a-zA-Z0-9.';\\_^#@]/.test(c) || c.charCodeAt(0) >= 0x80 || (c === '$' && next !== undefined && next !== '{');
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (op) {
      out.push({ op: op === '||' ? '|' : op === '&&' ? '&' : op === '==' ? '=' : op });
      i += op.length;
      continue;
    }
    if (c === '"') {
      const end = src.indexOf('"', i + 1);
      if (end < 0) {
        warn(`unterminated quote in expression: ${src}`);
        i++;
        continue;
      }
      out.push({ val: { t: 'str', s: src.slice(i, end + 1) } });
      i = end + 1;
      continue;
    }
    if (isWord(c, src[i + 1])) {
      let j = i;
      while (j < src.length && isWord(src[j], src[j + 1])) j += src[j] === '$' ? 2 : 1;
      const word = src.slice(i, j);
      // flex: the number rule wins a tie in length, the word rule a longer match.
      out.push({ val: /^[0-9]+(\.[0-9]+)?$/.test(word) ? { t: 'numstr', s: word } : { t: 'str', s: word } });
      i = j;
      continue;
    }
    warn(`unexpected character ${JSON.stringify(c)} in expression: ${src}`);
    i++;
  }
  return out;
}

function makeStr(s: string): Val {
  let numeric = /^[0-9.]/.test(s);
  for (const ch of s) if (!/[0-9.]/.test(ch)) numeric = false;
  return numeric ? { t: 'numstr', s } : { t: 'str', s };
}

function toNumber(v: Val): number | undefined {
  if (v.t === 'num') return v.n;
  if (v.t === 'str') return undefined;
  const n = parseFloat(v.s);
  return Number.isNaN(n) ? 0 : n;
}

function toStr(v: Val): string {
  return v.t === 'num' ? formatNumber(v.n) : v.s;
}

/** %.18Lg in spirit: integers plainly, others in JavaScript's shortest form. */
function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : n < 0 ? '-inf' : 'nan';
  return Number.isInteger(n) && Math.abs(n) < 1e18 ? n.toFixed(0) : String(n);
}

function stripQuotes(s: string): string {
  return s.length >= 1 && s[0] === '"' && s[s.length - 1] === '"' ? s.replace(/"/g, '') : s;
}

function isZeroOrNull(v: Val): boolean {
  if (v.t === 'num') return v.n === 0;
  if (v.s === '') return true;
  const n = toNumber(v);
  return n !== undefined && n === 0;
}

function compare(a: Val, b: Val, test: (c: number) => boolean): Val {
  if (a.t === 'str' || b.t === 'str') {
    const x = toStr(a);
    const y = toStr(b);
    return { t: 'num', n: test(x < y ? -1 : x > y ? 1 : 0) ? 1 : 0 };
  }
  return { t: 'num', n: test(Math.sign(toNumber(a)! - toNumber(b)!)) ? 1 : 0 };
}

function regexMatch(a: Val, b: Val, anchored: boolean, warn: (m: string) => void): Val {
  const subject = stripQuotes(toStr(a));
  const pattern = stripQuotes(toStr(b));
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch {
    warn(`regcomp() error: ${pattern}`);
    return makeStr('');
  }
  const groups = new RegExp(`${pattern}|`).exec('')!.length - 1;
  const m = re.exec(subject);
  if (m && (!anchored || m.index === 0)) {
    if (groups > 0 && m[1] !== undefined) return makeStr(m[1]);
    return { t: 'num', n: m[0].length };
  }
  return groups === 0 ? { t: 'num', n: 0 } : makeStr('');
}

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[], private readonly warn: (m: string) => void) {}

  parse(): Val {
    if (this.toks.length === 0) return { t: 'str', s: '' };
    const v = this.cond();
    if (this.i < this.toks.length) throw new ExpressionError(`syntax error near token ${this.describe(this.toks[this.i])}`);
    return v;
  }

  private describe(t: Tok | undefined): string {
    return t === undefined ? 'end of expression' : t.op ?? toStr(t.val!);
  }

  private peek(op: string): boolean {
    return this.toks[this.i]?.op === op;
  }

  private expect(op: string): void {
    if (!this.peek(op)) throw new ExpressionError(`expected ${op}, found ${this.describe(this.toks[this.i])}`);
    this.i++;
  }

  private cond(): Val {
    let left = this.or();
    while (this.peek('?')) {
      this.i++;
      const yes = this.or();
      this.expect('::');
      const no = this.or();
      let truth: boolean;
      if (left.t === 'str') truth = left.s.length > 0 && left.s !== '""' && left.s !== '0';
      else truth = toNumber(left) !== 0;
      left = truth ? yes : no;
    }
    return left;
  }

  private or(): Val {
    let left = this.and();
    while (this.peek('|')) {
      this.i++;
      const right = this.and();
      left = isZeroOrNull(left) ? right : left;
    }
    return left;
  }

  private and(): Val {
    let left = this.comparison();
    while (this.peek('&')) {
      this.i++;
      const right = this.comparison();
      left = isZeroOrNull(left) || isZeroOrNull(right) ? { t: 'num', n: 0 } : left;
    }
    return left;
  }

  private comparison(): Val {
    let left = this.additive();
    for (;;) {
      const op = this.toks[this.i]?.op;
      const tests: Record<string, (c: number) => boolean> = {
        '=': (c) => c === 0,
        '!=': (c) => c !== 0,
        '<': (c) => c < 0,
        '>': (c) => c > 0,
        '<=': (c) => c <= 0,
        '>=': (c) => c >= 0,
      };
      if (!op || !tests[op]) return left;
      this.i++;
      left = compare(left, this.additive(), tests[op]);
    }
  }

  private additive(): Val {
    let left = this.multiplicative();
    for (;;) {
      const op = this.toks[this.i]?.op;
      if (op !== '+' && op !== '-') return left;
      this.i++;
      const right = this.multiplicative();
      const a = toNumber(left);
      const b = toNumber(right);
      if (a === undefined || b === undefined) this.warn('non-numeric argument');
      if (op === '+') left = a === undefined ? (b === undefined ? { t: 'num', n: 0 } : right) : b === undefined ? left : { t: 'num', n: a + b };
      else left = a === undefined ? { t: 'num', n: b === undefined ? 0 : -b } : b === undefined ? left : { t: 'num', n: a - b };
    }
  }

  private multiplicative(): Val {
    let left = this.unary();
    for (;;) {
      const op = this.toks[this.i]?.op;
      if (op !== '*' && op !== '/' && op !== '%') return left;
      this.i++;
      const right = this.unary();
      const a = toNumber(left);
      const b = toNumber(right);
      if (a === undefined || b === undefined) {
        this.warn('non-numeric argument');
        left = { t: 'num', n: op === '/' && a !== undefined ? 2147483647 : 0 };
      } else if (op === '*') left = { t: 'num', n: a * b };
      else if (b === 0) {
        this.warn('division by zero');
        left = op === '/' ? { t: 'num', n: 2147483647 } : right;
      } else left = { t: 'num', n: op === '/' ? a / b : a % b };
    }
  }

  private unary(): Val {
    if (this.peek('!')) {
      this.i++;
      const v = this.unary();
      let truth: boolean;
      if (v.t === 'num') truth = v.n !== 0;
      else if (v.s === '' || v.s === '0') truth = false;
      else truth = (parseInt(v.s, 10) || 0) !== 0;
      return { t: 'num', n: truth ? 0 : 1 };
    }
    if (this.peek('-')) {
      this.i++;
      const v = this.unary();
      const n = toNumber(v);
      if (n === undefined) {
        this.warn('non-numeric argument');
        return { t: 'num', n: 0 };
      }
      return { t: 'num', n: -n };
    }
    return this.match();
  }

  private match(): Val {
    let left = this.primary();
    for (;;) {
      const op = this.toks[this.i]?.op;
      if (op !== ':' && op !== '=~' && op !== '~~') return left;
      this.i++;
      const right = this.primary();
      if (op === '~~') left = makeStr(stripQuotes(toStr(left)) + stripQuotes(toStr(right)));
      else left = regexMatch(left, right, op === ':', this.warn);
    }
  }

  private primary(): Val {
    const t = this.toks[this.i];
    if (!t) throw new ExpressionError('unexpected end of expression');
    if (t.op === '(') {
      this.i++;
      const v = this.cond();
      this.expect(')');
      return v;
    }
    if (t.val) {
      this.i++;
      if (this.peek('(')) throw new ExpressionError(`function calls inside $[ ] (${toStr(t.val)}(…)) are not supported by the test PBX`);
      return t.val;
    }
    throw new ExpressionError(`syntax error near ${this.describe(t)}`);
  }
}

/**
 * Evaluates the text between $[ and ] (variables already substituted). Unsupported constructs
 * throw; what Asterisk only warns about goes to `warn`, and a syntax error gives "0".
 */
export function evaluateExpression(src: string, warn: (message: string) => void = () => undefined): string {
  const toks = lex(src, warn);
  try {
    return toStr(new Parser(toks, warn).parse());
  } catch (err) {
    if (err instanceof ExpressionError && !/not supported/.test(err.message)) {
      warn(`syntax error in $[${src}]: ${err.message}`);
      return '0';
    }
    throw err;
  }
}
