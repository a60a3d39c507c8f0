import { readFileSync } from 'fs';
import { Config, DEFAULT_CONFIG_PATH } from './config';
// Generated at build time from config.schema.json by ajv's standalone code generator
// (scripts/build.mjs): exact schema semantics, defaults applied, no schema compile at run time.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const validate = require('./generated/validate.js') as ValidateFn;
/** The keys the schema knows, per object: '' is the top level, 'app' the local application. */
// eslint-disable-next-line @typescript-eslint/no-var-requires
export const KNOWN_KEYS = require('./generated/keys.js') as Record<string, string[]>;

interface AjvError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}
interface ValidateFn {
  (data: unknown): boolean;
  errors?: AjvError[] | null;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** `--config` wins, then ITD_BITRIX_CONFIG, then the default path. */
export function resolveConfigPath(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return option || env.ITD_BITRIX_CONFIG || DEFAULT_CONFIG_PATH;
}

export function loadConfig(path: string): Config {
  return readConfig(path).config;
}

/** The config, and one line per key this version does not know (`validate-config` and `check` show them). */
export function readConfig(path: string): { config: Config; warnings: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`config ${path}: cannot read (${code})`);
  }
  return readConfigText(text, path);
}

export function readConfigText(text: string, origin: string): { config: Config; warnings: string[] } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // The parser's own message quotes the text around the error, which may be a secret.
    const at = jsonErrorAt(text);
    throw new ConfigError(`config ${origin}: not valid JSON at line ${at.line}, column ${at.column}`);
  }
  const config = parseConfig(data, origin);
  return { config, warnings: unknownKeys(data).map((k) => `key "${k}" is not known to this version; ignored`) };
}

/**
 * A key the schema does not know is allowed (an older AGI reads a file a newer module wrote),
 * unless it looks like a mistyped known key: then the setting it meant would silently not apply.
 */
export function parseConfig(data: unknown, origin = 'config'): Config {
  for (const [key, known] of keyGroups(data)) {
    const unknown = Object.keys(key.object).filter((k) => !known.includes(k));
    for (const k of unknown) {
      const meant = nearMiss(k, known);
      if (meant) throw new ConfigError(`config ${origin}: key "${key.prefix}${k}" is not a known key; did you mean "${key.prefix}${meant}"?`);
    }
  }
  if (!validate(data)) {
    const errors = validate.errors ?? [];
    const conditional = errors.some((e) => e.keyword === 'if' || e.schemaPath.startsWith('#/then'));
    throw new ConfigError(
      `config ${origin}: ${conditional ? 'key "webhookUrl" or "app" must be set when enabled' : describe(errors[0])}`,
    );
  }
  return data as Config;
}

/**
 * The known key `key` probably meant: the same up to case and `_`/`-`, or (for longer keys) one
 * or two edits away. New keys must stay farther than this from every existing one (a test holds
 * the schema to it), so an older reader never takes a newer key for a typo.
 */
export function nearMiss(key: string, known: readonly string[]): string | null {
  // Required here: only a file with an unknown key pays for loading it (it allocates a table).
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { distance } = require('fastest-levenshtein') as typeof import('fastest-levenshtein');
  const norm = (k: string) => k.toLowerCase().replace(/[-_\s]/g, '');
  const n = norm(key);
  const allowed = n.length >= 8 ? 2 : n.length >= 5 ? 1 : 0;
  let best: { key: string; d: number } | null = null;
  for (const k of known) {
    const d = distance(n, norm(k));
    if (d <= allowed && (!best || d < best.d)) best = { key: k, d };
  }
  return best?.key ?? null;
}

function unknownKeys(data: unknown): string[] {
  return keyGroups(data).flatMap(([group, known]) => Object.keys(group.object).filter((k) => !known.includes(k)).map((k) => group.prefix + k));
}

function keyGroups(data: unknown): Array<[{ object: Record<string, unknown>; prefix: string }, string[]]> {
  const out: Array<[{ object: Record<string, unknown>; prefix: string }, string[]]> = [];
  if (!isObject(data)) return out;
  for (const [path, known] of Object.entries(KNOWN_KEYS)) {
    const object = path === '' ? data : data[path];
    if (isObject(object)) out.push([{ object, prefix: path ? `${path}.` : '' }, known]);
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Where a text stops being JSON (RFC 8259), 1-based. Only asked after JSON.parse refused the
 * text: its message has no position on some Node versions and quotes the text on others.
 */
export function jsonErrorAt(text: string): { line: number; column: number } {
  let i = 0;
  const fail = (at: number): never => {
    throw at;
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail(i);
  };
  const string = () => {
    i++; // the opening quote
    for (;;) {
      if (i >= text.length) fail(i);
      const c = text.charCodeAt(i);
      if (c === 0x22) return void i++;
      if (c < 0x20) fail(i);
      if (c !== 0x5c) {
        i++;
        continue;
      }
      i++;
      if ('"\\/bfnrt'.includes(text[i] ?? '-')) i++;
      else if (text[i] === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) i += 5;
      else fail(i);
    }
  };
  const number = () => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i));
    if (!m) fail(i);
    i += (m as RegExpExecArray)[0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail(i);
        string();
        ws();
        if (text[i] !== ':') fail(i);
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail(i);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail(i);
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    fail(i);
  };
  let at = text.length;
  try {
    value();
    ws();
    if (i < text.length) fail(i);
  } catch (pos) {
    if (typeof pos !== 'number') throw pos;
    at = pos;
  }
  const before = text.slice(0, at).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

function describe(error: AjvError | undefined): string {
  if (!error) return 'invalid';
  const path = error.instancePath
    .split('/')
    .filter(Boolean)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join('')
    .replace(/^\./, '');
  if (error.keyword === 'required') return `key "${String(error.params.missingProperty)}" is required`;
  const where = path ? `key "${path}"` : 'the file';
  if (error.keyword === 'pattern' && /webhookUrl/.test(path)) {
    return `${where} must look like https://<portal>/rest/<user>/<code>/`;
  }
  if (error.keyword === 'pattern' && path === 'httpsProxy') return `${where} must look like http://[user:password@]host:port`;
  return `${where} ${error.message ?? 'is invalid'}`;
}
