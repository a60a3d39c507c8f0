// The test PBX reads extensions.conf as Asterisk 22's config.c + pbx_config.c do, and refuses,
// with file and line, what Asterisk would refuse or what the test PBX does not support.
import { expect } from 'chai';
import { DialplanSyntaxError, parseDialplan } from '../helpers/pbx';
import { freepbxFixtures, freepbxPbx } from '../helpers/pbx/freepbx';

const parse = (text: string) => parseDialplan({ file: 'test.conf', text });

function rejects(text: string, message: RegExp, line: number) {
  let err: unknown;
  try {
    parse(text);
  } catch (e) {
    err = e;
  }
  expect(err, 'must throw').to.be.instanceOf(DialplanSyntaxError);
  expect((err as DialplanSyntaxError).line).to.equal(line);
  expect((err as Error).message).to.match(message);
}

describe('test PBX: dialplan parser', () => {
  it('reads exten/same, n, labels, +N, apps without parentheses, and keeps data verbatim', () => {
    const plan = parse(
      [
        '[ctx] ; a comment after the header',
        'exten => s,1,NoOp(a, "b" \\, c)',
        ' same => n(lbl),Answer',
        ' same => n,Set(X=${IF($[1=1]?a:b)})',
        'exten => s,10,Goto(lbl)',
        'exten => s,lbl+2,NoOp(label plus two)',
        'exten => 101,hint,PJSIP/101&Custom:DND101',
      ].join('\n'),
    );
    const s = plan.contexts.get('ctx')!.extensions.find((e) => e.name === 's')!;
    expect([...s.steps.keys()]).to.deep.equal([1, 2, 3, 10, 4]);
    expect(s.steps.get(1)).to.include({ app: 'NoOp', data: 'a, "b" \\, c', line: 2 });
    expect(s.steps.get(2)).to.include({ app: 'Answer', data: '', label: 'lbl' });
    expect(s.steps.get(3)!.data).to.equal('X=${IF($[1=1]?a:b)}');
    expect(s.steps.get(4)!.data).to.equal('label plus two');
    expect(plan.hint('101', 'ctx')).to.equal('PJSIP/101&Custom:DND101');
  });

  it('strips ; comments and ;-- --; blocks, keeps \\; as ;', () => {
    const plan = parse(['[c]', 'exten => s,1,Set(A=x\\;y) ; comment', ';-- a block', 'exten => s,2,NoOp(hidden)', '--;', 'exten => s,2,NoOp(;--== inline ==--; kept)', ';--== end of [c] ==--;'].join('\n'));
    const s = plan.contexts.get('c')!.extensions[0];
    expect(s.steps.get(1)!.data).to.equal('A=x;y');
    expect(s.steps.get(2)!.data).to.equal(' kept');
  });

  it('`n` continues from the last priority of the context, as pbx_config does', () => {
    const plan = parse(['[c]', 'exten => a,1,NoOp()', 'exten => a,n,NoOp()', 'exten => b,n,NoOp(b gets 3)'].join('\n'));
    expect([...plan.contexts.get('c')!.extensions[1].steps.keys()]).to.deep.equal([3]);
  });

  it('finds extensions as Asterisk does: exact before patterns, the narrower pattern first, then includes in order', () => {
    const plan = parse(
      [
        '[top]',
        'include => inc1',
        'include => inc2',
        'exten => _X.,1,NoOp(any)',
        'exten => _1XX,1,NoOp(three digits from 1)',
        'exten => 101,1,NoOp(exact)',
        'exten => _[+-X].,1,NoOp(FreePBX range)',
        '[inc1]',
        'exten => _*X.,1,NoOp(star)',
        '[inc2]',
        'exten => _*XX,1,NoOp(star two digits)',
        'exten => s,1,NoOp(s)',
      ].join('\n'),
    );
    const app = (exten: string) => plan.find('top', exten, 1)?.ext.steps.get(1)?.data;
    expect(app('101')).to.equal('exact');
    expect(app('102')).to.equal('three digits from 1');
    expect(app('1021')).to.equal('any');
    expect(app('+7495')).to.equal('FreePBX range');
    expect(app('*12')).to.equal('star');
    expect(app('s')).to.equal('s');
    expect(app('')).to.equal(undefined);
  });

  it('patterns: N Z X, ranges, . needs one more character, ! none', () => {
    const plan = parse(['[p]', 'exten => _NXX,1,NoOp(n)', 'exten => _Z!,1,NoOp(z)', 'exten => _9[0-3].,1,NoOp(r)'].join('\n'));
    const hit = (x: string) => plan.find('p', x, 1)?.ext.name;
    expect(hit('200')).to.equal('_NXX');
    expect(hit('100')).to.equal('_Z!');
    expect(hit('1')).to.equal('_Z!');
    expect(hit('92'), '. needs at least one more digit').to.equal('_Z!');
    expect(hit('921')).to.equal('_9[0-3].');
    expect(hit('941')).to.equal('_NXX');
  });

  const cases: Array<[string, string, RegExp, number]> = [
    ['same without exten', '[c]\n same => n,NoOp()', /same => with no previous exten/, 2],
    ['n on the first entry', '[c]\nexten => s,n,NoOp()', /can't use 'next'/, 2],
    ['duplicate priority', '[c]\nexten => s,1,NoOp()\nexten => s,1,NoOp()', /duplicate priority 1/, 3],
    ['label without )', '[c]\nexten => s,1(lab,NoOp()', /label missing trailing '\)'/, 2],
    ['no closing parenthesis', '[c]\nexten => s,1,NoOp(x', /no closing parenthesis/, 2],
    ['text after the parenthesis', '[c]\nexten => s,1,NoOp(x) y', /text after the closing parenthesis/, 2],
    ['unknown label as priority', '[c]\nexten => s,nolabel,NoOp()', /invalid priority\/label 'nolabel'/, 2],
    ['invalid application name', '[c]\nexten => s,1,${APP}(x)', /invalid application name/, 2],
    ['unknown directive', '[c]\nswitch => Realtime/x@y', /unknown directive switch/, 2],
    ['line outside a context', 'exten => s,1,NoOp()', /outside of any \[context\]/, 1],
    ['template context', '[c](!)\nexten => s,1,NoOp()', /templates/, 1],
    ['#exec', '[c]\n#exec /bin/true', /#exec/, 2],
    ['#include without a resolver', '#include other.conf', /no include resolver/, 1],
    ['unterminated block comment', '[c]\n;-- open\nexten => s,1,NoOp()', /unterminated ;-- block comment/, 3],
    ['missing application', '[c]\nexten => s,1,', /missing application/, 2],
    ['unknown [general] option', '[general]\nfoo=bar', /unknown \[general\] option foo/, 2],
  ];
  for (const [name, text, msg, line] of cases) it(`refuses ${name}`, () => rejects(text, msg, line));

  it('#include goes through the resolver', () => {
    const plan = parseDialplan({ file: 'main.conf', text: '#include "extra.conf"\n' }, (name) => ({ file: name, text: '[x]\nexten => s,1,NoOp(from include)' }));
    expect(plan.find('x', 's', 1)?.ext.steps.get(1)?.file).to.equal('extra.conf');
  });

  for (const fx of freepbxFixtures())
    it(`parses the ${fx.name}, and every application in it is one the test PBX runs`, () => {
      const plan = fx.dialplan;
      const pbx = freepbxPbx({ fixture: fx, agiDir: '/nonexistent', spoolDir: '/nonexistent' });
      const unknown = [...plan.applications().values()].filter((s) => !pbx.hasApp(s.app)).map((s) => `${s.app} (${s.file}:${s.line})`);
      expect(unknown).to.deep.equal([]);
      expect(plan.contexts.size).to.be.greaterThan(30);
      for (const did of Object.values(fx.dids)) expect(plan.findLabel('ext-did-0002', did!, 'did-cid-hook'), did).to.be.a('number');
    });
});
