// $[ ] evaluation, ${ } substitution and argument splitting, checked against Asterisk 22's
// own code (main/ast_expr2.y, ast_expr2.fl, pbx_variables.c, app.c) and the Operators page of
// docs.asterisk.org. Where the two disagree the code wins (noted below).
import { expect } from 'chai';
import { evaluateExpression, separateArgs, substitute } from '../helpers/pbx';

describe('test PBX: $[ ] expressions', () => {
  const vectors: Array<[string, string]> = [
    ['1 + 1', '2'],
    ['5/2', '2.5'], // floating point division
    ['10 % 3', '1'],
    ['-5 + 2', '-3'],
    ['(1+2)*3', '9'],
    ['2+3*4', '14'],
    ['1=1&2=2', '1'], // operators split tokens without spaces
    ['"abc" = "abc"', '1'],
    ['"abc" = abc', '0'], // a quoted token keeps its quotes (op_eq does not strip them)
    ['"" = ""', '1'],
    [' = ', '0'], // syntax error: Asterisk answers 0 and warns
    ['', ''],
    ['3 > 10', '0'], // numbers compare as numbers
    ['"3" > "10"', '1'], // quoted, they compare as strings
    ['101 = 101', '1'],
    ['0 | 7', '7'], // | returns an operand, not 1
    ['5 | 7', '5'],
    ['0 | "x"', '"x"'],
    ['a & b', 'a'],
    ['0 & b', '0'],
    ['!0', '1'],
    ['!1', '0'],
    ['!""', '1'],
    ['!abc', '1'], // op_compl uses atoi(): a word is 0 (the docs say 0 here; the code says 1)
    ['1 ? yes :: no', 'yes'],
    ['0 ? yes :: no', 'no'],
    ['"" ? yes :: no', 'no'],
    ['abc : "a(b)c"', 'b'], // : is anchored and returns the first group
    ['"123abc" : "[0-9]+"', '3'], // without a group: the length of the match
    ['x123 : "[0-9]+"', '0'],
    ['x123 =~ "[0-9]+"', '3'], // =~ is not anchored
    ['"ab" ~~ "cd"', 'abcd'],
    ['!1 : 1', '0'], // : binds tighter than !
    ['PJSIP/101-0000 = 1', '0'], // unquoted / and - are operators (division)
  ];
  for (const [expr, want] of vectors) {
    it(`$[${expr}] = ${JSON.stringify(want)}`, () => {
      const warnings: string[] = [];
      expect(evaluateExpression(expr, (w) => warnings.push(w))).to.equal(want);
      if (expr.trim() === '=') expect(warnings.join()).to.match(/syntax error/);
    });
  }

  it('refuses function calls inside $[ ] instead of guessing (an unquoted regex with ( ) is one)', () => {
    expect(() => evaluateExpression('COS(0)')).to.throw(/not supported/);
    expect(() => evaluateExpression('abc : a(b)c')).to.throw(/a\(…\)/);
  });
});

describe('test PBX: ${ } substitution', () => {
  const vars: Record<string, string> = { X: 'abcdef', N: '2', NAME: 'X', EMPTY: '', D: 'PJSIP/101-0000000a' };
  const resolver = (warnings: string[] = []) => ({
    variable: (n: string) => vars[n],
    func: (call: string) => {
      const m = /^LEN\((.*)\)$/.exec(call);
      if (m) return String(m[1].length);
      const cut = /^CUT\((\w+),(.),(\d)\)$/.exec(call);
      if (cut) return (vars[cut[1]] ?? '').split(cut[2])[Number(cut[3]) - 1];
      throw new Error(`no ${call}`);
    },
    warn: (w: string) => warnings.push(w),
  });
  const vectors: Array<[string, string]> = [
    ['${X}', 'abcdef'],
    ['${X:1:2}', 'bc'],
    ['${X:-3}', 'def'],
    ['${X:0:-1}', 'abcde'],
    ['${X:-3:2}', 'de'],
    ['${X:10}', ''],
    ['${X:${N}}', 'cdef'],
    ['${${NAME}}', 'abcdef'],
    ['${UNSET}|${EMPTY}|', '||'],
    ['$[${N}+1]', '3'],
    ['${LEN(${X})}', '6'],
    ['${CUT(D,-,1)}', 'PJSIP/101'],
    ['cost $5 ${N}', 'cost $5 2'],
    ['$[$[1+1]*3]', '6'],
    ['^{X}', '^{X}'],
  ];
  for (const [t, want] of vectors) it(`${t} → ${JSON.stringify(want)}`, () => expect(substitute(t, resolver())).to.equal(want));

  it('warns about a missing } and substitutes what is there', () => {
    const w: string[] = [];
    expect(substitute('a${X', resolver(w))).to.equal('aabcdef');
    expect(w.join()).to.match(/missing '}'/);
  });
});

describe('test PBX: application argument splitting (__ast_app_separate_args)', () => {
  const vectors: Array<[string, boolean, string[]]> = [
    ['a,b', true, ['a', 'b']],
    ['a\\,b,c', true, ['a,b', 'c']], // standard args: backslash escapes and is removed
    ['a\\,b,c', false, ['a\\,b', 'c']], // raw args (Gosub, ExecIf): backslash kept
    ['"quoted, with comma",x', true, ['quoted, with comma', 'x']],
    ['"quoted, with comma",x', false, ['"quoted, with comma"', 'x']],
    ['f(a,b),c', true, ['f(a,b)', 'c']],
    ['[a,b],c', true, ['[a,b]', 'c']],
    ['a,,c', true, ['a', '', 'c']],
    ['a,', true, ['a', '']],
    ['', true, []],
  ];
  for (const [input, remove, want] of vectors)
    it(`${remove ? 'standard' : 'raw'} ${JSON.stringify(input)}`, () => expect(separateArgs(input, ',', remove)).to.deep.equal(want));

  it('the last argument of a fixed list takes the rest, unprocessed', () => {
    expect(separateArgs('a,"b",c\\,d', ',', true, 2)).to.deep.equal(['a', '"b",c\\,d']);
  });
});
