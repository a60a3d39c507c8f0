import { expect } from 'chai';
import { classify, errorFromEnvelope } from '../../agi-src/bitrix/errors';
import { batchCommand, toQuery } from '../../agi-src/bitrix/query';
import { configSecrets } from '../../agi-src/config/config';
import { judge } from '../../agi-src/flows/recording';
import { redact } from '../../agi-src/log/redact';
import { admit } from '../../agi-src/store/gate';
import { backoffMs } from '../../agi-src/store/outbox';

describe('Bitrix24 errors', () => {
  it('reads an error whose code is the empty string from error_description', () => {
    const e = errorFromEnvelope('telephony.externalcall.finish', 400, {
      error: '',
      error_description: 'Call is not found (call should be registered prior to finishing',
    });
    expect(e.kind).to.equal('rejected');
    expect(e.isCallNotFound).to.equal(true);
  });
  it('sorts codes into what the caller should do', () => {
    expect(classify('WRONG_AUTH_TYPE', 403)).to.equal('auth');
    expect(classify('INVALID_CREDENTIALS', 401)).to.equal('auth');
    expect(classify('insufficient_scope', 401)).to.equal('auth');
    expect(classify('expired_token', 401)).to.equal('expired');
    expect(classify('QUERY_LIMIT_EXCEEDED', 503)).to.equal('rate');
    expect(classify('OPERATION_TIME_LIMIT', 429)).to.equal('rate');
    expect(classify('INTERNAL_SERVER_ERROR', 500)).to.equal('transient');
    expect(classify('', 502)).to.equal('transient');
    expect(classify('ERROR_CORE', 400)).to.equal('rejected');
  });
});

describe('batch command encoding', () => {
  it('writes PHP bracket syntax with values URL-encoded', () => {
    expect(toQuery({ FILTER: { UF_PHONE_INNER: '101', ACTIVE: true }, USER_ID: [12, 15] })).to.equal(
      'FILTER[UF_PHONE_INNER]=101&FILTER[ACTIVE]=1&USER_ID[0]=12&USER_ID[1]=15',
    );
    expect(batchCommand('telephony.externalCall.searchCrmEntities', { PHONE_NUMBER: '+7 495&x' })).to.equal(
      'telephony.externalCall.searchCrmEntities?PHONE_NUMBER=%2B7%20495%26x',
    );
  });
});

describe('secrets in text', () => {
  it('masks the webhook code, tokens and known secrets', () => {
    const text = 'POST https://b24.example.ru/rest/1/k3y5ecr3tc0de/batch.json failed; refresh_token=abc123def&x=1 "access_token":"zzz" app-s3cr3t';
    const out = redact(text, ['app-s3cr3t']);
    expect(out).not.to.match(/k3y5ecr3tc0de|abc123def|zzz|app-s3cr3t/);
    expect(out).to.contain('/rest/1/***');
  });
  it('knows which config values are secret', () => {
    expect(configSecrets({ webhookUrl: 'https://p.bitrix24.ru/rest/7/c0de/', app: { portalUrl: 'https://p', clientId: 'id', clientSecret: 'sec' }, httpsProxy: '' })).to.deep.equal(['c0de', 'sec']);
    expect(configSecrets({ webhookUrl: '', app: null, httpsProxy: 'http://pbx:p%40ss@proxy.lan:3128' })).to.deep.equal(['p%40ss', 'p@ss']);
  });
  it('masks credentials in any URL (an HTTPS proxy)', () => {
    expect(redact('proxy http://pbx:pr0xy@proxy.lan:3128 refused')).to.equal('proxy http://***@proxy.lan:3128 refused');
  });
});

describe('leaky bucket', () => {
  it('admits up to the capacity at once, then asks to wait for the drain', () => {
    let state = { level: 0, updatedAt: 1000 };
    for (let i = 0; i < 49; i++) {
      const r = admit(state, 1000, 2, 49);
      expect(r.waitMs).to.equal(0);
      state = r.state;
    }
    const over = admit(state, 1000, 2, 49);
    expect(over.waitMs).to.equal(500);
    expect(admit(state, 1500, 2, 49).waitMs).to.equal(0);
  });
  it('a clock that stepped back neither drains nor freezes it: its time restarts from now', () => {
    // (The gate reads the clock inside its write lock, so an earlier time is a clock step.)
    const full = { level: 49, updatedAt: 10_000_000 };
    const back = admit(full, 10_000_000 - 3600_000, 2, 49);
    expect(back).to.deep.equal({ state: { level: 49, updatedAt: 10_000_000 - 3600_000 }, waitMs: 500 });
    expect(admit(back.state, 10_000_000 - 3600_000 + 500, 2, 49).waitMs, 'half a second later, as without the step').to.equal(0);
    expect(admit({ level: 10, updatedAt: 5000 }, 4000, 2, 49).state).to.deep.equal({ level: 11, updatedAt: 4000 });
  });
  it('drains at the configured rate and never below zero', () => {
    expect(admit({ level: 10, updatedAt: 0 }, 100_000, 2, 49).state.level).to.equal(1);
  });
});

describe('outbox back-off', () => {
  it('doubles from 30 s and stops at 30 min', () => {
    expect([1, 2, 3].map(backoffMs)).to.deep.equal([30_000, 60_000, 120_000]);
    expect(backoffMs(30)).to.equal(30 * 60_000);
  });
});

describe('recording readiness', () => {
  const now = 1_000_000;
  it('waits while the file changed recently or a WAV header is not final', () => {
    expect(judge({ size: 64_044, mtimeMs: now - 200, headerFinal: true }, now, 1000)).to.equal('growing');
    expect(judge({ size: 32_812, mtimeMs: now - 5000, headerFinal: false }, now, 1000)).to.equal('growing');
  });
  it('is ready when quiet and final; empty and missing are told apart', () => {
    expect(judge({ size: 64_044, mtimeMs: now - 1500, headerFinal: true }, now, 1000)).to.equal('ready');
    expect(judge({ size: 44, mtimeMs: now - 1500, headerFinal: true }, now, 1000)).to.equal('empty');
    expect(judge(null, now, 1000)).to.equal('missing');
  });
  it('accepts a WAV Asterisk never closed once it has been still for a minute', () => {
    expect(judge({ size: 32_812, mtimeMs: now - 61_000, headerFinal: false }, now, 1000)).to.equal('ready');
  });
});
