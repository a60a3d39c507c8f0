import { readFileSync } from 'fs';
import { Config, DEFAULT_CONFIG_PATH } from './config';
// Generated at build time from config.schema.json by ajv's standalone code generator
// (scripts/build.mjs): exact schema semantics, defaults applied, no schema compile at run time.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const validate = require('./generated/validate.js') as ValidateFn;

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
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`config ${path}: cannot read (${code})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config ${path}: not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  return parseConfig(data, path);
}

export function parseConfig(data: unknown, origin = 'config'): Config {
  if (!validate(data)) {
    const errors = validate.errors ?? [];
    const conditional = errors.some((e) => e.keyword === 'if' || e.schemaPath.startsWith('#/then'));
    throw new ConfigError(
      `config ${origin}: ${conditional ? 'key "webhookUrl" or "app" must be set when enabled' : describe(errors[0])}`,
    );
  }
  return data as Config;
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
