// Dialplan functions the FreePBX call paths use, with Asterisk 22's argument rules. A function
// not listed here fails the test with its name: the test PBX never guesses.
import { separateArgs, splitOnce, checkCondition, standardArgs } from './args';
import type { Channel } from './channel';

/** What a function may touch: the PBX around the channel. */
export interface FunctionHost {
  readonly now: () => number;
  astdb: Map<string, string>;
  channelByName(name: string): Channel | undefined;
  channelByUniqueid(uniqueid: string): Channel | undefined;
  /** `${…}` substitution on a channel. */
  substitute(chan: Channel | undefined, text: string): string;
  /** Set(name=value) on a channel, functions included. */
  setVariable(chan: Channel, name: string, value: string): void;
  deviceState(exten: string, context: string): string;
  dialplanExists(context: string, exten: string, priority: number, callerNum?: string): boolean;
  channelsWhere(test: (c: Channel) => boolean): Channel[];
  /** TIMEOUT(absolute): the channel is hung up after this long. */
  absoluteTimeout(chan: Channel, ms: number): void;
  /** PJSIP_DIAL_CONTACTS for an endpoint: empty when nothing is registered. */
  dialContacts(endpoint: string): string;
  warn(message: string): void;
}

export interface DialplanFunction {
  read?(host: FunctionHost, chan: Channel | undefined, args: string): string | undefined;
  write?(host: FunctionHost, chan: Channel, args: string, value: string): void;
}

export class UnsupportedError extends Error {}

const need = (chan: Channel | undefined, fn: string): Channel => {
  if (!chan) throw new UnsupportedError(`${fn}() needs a channel`);
  return chan;
};

function dbKey(args: string): [string, string] {
  const slash = args.indexOf('/');
  if (slash < 0) throw new UnsupportedError(`DB key ${JSON.stringify(args)} has no family/key`);
  return [args.slice(0, slash), args.slice(slash + 1)];
}

function party(p: { num: string; name: string }, field: string, fn: string): string {
  switch (field.trim().toLowerCase()) {
    case 'num':
    case 'number':
      return p.num;
    case 'name':
      return p.name;
    case 'all':
      return `"${p.name}" <${p.num}>`;
    default:
      throw new UnsupportedError(`${fn}(${field}) is not supported by the test PBX`);
  }
}

function setParty(p: { num: string; name: string }, field: string, value: string, fn: string): void {
  switch (field.trim().toLowerCase()) {
    case 'num':
    case 'number':
      p.num = value;
      return;
    case 'name':
      p.name = value;
      return;
    case 'all': {
      const m = /^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$/.exec(value);
      if (m) {
        p.name = m[1];
        p.num = m[2];
      } else p.name = value;
      return;
    }
    default:
      throw new UnsupportedError(`${fn}(${field})= is not supported by the test PBX`);
  }
}

const PRES_FIELDS = new Set(['pres', 'name-pres', 'num-pres']);

const HASH_PREFIX = (name: string) => `~HASH~${name}~`;

function cut(host: FunctionHost, chan: Channel | undefined, data: string): string | undefined {
  const [varname, delimiter, field] = standardArgs(data, 3);
  if (field === undefined) return undefined;
  const value = host.substitute(chan, `\${${varname}}`);
  const d = delimiter ? (delimiter.startsWith('\\') && delimiter.length > 1 ? delimiter[1] : delimiter[0]) : '-';
  if (!value) return '';
  const parts = value.split(d);
  const out: string[] = [];
  let cur = 1;
  let idx = 0;
  for (const range of field.split('&')) {
    let start: number;
    let stop: number;
    let m: RegExpExecArray | null;
    if ((m = /^(\d+)-(\d+)/.exec(range))) [start, stop] = [Number(m[1]), Number(m[2])];
    else if ((m = /^-(\d+)/.exec(range))) [start, stop] = [1, Number(m[1])];
    else if ((m = /^(\d+)-/.exec(range))) [start, stop] = [Number(m[1]), Number.MAX_SAFE_INTEGER];
    else if ((m = /^(\d+)/.exec(range))) [start, stop] = [Number(m[1]), Number(m[1])];
    else return undefined;
    while (idx < parts.length && cur < start) {
      idx++;
      cur++;
    }
    while (idx < parts.length && cur <= stop) {
      out.push(parts[idx]);
      idx++;
      cur++;
    }
  }
  return out.join(d);
}

function strftime(epoch: number, format: string): string {
  const d = new Date(Math.floor(epoch * 1000));
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return format.replace(/%(\d?)([a-zA-Z%])/g, (_m, width: string, c: string) => {
    if (c === 'q') {
      // Asterisk's extension: fractional seconds, %3q milliseconds (default 3 digits).
      const n = Number(width || 3);
      return String(Math.floor((epoch % 1) * 10 ** n + 1e-6)).padStart(n, '0');
    }
    switch (c) {
      case 'Y': return String(d.getFullYear());
      case 'm': return p(d.getMonth() + 1);
      case 'd': return p(d.getDate());
      case 'H': return p(d.getHours());
      case 'M': return p(d.getMinutes());
      case 'S': return p(d.getSeconds());
      case 's': return String(Math.floor(epoch));
      case '%': return '%';
      default: throw new UnsupportedError(`STRFTIME format %${c} is not supported by the test PBX`);
    }
  });
}

function math(expr: string, type: string | undefined): string | undefined {
  const m = /^\s*(-?[\d.]+)\s*(\*|\/|%|\+|-)\s*(-?[\d.]+)\s*$/.exec(expr);
  if (!m) throw new UnsupportedError(`MATH(${expr}) is not supported by the test PBX`);
  const a = Number(m[1]);
  const b = Number(m[3]);
  const r = m[2] === '*' ? a * b : m[2] === '/' ? a / b : m[2] === '%' ? a % b : m[2] === '+' ? a + b : a - b;
  const t = (type ?? 'f').toLowerCase();
  if (t === 'i' || t === 'int') return String(Math.trunc(r));
  if (t === 'f' || t === 'float') return r.toFixed(6);
  throw new UnsupportedError(`MATH result type ${type} is not supported by the test PBX`);
}

function posixRegex(pattern: string): RegExp {
  // POSIX bracket expressions take a backslash literally; JavaScript would read an escape.
  return new RegExp(pattern.replace(/\[([^\]]*)\]/g, (all, body: string) => `[${body.replace(/\\/g, '\\\\')}]`));
}

export const FUNCTIONS: Record<string, DialplanFunction> = {
  CHANNEL: {
    read(host, chan, args) {
      const c = need(chan, 'CHANNEL');
      switch (args.trim()) {
        case 'name': return c.name;
        case 'uniqueid': return c.uniqueid;
        case 'linkedid': return c.linkedid;
        case 'state': return c.state;
        case 'language': return c.language;
        case 'accountcode': return c.accountcode;
        case 'channeltype': return c.tech;
        case 'musicclass': return c.getVar('__MOH_CLASS') ?? '';
        case 'tonezone':
        case 'amaflags':
        case 'peeraccount':
        case 'hangupsource':
        case 'callgroup':
        case 'pickupgroup':
          return c.props.get(`CHANNEL(${args.trim()})`) ?? '';
        case 'endpoint':
          if (c.tech !== 'PJSIP') {
            host.warn(`Unknown or unavailable item requested: 'endpoint' on ${c.name}`);
            return undefined;
          }
          return c.endpoint;
        default:
          throw new UnsupportedError(`CHANNEL(${args}) is not supported by the test PBX`);
      }
    },
    write(_host, chan, args, value) {
      switch (args.trim()) {
        case 'hangup_handler_push':
          chan.hangupHandlers.push(value);
          return;
        case 'hangup_handler_pop':
          chan.hangupHandlers.pop();
          if (value) chan.hangupHandlers.push(value);
          return;
        case 'hangup_handler_wipe':
          chan.hangupHandlers = value ? [value] : [];
          return;
        case 'language':
          chan.language = value;
          return;
        case 'accountcode':
          chan.accountcode = value;
          return;
        case 'musicclass':
          chan.setVar('__MOH_CLASS', value);
          return;
        case 'tonezone':
        case 'amaflags':
        case 'peeraccount':
        case 'hangupsource':
        case 'callgroup':
        case 'pickupgroup':
          // Nothing here plays tones or bills: keep the value so it reads back.
          chan.props.set(`CHANNEL(${args.trim()})`, value);
          return;
        default:
          throw new UnsupportedError(`Set(CHANNEL(${args})) is not supported by the test PBX`);
      }
    },
  },
  CALLERID: {
    read(_h, chan, args) {
      const c = need(chan, 'CALLERID');
      const field = args.split(',')[0].trim().toLowerCase();
      if (field === 'dnid') return c.dnid;
      if (PRES_FIELDS.has(field)) return c.props.get(`CALLERID(${field})`) ?? (c.caller.num ? 'allowed_not_screened' : 'unavailable');
      return party(c.caller, field, 'CALLERID');
    },
    write(_h, chan, args, value) {
      const field = args.split(',')[0].trim().toLowerCase();
      if (field === 'dnid') chan.dnid = value;
      else if (PRES_FIELDS.has(field)) chan.props.set(`CALLERID(${field})`, value);
      else setParty(chan.caller, field, value, 'CALLERID');
    },
  },
  CONNECTEDLINE: {
    read: (_h, chan, args) => party(need(chan, 'CONNECTEDLINE').connected, args.split(',')[0], 'CONNECTEDLINE'),
    write: (_h, chan, args, value) => setParty(chan.connected, args.split(',')[0], value, 'CONNECTEDLINE'),
  },
  SHARED: {
    read(host, chan, args) {
      const [name, other] = standardArgs(args, 2);
      const target = other ? host.channelByName(other) : chan;
      if (!target) {
        host.warn(`SHARED: channel ${other} not found`);
        return undefined;
      }
      return target.shared.get(name ?? '');
    },
    write(host, chan, args, value) {
      const [name, other] = standardArgs(args, 2);
      const target = other ? host.channelByName(other) : chan;
      if (!target) {
        host.warn(`SHARED: channel ${other} not found`);
        return;
      }
      if (value === '') target.shared.delete(name ?? '');
      else target.shared.set(name ?? '', value);
    },
  },
  MASTER_CHANNEL: {
    read(host, chan, args) {
      const master = host.channelByUniqueid(need(chan, 'MASTER_CHANNEL').linkedid);
      return master ? host.substitute(master, `\${${args}}`) : undefined;
    },
    write(host, chan, args, value) {
      const master = host.channelByUniqueid(chan.linkedid);
      if (master) host.setVariable(master, args, value);
    },
  },
  LOCAL: {
    read: (_h, chan, args) => need(chan, 'LOCAL').getVar(args),
    write(_h, chan, args, value) {
      const frame = chan.stack[chan.stack.length - 1];
      if (!frame) throw new UnsupportedError('LOCAL() outside a Gosub');
      if (frame.locals.has(args)) chan.setVar(args, value);
      else {
        frame.locals.add(args);
        chan.pushVar(args, value);
      }
    },
  },
  DB: {
    read(host, chan, args) {
      const [f, k] = dbKey(args);
      const v = host.astdb.get(`${f}/${k}`);
      if (v !== undefined && chan) chan.setVar('DB_RESULT', v);
      return v ?? '';
    },
    write(host, _chan, args, value) {
      const [f, k] = dbKey(args);
      host.astdb.set(`${f}/${k}`, value);
    },
  },
  DB_EXISTS: {
    read(host, chan, args) {
      const [f, k] = dbKey(args);
      const v = host.astdb.get(`${f}/${k}`);
      if (chan) chan.setVar('DB_RESULT', v ?? '');
      return v === undefined ? '0' : '1';
    },
  },
  DB_DELETE: {
    read(host, chan, args) {
      const [f, k] = dbKey(args);
      const key = `${f}/${k}`;
      const v = host.astdb.get(key);
      host.astdb.delete(key);
      if (chan && v !== undefined) chan.setVar('DB_RESULT', v);
      return v ?? '';
    },
  },
  CUT: { read: (host, chan, args) => cut(host, chan, args) },
  IF: {
    // func_logic.c: AST_NONSTANDARD_APP_ARGS, so quotes around the values go (FreePBX's
    // cf exten writes DEXTEN=${IF(…?"<number>#": )}).
    read(_h, _c, args) {
      const [expr, rest] = separateArgs(args, '?', true, 2);
      if (rest === undefined) return undefined;
      const [yes, no] = separateArgs(rest, ':', true, 2);
      if (!expr.trim()) return undefined;
      return checkCondition(expr.trim()) ? (yes ?? '').trim() : (no ?? '').trim();
    },
  },
  ISNULL: { read: (_h, _c, args) => (args === '' ? '1' : '0') },
  EXISTS: { read: (_h, _c, args) => (args === '' ? '0' : '1') },
  LEN: { read: (_h, _c, args) => String([...args].length) },
  TOUPPER: { read: (_h, _c, args) => args.toUpperCase() },
  TOLOWER: { read: (_h, _c, args) => args.toLowerCase() },
  STRFTIME: {
    read(host, _c, args) {
      const [epoch, tz, format] = standardArgs(args, 3);
      if (tz) throw new UnsupportedError('STRFTIME with a timezone is not supported by the test PBX');
      // An empty epoch is "now", to the microsecond (lab §7); ${EPOCH} is whole seconds.
      const e = epoch ? Number(epoch) : host.now() / 1000;
      return strftime(e, format ?? '%c');
    },
  },
  FILTER: {
    read(_h, _c, args) {
      const [allowed, text] = separateArgs(args, ',', false, 2);
      const set = new Set<string>();
      const a = allowed ?? '';
      for (let i = 0; i < a.length; i++) {
        if (a[i + 1] === '-' && i + 2 < a.length) {
          for (let c = a.charCodeAt(i); c <= a.charCodeAt(i + 2); c++) set.add(String.fromCharCode(c));
          i += 2;
        } else set.add(a[i]);
      }
      return [...(text ?? '')].filter((c) => set.has(c)).join('');
    },
  },
  REPLACE: {
    read(host, chan, args) {
      const [varname, find, repl] = standardArgs(args, 3);
      const value = host.substitute(chan, `\${${varname}}`);
      const chars = new Set(find ?? '');
      return [...value].map((c) => (chars.has(c) ? repl?.[0] ?? '' : c)).join('');
    },
  },
  STRREPLACE: {
    read(host, chan, args) {
      const [varname, find, repl] = standardArgs(args, 3);
      if (!find) return undefined;
      return host.substitute(chan, `\${${varname}}`).split(find).join(repl ?? '');
    },
  },
  FIELDQTY: {
    read(host, chan, args) {
      const [varname, delim] = standardArgs(args, 2);
      const value = host.substitute(chan, `\${${varname}}`);
      return value === '' ? '0' : String(value.split(delim || '-').length);
    },
  },
  REGEX: {
    read(host, _c, args) {
      const parts = separateArgs(args, '"', false, 3);
      if (parts.length !== 3) {
        host.warn(`REGEX: unexpected arguments ${args}`);
        return undefined;
      }
      const str = parts[2].replace(/^[ \t]/, '');
      return posixRegex(parts[1]).test(str) ? '1' : '0';
    },
  },
  MATH: {
    read(_h, _c, args) {
      const [expr, type] = standardArgs(args, 2);
      return math(expr ?? '', type);
    },
  },
  HASH: {
    read(_h, chan, args) {
      const [name, key] = standardArgs(args, 2);
      if (key === undefined) throw new UnsupportedError('HASH(name) without a key is not supported by the test PBX');
      return need(chan, 'HASH').getVar(`${HASH_PREFIX(name ?? '')}${key}~`) ?? '';
    },
    write(_h, chan, args, value) {
      const [name, key] = standardArgs(args, 2);
      if (key === undefined) throw new UnsupportedError('HASH(name)= without a key is not supported by the test PBX');
      const n = name ?? '';
      const prefix = n.startsWith('__') ? '__' : n.startsWith('_') ? '_' : '';
      chan.setVar(`${prefix}${HASH_PREFIX(n.slice(prefix.length))}${key}~`, value);
    },
  },
  HASHKEYS: {
    read(_h, chan, args) {
      const prefix = HASH_PREFIX(args);
      return need(chan, 'HASHKEYS')
        .vars.map((v) => v.name.replace(/^_{1,2}/, ''))
        .filter((n) => n.startsWith(prefix))
        .map((n) => n.slice(prefix.length, -1))
        .join(',');
    },
  },
  SHIFT: {
    read(host, chan, args) {
      const [varname, delim] = standardArgs(args, 2);
      const c = need(chan, 'SHIFT');
      const value = c.getVar(varname ?? '') ?? '';
      const d = delim || ',';
      const at = value.indexOf(d);
      host.setVariable(c, varname ?? '', at < 0 ? '' : value.slice(at + d.length));
      return at < 0 ? value : value.slice(0, at);
    },
  },
  SET: {
    read(host, chan, args) {
      const eq = args.indexOf('=');
      if (eq < 0) return undefined;
      host.setVariable(need(chan, 'SET'), args.slice(0, eq), args.slice(eq + 1));
      return args.slice(eq + 1);
    },
  },
  EXTENSION_STATE: {
    read(host, _chan, args) {
      const [exten, context] = args.split('@');
      return host.deviceState(exten, context || 'default');
    },
  },
  DIALPLAN_EXISTS: {
    read(host, chan, args) {
      const [context, exten, priority] = standardArgs(args, 3);
      return host.dialplanExists(context ?? '', exten || 's', priority ? Number(priority) : 1, chan?.caller.num) ? '1' : '0';
    },
  },
  GROUP: {
    read: (_h, chan, args) => need(chan, 'GROUP').props.get(`GROUP(${args.split('@')[1] ?? ''})`) ?? '',
    write(_h, chan, args, value) {
      chan.props.set(`GROUP(${args})`, value);
    },
  },
  GROUP_COUNT: {
    read(host, _c, args) {
      const [group, category = ''] = args.split('@');
      return String(host.channelsWhere((c) => c.props.get(`GROUP(${category})`) === group).length);
    },
  },
  TIMEOUT: {
    read: (_h, chan, args) => need(chan, 'TIMEOUT').props.get(`TIMEOUT(${args.trim()})`) ?? '',
    write(host, chan, args, value) {
      const which = args.trim();
      if (!['digit', 'response', 'absolute'].includes(which)) throw new UnsupportedError(`TIMEOUT(${args}) is not an Asterisk timeout`);
      chan.props.set(`TIMEOUT(${which})`, value);
      if (which === 'absolute' && Number(value) > 0) host.absoluteTimeout(chan, Number(value) * 1000);
    },
  },
  PJSIP_DIAL_CONTACTS: { read: (host, _c, args) => host.dialContacts(standardArgs(args, 1)[0] ?? '') },
  PJSIP_HEADER: {
    read: () => '',
    write() {
      /* headers of a simulated phone: nothing reads them */
    },
  },
  CDR: {
    read(host, chan, args) {
      const c = need(chan, 'CDR');
      const [field, opt] = args.split(',');
      const stamp = (ms: number | undefined) => (ms === undefined ? (opt === 'u' ? '0.000000' : '') : opt === 'u' ? (ms / 1000).toFixed(6) : strftime(ms / 1000, '%Y-%m-%d %H:%M:%S'));
      if (field === 'disposition') return c.answeredAt !== undefined ? 'ANSWERED' : 'NO ANSWER';
      if (field === 'uniqueid') return c.uniqueid;
      if (field === 'start') return stamp(c.createdAt);
      if (field === 'answer') return stamp(c.answeredAt);
      if (field === 'billsec') return String(c.answeredAt === undefined ? 0 : Math.floor((host.now() - c.answeredAt) / 1000));
      if (field === 'duration') return String(Math.floor((host.now() - c.createdAt) / 1000));
      return c.props.get(`CDR(${field})`) ?? '';
    },
    write(_h, chan, args, value) {
      chan.props.set(`CDR(${args.split(',')[0]})`, value);
    },
  },
};

