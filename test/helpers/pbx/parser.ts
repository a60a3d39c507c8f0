// extensions.conf as Asterisk's config.c + pbx_config.c read it, restricted to what FreePBX writes.
// Strict: whatever Asterisk would refuse, and whatever this test PBX does not understand, throws
// a DialplanSyntaxError naming the file and line; nothing is silently skipped.

export class DialplanSyntaxError extends Error {
  constructor(message: string, readonly file: string, readonly line: number) {
    super(`${file}:${line}: ${message}`);
    this.name = 'DialplanSyntaxError';
  }
}

export interface Step {
  context: string;
  exten: string;
  priority: number;
  label?: string;
  app: string;
  data: string;
  file: string;
  line: number;
}

export interface Extension {
  /** As written: `s`, `101`, `_X.`. */
  name: string;
  /** Caller-ID match (`exten => DID/CID,…`), if any. */
  cid?: string;
  steps: Map<number, Step>;
  labels: Map<string, number>;
  hint?: string;
  lastPriority: number;
  matcher: PatternMatcher;
  cidMatcher?: PatternMatcher;
}

export interface Context {
  name: string;
  includes: string[];
  extensions: Extension[];
}

export interface DialplanSource {
  file: string;
  text: string;
}

const GENERAL_KEYS = new Set(['static', 'writeprotect', 'autofallthrough', 'clearglobalvars', 'extenpatternmatchnew', 'userscontext']);
const APP_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

export class Dialplan {
  readonly contexts = new Map<string, Context>();
  readonly globals = new Map<string, string>();

  /** Every application name the dialplan uses, with the first line using it. */
  applications(): Map<string, Step> {
    const out = new Map<string, Step>();
    for (const ctx of this.contexts.values())
      for (const ext of ctx.extensions) for (const step of ext.steps.values()) if (!out.has(step.app.toLowerCase())) out.set(step.app.toLowerCase(), step);
    return out;
  }

  /** The extension Asterisk would run for `exten` at `priority` in `context` (includes searched in order). */
  find(context: string, exten: string, priority: number, callerNum?: string): { context: Context; ext: Extension } | undefined {
    return this.search(context, exten, callerNum, (e) => e.steps.has(priority), new Set());
  }

  /** Priority of a label in the extension that matches `exten`. */
  findLabel(context: string, exten: string, label: string, callerNum?: string): number | undefined {
    const hit = this.search(context, exten, callerNum, (e) => e.labels.has(label), new Set());
    return hit?.ext.labels.get(label);
  }

  exists(context: string, exten: string, priority = 1, callerNum?: string): boolean {
    return this.find(context, exten, priority, callerNum) !== undefined;
  }

  /** ast_matchmore_extension: could a longer string still match an extension here? */
  canMatchMore(context: string, prefix: string, callerNum?: string, seen = new Set<string>()): boolean {
    if (seen.has(context)) return false;
    seen.add(context);
    const ctx = this.contexts.get(context);
    if (!ctx) return false;
    for (const e of ctx.extensions) {
      if (e.cidMatcher && !e.cidMatcher.matches(callerNum ?? '')) continue;
      if (!e.matcher.isPattern) {
        if (e.name.length > prefix.length && e.name.startsWith(prefix)) return true;
      } else if (matchesLonger(e.matcher.tokens, prefix)) return true;
    }
    return ctx.includes.some((inc) => this.canMatchMore(inc, prefix, callerNum, seen));
  }

  hint(exten: string, context: string): string | undefined {
    const hit = this.search(context, exten, undefined, (e) => e.hint !== undefined, new Set());
    return hit?.ext.hint;
  }

  private search(
    name: string,
    exten: string,
    callerNum: string | undefined,
    has: (e: Extension) => boolean,
    seen: Set<string>,
  ): { context: Context; ext: Extension } | undefined {
    if (seen.has(name)) return undefined;
    seen.add(name);
    const ctx = this.contexts.get(name);
    if (!ctx) return undefined;
    const candidates = ctx.extensions
      .filter((e) => e.matcher.matches(exten) && (!e.cidMatcher || e.cidMatcher.matches(callerNum ?? '')) && has(e))
      .sort((a, b) => compareExtensions(a, b));
    if (candidates.length) return { context: ctx, ext: candidates[0] };
    for (const inc of ctx.includes) {
      const hit = this.search(inc, exten, callerNum, has, seen);
      if (hit) return hit;
    }
    return undefined;
  }
}

// ---------------------------------------------------------------- patterns

type Token = { kind: 'set'; chars: (c: string) => boolean; size: number } | { kind: 'dot' } | { kind: 'bang' };

export class PatternMatcher {
  readonly isPattern: boolean;
  readonly tokens: Token[];

  constructor(readonly text: string) {
    this.isPattern = text.startsWith('_');
    this.tokens = this.isPattern ? compilePattern(text.slice(1)) : [];
  }

  matches(exten: string): boolean {
    if (!this.isPattern) return exten === this.text;
    return matchTokens(this.tokens, 0, exten, 0);
  }
}

function compilePattern(p: string): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    const up = c.toUpperCase();
    if (c === '-') continue; // Asterisk ignores dashes outside brackets (_1-800-NXX)
    if (up === 'X') out.push({ kind: 'set', chars: (x) => x >= '0' && x <= '9', size: 10 });
    else if (up === 'Z') out.push({ kind: 'set', chars: (x) => x >= '1' && x <= '9', size: 9 });
    else if (up === 'N') out.push({ kind: 'set', chars: (x) => x >= '2' && x <= '9', size: 8 });
    else if (c === '.') {
      out.push({ kind: 'dot' });
      break;
    } else if (c === '!') {
      out.push({ kind: 'bang' });
      break;
    } else if (c === '[') {
      const end = p.indexOf(']', i);
      if (end < 0) throw new Error(`unterminated [ in pattern _${p}`);
      const body = p.slice(i + 1, end);
      const set = new Set<string>();
      for (let j = 0; j < body.length; j++) {
        if (body[j + 1] === '-' && j + 2 < body.length) {
          for (let code = body.charCodeAt(j); code <= body.charCodeAt(j + 2); code++) set.add(String.fromCharCode(code));
          j += 2;
        } else set.add(body[j]);
      }
      out.push({ kind: 'set', chars: (x) => set.has(x), size: set.size });
      i = end;
    } else out.push({ kind: 'set', chars: (x) => x === c, size: 1 });
  }
  return out;
}

/** A pattern that would match `prefix` followed by at least one more character. */
function matchesLonger(tokens: Token[], prefix: string): boolean {
  let ti = 0;
  for (let i = 0; i < prefix.length; i++, ti++) {
    const t = tokens[ti];
    if (!t) return false;
    if (t.kind !== 'set') return true;
    if (!t.chars(prefix[i])) return false;
  }
  return ti < tokens.length;
}

function matchTokens(tokens: Token[], ti: number, s: string, si: number): boolean {
  if (ti === tokens.length) return si === s.length;
  const t = tokens[ti];
  if (t.kind === 'dot') return si < s.length;
  if (t.kind === 'bang') return true;
  return si < s.length && t.chars(s[si]) && matchTokens(tokens, ti + 1, s, si + 1);
}

/** Asterisk's ext_cmp in spirit: exact names first, then the pattern whose first differing position matches fewer characters. */
function compareExtensions(a: Extension, b: Extension): number {
  const pa = a.matcher;
  const pb = b.matcher;
  if (!pa.isPattern || !pb.isPattern) return (pa.isPattern ? 1 : 0) - (pb.isPattern ? 1 : 0);
  const weight = (t: Token | undefined) => (t === undefined ? 0 : t.kind === 'set' ? t.size : t.kind === 'dot' ? 1000 : 2000);
  for (let i = 0; i < Math.max(pa.tokens.length, pb.tokens.length); i++) {
    const d = weight(pa.tokens[i]) - weight(pb.tokens[i]);
    if (d !== 0) return d;
  }
  return 0;
}

// ---------------------------------------------------------------- config.c

interface ConfigLine {
  file: string;
  line: number;
  text: string;
}

/** Comment removal as config.c does it: `;` line comments, `;--` … `--;` blocks, `\;` kept as `;`. */
function configLines(src: DialplanSource, include: ((name: string) => DialplanSource) | undefined, depth = 0): ConfigLine[] {
  if (depth > 10) throw new DialplanSyntaxError('#include nested too deeply', src.file, 0);
  const out: ConfigLine[] = [];
  let nest = 0;
  src.text.split(/\r?\n/).forEach((raw, idx) => {
    const lineNo = idx + 1;
    let buf = '';
    let i = 0;
    while (i < raw.length) {
      const c = raw[i];
      if (c === '\\' && raw[i + 1] === ';') {
        if (!nest) buf += ';';
        i += 2;
        continue;
      }
      if (c === ';' && raw[i + 1] === '-' && raw[i + 2] === '-' && raw[i + 3] !== '-') {
        nest++;
        i += 3;
        continue;
      }
      if (nest && c === '-' && raw[i + 1] === '-' && raw[i + 2] === ';') {
        nest--;
        i += 3;
        continue;
      }
      if (c === ';' && !nest) break;
      if (!nest) buf += c;
      i++;
    }
    const text = buf.trim();
    if (!text) return;
    const directive = /^#(include|tryinclude|exec)\s+"?([^"]+)"?$/.exec(text);
    if (directive) {
      if (directive[1] === 'exec') throw new DialplanSyntaxError('#exec is not supported by the test PBX', src.file, lineNo);
      if (!include) throw new DialplanSyntaxError(`#${directive[1]} ${directive[2]}: no include resolver given`, src.file, lineNo);
      out.push(...configLines(include(directive[2].trim()), include, depth + 1));
      return;
    }
    if (text.startsWith('#')) throw new DialplanSyntaxError(`unknown directive ${text.split(/\s/)[0]}`, src.file, lineNo);
    out.push({ file: src.file, line: lineNo, text });
  });
  if (nest) throw new DialplanSyntaxError('unterminated ;-- block comment', src.file, src.text.split('\n').length);
  return out;
}

/** pbx_strsep: strsep on `,` that ignores commas inside [ ]. */
function takeField(s: string): [string, string | undefined] {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '[') depth++;
    else if (s[i] === ']' && depth) depth--;
    else if (s[i] === ',' && !depth) return [s.slice(0, i), s.slice(i + 1)];
  }
  return [s, undefined];
}

export function parseDialplan(sources: DialplanSource | DialplanSource[], include?: (name: string) => DialplanSource): Dialplan {
  const plan = new Dialplan();
  const lines = ([] as DialplanSource[]).concat(sources).flatMap((s) => configLines(s, include));
  let section: string | undefined;
  let ctx: Context | undefined;
  let lastExten: string | undefined;
  let lastPri = -2;

  for (const l of lines) {
    const fail = (msg: string): never => {
      throw new DialplanSyntaxError(msg, l.file, l.line);
    };
    const cat = /^\[([^\]]*)\](.*)$/.exec(l.text);
    if (cat) {
      const name = cat[1].trim();
      if (!name) fail('empty context name');
      if (cat[2].trim()) fail(`context options ${cat[2].trim()} (templates) are not supported`);
      section = name;
      lastExten = undefined;
      lastPri = -2;
      if (name.toLowerCase() === 'general' || name.toLowerCase() === 'globals') {
        ctx = undefined;
        continue;
      }
      ctx = plan.contexts.get(name);
      if (!ctx) {
        ctx = { name, includes: [], extensions: [] };
        plan.contexts.set(name, ctx);
      }
      continue;
    }
    const eq = l.text.indexOf('=');
    if (eq < 0) fail(`not a "name => value" line: ${l.text}`);
    const key = l.text.slice(0, eq).trim().toLowerCase();
    let value = l.text.slice(eq + 1);
    if (value.startsWith('>')) value = value.slice(1);
    value = value.trim();
    if (section === undefined) fail('line outside of any [context]');
    if (section!.toLowerCase() === 'general') {
      if (!GENERAL_KEYS.has(key)) fail(`unknown [general] option ${key}`);
      continue;
    }
    if (section!.toLowerCase() === 'globals') {
      plan.globals.set(l.text.slice(0, eq).trim(), value);
      continue;
    }
    const context = ctx!;
    if (key === 'include') {
      if (!value) fail('include without a context');
      if (context.includes.includes(value)) fail(`context ${value} already included in ${context.name}`);
      context.includes.push(value);
      continue;
    }
    if (key === 'ignorepat') continue;
    if (key !== 'exten' && key !== 'same') fail(`unknown directive ${key} in [${context.name}]`);

    let rest: string | undefined = value;
    let extName: string;
    if (key === 'same') {
      if (lastExten === undefined) fail(`same => with no previous exten in [${context.name}]`);
      extName = lastExten!;
    } else {
      [extName, rest] = takeField(value);
      if (extName.includes('${')) fail('variables in extension names are not supported');
      // Like pbx_config: `n` counts from the last priority of the context, not of this extension.
      lastExten = extName;
    }
    let cid: string | undefined;
    const slash = extName.indexOf('/');
    const bareName = slash >= 0 ? extName.slice(0, slash) : extName;
    if (slash >= 0) cid = extName.slice(slash + 1);
    if (!bareName) fail('empty extension name');
    if (rest === undefined) fail('missing priority');
    const comma = rest!.indexOf(',');
    let pri = (comma < 0 ? rest! : rest!.slice(0, comma)).trim();
    const appl = comma < 0 ? '' : rest!.slice(comma + 1);
    let label: string | undefined;
    const lp = pri.indexOf('(');
    if (lp >= 0) {
      const rp = pri.indexOf(')', lp);
      if (rp < 0) fail(`label missing trailing ')' in ${pri}`);
      label = pri.slice(lp + 1, rp);
      pri = pri.slice(0, lp);
    }
    let plus = 0;
    const plusAt = pri.indexOf('+');
    if (plusAt >= 0) {
      plus = Number(pri.slice(plusAt + 1));
      if (!Number.isInteger(plus)) fail(`invalid priority offset in ${pri}`);
      pri = pri.slice(0, plusAt);
    }
    let ext = context.extensions.find((e) => e.name === bareName && e.cid === cid);
    if (pri === 'hint') {
      if (!ext) ext = newExtension(context, bareName, cid);
      ext.hint = appl;
      continue;
    }
    let ipri: number;
    if (pri === 'n' || pri === 'next') {
      if (lastPri < -1) fail(`can't use 'next' priority on the first entry`);
      ipri = lastPri + 1;
    } else if (pri === 's' || pri === 'same') {
      if (lastPri < -1) fail(`can't use 'same' priority on the first entry`);
      ipri = lastPri;
    } else if (/^\d+$/.test(pri)) {
      ipri = Number(pri);
      if (ipri < 1) fail(`invalid priority ${pri}`);
    } else {
      const byLabel = ext?.labels.get(pri);
      if (byLabel === undefined) fail(`invalid priority/label '${pri}'`);
      ipri = byLabel!;
    }
    ipri += plus;
    if (!appl.trim()) fail('missing application');
    let app: string;
    let data = '';
    const paren = appl.indexOf('(');
    if (paren < 0) app = appl.trim();
    else {
      app = appl.slice(0, paren).trim();
      const close = appl.lastIndexOf(')');
      if (close < paren) fail(`no closing parenthesis: ${appl}`);
      if (appl.slice(close + 1).trim()) fail(`text after the closing parenthesis: ${appl}`);
      data = appl.slice(paren + 1, close);
    }
    if (!APP_NAME.test(app)) fail(`invalid application name ${JSON.stringify(app)}`);
    if (!ext) ext = newExtension(context, bareName, cid);
    if (ext.steps.has(ipri)) fail(`duplicate priority ${ipri} of ${bareName}@${context.name}`);
    if (label !== undefined) {
      if (ext.labels.has(label)) fail(`duplicate label ${label} in ${bareName}@${context.name}`);
      ext.labels.set(label, ipri);
    }
    ext.steps.set(ipri, { context: context.name, exten: bareName, priority: ipri, label, app, data, file: l.file, line: l.line });
    ext.lastPriority = Math.max(ext.lastPriority, ipri);
    lastPri = ipri;
  }
  return plan;
}

function newExtension(ctx: Context, name: string, cid: string | undefined): Extension {
  let matcher: PatternMatcher;
  try {
    matcher = new PatternMatcher(name);
  } catch (err) {
    throw new Error(`${(err as Error).message} in [${ctx.name}]`);
  }
  const ext: Extension = {
    name,
    cid,
    steps: new Map(),
    labels: new Map(),
    lastPriority: 0,
    matcher,
    cidMatcher: cid !== undefined ? new PatternMatcher(cid) : undefined,
  };
  ctx.extensions.push(ext);
  return ext;
}
