// PHP-flavoured helpers for the fake Bitrix24 server: how $_GET/$_POST are built from
// bracketed form keys, PHP casts and loose comparisons, strict Base64, multipart bodies,
// strtotime-like date parsing and portal-offset ISO-8601 formatting.

export type PhpValue = string | number | boolean | null | PhpValue[] | { [k: string]: PhpValue };
export type Params = Record<string, unknown>;

// ---------------------------------------------------------------- query / form decoding

/** urldecode(): `+` is a space, valid %XX escapes become bytes (UTF-8), broken escapes stay. */
export function urlDecode(s: string): string {
  const src = s.replace(/\+/g, ' ');
  if (!src.includes('%')) return src;
  const bytes: number[] = [];
  let i = 0;
  while (i < src.length) {
    if (src[i] === '%' && /^[0-9a-fA-F]{2}$/.test(src.slice(i + 1, i + 3))) {
      bytes.push(parseInt(src.slice(i + 1, i + 3), 16));
      i += 3;
      continue;
    }
    const ch = String.fromCodePoint(src.codePointAt(i) as number);
    for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
    i += ch.length;
  }
  return Buffer.from(bytes).toString('utf8');
}

type Node = Map<string, Node | string>;

/**
 * parse_str() semantics: `FILTER[UF_PHONE_INNER]=101`, `USER_ID[]=5&USER_ID[]=7`,
 * `fields[PHONE][0][VALUE]=...`; later keys overwrite earlier ones; dots and spaces in the
 * top-level name become underscores. Containers whose keys are exactly 0..n-1 become arrays.
 */
export function parsePhpQuery(qs: string): Params {
  const pairs: Array<[string, string]> = [];
  for (const part of qs.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    pairs.push([urlDecode(eq === -1 ? part : part.slice(0, eq)), eq === -1 ? '' : urlDecode(part.slice(eq + 1))]);
  }
  return parsePhpPairs(pairs);
}

/** Same as parsePhpQuery for already-decoded (name, value) pairs, e.g. multipart fields. */
export function parsePhpPairs(pairs: Array<[string, string]>): Params {
  const root: Node = new Map();
  for (const [k, v] of pairs) assignPhpKey(root, k, v);
  const out: Params = {};
  for (const [k, v] of root) out[k] = convert(v);
  return out;
}

function assignPhpKey(root: Node, rawKey: string, value: string): void {
  let base = rawKey;
  const segments: string[] = [];
  const open = rawKey.indexOf('[');
  if (open > 0) {
    const re = /\[([^\]]*)\]/y;
    re.lastIndex = open;
    let m: RegExpExecArray | null;
    while ((m = re.exec(rawKey)) !== null) segments.push(m[1]);
    // anything after the last ']' is ignored, like PHP does
    if (segments.length > 0) base = rawKey.slice(0, open);
  }
  base = base.replace(/^ +/, '').replace(/[ .[]/g, '_');
  if (base === '') return;
  let cur: Node = root;
  const path = [base, ...segments];
  for (let i = 0; i < path.length; i++) {
    const key = i > 0 && path[i] === '' ? String(nextIndex(cur)) : path[i];
    if (i === path.length - 1) {
      cur.set(key, value);
    } else {
      let next = cur.get(key);
      if (!(next instanceof Map)) {
        next = new Map();
        cur.set(key, next);
      }
      cur = next;
    }
  }
}

function nextIndex(m: Node): number {
  let max = -1;
  for (const k of m.keys()) if (/^(0|-?[1-9][0-9]*)$/.test(k)) max = Math.max(max, Number(k));
  return max + 1;
}

function nodeToJs(n: Node): unknown {
  const keys = [...n.keys()];
  const isList = keys.every((k, i) => k === String(i));
  if (isList && keys.length > 0) return keys.map((k) => convert(n.get(k) as Node | string));
  const o: Record<string, unknown> = {};
  for (const k of keys) o[k] = convert(n.get(k) as Node | string);
  return keys.length === 0 ? [] : o;
}

function convert(v: Node | string): unknown {
  return v instanceof Map ? nodeToJs(v) : v;
}

// ---------------------------------------------------------------- PHP casts / comparisons

const NUMERIC_RE = /^[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t\n\r\v\f]*$/;

export function isNumeric(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v);
  return typeof v === 'string' && NUMERIC_RE.test(v);
}

/** (int)$v */
export function toInt(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : 0;
  if (typeof v === 'string') {
    const m = /^[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(v);
    if (!m) return 0;
    const n = Number(m[0].trim());
    return Number.isFinite(n) ? Math.trunc(n) : 0;
  }
  if (Array.isArray(v)) return v.length > 0 ? 1 : 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0 ? 1 : 0;
  return 0;
}

/** (float)$v */
export function toFloat(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const m = /^[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(v);
    return m ? Number(m[0].trim()) : 0;
  }
  return toInt(v);
}

/** (string)$v */
export function toStr(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? '1' : '';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'object') return 'Array';
  return String(v);
}

/** (bool)$v — "", "0", 0, 0.0, null, false and empty arrays are false. */
export function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false) return false;
  if (v === '' || v === '0') return false;
  if (typeof v === 'number') return v !== 0;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

/** PHP 8 `$v == $n` for an int $n (what in_array($v, [1,2,3,4,5]) does). */
export function looseEqualsInt(v: unknown, n: number): boolean {
  if (typeof v === 'number') return v === n;
  if (typeof v === 'boolean') return v === (n !== 0);
  if (v === null || v === undefined) return n === 0;
  if (typeof v === 'string') return NUMERIC_RE.test(v) ? Number(v.trim()) === n : v === String(n);
  return false;
}

export function isList(v: unknown): v is unknown[] {
  return Array.isArray(v);
}

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** PHP array serialisation: an empty array is `[]`, a 0..n-1 keyed one is a list. */
export function phpArray(o: Record<string, unknown>): unknown {
  const keys = Object.keys(o);
  if (keys.length === 0) return [];
  if (keys.every((k, i) => k === String(i))) return keys.map((k) => o[k]);
  return o;
}

// ---------------------------------------------------------------- Base64 (PHP strict mode)

/** base64_decode($s, true): whitespace skipped, foreign characters and bad padding rejected. */
export function strictBase64Decode(s: string): Buffer | null {
  const clean = s.replace(/[ \t\r\n]/g, '');
  const m = /^([A-Za-z0-9+/]*)(={0,2})$/.exec(clean);
  if (!m) return null;
  const data = m[1];
  const pad = m[2].length;
  if (data.length % 4 === 1) return null;
  if (pad > 0 && (data.length + pad) % 4 !== 0) return null;
  return Buffer.from(data, 'base64');
}

// ---------------------------------------------------------------- multipart/form-data

export interface MultipartPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

export function parseMultipart(body: Buffer, contentType: string): MultipartPart[] | null {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!m) return null;
  const boundary = Buffer.from(`--${(m[1] ?? m[2]).trim()}`);
  const parts: MultipartPart[] = [];
  let pos = body.indexOf(boundary);
  if (pos === -1) return null;
  for (;;) {
    pos += boundary.length;
    if (body.slice(pos, pos + 2).toString() === '--') break;
    if (body.slice(pos, pos + 2).toString() === '\r\n') pos += 2;
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd === -1) return null;
    const headers = body.slice(pos, headerEnd).toString('utf8');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), boundary]), headerEnd + 4);
    if (next === -1) return null;
    const data = body.slice(headerEnd + 4, next);
    const disp = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disp)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(disp)?.[1];
    const ct = /content-type:\s*([^\r\n]*)/i.exec(headers)?.[1];
    if (name !== undefined) parts.push({ name, filename, contentType: ct, data });
    pos = next + 2;
  }
  return parts;
}

// ---------------------------------------------------------------- dates

/**
 * The subset of PHP strtotime() a PBX client may send: ISO-8601 / `Y-m-d H:i:s` with optional
 * fraction and offset (`Z`, `+03:00`, `+0300`, `+03`, `UTC`, `GMT`), `@<unix>` and `now`.
 * A value without offset is read in the portal's zone. Returns epoch ms or null (= strtotime false).
 */
export function parseStrtotime(s: string, portalOffsetMin: number, nowMs: number): number | null {
  const v = s.trim();
  if (/^now$/i.test(v)) return nowMs;
  const at = /^@(-?\d+)$/.exec(v);
  if (at) return Number(at[1]) * 1000;
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/.exec(
      v,
    );
  if (!m) return null;
  const [, y, mo, d, hh, mi, ss, frac, tz] = m;
  const Y = Number(y);
  const M = Number(mo);
  const D = Number(d);
  const H = hh === undefined ? 0 : Number(hh);
  const I = mi === undefined ? 0 : Number(mi);
  const S = ss === undefined ? 0 : Number(ss);
  if (M < 1 || M > 12 || D < 1 || D > 31 || H > 24 || I > 59 || S > 60) return null;
  let offsetMin = portalOffsetMin;
  if (tz !== undefined) {
    if (/^(z|utc|gmt)$/i.test(tz)) offsetMin = 0;
    else {
      const t = /^([+-])(\d{2}):?(\d{2})?$/.exec(tz);
      if (!t) return null;
      const om = Number(t[2]) * 60 + Number(t[3] ?? '0');
      if (Number(t[2]) > 14 || Number(t[3] ?? '0') > 59) return null;
      offsetMin = t[1] === '-' ? -om : om;
    }
  }
  const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  return Date.UTC(Y, M - 1, D, H, I, S, ms) - offsetMin * 60_000;
}

/** `2025-12-30T14:00:00+03:00` in the given offset. */
export function isoWithOffset(ms: number, offsetMin: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000 + offsetMin * 60_000);
  const p = (n: number) => String(n).padStart(2, '0');
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  return (
    `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}${sign}${p(Math.floor(abs / 60))}:${p(abs % 60)}`
  );
}
