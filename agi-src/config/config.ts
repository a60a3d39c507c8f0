// The shape of /etc/asterisk/itd_bitrix.json after defaults (config.schema.json is the source).

export interface AppCredentials {
  portalUrl: string;
  clientId: string;
  clientSecret: string;
}

export interface Config {
  version: 1;
  enabled: boolean;
  webhookUrl: string;
  app: AppCredentials | null;
  oauthUrl: string;
  dids: string[];
  defaultUserId: number;
  lookupCallerName: boolean;
  createCrmEntity: boolean;
  attachRecordings: boolean;
  showCard: boolean;
  responsibleRouting: boolean;
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

/** The secrets a config holds: the webhook code (path segment after /rest/<id>/) and the client secret. */
export function configSecrets(config: Pick<Config, 'webhookUrl' | 'app'>): string[] {
  const out: string[] = [];
  const m = /\/rest\/\d+\/([^/\s]+)/.exec(config.webhookUrl ?? '');
  if (m) out.push(m[1]);
  if (config.app?.clientSecret) out.push(config.app.clientSecret);
  return out;
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
