import Ajv from 'ajv';
import { expect } from 'chai';
import { readFileSync } from 'fs';
import { join } from 'path';
import { ConfigError, KNOWN_KEYS, jsonErrorAt, nearMiss, parseConfig, readConfigText, resolveConfigPath } from '../../agi-src/config/load';

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

  describe('unknown keys', () => {
    const near: Array<[string, string]> = [
      ['webhookURL', 'webhookUrl'],
      ['webhookurl', 'webhookUrl'],
      ['webhook_url', 'webhookUrl'],
      ['webhok_url', 'webhookUrl'],
      ['retentionHour', 'retentionHours'],
      ['DIDs', 'dids'],
      ['defaultUserID', 'defaultUserId'],
      ['staleCallHour', 'staleCallHours'],
      ['logLevle', 'logLevel'],
    ];
    for (const [typo, known] of near) {
      it(`"${typo}" is an error naming it, with "did you mean ${known}"`, () => {
        const cfg: Record<string, unknown> = { ...base, [typo]: 1 };
        expect(() => parseConfig(cfg)).to.throw(ConfigError, `key "${typo}" is not a known key; did you mean "${known}"?`);
      });
    }

    it('a near-miss inside "app" is named too', () => {
      const app = { portalUrl: 'https://p.bitrix24.ru', clientID: 'local.1', clientSecret: 'x', clientId: 'local.1' };
      expect(() => parseConfig({ ...base, app })).to.throw(ConfigError, 'key "app.clientID" is not a known key; did you mean "app.clientId"?');
    });

    it('the near-miss comes before what the schema says about the missing key', () => {
      const { webhookUrl, ...rest } = base;
      expect(() => parseConfig({ ...rest, webhookURL: webhookUrl })).to.throw(ConfigError, /did you mean "webhookUrl"/);
    });

    it('other unknown keys pass (a newer writer) and are reported as warnings', () => {
      const text = JSON.stringify({ ...base, somethingNew: 1, queueStrategy: 'x', ab: 2 });
      const { warnings } = readConfigText(text, 'test');
      expect(warnings).to.deep.equal(['somethingNew', 'queueStrategy', 'ab'].map((k) => `key "${k}" is not known to this version; ignored`));
    });

    it('no two known keys are near-misses of each other, so a key added later never breaks an older reader', () => {
      const all = [...KNOWN_KEYS[''], ...KNOWN_KEYS.app.map((k) => `app.${k}`)];
      for (const k of KNOWN_KEYS['']) {
        expect(nearMiss(k, KNOWN_KEYS[''].filter((o) => o !== k)), k).to.equal(null);
      }
      expect(all).to.include('staleCallHours');
    });
  });

  describe('JSON syntax errors', () => {
    const bad: Array<[string, number, number]> = [
      ['{"a": x}', 1, 7],
      ['{"a": 1,}', 1, 9],
      ['{\n  "a": 1\n  "b": 2\n}', 3, 3],
      ['{"a": "line\nbreak"}', 1, 12],
      ['{"a": 1', 1, 8],
      ['', 1, 1],
      ['{"a": 01}', 1, 8],
      ['{"a": [1, 2,]}', 1, 13],
      ['{"a": "\\x"}', 1, 9],
      ['{"a": tru}', 1, 7],
      ['{"a": 1} x', 1, 10],
    ];
    for (const [text, line, column] of bad) {
      it(`${JSON.stringify(text)} → line ${line}, column ${column}`, () => {
        expect(() => JSON.parse(text)).to.throw();
        expect(jsonErrorAt(text)).to.deep.equal({ line, column });
      });
    }

    it('the message names the place, never the text', () => {
      const text = '{"webhookUrl": "https://b24.example.ru/rest/1/s3cr3tc0de/" "enabled": true}';
      try {
        readConfigText(text, '/etc/asterisk/itd_bitrix.json');
        expect.fail('should reject');
      } catch (e) {
        expect((e as Error).message).to.equal('config /etc/asterisk/itd_bitrix.json: not valid JSON at line 1, column 60');
      }
    });
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
