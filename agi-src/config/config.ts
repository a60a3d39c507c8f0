// The shape of /etc/asterisk/itd_bitrix.json after defaults (config.schema.json is the source).

export interface AppCredentials {
  portalUrl: string;
  clientId: string;
  clientSecret: string;
}

/** Click-to-call number rewrite: a number starting with `prefix` has it replaced by `replace`. */
export interface RewriteRule {
  prefix: string;
  replace: string;
}

export interface Config {
  version: 1;
  enabled: boolean;
  webhookUrl: string;
  app: AppCredentials | null;
  oauthUrl: string;
  /** `http://[user:password@]host:port`, or '' for direct connections. */
  httpsProxy: string;
  dids: string[];
  defaultUserId: number;
  lookupCallerName: boolean;
  createCrmEntity: boolean;
  attachRecordings: boolean;
  showCard: boolean;
  /** ringing: the card to each phone as it rings (resident service), hidden for the rest on answer; answer: to the answerer only; off: none. */
  cardMode: 'ringing' | 'answer' | 'off';
  responsibleRouting: boolean;
  outgoingEnabled: boolean;
  outgoingRoutes: string[];
  outgoingShowCard: boolean;
  outgoingTimeoutMs: number;
  clickToCall: boolean;
  clickToCallRewrite: RewriteRule[];
  /** The module's: whether the dialplan goes through the resident service (pm2 runs it). */
  serviceEnabled: boolean;
  /** The module's: the port it starts the service with (`--port`) and writes into the dialplan. */
  servicePort: number;
  countryCode: string;
  incomingTimeoutMs: number;
  showTimeoutMs: number;
  hangupTimeoutMs: number;
  retentionHours: number;
  retryGiveUpHours: number;
  staleCallHours: number;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  userCacheSeconds: number;
  nameCacheSeconds: number;
  databasePath: string;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  logPath: string;
}

export const DEFAULT_CONFIG_PATH = '/etc/asterisk/itd_bitrix.json';

/** The secrets a config holds: the webhook code (path segment after /rest/<id>/), the client secret, the proxy password. */
export function configSecrets(config: Pick<Config, 'webhookUrl' | 'app' | 'httpsProxy'>): string[] {
  const out: string[] = [];
  const m = /\/rest\/\d+\/([^/\s]+)/.exec(config.webhookUrl ?? '');
  if (m) out.push(m[1]);
  if (config.app?.clientSecret) out.push(config.app.clientSecret);
  const proxy = /^[a-z]+:\/\/[^/@:]*:([^/@]+)@/i.exec(config.httpsProxy ?? '');
  if (proxy) {
    out.push(proxy[1]);
    const decoded = safeDecode(proxy[1]);
    if (decoded !== proxy[1]) out.push(decoded);
  }
  return out;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Changes whenever the credentials change; an auth-blocked outbox waits for a new fingerprint. */
export function credentialsFingerprint(config: Pick<Config, 'webhookUrl' | 'app'>): string {
  const text = JSON.stringify([config.webhookUrl, config.app]);
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0).toString(16);
}
