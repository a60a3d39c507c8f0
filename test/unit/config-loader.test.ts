import Ajv from 'ajv';
import { expect } from 'chai';
import { readFileSync } from 'fs';
import { join } from 'path';
import { ConfigError, parseConfig, resolveConfigPath } from '../../agi-src/config/load';

const schema = JSON.parse(readFileSync(join(__dirname, '..', '..', 'config.schema.json'), 'utf8'));
const reference = new Ajv({ strict: false, allErrors: true }).compile(schema);

const base = { version: 1, enabled: true, webhookUrl: 'https://b24.example.ru/rest/1/c0de/', dids: ['74951234567'] };

describe('config loader', () => {
  it('fills every default from the schema', () => {
    const c = parseConfig({ ...base });
    expect(c).to.include({ defaultUserId: 1, incomingTimeoutMs: 2000, retentionHours: 48, countryCode: '7', logLevel: 'info', showCard: true });
    expect(c.app).to.equal(null);
    expect(c.httpsProxy).to.equal('');
  });

  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['wrong version', { ...base, version: 2 }, /key "version"/],
    ['DID with letters', { ...base, dids: ['7495abc'] }, /key "dids\[0\]"/],
    ['webhook without /rest/<id>/<code>/', { ...base, webhookUrl: 'https://b24.example.ru/' }, /key "webhookUrl" must look like/],
    ['timeout out of range', { ...base, incomingTimeoutMs: 50 }, /key "incomingTimeoutMs"/],
    ['relative database path', { ...base, databasePath: 'db.sqlite' }, /key "databasePath"/],
    ['missing dids', { version: 1, enabled: false }, /key "dids" is required/],
    ['enabled without credentials', { version: 1, enabled: true, dids: [] }, /"webhookUrl" or "app" must be set/],
    ['app without secret', { ...base, app: { portalUrl: 'https://p.bitrix24.ru', clientId: 'x' } }, /app/],
    ['log level', { ...base, logLevel: 'verbose' }, /key "logLevel"/],
    ['proxy without a port', { ...base, httpsProxy: 'http://proxy.lan' }, /key "httpsProxy" must look like http:\/\/\[user:password@\]host:port/],
    ['proxy spoken to over TLS', { ...base, httpsProxy: 'https://proxy.lan:3128' }, /key "httpsProxy" must look like/],
  ];
  for (const [what, cfg, message] of bad) {
    it(`rejects ${what} with a one-line error naming the key, as the schema does`, () => {
      expect(reference(cfg)).to.equal(false);
      let err: unknown;
      try {
        parseConfig(structuredClone(cfg));
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as Error).message).to.match(message);
      expect((err as Error).message).not.to.contain('\n');
    });
  }

  it('accepts what the schema accepts, unknown keys included (a newer writer)', () => {
    const cfg = { ...base, somethingNew: { a: 1 }, app: null };
    expect(reference(cfg)).to.equal(true);
    expect(() => parseConfig(cfg)).not.to.throw();
  });

  it('takes an HTTPS proxy with or without credentials, by name, IPv4 or IPv6', () => {
    for (const httpsProxy of ['http://proxy.lan:3128', 'http://pbx:p%40ss@proxy.lan:3128/', 'http://10.0.0.1:8080', 'http://[fd00::1]:3128']) {
      expect(reference({ ...base, httpsProxy }), httpsProxy).to.equal(true);
      expect(parseConfig({ ...base, httpsProxy }).httpsProxy).to.equal(httpsProxy);
    }
  });

  it('never echoes the secret in an error', () => {
    try {
      parseConfig({ ...base, webhookUrl: 'http://bad host/rest/1/s3cr3tcode/' });
      expect.fail('should reject');
    } catch (e) {
      expect((e as Error).message).not.to.contain('s3cr3tcode');
    }
    try {
      parseConfig({ ...base, httpsProxy: 'http://pbx:pr0xyS3cret@proxy lan:3128' });
      expect.fail('should reject');
    } catch (e) {
      expect((e as Error).message).not.to.contain('pr0xyS3cret');
    }
  });

  it('takes --config, then ITD_BITRIX_CONFIG, then the default path', () => {
    expect(resolveConfigPath('/a.json', { ITD_BITRIX_CONFIG: '/b.json' })).to.equal('/a.json');
    expect(resolveConfigPath(undefined, { ITD_BITRIX_CONFIG: '/b.json' })).to.equal('/b.json');
    expect(resolveConfigPath(undefined, {})).to.equal('/etc/asterisk/itd_bitrix.json');
  });
});
